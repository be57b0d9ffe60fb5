// Launchers of the CUDA lattice projection kernels (TF-free). Each takes the
// raw cudaStream_t as void* and device pointers; it returns an error
// message, empty on success.
//
// The GPU op keeps the constraint tables in host memory: they are checked
// there by the host loop the CPU kernel runs (lattice_projection_checks.h),
// the Dykstra plan is built from them there (lattice_dykstra.h), and
// LaunchLatticeProjection copies what the device reads into device scratch.
#ifndef TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/lib/lattice_dykstra.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_checks.h"

namespace tf_lattice {

// Device words the params check needs.
constexpr int64_t kProjectionCheckScratchWords =
    kNumProjectionChecks + (sizeof(ProjectionCheckFailure) + 7) / 8;

// Runs the checks from first_check on of lattice_projection_checks.h on the
// device (program by value; the checks from kCheckParams on read params
// only, which holds num_params device values) and waits for the stream. On
// success *failed tells whether an item fails and, if so, *failure
// describes the first one (the one the CPU kernel's host loop reports).
// scratch holds kProjectionCheckScratchWords device words.
template <typename T>
std::string LaunchProjectionChecks(void* stream, const ProjectionProgram<T>& program,
                                   const T* params, int64_t num_params, int first_check,
                                   int64_t* scratch, bool* failed,
                                   ProjectionCheckFailure* failure);

// Device scratch of LaunchLatticeProjection, in words of each type.
struct GpuProjectionScratch {
  int64_t ints;     // int64
  int64_t reals;    // T
  int64_t doubles;  // double
};

// The device scratch LaunchLatticeProjection needs for `units` units: the
// tables the device reads (chain_index, row_index, row_offsets, row_family,
// the plan's integers; row_coef and the plan's reals; interior_direction),
// the ThreadLane layout arrays (CycleValuesPerLane per unit) and per unit
// the finalize's two rows and the pooling buffers of one long chain.
template <typename T>
GpuProjectionScratch GpuProjectionScratchSize(const ProjectionProgram<T>& program,
                                              const DykstraPlanTables<T>& plan,
                                              int64_t units) {
  const int64_t n = program.num_vertices;
  const int64_t longest = plan.max_chain_length;
  GpuProjectionScratch size;
  size.ints = program.num_chain_values + kRowTerms * program.num_rows + (n + 1) +
              program.num_rows + static_cast<int64_t>(plan.ints.size()) +
              units * kPoolInts * longest;
  size.reals = kRowTerms * program.num_rows + static_cast<int64_t>(plan.reals.size()) +
               units * ((plan.num_projections + 3) * n + 2 * n + kPoolReals * longest);
  size.doubles = n;
  return size;
}

// projected[u] = the projection of params[u] for u < units, one thread per
// unit, running LoadLanes, DykstraCycles and FinalizeLane of
// lattice_dykstra.h in the ThreadLane layout. `program` and `plan` are on
// the host (their tables are copied to the device scratch, sized by
// GpuProjectionScratchSize); params, projected, the scratch and masks
// (units words) are on the device. Waits for the stream and copies the masks
// (0 for a feasible unit) to host_masks [units].
template <typename T>
std::string LaunchLatticeProjection(void* stream, const ProjectionProgram<T>& program,
                                    const DykstraPlanTables<T>& plan, int64_t units,
                                    const T* params, T* projected, int64_t* scratch_ints,
                                    T* scratch_reals, double* scratch_doubles, uint64_t* masks,
                                    uint64_t* host_masks);

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_
