// CUDA kernels of TfLattice>LatticeProjection: the params check of
// lib/lattice_projection_checks.h, one thread per value, and the
// projection, one thread per unit running the steps of lib/lattice_dykstra.h
// (the code the CPU kernel runs, in the ThreadLane layout) and the finalize
// of lib/lattice_finalize.h, with the scratch in global memory.
#if TF_LATTICE_WITH_CUDA

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/kernels/lattice_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/cuda_launch.h"
#include "tf_lattice/ops/cc/lib/lattice_dykstra.h"
#include "tf_lattice/ops/cc/lib/lattice_finalize.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_checks.h"

namespace tf_lattice {
namespace {

constexpr int kThreadsPerBlock = 64;
constexpr int kCheckThreadsPerBlock = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

// Unit u of `units`: its values live at offset u of every vertex of the
// layout arrays (`cycle_values`, CycleValuesPerLane per unit), its finalize
// rows and pooling buffers in `unit_reals` and `unit_ints`.
template <typename T>
__global__ void LatticeProjectionKernel(const ProjectionProgram<T> program,
                                        const DykstraPlan<T> plan, int64_t units,
                                        const T* params, T* projected, T* cycle_values,
                                        T* unit_reals, int64_t* unit_ints, uint64_t* masks) {
  const int64_t n = program.num_vertices;
  const int64_t longest = plan.max_chain_length;
  const int64_t size = n * units;
  T* x = cycle_values;
  T* start = x + size;
  T* result = start + size;
  T* increments = result + size;
  const int64_t cycles = DykstraCycleCount(program);
  for (int64_t u = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; u < units;
       u += int64_t{blockDim.x} * gridDim.x) {
    const ThreadLane layout{units, u};
    const T* x0 = params + u * n;
    T* rows = unit_reals + u * (2 * n + kPoolReals * longest);
    T threshold[1];
    T change[1];
    char active[1];
    const LaneScratch<T> scratch{threshold, change, active, rows + 2 * n,
                                 unit_ints + u * kPoolInts * longest};
    const int shift = DownscaleExponent(x0, n);
    T low, high;
    ScaledBounds(program, shift, &low, &high);
    LoadLanes(program, layout, shift, x0, x, scratch);
    DykstraCycles(plan, layout, cycles, low, high, x, start, increments, result, scratch);
    masks[u] = FinalizeLane(program, layout, 0, shift, x0, result, projected + u * n, rows,
                            rows + n);
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

// Copies `count` host values to the device at *cursor and advances it;
// returns the device copy.
template <typename V>
V* CopyToDevice(const V* host, int64_t count, V** cursor, cudaStream_t stream) {
  V* device = *cursor;
  if (count > 0) {
    cudaMemcpyAsync(device, host, sizeof(V) * count, cudaMemcpyHostToDevice, stream);
  }
  *cursor += count;
  return device;
}

}  // namespace

template <typename T>
std::string LaunchProjectionChecks(void* stream, const ProjectionProgram<T>& program,
                                   const T* params, int64_t num_params, int first_check,
                                   int64_t* scratch, bool* failed,
                                   ProjectionCheckFailure* failure) {
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  unsigned long long* first = reinterpret_cast<unsigned long long*>(scratch);
  ProjectionCheckFailure* device_failure =
      reinterpret_cast<ProjectionCheckFailure*>(scratch + kNumProjectionChecks);
  cudaMemsetAsync(first, 0xFF, sizeof(unsigned long long) * kNumProjectionChecks, cuda_stream);
  for (int check = first_check; check < kNumProjectionChecks; ++check) {
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
  for (int check = first_check; check < kNumProjectionChecks; ++check) {
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
                                    const DykstraPlanTables<T>& plan, int64_t units,
                                    const T* params, T* projected, int64_t* scratch_ints,
                                    T* scratch_reals, double* scratch_doubles, uint64_t* masks,
                                    uint64_t* host_masks) {
  if (units == 0) return std::string();
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t n = program.num_vertices;
  // The program's tables that the device reads, then the plan's.
  ProjectionProgram<T> device_program = program;
  int64_t* ints = scratch_ints;
  T* reals = scratch_reals;
  device_program.chain_index =
      CopyToDevice(program.chain_index, program.num_chain_values, &ints, cuda_stream);
  device_program.row_index =
      CopyToDevice(program.row_index, kRowTerms * program.num_rows, &ints, cuda_stream);
  device_program.row_offsets = CopyToDevice(program.row_offsets, n + 1, &ints, cuda_stream);
  device_program.row_family =
      CopyToDevice(program.row_family, program.num_rows, &ints, cuda_stream);
  device_program.row_coef =
      CopyToDevice(program.row_coef, kRowTerms * program.num_rows, &reals, cuda_stream);
  double* doubles = scratch_doubles;
  device_program.interior_direction =
      CopyToDevice(program.interior_direction, n, &doubles, cuda_stream);
  // Read on the host only.
  device_program.chain_families = nullptr;
  device_program.halfspace_index = nullptr;
  device_program.halfspace_coef = nullptr;
  device_program.halfspace_groups = nullptr;
  const int64_t* plan_ints = CopyToDevice(plan.ints.data(),
                                          static_cast<int64_t>(plan.ints.size()), &ints,
                                          cuda_stream);
  const T* plan_reals = CopyToDevice(plan.reals.data(),
                                     static_cast<int64_t>(plan.reals.size()), &reals,
                                     cuda_stream);
  const DykstraPlan<T> device_plan =
      plan.View(plan_ints, plan_reals, device_program.chain_index);
  T* cycle_values = reals;
  T* unit_reals = cycle_values + units * CycleValuesPerLane(device_plan);
  int64_t* unit_ints = ints;
  LatticeProjectionKernel<T><<<GridBlocks(units, kThreadsPerBlock, kMaxBlocks),
                               kThreadsPerBlock, 0, cuda_stream>>>(
      device_program, device_plan, units, params, projected, cycle_values, unit_reals,
      unit_ints, masks);
  cudaMemcpyAsync(host_masks, masks, sizeof(uint64_t) * units, cudaMemcpyDeviceToHost,
                  cuda_stream);
  // Also keeps the host tables alive until their copies are done.
  cudaStreamSynchronize(cuda_stream);
  return LastCudaError();
}

#define TF_LATTICE_INSTANTIATE(T)                                                           \
  template std::string LaunchProjectionChecks<T>(void*, const ProjectionProgram<T>&,        \
                                                 const T*, int64_t, int, int64_t*, bool*,   \
                                                 ProjectionCheckFailure*);                  \
  template std::string LaunchLatticeProjection<T>(                                          \
      void*, const ProjectionProgram<T>&, const DykstraPlanTables<T>&, int64_t, const T*,   \
      T*, int64_t*, T*, double*, uint64_t*, uint64_t*);
TF_LATTICE_INSTANTIATE(float)
TF_LATTICE_INSTANTIATE(double)
#undef TF_LATTICE_INSTANTIATE

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
