// Launchers of the CUDA lattice interpolation kernels (TF-free). Each takes
// the raw cudaStream_t as void* and device pointers; it returns an error
// message, empty on success.
//
// The kernels pick the same per-point function as the CPU kernels for every
// d: a hypercube of at most kMaxLevelDims dimensions is interpolated level by
// level (HypercubeLevelWeights / HypercubeContract*), anything else by the
// corner walk of Interpolate. Level-by-level corner buffers of 2^d values
// (3 * 2^d for the gradient) live in per-thread local arrays for d <=
// kMaxLocalLevelDims and otherwise in a global scratch buffer the caller
// allocates, one slice per thread of a grid sized to fit kMaxGpuScratchBytes.
#ifndef TF_LATTICE_OPS_CC_KERNELS_LATTICE_INTERPOLATION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_LATTICE_INTERPOLATION_GPU_H_

#include <algorithm>
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

// Level-by-level lattices up to this many dims keep their corner buffers in
// per-thread local arrays (the kernels are compiled for each such d).
constexpr int kMaxLocalLevelDims = 6;

// Upper bound on the global scratch of the larger level-by-level lattices.
constexpr int64_t kMaxGpuScratchBytes = int64_t{256} << 20;

// Device buffers one launch needs.
struct LatticeGpuWorkspace {
  // int64 entries of the corner offset table: 2^d when interpolating level
  // by level, else 0.
  int64_t corner_offsets;
  // Threads that each own scratch_per_thread entries of type T of the
  // global scratch buffer (both 0 when no scratch is used).
  int64_t scratch_threads;
  int64_t scratch_per_thread;

  int64_t scratch_entries() const { return scratch_threads * scratch_per_thread; }
};

// True if the hypercube is interpolated level by level (as on the CPU).
inline bool InterpolatesLevelByLevel(const LatticeShape& shape, const LatticeBatch& batch) {
  return batch.interpolation == Interpolation::kHypercube && shape.dims <= kMaxLevelDims;
}

// The workspace of a forward (gradient false) or gradient launch with
// elements of element_bytes bytes. Nothing for an empty batch.
inline LatticeGpuWorkspace LatticeInterpolationWorkspace(const LatticeShape& shape,
                                                         const LatticeBatch& batch,
                                                         bool gradient,
                                                         int64_t element_bytes) {
  LatticeGpuWorkspace workspace{0, 0, 0};
  const int64_t points = batch.batch * batch.units;
  if (points == 0 || !InterpolatesLevelByLevel(shape, batch)) return workspace;
  const int64_t corners = int64_t{1} << shape.dims;
  workspace.corner_offsets = corners;
  if (shape.dims <= kMaxLocalLevelDims) return workspace;
  workspace.scratch_per_thread = (gradient ? 3 : 1) * corners;
  const int64_t affordable =
      kMaxGpuScratchBytes / (workspace.scratch_per_thread * element_bytes);
  workspace.scratch_threads = std::min(points, std::max<int64_t>(1, affordable));
  return workspace;
}

// outputs[b, u] = f_u(inputs[b(, u)]). corner_offsets (workspace.
// corner_offsets int64 entries) and scratch (workspace.scratch_entries()
// entries) are device buffers of the workspace of this launch; either may
// be null when its size is 0.
template <typename T>
std::string LaunchLatticeInterpolation(void* stream, const LatticeShape& shape,
                                       const LatticeBatch& batch,
                                       const LatticeGpuWorkspace& workspace,
                                       int64_t* corner_offsets, T* scratch, const T* inputs,
                                       const T* params, T* outputs);

// grad_inputs (shape of inputs) and grad_params [units, V] of
// sum(grad_outputs * outputs); both are overwritten. Workspace buffers as
// for LaunchLatticeInterpolation (with gradient true).
template <typename T>
std::string LaunchLatticeInterpolationGrad(void* stream, const LatticeShape& shape,
                                           const LatticeBatch& batch,
                                           const LatticeGpuWorkspace& workspace,
                                           int64_t* corner_offsets, T* scratch,
                                           const T* inputs, const T* params,
                                           const T* grad_outputs, T* grad_inputs,
                                           T* grad_params);

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_LATTICE_INTERPOLATION_GPU_H_
