// CPU (and, with CUDA, GPU) kernels of TfLattice>LatticeInterpolation and
// TfLattice>LatticeInterpolationGrad. The per-example math lives in
// lib/lattice_interpolation.h, shared with the CUDA kernels.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/threadpool.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"
#include "tf_lattice/ops/cc/kernels/gpu_stream.h"
#include "tf_lattice/ops/cc/kernels/lattice_interpolation_gpu.h"
#include "tf_lattice/ops/cc/kernels/static_dims.h"
#include "tf_lattice/ops/cc/lib/lattice_interpolation.h"
#include "tf_lattice/ops/cc/ops/lattice_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using ::tf_lattice::HypercubeContract;
using ::tf_lattice::HypercubeContractWithGradient;
using ::tf_lattice::HypercubeLevelWeights;
using ::tf_lattice::IgnoreCorners;
using ::tf_lattice::Interpolate;
using ::tf_lattice::Interpolation;
using ::tf_lattice::kMaxLatticeDims;
using ::tf_lattice::LatticeBatch;
using ::tf_lattice::LatticeCell;
using ::tf_lattice::LatticeShape;
using ::tf_lattice::LocateCell;
using ::tf_lattice::LocateUnitCell;
using ::tf_lattice::ParamsRow;

// Per-shard params-gradient buffers use at most this many bytes in all.
constexpr int64_t kMaxGradScratchBytes = int64_t{256} << 20;

// Unit cells of at least this many dimensions are interpolated by matrix
// products (see UsesProducts). On two threads of an Intel Xeon, forward and
// forward with gradient, against the level-by-level loops: 13 dimensions at
// 32 examples 34 and 73 us (88 and 321 us), at 256 examples 102 and 266 us
// (492 and 2,409 us); 10 dimensions at 32 examples 17 and 20 us (17 and
// 28 us); 9 dimensions stay with the loops.
constexpr int kProductDims = 10;

// Reads and checks the attrs shared by both ops.
class LatticeAttrs {
 public:
  explicit LatticeAttrs(OpKernelConstruction* context) {
    std::vector<int64_t> sizes;
    std::string interpolation;
    OP_REQUIRES_OK(context,
                   ReadLatticeAttrs(context, &sizes, &shape_.num_vertices, &interpolation));
    shape_.dims = static_cast<int>(sizes.size());
    for (int k = 0; k < shape_.dims; ++k) shape_.sizes[k] = sizes[k];
    shape_.strides[shape_.dims - 1] = 1;
    for (int k = shape_.dims - 2; k >= 0; --k) {
      shape_.strides[k] = shape_.strides[k + 1] * shape_.sizes[k + 1];
    }
    interpolation_ =
        interpolation == "simplex" ? Interpolation::kSimplex : Interpolation::kHypercube;
    if (interpolation_ == Interpolation::kHypercube &&
        shape_.dims <= ::tf_lattice::kMaxLevelDims) {
      corner_offsets_.resize(size_t{1} << shape_.dims);
      ::tf_lattice::HypercubeCornerOffsets(shape_.dims, shape_.strides, corner_offsets_.data());
      unit_cell_ = std::all_of(sizes.begin(), sizes.end(), [](int64_t m) { return m == 2; });
    }
  }

  // Whether the lattice is a hypercube of sizes all 2 interpolated level by
  // level: its one cell starts at vertex 0 (see LocateUnitCell).
  bool unit_cell() const { return unit_cell_; }

  // Vertex offsets of the 2^d cell corners from the lower corner when the
  // hypercube is interpolated level by level, else null.
  const int64_t* corner_offsets() const {
    return corner_offsets_.empty() ? nullptr : corner_offsets_.data();
  }

  const LatticeShape& shape() const { return shape_; }

  // Checks inputs [batch, d] or [batch, units, d] against params [units, V].
  bool ValidateInputs(OpKernelContext* context, const Tensor& inputs, const Tensor& params,
                      LatticeBatch* batch) const {
    const int rank = inputs.dims();
    const std::string inputs_shape = inputs.shape().DebugString();
    const std::string params_shape = params.shape().DebugString();
    if (!Require(context, rank == 2 || rank == 3,
                 "inputs must have rank 2 [batch, d] or 3 [batch, units, d], got shape ",
                 inputs_shape)) {
      return false;
    }
    if (!Require(context, params.dims() == 2,
                 "params must have rank 2 [units, prod(lattice_sizes)], got shape ",
                 params_shape)) {
      return false;
    }
    if (!Require(context, inputs.dim_size(rank - 1) == shape_.dims,
                 "inputs last dimension must equal len(lattice_sizes) = ", shape_.dims,
                 ", got inputs shape ", inputs_shape)) {
      return false;
    }
    if (!Require(context, params.dim_size(1) == shape_.num_vertices,
                 "params second dimension must equal prod(lattice_sizes) = ",
                 shape_.num_vertices, ", got params shape ", params_shape)) {
      return false;
    }
    if (!Require(context, rank == 2 || inputs.dim_size(1) == params.dim_size(0),
                 "inputs units (dimension 1) must equal params units (dimension 0), got "
                 "inputs shape ",
                 inputs_shape, " and params shape ", params_shape)) {
      return false;
    }
    batch->batch = inputs.dim_size(0);
    batch->units = params.dim_size(0);
    batch->per_unit_inputs = rank == 3;
    batch->interpolation = interpolation_;
    return true;
  }

  // Estimated cycles of interpolating one (example, unit) pair, forward or
  // gradient, from timings on an Intel Xeon: a unit cell (vector lanes)
  // about one per corner and three per dimension (8 corners: 11, 256: 300),
  // the level-by-level loops two per corner and ten per dimension (3^8: 480,
  // a 13-dimensional unit cell through them: 12,600), the matrix products
  // of unit cells of kProductDims or more half a cycle per corner and twenty
  // per dimension (13 dimensions: 1,900 forward and 3,500 gradient at 256
  // examples, 3,600 forward at 32); the corner walk as four corners per
  // simplex vertex.
  int64_t CostPerPoint() const {
    const int64_t dims = shape_.dims;
    if (interpolation_ == Interpolation::kSimplex || corner_offsets_.empty()) {
      const int64_t corners = interpolation_ == Interpolation::kSimplex
                                  ? 4 * (dims + 1)
                                  : (int64_t{1} << std::min<int64_t>(dims, 40));
      return 20 * dims + 6 * corners;
    }
    const int64_t corners = int64_t{1} << dims;
    if (unit_cell_ && dims >= kProductDims) return corners / 2 + 20 * dims;
    return unit_cell_ && dims <= 8 ? corners + 3 * dims : 2 * corners + 10 * dims;
  }

 private:
  // Sets an InvalidArgument error and returns false unless `condition`.
  template <typename... Args>
  static bool Require(OpKernelContext* context, bool condition, const Args&... message) {
    if (!condition) context->CtxFailure(absl::InvalidArgumentError(absl::StrCat(message...)));
    return condition;
  }

  LatticeShape shape_;
  Interpolation interpolation_ = Interpolation::kHypercube;
  std::vector<int64_t> corner_offsets_;
  bool unit_cell_ = false;
};

bool IsSimplex(const LatticeBatch& batch) {
  return batch.interpolation == Interpolation::kSimplex;
}


// Row of the inputs that example b reads for unit u.
inline int64_t InputRow(const LatticeBatch& batch, int64_t b, int64_t u) {
  return batch.per_unit_inputs ? b * batch.units + u : b;
}

// Locates the cell of example b for unit u (inputs of one unit or shared).
// kDims > 0 fixes d at compile time: the hypercube loops inline it, so that
// the per-dimension loop unrolls.
template <typename T, int kDims = 0>
inline __attribute__((always_inline)) void LocatePoint(const LatticeShape& shape,
                                                       const LatticeBatch& batch,
                                                       const T* inputs, int64_t b, int64_t u,
                                                       LatticeCell<T>* cell) {
  const int d = kDims > 0 ? kDims : shape.dims;
  LocateCell(d, inputs + InputRow(batch, b, u) * d, shape.sizes, shape.strides, cell);
}

// Vector lanes (GCC vector extensions: SSE on every x86-64, NEON on ARM):
// each arithmetic instruction serves kLanes values. The unit-cell loops put
// one example in each lane, the contraction of wide lattices one corner.
constexpr int kLanes = 4;

template <typename T>
struct LaneTypes {
  typedef T Values __attribute__((vector_size(kLanes * sizeof(T))));
  // What a comparison of Values gives: all bits set in a lane where it holds.
  typedef decltype(Values{} < Values{}) Mask;
};

// Lerp, lane by lane. With kGuarded false it is v + r * difference alone:
// Lerp's value wherever the difference is finite, which LerpsStayFinite
// guarantees for every lerp of a contraction.
template <bool kGuarded, typename Values>
inline __attribute__((always_inline)) Values LerpLanes(Values v, Values w, Values r,
                                                       Values difference) {
  if constexpr (!kGuarded) return v + r * difference;
  const Values one = Values{} + 1;
  return difference - difference == Values{} ? v + r * difference : (one - r) * v + r * w;
}

// Whether no lerp of a hypercube contraction of `values` (any count of them,
// with residuals in [0, 1]) meets an infinite difference, so that the
// unguarded LerpLanes gives Lerp's results: every entry is finite and at most
// max / 4 in magnitude. Each level's values are convex combinations of the
// entries, up to a relative rounding of a few ulps, so every difference stays
// within max / 2 (1 + tiny). A NaN residual makes both lerps NaN.
template <typename T>
bool LerpsStayFinite(const T* values, int64_t count) {
  const T limit = std::numeric_limits<T>::max() / 4;
  bool finite = true;
  for (int64_t i = 0; i < count; ++i) finite &= values[i] <= limit && values[i] >= -limit;
  return finite;
}

// Per unit of params [units, num_vertices]: 1 where LerpsStayFinite holds
// for its row, so that its contractions run unguarded.
template <typename T>
std::vector<char> UnguardedUnits(const T* params, int64_t units, int64_t num_vertices) {
  std::vector<char> unguarded(units);
  for (int64_t u = 0; u < units; ++u) {
    unguarded[u] = LerpsStayFinite(params + u * num_vertices, num_vertices);
  }
  return unguarded;
}

// Hypercube contraction of lattices of kWideDims or more dimensions whose
// cells the level-by-level loops read (all but the unit cells of at most 8
// dimensions, which put one example in each lane), kLanes corners at a
// time: each level's lerps (v[j] and v[j + 2^k], one lane per j) are those
// of HypercubeContract, element by element, so the outputs are the same
// numbers; only the loops are vectorized (the scalar Lerp's branch keeps the
// compiler from doing it). The levels of fewer than kLanes corners, and
// lattices of fewer dimensions, whose short loops gain nothing, run the
// scalar code. The gradient's sum over a level (df/dr_k) adds kLanes
// interleaved partial sums, then the lanes in order: a different order of
// the same terms than the scalar code's.
constexpr int kWideDims = 6;

// Whether a call runs the level-by-level loops (hypercubes of at most
// kMaxLevelDims dimensions), not the corner walk.
bool LevelByLevel(const LatticeAttrs& attrs, const LatticeBatch& batch) {
  return attrs.corner_offsets() != nullptr && !IsSimplex(batch);
}

// UnguardedUnits where the vector lanes read it (level by level: unit cells,
// and lattices of kWideDims or more dimensions); empty elsewhere, where the
// scalar Lerp keeps its guard.
template <typename T>
std::vector<char> LaneGuards(const LatticeAttrs& attrs, const LatticeBatch& batch,
                             const T* params) {
  const LatticeShape& shape = attrs.shape();
  if (!LevelByLevel(attrs, batch) || (!attrs.unit_cell() && shape.dims < kWideDims)) return {};
  return UnguardedUnits(params, batch.units, shape.num_vertices);
}

template <typename Values, typename T>
inline __attribute__((always_inline)) Values LoadLanes(const T* data) {
  Values values;
  std::memcpy(&values, data, sizeof(Values));
  return values;
}

template <typename Values, typename T>
inline __attribute__((always_inline)) void StoreLanes(const Values& values, T* data) {
  std::memcpy(data, &values, sizeof(Values));
}

// HypercubeContract (lib/) for d >= kWideDims; `values` is overwritten.
// kGuarded false: the lerps are unguarded (see LerpsStayFinite).
template <bool kGuarded, typename T>
T WideHypercubeContract(int d, const T* residual, T* values) {
  using Values = typename LaneTypes<T>::Values;
  for (int k = d - 1; k >= 0; --k) {
    const int64_t half = int64_t{1} << k;
    if (half < kLanes) {
      HypercubeContract(k + 1, residual, values);
      break;
    }
    const Values r = Values{} + residual[k];
    for (int64_t j = 0; j < half; j += kLanes) {
      const Values low = LoadLanes<Values>(values + j);
      const Values high = LoadLanes<Values>(values + half + j);
      StoreLanes(LerpLanes<kGuarded>(low, high, r, high - low), values + j);
    }
  }
  return values[0];
}

// HypercubeContractWithGradient (lib/) for d >= kWideDims (kGuarded as in
// WideHypercubeContract).
template <bool kGuarded, typename T>
T WideHypercubeContractWithGradient(int d, const T* residual, const T* level_weights,
                                    T* values, T* grad_residual) {
  using Values = typename LaneTypes<T>::Values;
  for (int k = d - 1; k >= 0; --k) {
    const int64_t half = int64_t{1} << k;
    if (half < kLanes) {
      HypercubeContractWithGradient(k + 1, residual, level_weights, values, grad_residual);
      break;
    }
    const Values r = Values{} + residual[k];
    const T* weight = level_weights + half;
    Values sums = Values{};
    for (int64_t j = 0; j < half; j += kLanes) {
      const Values low = LoadLanes<Values>(values + j);
      const Values high = LoadLanes<Values>(values + half + j);
      const Values difference = high - low;
      sums += LoadLanes<Values>(weight + j) * difference;
      StoreLanes(LerpLanes<kGuarded>(low, high, r, difference), values + j);
    }
    T sum = T(0);
    for (int lane = 0; lane < kLanes; ++lane) sum += sums[lane];
    grad_residual[k] = sum;
  }
  return values[0];
}

// outputs[b, u] for b in [begin, end), corner walk of lib/ (simplex, or
// hypercubes too large for the level-by-level buffers).
template <typename T>
void ForwardRange(const LatticeShape& shape, const LatticeBatch& batch, const T* inputs,
                  const T* params, T* outputs, int64_t begin, int64_t end) {
  LatticeCell<T> cell;
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t u = 0; u < batch.units; ++u) {
      if (u == 0 || batch.per_unit_inputs) LocatePoint(shape, batch, inputs, b, u, &cell);
      const ParamsRow<T> theta{params + u * shape.num_vertices};
      outputs[b * batch.units + u] = Interpolate(batch.interpolation, shape.dims, cell,
                                                 shape.strides, theta, IgnoreCorners(),
                                                 static_cast<T*>(nullptr));
    }
  }
}

// Hypercube outputs[b, u] for b in [begin, end): gathers the 2^d corner
// values (vertex base + corner_offsets[j]) and contracts them.
// kDims > 0 fixes d at compile time (so the level loops unroll), 0 reads it
// from `shape`.
template <typename T, int kDims>
void HypercubeForwardRange(const LatticeShape& shape, const LatticeBatch& batch,
                           const int64_t* corner_offsets, const char* unguarded, const T* inputs,
                           const T* params, T* outputs, int64_t begin, int64_t end) {
  const int d = kDims > 0 ? kDims : shape.dims;
  const int64_t corners = int64_t{1} << d;
  std::vector<T> values(corners);
  T* __restrict__ corner_values = values.data();
  LatticeCell<T> cell;
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t u = 0; u < batch.units; ++u) {
      if (u == 0 || batch.per_unit_inputs) {
        LocatePoint<T, kDims>(shape, batch, inputs, b, u, &cell);
      }
      const T* __restrict__ theta = params + u * shape.num_vertices + cell.base;
      for (int64_t j = 0; j < corners; ++j) corner_values[j] = theta[corner_offsets[j]];
      T output;
      if (d < kWideDims) {
        output = HypercubeContract(d, cell.residual, corner_values);
      } else if (unguarded[u]) {
        output = WideHypercubeContract<false>(d, cell.residual, corner_values);
      } else {
        output = WideHypercubeContract<true>(d, cell.residual, corner_values);
      }
      outputs[b * batch.units + u] = output;
    }
  }
}

// Adds grad_output * df/dr_k into the grad_inputs row where the clip passes
// the gradient (elsewhere +0, which leaves the row's values as they are: a
// row starts at +0 and never becomes -0, as a sum is -0 only when both terms
// are).
template <typename T>
void AddInputGradient(int d, const bool* passes_gradient, const T* grad_residual,
                      T grad_output, T* grad_row) {
  for (int k = 0; k < d; ++k) {
    const T term = grad_output * grad_residual[k];
    grad_row[k] += passes_gradient[k] ? term : T(0);
  }
}

// Gradients for b in [begin, end): adds into the (zeroed) grad_inputs rows of
// those examples and into grad_params (one buffer per shard, so no two
// threads share it).
template <typename T>
void GradRange(const LatticeShape& shape, const LatticeBatch& batch, const T* inputs,
               const T* params, const T* grad_outputs, T* grad_inputs, T* grad_params,
               int64_t begin, int64_t end) {
  LatticeCell<T> cell;
  T grad_residual[kMaxLatticeDims];
  const int d = shape.dims;
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t u = 0; u < batch.units; ++u) {
      if (u == 0 || batch.per_unit_inputs) LocatePoint(shape, batch, inputs, b, u, &cell);
      const T grad_output = grad_outputs[b * batch.units + u];
      const ParamsRow<T> theta{params + u * shape.num_vertices};
      T* unit_grad_params = grad_params + u * shape.num_vertices + cell.base;
      auto on_corner = [unit_grad_params, grad_output](int64_t offset, T weight) {
        unit_grad_params[offset] += grad_output * weight;
      };
      Interpolate(batch.interpolation, d, cell, shape.strides, theta, on_corner,
                  grad_residual);
      AddInputGradient(d, cell.passes_gradient, grad_residual, grad_output,
                       grad_inputs + InputRow(batch, b, u) * d);
    }
  }
}

// Hypercube gradients for b in [begin, end), same contract as GradRange:
// the level weights of a point (shared by the units when the inputs are)
// give the params gradient at each corner and, with the gathered corner
// values, df/dr.
template <typename T, int kDims>
void HypercubeGradRange(const LatticeShape& shape, const LatticeBatch& batch,
                        const int64_t* corner_offsets, const char* unguarded, const T* inputs,
                        const T* params, const T* grad_outputs, T* grad_inputs,
                        T* grad_params, int64_t begin, int64_t end) {
  const int d = kDims > 0 ? kDims : shape.dims;
  const int64_t corners = int64_t{1} << d;
  std::vector<T> scratch(3 * corners);
  T* __restrict__ level_weights = scratch.data();
  const T* __restrict__ corner_weights = level_weights + corners;
  T* __restrict__ corner_values = level_weights + 2 * corners;
  LatticeCell<T> cell;
  T grad_residual[kMaxLatticeDims];
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t u = 0; u < batch.units; ++u) {
      if (u == 0 || batch.per_unit_inputs) {
        LocatePoint<T, kDims>(shape, batch, inputs, b, u, &cell);
        HypercubeLevelWeights(d, cell.residual, level_weights);
      }
      const T grad_output = grad_outputs[b * batch.units + u];
      const T* __restrict__ theta = params + u * shape.num_vertices + cell.base;
      T* __restrict__ grad_theta = grad_params + u * shape.num_vertices + cell.base;
      for (int64_t j = 0; j < corners; ++j) {
        const int64_t offset = corner_offsets[j];
        corner_values[j] = theta[offset];
        grad_theta[offset] += grad_output * corner_weights[j];
      }
      if (d >= kWideDims && unguarded[u]) {
        WideHypercubeContractWithGradient<false>(d, cell.residual, level_weights,
                                                 corner_values, grad_residual);
      } else if (d >= kWideDims) {
        WideHypercubeContractWithGradient<true>(d, cell.residual, level_weights,
                                                corner_values, grad_residual);
      } else {
        HypercubeContractWithGradient(d, cell.residual, level_weights, corner_values,
                                      grad_residual);
      }
      AddInputGradient(d, cell.passes_gradient, grad_residual, grad_output,
                       grad_inputs + InputRow(batch, b, u) * d);
    }
  }
}

// Unit cells, kLanes examples at a time (per-unit inputs, or one unit; where
// several units share their inputs, the scalar code locates each example
// once for all of them): one vector lane per example. Each lane computes
// exactly what LocateUnitCell, HypercubeContract and
// HypercubeContractWithGradient compute for its example, in the same order,
// so outputs and input gradients are those of the scalar code; a params
// gradient adds its lanes' sums, a different order of the same terms.

// The residuals (LocateUnitCell) of examples b, ..., b + kLanes - 1 for unit
// u, and the masks of the lanes whose input lies in [0, 1].
template <typename T, int kDims>
inline __attribute__((always_inline)) void LocateUnitCellLanes(
    const LatticeBatch& batch, const T* inputs, int64_t b, int64_t u,
    typename LaneTypes<T>::Values* residual, typename LaneTypes<T>::Mask* passes_gradient) {
  using Values = typename LaneTypes<T>::Values;
  const Values zero = Values{};
  const Values one = zero + T(1);
  for (int k = 0; k < kDims; ++k) {
    Values value;
    for (int lane = 0; lane < kLanes; ++lane) {
      value[lane] = inputs[InputRow(batch, b + lane, u) * kDims + k];
    }
    const Values positive = value > zero ? value : zero;
    const Values clipped = positive < one ? positive : one;
    residual[k] = value == value ? clipped : value;
    passes_gradient[k] = ~(value < zero) & ~(value > one);
  }
}

// Outputs of unit u (params theta, [2^kDims] in corner order) for the
// examples in [begin, end), kLanes at a time; returns where it stopped (the
// rest, fewer than kLanes examples, is for the scalar code). kGuarded false:
// unguarded lerps (see LerpsStayFinite).
template <typename T, int kDims, bool kGuarded>
int64_t UnitCellForwardLanes(const LatticeBatch& batch, const T* theta, const T* inputs,
                             int64_t u, T* outputs, int64_t begin, int64_t end) {
  using Values = typename LaneTypes<T>::Values;
  using Mask = typename LaneTypes<T>::Mask;
  constexpr int kCorners = 1 << kDims;
  Values residual[kDims];
  Mask passes_gradient[kDims];
  Values values[kCorners];
  int64_t b = begin;
  for (; b + kLanes <= end; b += kLanes) {
    LocateUnitCellLanes<T, kDims>(batch, inputs, b, u, residual, passes_gradient);
    for (int j = 0; j < kCorners; ++j) values[j] = Values{} + theta[j];
    for (int k = kDims - 1; k >= 0; --k) {
      const int half = 1 << k;
      for (int j = 0; j < half; ++j) {
        values[j] = LerpLanes<kGuarded>(values[j], values[j + half], residual[k],
                              values[j + half] - values[j]);
      }
    }
    for (int lane = 0; lane < kLanes; ++lane) {
      outputs[(b + lane) * batch.units + u] = values[0][lane];
    }
  }
  return b;
}

// Gradients of unit u (see UnitCellForwardLanes) for the examples in
// [begin, end), kLanes at a time: adds into grad_inputs and into
// grad_theta ([2^kDims] in corner order). Returns where it stopped.
template <typename T, int kDims, bool kGuarded>
int64_t UnitCellGradLanes(const LatticeBatch& batch, const T* theta, const T* inputs,
                          const T* grad_outputs, int64_t u, T* grad_inputs, T* grad_theta,
                          int64_t begin, int64_t end) {
  using Values = typename LaneTypes<T>::Values;
  using Mask = typename LaneTypes<T>::Mask;
  constexpr int kCorners = 1 << kDims;
  Values residual[kDims];
  Mask passes_gradient[kDims];
  Values level_weights[2 * kCorners];
  const Values* corner_weights = level_weights + kCorners;
  Values values[kCorners];
  Values grad_sums[kCorners];
  for (int j = 0; j < kCorners; ++j) grad_sums[j] = Values{};
  int64_t b = begin;
  for (; b + kLanes <= end; b += kLanes) {
    LocateUnitCellLanes<T, kDims>(batch, inputs, b, u, residual, passes_gradient);
    level_weights[1] = Values{} + T(1);
    for (int k = 0; k < kDims; ++k) {
      const int half = 1 << k;
      const Values one_minus_r = T(1) - residual[k];
      for (int j = 0; j < half; ++j) {
        level_weights[2 * half + j] = level_weights[half + j] * one_minus_r;
        level_weights[3 * half + j] = level_weights[half + j] * residual[k];
      }
    }
    Values grad_output;
    for (int lane = 0; lane < kLanes; ++lane) {
      grad_output[lane] = grad_outputs[(b + lane) * batch.units + u];
    }
    for (int j = 0; j < kCorners; ++j) {
      grad_sums[j] += grad_output * corner_weights[j];
      values[j] = Values{} + theta[j];
    }
    for (int k = kDims - 1; k >= 0; --k) {
      const int half = 1 << k;
      Values sum = Values{};
      for (int j = 0; j < half; ++j) {
        const Values difference = values[j + half] - values[j];
        sum += level_weights[half + j] * difference;
        values[j] = LerpLanes<kGuarded>(values[j], values[j + half], residual[k], difference);
      }
      const Values term = grad_output * sum;
      const Values added = passes_gradient[k] ? term : Values{};
      for (int lane = 0; lane < kLanes; ++lane) {
        grad_inputs[InputRow(batch, b + lane, u) * kDims + k] += added[lane];
      }
    }
  }
  for (int j = 0; j < kCorners; ++j) {
    T total = T(0);
    for (int lane = 0; lane < kLanes; ++lane) total += grad_sums[j][lane];
    grad_theta[j] += total;
  }
  return b;
}

// HypercubeForwardRange for a unit cell (LatticeAttrs::unit_cell, kDims
// dimensions): every point's cell is the whole lattice, so its corner values
// are the unit's params at corner_offsets, read without a cell search.
template <typename T, int kDims>
void UnitCellForwardRange(const LatticeBatch& batch, const int64_t* corner_offsets,
                          const char* unguarded, const T* inputs, const T* params, T* outputs,
                          int64_t begin, int64_t end) {
  constexpr int kCorners = 1 << kDims;
  int64_t offsets[kCorners];
  std::copy(corner_offsets, corner_offsets + kCorners, offsets);
  T residual[kDims];
  bool passes_gradient[kDims];
  T corner_values[kCorners];
  if (batch.per_unit_inputs || batch.units == 1) {
    int64_t lanes_end = begin;
    for (int64_t u = 0; u < batch.units; ++u) {
      for (int j = 0; j < kCorners; ++j) corner_values[j] = params[u * kCorners + offsets[j]];
      lanes_end = unguarded[u] ? UnitCellForwardLanes<T, kDims, false>(
                                     batch, corner_values, inputs, u, outputs, begin, end)
                               : UnitCellForwardLanes<T, kDims, true>(
                                     batch, corner_values, inputs, u, outputs, begin, end);
    }
    begin = lanes_end;
  }
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t u = 0; u < batch.units; ++u) {
      if (u == 0 || batch.per_unit_inputs) {
        LocateUnitCell(kDims, inputs + InputRow(batch, b, u) * kDims, residual, passes_gradient);
      }
      const T* __restrict__ theta = params + u * kCorners;
      for (int j = 0; j < kCorners; ++j) corner_values[j] = theta[offsets[j]];
      outputs[b * batch.units + u] = HypercubeContract(kDims, residual, corner_values);
    }
  }
}

// HypercubeGradRange for a unit cell (see UnitCellForwardRange).
template <typename T, int kDims>
void UnitCellGradRange(const LatticeBatch& batch, const int64_t* corner_offsets,
                       const char* unguarded, const T* inputs, const T* params,
                       const T* grad_outputs, T* grad_inputs, T* grad_params, int64_t begin,
                       int64_t end) {
  constexpr int kCorners = 1 << kDims;
  int64_t offsets[kCorners];
  std::copy(corner_offsets, corner_offsets + kCorners, offsets);
  T residual[kDims];
  bool passes_gradient[kDims];
  T level_weights[2 * kCorners];
  const T* corner_weights = level_weights + kCorners;
  T corner_values[kCorners];
  T grad_residual[kDims];
  if (batch.per_unit_inputs || batch.units == 1) {
    int64_t lanes_end = begin;
    T grad_theta[kCorners];
    for (int64_t u = 0; u < batch.units; ++u) {
      for (int j = 0; j < kCorners; ++j) {
        corner_values[j] = params[u * kCorners + offsets[j]];
        grad_theta[j] = T(0);
      }
      lanes_end = unguarded[u]
                      ? UnitCellGradLanes<T, kDims, false>(batch, corner_values, inputs,
                                                           grad_outputs, u, grad_inputs,
                                                           grad_theta, begin, end)
                      : UnitCellGradLanes<T, kDims, true>(batch, corner_values, inputs,
                                                          grad_outputs, u, grad_inputs,
                                                          grad_theta, begin, end);
      for (int j = 0; j < kCorners; ++j) grad_params[u * kCorners + offsets[j]] += grad_theta[j];
    }
    begin = lanes_end;
  }
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t u = 0; u < batch.units; ++u) {
      const int64_t row = InputRow(batch, b, u);
      if (u == 0 || batch.per_unit_inputs) {
        LocateUnitCell(kDims, inputs + row * kDims, residual, passes_gradient);
        HypercubeLevelWeights(kDims, residual, level_weights);
      }
      const T grad_output = grad_outputs[b * batch.units + u];
      const T* __restrict__ theta = params + u * kCorners;
      T* __restrict__ grad_theta = grad_params + u * kCorners;
      for (int j = 0; j < kCorners; ++j) {
        corner_values[j] = theta[offsets[j]];
        grad_theta[offsets[j]] += grad_output * corner_weights[j];
      }
      HypercubeContractWithGradient(kDims, residual, level_weights, corner_values,
                                    grad_residual);
      AddInputGradient(kDims, passes_gradient, grad_residual, grad_output,
                       grad_inputs + row * kDims);
    }
  }
}

// Unit cells of kProductDims or more dimensions whose units are all
// unguarded (see LerpsStayFinite) are interpolated a block of examples at a
// time by matrix products, where the level-by-level loops read all 2^d
// corners of every example. Corner j = jL + 2^a jH splits into the a low
// dimensions 0..a-1 (the bits of jL) and the h = d - a high ones (the bits
// of jH), and its weight into wL[jL] wH[jH] (HypercubeLevelWeights of each
// part). With a unit's params in corner order as P [2^h, 2^a] (P[jH, jL] =
// theta at corner j) and the corner weights of n examples as the rows of WL
// [n, 2^a] and WH [n, 2^h]:
//   U = WH P [n, 2^a] (the high dimensions contracted), f = sum_jL WL U;
//   df/dr_k for k < a is the contraction with gradient of U's row over the
//   low dimensions, for k >= a that of Z's row over the high ones, with
//   Z = WL P^T [n, 2^h];
//   df/dP = (g WH)^T WL [2^h, 2^a] for the grad_outputs g [n].
// So an example costs about 3 V multiply-adds in blocked matrix products
// instead of 4 V scattered loads, stores and lerps. The sums run in another
// order than the lerps', so the results differ from the loops' in rounding.

// Examples per block of products: their weights and products stay cached.
constexpr int64_t kProductBlock = 64;

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// `rows` x `cols` entries of rows `stride` apart.
template <typename T>
using StridedRows = Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>>;

// Whether a call runs the matrix-product path above.
bool UsesProducts(const LatticeAttrs& attrs, const LatticeBatch& batch,
                  const std::vector<char>& unguarded) {
  return attrs.unit_cell() && attrs.shape().dims >= kProductDims && LevelByLevel(attrs, batch) &&
         std::all_of(unguarded.begin(), unguarded.end(), [](char flag) { return flag != 0; });
}

// params [units, V] of a unit cell in corner order: entry u V + j is unit
// u's value at corner j (vertex corner_offsets[j]).
template <typename T>
std::vector<T> CornerOrderParams(const T* params, int64_t units, int64_t corners,
                                 const int64_t* corner_offsets) {
  std::vector<T> ordered(units * corners);
  for (int64_t u = 0; u < units; ++u) {
    for (int64_t j = 0; j < corners; ++j) {
      ordered[u * corners + j] = params[u * corners + corner_offsets[j]];
    }
  }
  return ordered;
}

// The buffers of one block of examples for one unit: residuals and gradient
// flags [n, d], level weights of the low dimensions [n, 2 * 2^a] and of the
// high ones [n, 2 * 2^h] (the corner weights are each row's upper half), U
// [n, 2^a] and, for the gradient, Z and g WH [n, 2^h].
template <typename T>
class ProductBlock {
 public:
  explicit ProductBlock(int dims)
      : dims_(dims),
        low_dims_(dims / 2),
        low_corners_(int64_t{1} << low_dims_),
        high_corners_(int64_t{1} << (dims - low_dims_)),
        residuals_(kProductBlock * dims),
        passes_(new bool[kProductBlock * dims]),
        low_levels_(kProductBlock * 2 * low_corners_),
        high_levels_(kProductBlock * 2 * high_corners_),
        contracted_high_(kProductBlock * low_corners_),
        contracted_low_(kProductBlock * high_corners_),
        scaled_high_(kProductBlock * high_corners_) {}

  int64_t low_corners() const { return low_corners_; }
  int64_t high_corners() const { return high_corners_; }

  // Locates the examples [first, first + n) of unit u and computes their
  // level weights.
  void Locate(const LatticeBatch& batch, const T* inputs, int64_t u, int64_t first, int64_t n) {
    n_ = n;
    for (int64_t i = 0; i < n; ++i) {
      T* residual = residuals_.data() + i * dims_;
      LocateUnitCell(dims_, inputs + InputRow(batch, first + i, u) * dims_, residual,
                     passes_.get() + i * dims_);
      HypercubeLevelWeights(low_dims_, residual, low_levels_.data() + i * 2 * low_corners_);
      HypercubeLevelWeights(dims_ - low_dims_, residual + low_dims_,
                            high_levels_.data() + i * 2 * high_corners_);
    }
  }

  // WL and WH [n, 2^a] and [n, 2^h].
  StridedRows<T> LowWeights() {
    return StridedRows<T>(low_levels_.data() + low_corners_, n_, low_corners_,
                          Eigen::OuterStride<>(2 * low_corners_));
  }
  StridedRows<T> HighWeights() {
    return StridedRows<T>(high_levels_.data() + high_corners_, n_, high_corners_,
                          Eigen::OuterStride<>(2 * high_corners_));
  }

  // U = WH P; returns f [n] into outputs[i * stride].
  void Forward(const Eigen::Map<const RowMatrix<T>>& theta, T* outputs, int64_t stride) {
    Eigen::Map<RowMatrix<T>> contracted(contracted_high_.data(), n_, low_corners_);
    contracted.noalias() = HighWeights() * theta;
    const StridedRows<T> low = LowWeights();
    for (int64_t i = 0; i < n_; ++i) outputs[i * stride] = low.row(i).dot(contracted.row(i));
  }

  // Adds df/dP into grad_theta [2^h, 2^a] and g df/dx into the grad_inputs
  // rows of the block's examples (grad_outputs[i * stride] is example i's g).
  void Gradient(const Eigen::Map<const RowMatrix<T>>& theta, const LatticeBatch& batch,
                int64_t u, int64_t first, const T* grad_outputs, int64_t stride,
                Eigen::Map<RowMatrix<T>>* grad_theta, T* grad_inputs) {
    Eigen::Map<RowMatrix<T>> contracted_high(contracted_high_.data(), n_, low_corners_);
    Eigen::Map<RowMatrix<T>> contracted_low(contracted_low_.data(), n_, high_corners_);
    Eigen::Map<RowMatrix<T>> scaled_high(scaled_high_.data(), n_, high_corners_);
    const StridedRows<T> low = LowWeights();
    const StridedRows<T> high = HighWeights();
    contracted_high.noalias() = high * theta;
    contracted_low.noalias() = low * theta.transpose();
    for (int64_t i = 0; i < n_; ++i) scaled_high.row(i) = grad_outputs[i * stride] * high.row(i);
    grad_theta->noalias() += scaled_high.transpose() * low;
    T grad_residual[kMaxLatticeDims];
    const int high_dims = dims_ - low_dims_;
    for (int64_t i = 0; i < n_; ++i) {
      const T* residual = residuals_.data() + i * dims_;
      HypercubeContractWithGradient(low_dims_, residual,
                                    low_levels_.data() + i * 2 * low_corners_,
                                    contracted_high_.data() + i * low_corners_, grad_residual);
      HypercubeContractWithGradient(high_dims, residual + low_dims_,
                                    high_levels_.data() + i * 2 * high_corners_,
                                    contracted_low_.data() + i * high_corners_,
                                    grad_residual + low_dims_);
      AddInputGradient(dims_, passes_.get() + i * dims_,
                       grad_residual, grad_outputs[i * stride],
                       grad_inputs + InputRow(batch, first + i, u) * dims_);
    }
  }

 private:
  const int dims_;
  const int low_dims_;
  const int64_t low_corners_;
  const int64_t high_corners_;
  int64_t n_ = 0;
  std::vector<T> residuals_;
  std::unique_ptr<bool[]> passes_;
  std::vector<T> low_levels_;
  std::vector<T> high_levels_;
  std::vector<T> contracted_high_;
  std::vector<T> contracted_low_;
  std::vector<T> scaled_high_;
};

// outputs[b, u] for b in [begin, end) by the product path (corner_params:
// CornerOrderParams).
template <typename T>
void ProductForwardRange(const LatticeBatch& batch, int dims, const T* corner_params,
                         const T* inputs, T* outputs, int64_t begin, int64_t end) {
  ProductBlock<T> block(dims);
  const int64_t corners = int64_t{1} << dims;
  for (int64_t u = 0; u < batch.units; ++u) {
    const Eigen::Map<const RowMatrix<T>> theta(corner_params + u * corners,
                                               block.high_corners(), block.low_corners());
    for (int64_t first = begin; first < end; first += kProductBlock) {
      block.Locate(batch, inputs, u, first, std::min(kProductBlock, end - first));
      block.Forward(theta, outputs + first * batch.units + u, batch.units);
    }
  }
}

// Gradients for b in [begin, end) by the product path, same contract as
// GradRange.
template <typename T>
void ProductGradRange(const LatticeBatch& batch, int dims, const int64_t* corner_offsets,
                      const T* corner_params, const T* inputs, const T* grad_outputs,
                      T* grad_inputs, T* grad_params, int64_t begin, int64_t end) {
  ProductBlock<T> block(dims);
  const int64_t corners = int64_t{1} << dims;
  std::vector<T> grad_corners(corners);
  for (int64_t u = 0; u < batch.units; ++u) {
    const Eigen::Map<const RowMatrix<T>> theta(corner_params + u * corners,
                                               block.high_corners(), block.low_corners());
    Eigen::Map<RowMatrix<T>> grad_theta(grad_corners.data(), block.high_corners(),
                                        block.low_corners());
    grad_theta.setZero();
    for (int64_t first = begin; first < end; first += kProductBlock) {
      block.Locate(batch, inputs, u, first, std::min(kProductBlock, end - first));
      block.Gradient(theta, batch, u, first, grad_outputs + first * batch.units + u,
                     batch.units, &grad_theta, grad_inputs);
    }
    T* unit_grad = grad_params + u * corners;
    for (int64_t j = 0; j < corners; ++j) unit_grad[corner_offsets[j]] += grad_corners[j];
  }
}

// How the CPU kernels interpolate one call's lattices, decided once from the
// attrs, the batch and the params: the forward and the gradient decide alike.
template <typename T>
struct CpuInterpolationPlan {
  // The level-by-level loops (else the corner walk), see LevelByLevel.
  bool level_by_level = false;
  // Per unit, whether the vector lanes may lerp unguarded (see LaneGuards).
  std::vector<char> unguarded;
  // The matrix-product path (see UsesProducts), with the params in corner
  // order (CornerOrderParams); empty elsewhere.
  bool products = false;
  std::vector<T> corner_params;
};

template <typename T>
CpuInterpolationPlan<T> PlanCpuInterpolation(const LatticeAttrs& attrs,
                                             const LatticeBatch& batch, const T* params) {
  CpuInterpolationPlan<T> plan;
  plan.level_by_level = LevelByLevel(attrs, batch);
  plan.unguarded = LaneGuards(attrs, batch, params);
  plan.products = UsesProducts(attrs, batch, plan.unguarded);
  if (plan.products) {
    plan.corner_params = CornerOrderParams(params, batch.units, attrs.shape().num_vertices,
                                           attrs.corner_offsets());
  }
  return plan;
}

// outputs[b, u] for b in [begin, end), by the path the plan chose.
template <typename T>
void PlannedForwardRange(const LatticeAttrs& attrs, const CpuInterpolationPlan<T>& plan,
                         const LatticeBatch& batch, const T* inputs, const T* params,
                         T* outputs, int64_t begin, int64_t end) {
  const LatticeShape& shape = attrs.shape();
  if (plan.products) {
    return ProductForwardRange(batch, shape.dims, plan.corner_params.data(), inputs, outputs,
                               begin, end);
  }
  if (!plan.level_by_level) return ForwardRange(shape, batch, inputs, params, outputs, begin, end);
  const int64_t* offsets = attrs.corner_offsets();
  WithStaticDims<8>(shape.dims, [&](auto dims) {
    constexpr int kDims = decltype(dims)::value;
    if constexpr (kDims > 0) {
      if (attrs.unit_cell()) {
        return UnitCellForwardRange<T, kDims>(batch, offsets, plan.unguarded.data(), inputs,
                                              params, outputs, begin, end);
      }
    }
    HypercubeForwardRange<T, kDims>(shape, batch, offsets, plan.unguarded.data(), inputs, params,
                                    outputs, begin, end);
  });
}

// The gradients of the examples in [begin, end), added into grad_inputs and
// grad_params, by the path the plan chose (the contract of GradRange).
template <typename T>
void PlannedGradRange(const LatticeAttrs& attrs, const CpuInterpolationPlan<T>& plan,
                      const LatticeBatch& batch, const T* inputs, const T* params,
                      const T* grad_outputs, T* grad_inputs, T* grad_params, int64_t begin,
                      int64_t end) {
  const LatticeShape& shape = attrs.shape();
  const int64_t* offsets = attrs.corner_offsets();
  if (plan.products) {
    return ProductGradRange(batch, shape.dims, offsets, plan.corner_params.data(), inputs,
                            grad_outputs, grad_inputs, grad_params, begin, end);
  }
  if (!plan.level_by_level) {
    return GradRange(shape, batch, inputs, params, grad_outputs, grad_inputs, grad_params, begin,
                     end);
  }
  WithStaticDims<8>(shape.dims, [&](auto dims) {
    constexpr int kDims = decltype(dims)::value;
    if constexpr (kDims > 0) {
      if (attrs.unit_cell()) {
        return UnitCellGradRange<T, kDims>(batch, offsets, plan.unguarded.data(), inputs, params,
                                           grad_outputs, grad_inputs, grad_params, begin, end);
      }
    }
    HypercubeGradRange<T, kDims>(shape, batch, offsets, plan.unguarded.data(), inputs, params,
                                 grad_outputs, grad_inputs, grad_params, begin, end);
  });
}

template <typename T>
void ZeroRange(T* data, int64_t size) {
  std::fill(data, data + size, T(0));
}

// How many per-shard params-gradient buffers to use: one unless the batch is
// WorthSharding; then at most one per thread, no more than the batch has
// examples, few enough that zeroing and reducing them costs less than the
// interpolation itself, and within kMaxGradScratchBytes.
int64_t NumGradShards(int64_t num_threads, int64_t batch, int64_t cost_per_example,
                      int64_t params_size, int64_t element_bytes) {
  if (!WorthSharding(batch, cost_per_example)) return 1;
  const int64_t batch_cost = cost_per_example * batch;
  int64_t shards = std::max<int64_t>(1, std::min(num_threads, batch));
  const int64_t reduce_cost = std::max<int64_t>(1, 2 * params_size);
  shards = std::min(shards, std::max<int64_t>(1, batch_cost / reduce_cost));
  const int64_t buffer_bytes = std::max<int64_t>(1, params_size * element_bytes);
  shards = std::min(shards, 1 + kMaxGradScratchBytes / buffer_bytes);
  return shards;
}

// The validated tensors of one TfLattice>LatticeInterpolation call
// (outputs set) or TfLattice>LatticeInterpolationGrad call (grad_outputs,
// grad_inputs and grad_params set).
struct InterpolationTensors {
  const Tensor* inputs = nullptr;
  const Tensor* params = nullptr;
  const Tensor* grad_outputs = nullptr;
  Tensor* outputs = nullptr;
  Tensor* grad_inputs = nullptr;
  Tensor* grad_params = nullptr;
  LatticeBatch batch;
};

// Reads inputs (0) and params (1) of `context` and checks them against
// `attrs`. Returns false, with the error set on `context`, when invalid.
bool ReadInterpolationInputs(OpKernelContext* context, const LatticeAttrs& attrs,
                             InterpolationTensors* tensors) {
  tensors->inputs = &context->input(0);
  tensors->params = &context->input(1);
  return attrs.ValidateInputs(context, *tensors->inputs, *tensors->params, &tensors->batch);
}

// Sets `status` on `context` unless it is OK; returns whether it was.
bool RequireOk(OpKernelContext* context, const absl::Status& status) {
  if (!status.ok()) context->CtxFailure(status);
  return status.ok();
}

// Reads and checks the inputs of TfLattice>LatticeInterpolation and
// allocates outputs [batch, units]. Returns false, with the error set on
// `context`, on failure.
bool PrepareInterpolation(OpKernelContext* context, const LatticeAttrs& attrs,
                          InterpolationTensors* tensors) {
  if (!ReadInterpolationInputs(context, attrs, tensors)) return false;
  const LatticeBatch& batch = tensors->batch;
  return RequireOk(context, context->allocate_output(
                                0, TensorShape({batch.batch, batch.units}), &tensors->outputs));
}

// Reads and checks the inputs of TfLattice>LatticeInterpolationGrad
// (grad_outputs, input 2, must be [batch, units]) and allocates grad_inputs
// and grad_params shaped like inputs and params. Returns false, with the
// error set on `context`, on failure.
bool PrepareInterpolationGrad(OpKernelContext* context, const LatticeAttrs& attrs,
                              InterpolationTensors* tensors) {
  if (!ReadInterpolationInputs(context, attrs, tensors)) return false;
  const Tensor& grad_outputs = context->input(2);
  tensors->grad_outputs = &grad_outputs;
  const LatticeBatch& batch = tensors->batch;
  if (grad_outputs.shape() != TensorShape({batch.batch, batch.units})) {
    context->CtxFailure(absl::InvalidArgumentError(absl::StrCat(
        "grad_outputs must have shape [batch, units] = [", batch.batch, ", ", batch.units,
        "], got shape ", grad_outputs.shape().DebugString())));
    return false;
  }
  return RequireOk(context, context->allocate_output(0, tensors->inputs->shape(),
                                                     &tensors->grad_inputs)) &&
         RequireOk(context, context->allocate_output(1, tensors->params->shape(),
                                                     &tensors->grad_params));
}

// Base of the lattice interpolation kernels: reads and checks the attrs once.
class LatticeOpKernel : public OpKernel {
 public:
  explicit LatticeOpKernel(OpKernelConstruction* context)
      : OpKernel(context), attrs_(context) {}

 protected:
  const LatticeAttrs attrs_;
};

template <typename T>
class LatticeInterpolationCpuOp : public LatticeOpKernel {
 public:
  using LatticeOpKernel::LatticeOpKernel;

  void Compute(OpKernelContext* context) override {
    InterpolationTensors tensors;
    if (!PrepareInterpolation(context, attrs_, &tensors)) return;
    const LatticeBatch& batch = tensors.batch;
    if (batch.batch == 0 || batch.units == 0) return;
    const T* in = tensors.inputs->flat<T>().data();
    const T* par = tensors.params->flat<T>().data();
    T* out = tensors.outputs->flat<T>().data();
    const CpuInterpolationPlan<T> plan = PlanCpuInterpolation(attrs_, batch, par);
    ForRanges(context, batch.batch, batch.units * attrs_.CostPerPoint(),
              [&](int64_t begin, int64_t end) {
                PlannedForwardRange(attrs_, plan, batch, in, par, out, begin, end);
              });
  }
};

template <typename T>
class LatticeInterpolationGradCpuOp : public LatticeOpKernel {
 public:
  using LatticeOpKernel::LatticeOpKernel;

  void Compute(OpKernelContext* context) override {
    InterpolationTensors tensors;
    if (!PrepareInterpolationGrad(context, attrs_, &tensors)) return;
    const LatticeBatch& batch = tensors.batch;
    const int64_t params_size = tensors.params->NumElements();
    T* grad_params_data = tensors.grad_params->flat<T>().data();
    ZeroRange(tensors.grad_inputs->flat<T>().data(), tensors.inputs->NumElements());
    ZeroRange(grad_params_data, params_size);
    if (batch.batch == 0 || batch.units == 0) return;

    auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
    const int64_t shards =
        NumGradShards(workers->NumThreads(), batch.batch, batch.units * attrs_.CostPerPoint(),
                      params_size, sizeof(T));
    Tensor scratch;
    T* scratch_data = nullptr;
    if (shards > 1) {
      OP_REQUIRES_OK(context,
                     context->allocate_temp(DataTypeToEnum<T>::value,
                                            TensorShape({(shards - 1) * params_size}),
                                            &scratch));
      scratch_data = scratch.flat<T>().data();
    }
    const T* in = tensors.inputs->flat<T>().data();
    const T* par = tensors.params->flat<T>().data();
    const T* grad_out = tensors.grad_outputs->flat<T>().data();
    T* grad_in = tensors.grad_inputs->flat<T>().data();
    const int64_t examples_per_shard = (batch.batch + shards - 1) / shards;
    const CpuInterpolationPlan<T> plan = PlanCpuInterpolation(attrs_, batch, par);
    auto run_shard = [&](int64_t first_shard, int64_t last_shard) {
      for (int64_t s = first_shard; s < last_shard; ++s) {
        T* target = s == 0 ? grad_params_data : scratch_data + (s - 1) * params_size;
        if (s > 0) ZeroRange(target, params_size);
        const int64_t begin = s * examples_per_shard;
        const int64_t end = std::min(batch.batch, begin + examples_per_shard);
        if (begin < end) {
          PlannedGradRange(attrs_, plan, batch, in, par, grad_out, grad_in, target, begin, end);
        }
      }
    };
    if (shards == 1) return run_shard(0, 1);
    // A cost this high makes every shard its own task.
    workers->ParallelFor(shards, std::numeric_limits<int32_t>::max(), run_shard);
    ForRanges(context, params_size, 2 * shards, [&](int64_t begin, int64_t end) {
      for (int64_t s = 1; s < shards; ++s) {
        const T* source = scratch_data + (s - 1) * params_size;
        for (int64_t i = begin; i < end; ++i) grad_params_data[i] += source[i];
      }
    });
  }
};

#define TF_LATTICE_REGISTER_CPU(T)                                                    \
  REGISTER_KERNEL_BUILDER(                                                            \
      Name("TfLattice>LatticeInterpolation").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      LatticeInterpolationCpuOp<T>);                                                  \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>LatticeInterpolationGrad")                   \
                              .Device(DEVICE_CPU)                                     \
                              .TypeConstraint<T>("T"),                                \
                          LatticeInterpolationGradCpuOp<T>);
TF_LATTICE_REGISTER_CPU(float);
TF_LATTICE_REGISTER_CPU(double);
#undef TF_LATTICE_REGISTER_CPU

#if TF_LATTICE_WITH_CUDA

using ::tf_lattice::LatticeGpuWorkspace;
using ::tf_lattice::LatticeInterpolationWorkspace;

// Workspace and device buffers of one GPU launch: the corner offset table
// and the global corner-buffer scratch (each unallocated, with a null
// pointer, when unused).
template <typename T>
class GpuWorkspaceBuffers {
 public:
  // Plans the workspace of the forward (or, with `gradient`, the gradient)
  // launch and allocates its buffers.
  absl::Status Allocate(OpKernelContext* context, const LatticeShape& shape,
                        const LatticeBatch& batch, bool gradient) {
    workspace_ = LatticeInterpolationWorkspace(shape, batch, gradient, sizeof(T));
    const LatticeGpuWorkspace& workspace = workspace_;
    if (workspace.corner_offsets > 0) {
      absl::Status status = context->allocate_temp(
          DT_INT64, TensorShape({workspace.corner_offsets}), &corner_offsets_);
      if (!status.ok()) return status;
      corner_offsets_data_ = corner_offsets_.flat<int64_t>().data();
    }
    if (workspace.scratch_entries() > 0) {
      absl::Status status =
          context->allocate_temp(DataTypeToEnum<T>::value,
                                 TensorShape({workspace.scratch_entries()}), &scratch_);
      if (!status.ok()) return status;
      scratch_data_ = scratch_.flat<T>().data();
    }
    return absl::OkStatus();
  }

  const LatticeGpuWorkspace& workspace() const { return workspace_; }
  int64_t* corner_offsets() const { return corner_offsets_data_; }
  T* scratch() const { return scratch_data_; }

 private:
  LatticeGpuWorkspace workspace_{};
  Tensor corner_offsets_;
  Tensor scratch_;
  int64_t* corner_offsets_data_ = nullptr;
  T* scratch_data_ = nullptr;
};

template <typename T>
class LatticeInterpolationGpuOp : public LatticeOpKernel {
 public:
  using LatticeOpKernel::LatticeOpKernel;

  void Compute(OpKernelContext* context) override {
    InterpolationTensors tensors;
    if (!PrepareInterpolation(context, attrs_, &tensors)) return;
    const LatticeBatch& batch = tensors.batch;
    if (batch.batch == 0 || batch.units == 0) return;
    GpuWorkspaceBuffers<T> buffers;
    OP_REQUIRES_OK(context,
                   buffers.Allocate(context, attrs_.shape(), batch, /*gradient=*/false));
    const std::string error = ::tf_lattice::LaunchLatticeInterpolation<T>(
        GpuStream(context), attrs_.shape(), batch, buffers.workspace(),
        buffers.corner_offsets(),
        buffers.scratch(), tensors.inputs->flat<T>().data(),
        tensors.params->flat<T>().data(), tensors.outputs->flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("lattice interpolation CUDA kernel: ", error)));
  }
};

template <typename T>
class LatticeInterpolationGradGpuOp : public LatticeOpKernel {
 public:
  using LatticeOpKernel::LatticeOpKernel;

  void Compute(OpKernelContext* context) override {
    InterpolationTensors tensors;
    if (!PrepareInterpolationGrad(context, attrs_, &tensors)) return;
    const LatticeBatch& batch = tensors.batch;
    GpuWorkspaceBuffers<T> buffers;
    OP_REQUIRES_OK(context,
                   buffers.Allocate(context, attrs_.shape(), batch, /*gradient=*/true));
    const std::string error = ::tf_lattice::LaunchLatticeInterpolationGrad<T>(
        GpuStream(context), attrs_.shape(), batch, buffers.workspace(),
        buffers.corner_offsets(),
        buffers.scratch(), tensors.inputs->flat<T>().data(),
        tensors.params->flat<T>().data(), tensors.grad_outputs->flat<T>().data(),
        tensors.grad_inputs->flat<T>().data(), tensors.grad_params->flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat(
                    "lattice interpolation gradient CUDA kernel: ", error)));
  }
};

#define TF_LATTICE_REGISTER_GPU(T)                                                    \
  REGISTER_KERNEL_BUILDER(                                                            \
      Name("TfLattice>LatticeInterpolation").Device(DEVICE_GPU).TypeConstraint<T>("T"), \
      LatticeInterpolationGpuOp<T>);                                                  \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>LatticeInterpolationGrad")                   \
                              .Device(DEVICE_GPU)                                     \
                              .TypeConstraint<T>("T"),                                \
                          LatticeInterpolationGradGpuOp<T>);
TF_LATTICE_REGISTER_GPU(float);
TF_LATTICE_REGISTER_GPU(double);
#undef TF_LATTICE_REGISTER_GPU

#endif  // TF_LATTICE_WITH_CUDA

}  // namespace
}  // namespace tf_lattice
}  // namespace tensorflow
