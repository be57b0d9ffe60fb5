// Launchers of the CUDA isotonic projection kernel (TF-free declarations).
#ifndef TF_LATTICE_OPS_CC_KERNELS_ISOTONIC_PROJECTION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_ISOTONIC_PROJECTION_GPU_H_

#include <cstdint>
#include <string>

namespace tf_lattice {

// Runs IsotonicRow (lib/isotonic.h) on each of `units` rows of `size` entries, one
// CUDA thread per row, on `stream` (a cudaStream_t). Scratch arrays hold
// units * size entries. Returns an empty string on success, else the CUDA error.
template <typename T>
std::string LaunchIsotonicProjection(void* stream, const T* values, const T* weights,
                                     const bool* increasing, T lower, T upper, int64_t units,
                                     int64_t size, T* block_sum, T* block_weight,
                                     T* block_mean, int64_t* block_end, T* output);

// Finds the first of the `count` entries (values[i], weights[i]) that fails
// IsotonicEntryValid and waits for the stream. On success `*first_invalid` is
// its flat index, or -1 when every entry is valid, and `*value` and `*weight`
// hold the entry. `scratch` is one device word.
template <typename T>
std::string LaunchFindInvalidIsotonicEntry(void* stream, const T* values, const T* weights,
                                           int64_t count, unsigned long long* scratch,
                                           int64_t* first_invalid, T* value, T* weight);

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_ISOTONIC_PROJECTION_GPU_H_
