// Launchers of the CUDA lattice interpolation kernels (TF-free). Each takes
// the raw cudaStream_t as void* and device pointers; it returns an error
// message, empty on success.
#ifndef TF_LATTICE_OPS_CC_KERNELS_LATTICE_INTERPOLATION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_LATTICE_INTERPOLATION_GPU_H_

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/lib/lattice_interpolation.h"

namespace tf_lattice {

// What one call evaluates: inputs [batch, d] (per_unit_inputs false) or
// [batch, units, d], params [units, V], outputs [batch, units].
struct LatticeBatch {
  int64_t batch;
  int64_t units;
  bool per_unit_inputs;
  Interpolation interpolation;
};

// outputs[b, u] = f_u(inputs[b(, u)]).
template <typename T>
std::string LaunchLatticeInterpolation(void* stream, const LatticeShape& shape,
                                       const LatticeBatch& batch, const T* inputs,
                                       const T* params, T* outputs);

// grad_inputs (shape of inputs) and grad_params [units, V] of
// sum(grad_outputs * outputs); both are overwritten.
template <typename T>
std::string LaunchLatticeInterpolationGrad(void* stream, const LatticeShape& shape,
                                           const LatticeBatch& batch, const T* inputs,
                                           const T* params, const T* grad_outputs,
                                           T* grad_inputs, T* grad_params);

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_LATTICE_INTERPOLATION_GPU_H_
