// CUDA kernel of TfLattice>LatticeProjection: one thread per unit running
// the per-unit projection of lib/lattice_projection.h (the code the CPU
// kernel runs), with its scratch in global memory.
#if TF_LATTICE_WITH_CUDA

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/kernels/lattice_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/cuda_launch.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"

namespace tf_lattice {
namespace {

constexpr int kThreadsPerBlock = 64;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

template <typename T>
__global__ void LatticeProjectionKernel(const ProjectionProgram<T> program, int64_t units,
                                        const T* params, T* projected, T* scratch) {
  const int64_t n = program.num_vertices;
  const int64_t scratch_per_unit = ScratchPerUnit(program);
  for (int64_t u = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; u < units;
       u += int64_t{blockDim.x} * gridDim.x) {
    ProjectUnit(program, params + u * n, projected + u * n, scratch + u * scratch_per_unit);
  }
}

}  // namespace

template <typename T>
std::string LaunchLatticeProjection(void* stream, const ProjectionProgram<T>& program,
                                    int64_t units, const T* params, T* projected, T* scratch) {
  if (units == 0) return std::string();
  LatticeProjectionKernel<T><<<GridBlocks(units, kThreadsPerBlock, kMaxBlocks),
                               kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(
      program, units, params, projected, scratch);
  return LastCudaError();
}

template std::string LaunchLatticeProjection<float>(void*, const ProjectionProgram<float>&,
                                                    int64_t, const float*, float*, float*);
template std::string LaunchLatticeProjection<double>(void*, const ProjectionProgram<double>&,
                                                     int64_t, const double*, double*,
                                                     double*);

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
