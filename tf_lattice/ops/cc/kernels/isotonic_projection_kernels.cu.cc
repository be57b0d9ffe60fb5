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

template <typename T>
__global__ void IsotonicProjectionKernel(const T* values, const T* weights,
                                         const bool* increasing, const T* lower,
                                         const T* upper, int64_t units, int64_t size,
                                         T* block_sum, T* block_weight, int64_t* block_end,
                                         T* output) {
  for (int64_t unit = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       unit < units; unit += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t offset = unit * size;
    IsotonicRow(values + offset, weights + offset, size, increasing[unit], *lower, *upper,
                block_sum + offset, block_weight + offset, block_end + offset,
                output + offset);
  }
}

}  // namespace

template <typename T>
std::string LaunchIsotonicProjection(void* stream, const T* values, const T* weights,
                                     const bool* increasing, const T* lower, const T* upper,
                                     int64_t units, int64_t size, T* block_sum,
                                     T* block_weight, int64_t* block_end, T* output) {
  if (units == 0 || size == 0) return "";
  constexpr int kThreads = 128;
  constexpr int64_t kMaxBlocks = 65535;
  IsotonicProjectionKernel<T><<<GridBlocks(units, kThreads, kMaxBlocks), kThreads, 0,
                                static_cast<cudaStream_t>(stream)>>>(
      values, weights, increasing, lower, upper, units, size, block_sum, block_weight,
      block_end, output);
  return LastCudaError();
}

template std::string LaunchIsotonicProjection<float>(void*, const float*, const float*,
                                                     const bool*, const float*, const float*,
                                                     int64_t, int64_t, float*, float*,
                                                     int64_t*, float*);
template std::string LaunchIsotonicProjection<double>(void*, const double*, const double*,
                                                      const bool*, const double*,
                                                      const double*, int64_t, int64_t,
                                                      double*, double*, int64_t*, double*);

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
