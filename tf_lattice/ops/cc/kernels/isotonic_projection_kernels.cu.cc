// CUDA kernel of the isotonic projection: one thread per unit runs the shared
// pool-adjacent-violators routine of lib/isotonic.h.
#if TF_LATTICE_WITH_CUDA

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/kernels/isotonic_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/cuda_launch.h"
#include "tf_lattice/ops/cc/lib/isotonic.h"

namespace tf_lattice {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxBlocks = 65535;

template <typename T>
__global__ void IsotonicProjectionKernel(const T* values, const T* weights,
                                         const bool* increasing, T lower, T upper,
                                         int64_t units, int64_t size, T* block_sum,
                                         T* block_weight, T* block_mean, int64_t* block_end,
                                         T* output) {
  for (int64_t unit = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       unit < units; unit += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t offset = unit * size;
    IsotonicRow(values + offset, weights + offset, size, increasing[unit], lower, upper,
                block_sum + offset, block_weight + offset, block_mean + offset,
                block_end + offset, output + offset);
  }
}

// Lowers *first_invalid to the index of every invalid entry.
template <typename T>
__global__ void FindInvalidEntryKernel(const T* values, const T* weights, int64_t count,
                                       unsigned long long* first_invalid) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    if (!IsotonicEntryValid(values[i], weights[i])) {
      atomicMin(first_invalid, static_cast<unsigned long long>(i));
    }
  }
}

}  // namespace

template <typename T>
std::string LaunchIsotonicProjection(void* stream, const T* values, const T* weights,
                                     const bool* increasing, T lower, T upper, int64_t units,
                                     int64_t size, T* block_sum, T* block_weight,
                                     T* block_mean, int64_t* block_end, T* output) {
  if (units == 0 || size == 0) return "";
  IsotonicProjectionKernel<T><<<GridBlocks(units, kThreads, kMaxBlocks), kThreads, 0,
                                static_cast<cudaStream_t>(stream)>>>(
      values, weights, increasing, lower, upper, units, size, block_sum, block_weight,
      block_mean, block_end, output);
  return LastCudaError();
}

template <typename T>
std::string LaunchFindInvalidIsotonicEntry(void* stream, const T* values, const T* weights,
                                           int64_t count, unsigned long long* scratch,
                                           int64_t* first_invalid, T* value, T* weight) {
  *first_invalid = -1;
  if (count == 0) return "";
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  cudaMemsetAsync(scratch, 0xFF, sizeof(unsigned long long), cuda_stream);
  FindInvalidEntryKernel<T><<<GridBlocks(count, kThreads, kMaxBlocks), kThreads, 0,
                              cuda_stream>>>(values, weights, count, scratch);
  unsigned long long found = 0;
  cudaMemcpyAsync(&found, scratch, sizeof(found), cudaMemcpyDeviceToHost, cuda_stream);
  cudaStreamSynchronize(cuda_stream);
  std::string error = LastCudaError();
  if (!error.empty() || found == ~0ULL) return error;
  *first_invalid = static_cast<int64_t>(found);
  cudaMemcpy(value, values + found, sizeof(T), cudaMemcpyDeviceToHost);
  cudaMemcpy(weight, weights + found, sizeof(T), cudaMemcpyDeviceToHost);
  return LastCudaError();
}

#define TF_LATTICE_INSTANTIATE(T)                                                         \
  template std::string LaunchIsotonicProjection<T>(void*, const T*, const T*, const bool*, \
                                                   T, T, int64_t, int64_t, T*, T*, T*,    \
                                                   int64_t*, T*);                         \
  template std::string LaunchFindInvalidIsotonicEntry<T>(                                 \
      void*, const T*, const T*, int64_t, unsigned long long*, int64_t*, T*, T*);
TF_LATTICE_INSTANTIATE(float)
TF_LATTICE_INSTANTIATE(double)
#undef TF_LATTICE_INSTANTIATE

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
