// Launch helpers shared by the CUDA kernels (*.cu.cc): the grid size of a
// grid-stride loop and the launchers' error string. Include only from files
// compiled by nvcc; like every header under ops/cc/lib it includes no
// TensorFlow header.
#ifndef TF_LATTICE_OPS_CC_LIB_CUDA_LAUNCH_H_
#define TF_LATTICE_OPS_CC_LIB_CUDA_LAUNCH_H_

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace tf_lattice {

// Blocks of `threads_per_block` threads that cover `work` items, capped at
// `max_blocks` (a grid-stride loop covers the rest) and at least 1.
inline int GridBlocks(int64_t work, int threads_per_block, int64_t max_blocks) {
  const int64_t blocks = (work + threads_per_block - 1) / threads_per_block;
  return static_cast<int>(std::max<int64_t>(1, std::min(blocks, max_blocks)));
}

// The launchers' result: empty when no CUDA error is pending, else the text
// of the error returned (and cleared) by cudaGetLastError.
inline std::string LastCudaError() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? std::string() : std::string(cudaGetErrorString(error));
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_CUDA_LAUNCH_H_
