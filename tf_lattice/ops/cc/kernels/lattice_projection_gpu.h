// Launchers of the CUDA lattice projection kernels (TF-free). Each takes the
// raw cudaStream_t as void* and device pointers; it returns an error
// message, empty on success.
#ifndef TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_checks.h"

namespace tf_lattice {

// Device words the input checks need.
constexpr int64_t kProjectionCheckScratchWords =
    kNumProjectionChecks + (sizeof(ProjectionCheckFailure) + 7) / 8;

// Runs every check of lattice_projection_checks.h on the device (params holds
// num_params values) and waits for the stream. On success *failed tells
// whether an item fails and, if so, *failure describes the first one (the
// one the CPU kernel's host loop reports). scratch holds
// kProjectionCheckScratchWords device words.
template <typename T>
std::string LaunchProjectionChecks(void* stream, const ProjectionProgram<T>& program,
                                   const T* params, int64_t num_params, int64_t* scratch,
                                   bool* failed, ProjectionCheckFailure* failure);

// projected[u] = ProjectUnit(params[u]) for u < units, one thread per unit;
// scratch holds units * ScratchPerUnit(program) values and masks (device)
// units words. Waits for the stream and copies the masks (ProjectUnit's
// InfeasibleFamilies results, 0 for a feasible unit) to host_masks [units].
template <typename T>
std::string LaunchLatticeProjection(void* stream, const ProjectionProgram<T>& program,
                                    int64_t units, const T* params, T* projected, T* scratch,
                                    uint64_t* masks, uint64_t* host_masks);

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_
