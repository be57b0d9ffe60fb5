// CUDA kernels of TfLattice>LatticeProjection: the input checks of
// lib/lattice_projection_checks.h, one thread per item, and the projection,
// one thread per unit running the per-unit projection of
// lib/lattice_projection.h (the code the CPU kernel runs), with its scratch
// in global memory.
#if TF_LATTICE_WITH_CUDA

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/kernels/lattice_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/cuda_launch.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_checks.h"

namespace tf_lattice {
namespace {

constexpr int kThreadsPerBlock = 64;
constexpr int kCheckThreadsPerBlock = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

template <typename T>
__global__ void LatticeProjectionKernel(const ProjectionProgram<T> program, int64_t units,
                                        const T* params, T* projected, T* scratch,
                                        uint64_t* masks) {
  const int64_t n = program.num_vertices;
  const int64_t scratch_per_unit = ScratchPerUnit(program);
  for (int64_t u = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; u < units;
       u += int64_t{blockDim.x} * gridDim.x) {
    masks[u] = ProjectUnit(program, params + u * n, projected + u * n,
                           scratch + u * scratch_per_unit);
  }
}

// Lowers *first to every failing item of `check`.
template <typename T>
__global__ void ProjectionCheckKernel(const ProjectionProgram<T> program, const T* params,
                                      int check, int64_t items, unsigned long long* first) {
  for (int64_t item = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; item < items;
       item += int64_t{blockDim.x} * gridDim.x) {
    if (CheckFails(program, params, check, item)) {
      atomicMin(first, static_cast<unsigned long long>(item));
    }
  }
}

// Describes item `item` of `check` into *failure (one thread).
template <typename T>
__global__ void DescribeFailureKernel(const ProjectionProgram<T> program, const T* params,
                                      int check, int64_t item,
                                      ProjectionCheckFailure* failure) {
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    DescribeFailure(program, params, check, item, failure);
  }
}

}  // namespace

template <typename T>
std::string LaunchProjectionChecks(void* stream, const ProjectionProgram<T>& program,
                                   const T* params, int64_t num_params, int64_t* scratch,
                                   bool* failed, ProjectionCheckFailure* failure) {
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  unsigned long long* first = reinterpret_cast<unsigned long long*>(scratch);
  ProjectionCheckFailure* device_failure =
      reinterpret_cast<ProjectionCheckFailure*>(scratch + kNumProjectionChecks);
  cudaMemsetAsync(first, 0xFF, sizeof(unsigned long long) * kNumProjectionChecks, cuda_stream);
  for (int check = 0; check < kNumProjectionChecks; ++check) {
    const int64_t items = NumCheckItems(program, check, num_params);
    if (items == 0) continue;
    ProjectionCheckKernel<T><<<GridBlocks(items, kCheckThreadsPerBlock, kMaxBlocks),
                               kCheckThreadsPerBlock, 0, cuda_stream>>>(
        program, params, check, items, first + check);
  }
  unsigned long long found[kNumProjectionChecks];
  cudaMemcpyAsync(found, first, sizeof(found), cudaMemcpyDeviceToHost, cuda_stream);
  cudaStreamSynchronize(cuda_stream);
  std::string error = LastCudaError();
  *failed = false;
  if (!error.empty()) return error;
  for (int check = 0; check < kNumProjectionChecks; ++check) {
    if (found[check] == ~0ULL) continue;
    DescribeFailureKernel<T><<<1, 1, 0, cuda_stream>>>(
        program, params, check, static_cast<int64_t>(found[check]), device_failure);
    cudaMemcpyAsync(failure, device_failure, sizeof(ProjectionCheckFailure),
                    cudaMemcpyDeviceToHost, cuda_stream);
    cudaStreamSynchronize(cuda_stream);
    *failed = true;
    return LastCudaError();
  }
  return std::string();
}

template <typename T>
std::string LaunchLatticeProjection(void* stream, const ProjectionProgram<T>& program,
                                    int64_t units, const T* params, T* projected, T* scratch,
                                    uint64_t* masks, uint64_t* host_masks) {
  if (units == 0) return std::string();
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  LatticeProjectionKernel<T><<<GridBlocks(units, kThreadsPerBlock, kMaxBlocks),
                               kThreadsPerBlock, 0, cuda_stream>>>(
      program, units, params, projected, scratch, masks);
  cudaMemcpyAsync(host_masks, masks, sizeof(uint64_t) * units, cudaMemcpyDeviceToHost,
                  cuda_stream);
  cudaStreamSynchronize(cuda_stream);
  return LastCudaError();
}

#define TF_LATTICE_INSTANTIATE(T)                                                           \
  template std::string LaunchProjectionChecks<T>(void*, const ProjectionProgram<T>&,        \
                                                 const T*, int64_t, int64_t*, bool*,        \
                                                 ProjectionCheckFailure*);                  \
  template std::string LaunchLatticeProjection<T>(void*, const ProjectionProgram<T>&,       \
                                                  int64_t, const T*, T*, T*, uint64_t*,     \
                                                  uint64_t*);
TF_LATTICE_INSTANTIATE(float)
TF_LATTICE_INSTANTIATE(double)
#undef TF_LATTICE_INSTANTIATE

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
