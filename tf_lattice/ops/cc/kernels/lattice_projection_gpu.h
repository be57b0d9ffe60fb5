// Launcher of the CUDA lattice projection kernel (TF-free). It takes the raw
// cudaStream_t as void* and device pointers; it returns an error message,
// empty on success.
#ifndef TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/lib/lattice_projection.h"

namespace tf_lattice {

// projected[u] = ProjectUnit(params[u]) for u < units, one thread per unit;
// scratch holds units * ScratchPerUnit(program) values.
template <typename T>
std::string LaunchLatticeProjection(void* stream, const ProjectionProgram<T>& program,
                                    int64_t units, const T* params, T* projected, T* scratch);

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_LATTICE_PROJECTION_GPU_H_
