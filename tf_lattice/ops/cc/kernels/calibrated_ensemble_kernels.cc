// CPU kernels of TfLattice>CalibratedEnsemble and its gradient: the scores of
// a calibrated lattice ensemble in one op, where the layers run a few dozen
// ops per call (column reads, missing values, calibrations, concatenation,
// selection products, interpolation, the weighted sum) and as many again
// for the gradient.
//
// Row b of the features calibrates to z_b (P numeric units, then C
// categorical ones):
//   z_b[p]     = missing_outputs[p] if x is NaN, else the polyline
//                (keypoints[p], outputs[p]) at x, x = features[b, numeric_columns[p]];
//   z_b[P + c] = tables[c, bucket], bucket = round(x) when it lies in
//                [0, num_buckets[c]), else num_buckets[c] (x =
//                features[b, categorical_columns[c]]; NaN included);
// and scores
//   s_b = bias + sum_l weights[l] * L_l(z_b[lattice_inputs[l * d .. l * d + d)]),
// with L_l the multilinear interpolation of lattice_params[l] (sizes
// lattice_sizes, d of them). The per-element math is the calibration and
// interpolation ops' own (lib/pwl_calibration.h, lib/lattice_interpolation.h).
//
// Lattices whose sizes are all 2 and whose rank is at most kMaxStaticRank (an
// ensemble's usual small lattices) are interpolated kChunk rows at a time with the rank
// a compile-time constant, so that the loops over a chunk vectorize; others
// one row at a time.
//
// Only a CPU kernel: tf_lattice.models.fused_scores uses it where no GPU is
// visible. Rows are split into a fixed number of blocks (one per
// thread of the pool when the work is worth sharding, cpu_sharding.h); the
// gradient sums each block's parameter gradients in its own buffer and adds
// the buffers in block order, so the result does not depend on scheduling.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"
#include "tf_lattice/ops/cc/kernels/static_dims.h"
#include "tf_lattice/ops/cc/lib/lattice_interpolation.h"
#include "tf_lattice/ops/cc/lib/pwl_calibration.h"
#include "tf_lattice/ops/cc/ops/lattice_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

namespace pwl = ::tf_lattice::pwl_calibration;
using ::tf_lattice::HypercubeContract;
using ::tf_lattice::HypercubeContractWithGradient;
using ::tf_lattice::HypercubeCornerOffsets;
using ::tf_lattice::HypercubeInterpolate;
using ::tf_lattice::HypercubeLevelWeights;
using ::tf_lattice::kMaxLatticeDims;
using ::tf_lattice::kMaxLevelDims;
using ::tf_lattice::LatticeCell;
using ::tf_lattice::Lerp;
using ::tf_lattice::LocateCell;
using ::tf_lattice::LocateUnitCell;

// The model's structure, from the op's attributes.
struct EnsembleStructure {
  std::vector<int64_t> numeric_columns;
  std::vector<int64_t> categorical_columns;
  std::vector<int64_t> num_buckets;
  std::vector<int64_t> lattice_sizes;
  std::vector<int64_t> lattice_inputs;
  int64_t strides[kMaxLatticeDims];
  int64_t num_vertices = 0;
  bool unit_cell = true;  // Every size is 2: the lattice is one cell.
  // Offsets of a cell's 2^d corners from its lower corner (corner j has
  // bit k of j set for e_k = 1), when d <= kMaxLevelDims: the cell is then
  // interpolated level by level, else by the corner walk.
  std::vector<int64_t> corner_offsets;

  int rank() const { return static_cast<int>(lattice_sizes.size()); }
  int64_t num_numeric() const { return static_cast<int64_t>(numeric_columns.size()); }
  int64_t num_categorical() const { return static_cast<int64_t>(categorical_columns.size()); }
  int64_t num_calibrated() const { return num_numeric() + num_categorical(); }
  int64_t num_lattices() const { return static_cast<int64_t>(lattice_inputs.size()) / rank(); }
};

absl::Status ReadStructure(OpKernelConstruction* context, EnsembleStructure* s) {
  TF_RETURN_IF_ERROR(context->GetAttr("numeric_columns", &s->numeric_columns));
  TF_RETURN_IF_ERROR(context->GetAttr("categorical_columns", &s->categorical_columns));
  TF_RETURN_IF_ERROR(context->GetAttr("num_buckets", &s->num_buckets));
  TF_RETURN_IF_ERROR(context->GetAttr("lattice_inputs", &s->lattice_inputs));
  for (const auto* columns : {&s->numeric_columns, &s->categorical_columns}) {
    for (int64_t column : *columns) {
      if (column < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("feature columns must be >= 0, got ", column));
      }
    }
  }
  if (s->num_buckets.size() != s->categorical_columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_buckets has ", s->num_buckets.size(), " entries for ",
        s->categorical_columns.size(), " categorical columns"));
  }
  for (int64_t buckets : s->num_buckets) {
    if (buckets < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("num_buckets must be >= 0, got ", buckets));
    }
  }
  TF_RETURN_IF_ERROR(ReadLatticeSizes(context, &s->lattice_sizes, &s->num_vertices));
  const int d = s->rank();
  int64_t stride = 1;
  for (int k = d - 1; k >= 0; --k) {
    s->strides[k] = stride;
    stride *= s->lattice_sizes[k];
    s->unit_cell = s->unit_cell && s->lattice_sizes[k] == 2;
  }
  if (d <= kMaxLevelDims) {
    s->corner_offsets.resize(int64_t{1} << d);
    HypercubeCornerOffsets(d, s->strides, s->corner_offsets.data());
  }
  if (s->lattice_inputs.size() % d != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lattice_inputs has ", s->lattice_inputs.size(),
        " entries, not a multiple of the lattice rank ", d));
  }
  for (int64_t input : s->lattice_inputs) {
    if (input < 0 || input >= s->num_calibrated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lattice_inputs must lie in [0, ", s->num_calibrated(),
          ") (the numeric then categorical calibrated values), got ", input));
    }
  }
  return absl::OkStatus();
}

// The checked inputs of one call.
template <typename T>
struct EnsembleInputs {
  const T* features = nullptr;
  int64_t batch = 0;
  int64_t width = 0;
  const T* keypoints = nullptr;
  const T* outputs = nullptr;
  int64_t num_keypoints = 0;
  std::vector<T> inverse_steps;  // Per numeric unit (pwl::EvenSpacingInverseStep).
  const T* missing_outputs = nullptr;
  const T* tables = nullptr;
  int64_t table_width = 0;
  const T* params = nullptr;
  const T* weights = nullptr;
  T bias = T(0);
};

absl::Status ShapeError(const char* name, const char* expected, const Tensor& tensor) {
  return absl::InvalidArgumentError(absl::StrCat(name, " must have shape ", expected, ", got ",
                                                 tensor.shape().DebugString()));
}

template <typename T>
absl::Status ReadInputs(OpKernelContext* context, const EnsembleStructure& s,
                        EnsembleInputs<T>* in) {
  const Tensor& features = context->input(0);
  const Tensor& keypoints = context->input(1);
  const Tensor& outputs = context->input(2);
  const Tensor& missing = context->input(3);
  const Tensor& tables = context->input(4);
  const Tensor& params = context->input(5);
  const Tensor& weights = context->input(6);
  const Tensor& bias = context->input(7);
  const int64_t numeric = s.num_numeric();
  const int64_t categorical = s.num_categorical();
  const int64_t lattices = s.num_lattices();
  if (features.dims() != 2) return ShapeError("features", "[batch, width]", features);
  if (keypoints.dims() != 2 || keypoints.dim_size(0) != numeric) {
    return ShapeError("keypoints", "[numeric units (len(numeric_columns)), K]", keypoints);
  }
  if (outputs.shape() != keypoints.shape()) {
    return ShapeError("outputs", "[numeric units, K] (the shape of keypoints)", outputs);
  }
  if (numeric > 0 && keypoints.dim_size(1) < 2) {
    return ShapeError("keypoints", "[numeric units, K] with K >= 2", keypoints);
  }
  if (missing.dims() != 1 || missing.dim_size(0) != numeric) {
    return ShapeError("missing_outputs", "[numeric units]", missing);
  }
  if (tables.dims() != 2 || tables.dim_size(0) != categorical) {
    return ShapeError("tables", "[categorical units (len(categorical_columns)), buckets]", tables);
  }
  if (params.dims() != 2 || params.dim_size(0) != lattices ||
      params.dim_size(1) != s.num_vertices) {
    return ShapeError("lattice_params",
                      "[lattices (len(lattice_inputs) / rank), prod(lattice_sizes)]", params);
  }
  if (weights.dims() != 1 || weights.dim_size(0) != lattices) {
    return ShapeError("weights", "[lattices]", weights);
  }
  if (bias.dims() != 0) return ShapeError("bias", "[] (a scalar)", bias);
  in->batch = features.dim_size(0);
  in->width = features.dim_size(1);
  for (const auto* columns : {&s.numeric_columns, &s.categorical_columns}) {
    for (int64_t column : *columns) {
      if (column >= in->width) {
        return absl::InvalidArgumentError(absl::StrCat(
            "feature column ", column, " is out of range for features of shape ",
            features.shape().DebugString()));
      }
    }
  }
  in->table_width = tables.dim_size(1);
  for (int64_t c = 0; c < categorical; ++c) {
    if (s.num_buckets[c] >= in->table_width) {
      return absl::InvalidArgumentError(absl::StrCat(
          "categorical unit ", c, " has num_buckets ", s.num_buckets[c],
          " and needs a default bucket, but tables has shape ", tables.shape().DebugString()));
    }
  }
  in->features = features.flat<T>().data();
  in->keypoints = keypoints.flat<T>().data();
  in->outputs = outputs.flat<T>().data();
  in->num_keypoints = keypoints.dim_size(1);
  in->missing_outputs = missing.flat<T>().data();
  in->tables = tables.flat<T>().data();
  in->params = params.flat<T>().data();
  in->weights = weights.flat<T>().data();
  in->bias = bias.scalar<T>()();
  in->inverse_steps.assign(numeric, T(0));
  const int64_t k = in->num_keypoints;
  for (int64_t p = 0; p < numeric; ++p) {
    const T* unit = in->keypoints + p * k;
    const int64_t invalid = pwl::FirstInvalidKeypoint(unit, k);
    if (invalid >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keypoints of numeric unit ", p, " must be strictly increasing with a finite one; "
          "entry ", invalid, " is ", static_cast<double>(unit[invalid])));
    }
    in->inverse_steps[p] = pwl::EvenSpacingInverseStep(unit, k);
  }
  return absl::OkStatus();
}

// Estimated cycles per row of the forward pass (the gradient costs about
// twice as much).
int64_t RowCost(const EnsembleStructure& s) {
  return 40 * s.num_numeric() + 10 * s.num_categorical() +
         s.num_lattices() * (10 * s.rank() + 8 * (int64_t{1} << std::min(s.rank(), 20)));
}

// The calibrated values z[0 .. P + C) of row b; buckets[c] receives the
// bucket categorical unit c read and, when not null, positions[p] where
// numeric unit p's input lies among its keypoints (segment -1 for missing
// inputs, which take the missing output).
template <typename T>
void CalibrateRow(const EnsembleStructure& s, const EnsembleInputs<T>& in, int64_t b, T* z,
                  int64_t* buckets, pwl::KeypointPosition<T>* positions = nullptr) {
  const T* row = in.features + b * in.width;
  const int64_t k = in.num_keypoints;
  const int64_t numeric = s.num_numeric();
  for (int64_t p = 0; p < numeric; ++p) {
    const T x = row[s.numeric_columns[p]];
    if (!(x == x)) {
      z[p] = in.missing_outputs[p];
      if (positions != nullptr) positions[p] = {-1, T(0)};
      continue;
    }
    const pwl::KeypointPosition<T> position =
        pwl::LocateAmongKeypoints(in.keypoints + p * k, k, x, in.inverse_steps[p]);
    z[p] = pwl::PointValue(in.outputs + p * k, k, position);
    if (positions != nullptr) positions[p] = position;
  }
  for (int64_t c = 0; c < s.num_categorical(); ++c) {
    // Rounds half to even, as tf.round; NaN fails both comparisons.
    const T id = std::nearbyint(row[s.categorical_columns[c]]);
    const int64_t known = s.num_buckets[c];
    const int64_t bucket = id >= T(0) && id < static_cast<T>(known) ? static_cast<int64_t>(id)
                                                                    : known;
    buckets[c] = bucket;
    z[numeric + c] = in.tables[c * in.table_width + bucket];
  }
}

// The lattice rank: the compile-time constant kRank where it is positive
// (the loops over dimensions and corners then unroll), else the structure's.
template <int kRank>
int Rank(const EnsembleStructure& s) {
  return kRank > 0 ? kRank : s.rank();
}

// The largest lattice rank given a compile-time constant (WithStaticDims):
// the ranks of ensembles.
constexpr int kMaxStaticRank = 5;

// The cell of lattice l at the calibrated values z.
template <int kRank, typename T>
void LocateLattice(const EnsembleStructure& s, const T* z, int64_t l, LatticeCell<T>* cell) {
  const int d = Rank<kRank>(s);
  const int64_t* inputs = s.lattice_inputs.data() + l * d;
  T x[kRank > 0 ? kRank : kMaxLatticeDims];
  for (int k = 0; k < d; ++k) x[k] = z[inputs[k]];
  if (s.unit_cell) {
    LocateUnitCell(d, x, cell->residual, cell->passes_gradient);
    cell->base = 0;
  } else {
    LocateCell(d, x, s.lattice_sizes.data(), s.strides, cell);
  }
}

// Buffers of one block's interpolations of a rank known only at run time:
// the corner values (2^d) and the level weights (2^(d + 1)) of the
// level-by-level path.
template <typename T>
struct CellBuffers {
  explicit CellBuffers(const EnsembleStructure& s)
      : values(s.corner_offsets.size()), weights(2 * s.corner_offsets.size()) {}
  std::vector<T> values;
  std::vector<T> weights;
};

// L(x) of the lattice with vertex values theta at the located cell. With
// grad_theta, also adds upstream * (corner weight) to grad_theta at each
// corner and stores dL/dr_k in grad_residual.
template <int kRank, typename T>
T InterpolateCell(const EnsembleStructure& s, const T* theta, const LatticeCell<T>& cell,
                  CellBuffers<T>* buffers, T* grad_theta, T upstream, T* grad_residual) {
  const int d = Rank<kRank>(s);
  if (kRank == 0 && s.corner_offsets.empty()) {
    const auto read = [theta](int64_t i) { return theta[i]; };
    if (grad_theta == nullptr) {
      return HypercubeInterpolate(d, cell, s.strides, read, [](int64_t, T) {},
                                  static_cast<T*>(nullptr));
    }
    T* corner_grad = grad_theta + cell.base;
    return HypercubeInterpolate(
        d, cell, s.strides, read,
        [corner_grad, upstream](int64_t offset, T weight) { corner_grad[offset] += upstream * weight; },
        grad_residual);
  }
  constexpr int64_t kStackCorners = kRank > 0 ? int64_t{1} << kRank : 1;
  T stack_values[kStackCorners];
  T stack_weights[2 * kStackCorners];
  T* values = kRank > 0 ? stack_values : buffers->values.data();
  T* weights = kRank > 0 ? stack_weights : buffers->weights.data();
  const int64_t corners = int64_t{1} << d;
  const int64_t* offsets = s.corner_offsets.data();
  const T* base = theta + cell.base;
  for (int64_t j = 0; j < corners; ++j) values[j] = base[offsets[j]];
  if (grad_theta == nullptr) return HypercubeContract(d, cell.residual, values);
  HypercubeLevelWeights(d, cell.residual, weights);
  const T* corner_weights = weights + corners;
  T* corner_grad = grad_theta + cell.base;
  for (int64_t j = 0; j < corners; ++j) corner_grad[offsets[j]] += upstream * corner_weights[j];
  return HypercubeContractWithGradient(d, cell.residual, weights, values, grad_residual);
}

// Unit-cell lattices of a compile-time rank, kChunk rows at a time: the
// loops over the rows of a chunk have constant bounds and vectorize. The
// math is that of the lattice op's unit-cell path: residuals x clipped to
// [0, 1] (NaN stays NaN), corner weights level by level
// (HypercubeLevelWeights), contraction last dimension first (Lerp).
constexpr int kChunk = 16;

// Lerp for corner values whose differences cannot overflow (kDirect:
// v + r (w - v), a loop of it vectorizes), else Lerp itself.
template <bool kDirect, typename T>
inline T ChunkLerp(T v, T w, T r, T difference) {
  if constexpr (kDirect) return v + r * difference;
  return Lerp(v, w, r, difference);
}

// Whether every corner value is at most a quarter of the dtype's largest in
// magnitude, so that no difference of two values interpolated between them
// overflows (interpolated values stay within the corners' range).
template <typename T>
bool CornersAreModerate(const T* corners, int count) {
  const T bound = std::numeric_limits<T>::max() / T(4);
  bool moderate = true;
  for (int j = 0; j < count; ++j) moderate &= corners[j] <= bound && corners[j] >= -bound;
  return moderate;
}

template <int kRank, typename T>
struct UnitCellChunk {
  static constexpr int kCorners = 1 << kRank;
  T residual[kRank][kChunk];
  bool passes[kRank][kChunk];

  // Reads lattice l's inputs from the chunk's calibrated rows z[i * width + j].
  void Locate(const EnsembleStructure& s, const T* z, int64_t width, int64_t l) {
    const int64_t* inputs = s.lattice_inputs.data() + l * kRank;
    for (int k = 0; k < kRank; ++k) {
      const T* column = z + inputs[k];
      for (int i = 0; i < kChunk; ++i) {
        const T value = column[i * width];
        const T positive = value > T(0) ? value : T(0);
        const T clipped = positive < T(1) ? positive : T(1);
        residual[k][i] = value == value ? clipped : value;
        passes[k][i] = !(value < T(0)) & !(value > T(1));
      }
    }
  }

  // The corner values theta[offsets[j]] contracted to one value per row.
  template <bool kDirect>
  void Interpolate(const T* corners, T* out) const {
    T values[kCorners / 2][kChunk];
    constexpr int kTop = kRank - 1;
    for (int j = 0; j < kCorners / 2; ++j) {
      const T low = corners[j];
      const T high = corners[j + kCorners / 2];
      for (int i = 0; i < kChunk; ++i) {
        values[j][i] = ChunkLerp<kDirect>(low, high, residual[kTop][i], high - low);
      }
    }
    for (int k = kTop - 1; k >= 0; --k) {
      const int half = 1 << k;
      for (int j = 0; j < half; ++j) {
        for (int i = 0; i < kChunk; ++i) {
          const T low = values[j][i];
          const T high = values[j + half][i];
          values[j][i] = ChunkLerp<kDirect>(low, high, residual[k][i], high - low);
        }
      }
    }
    for (int i = 0; i < kChunk; ++i) out[i] = values[0][i];
  }

  // Adds sum_i upstream[i] * (corner weight j of row i) to grad_corners[j];
  // returns the values in out and dL/dr_k in grad_residual[k].
  template <bool kDirect>
  void InterpolateWithGradient(const T* corners, const T* upstream, T* grad_corners, T* out,
                               T grad_residual[kRank][kChunk]) const {
    T weights[2 * kCorners][kChunk];
    for (int i = 0; i < kChunk; ++i) weights[1][i] = T(1);
    for (int k = 0; k < kRank; ++k) {
      const int half = 1 << k;
      for (int j = 0; j < half; ++j) {
        for (int i = 0; i < kChunk; ++i) {
          const T level = weights[half + j][i];
          weights[2 * half + j][i] = level * (T(1) - residual[k][i]);
          weights[2 * half + half + j][i] = level * residual[k][i];
        }
      }
    }
    for (int j = 0; j < kCorners; ++j) {
      T sum = T(0);
      for (int i = 0; i < kChunk; ++i) sum += upstream[i] * weights[kCorners + j][i];
      grad_corners[j] += sum;
    }
    T values[kCorners][kChunk];
    for (int j = 0; j < kCorners; ++j) {
      for (int i = 0; i < kChunk; ++i) values[j][i] = corners[j];
    }
    for (int k = kRank - 1; k >= 0; --k) {
      const int half = 1 << k;
      T sum[kChunk] = {};
      for (int j = 0; j < half; ++j) {
        for (int i = 0; i < kChunk; ++i) {
          const T low = values[j][i];
          const T high = values[j + half][i];
          const T difference = high - low;
          sum[i] += weights[half + j][i] * difference;
          values[j][i] = ChunkLerp<kDirect>(low, high, residual[k][i], difference);
        }
      }
      for (int i = 0; i < kChunk; ++i) grad_residual[k][i] = sum[i];
    }
    for (int i = 0; i < kChunk; ++i) out[i] = values[0][i];
  }
};

// Lattice l's vertex values at the corners of the unit cell, in the corner
// order of HypercubeLevelWeights.
template <int kRank, typename T>
void UnitCellCorners(const EnsembleStructure& s, const T* theta, T* corners) {
  for (int j = 0; j < (1 << kRank); ++j) corners[j] = theta[s.corner_offsets[j]];
}

// ScoreRows for unit-cell lattices of rank kRank > 0.
template <int kRank, typename T>
void ScoreUnitCellRows(const EnsembleStructure& s, const EnsembleInputs<T>& in, int64_t begin,
                       int64_t end, T* scores) {
  const int64_t width = s.num_calibrated();
  std::vector<T> z(kChunk * width, T(0));
  std::vector<int64_t> buckets(s.num_categorical());
  UnitCellChunk<kRank, T> chunk;
  T corners[1 << kRank];
  T values[kChunk];
  for (int64_t first = begin; first < end; first += kChunk) {
    const int64_t rows = std::min<int64_t>(kChunk, end - first);
    for (int64_t i = 0; i < rows; ++i) CalibrateRow(s, in, first + i, &z[i * width], buckets.data());
    std::fill(z.begin() + rows * width, z.end(), T(0));
    T sums[kChunk];
    for (int i = 0; i < kChunk; ++i) sums[i] = in.bias;
    for (int64_t l = 0; l < s.num_lattices(); ++l) {
      chunk.Locate(s, z.data(), width, l);
      UnitCellCorners<kRank>(s, in.params + l * s.num_vertices, corners);
      if (CornersAreModerate(corners, 1 << kRank)) {
        chunk.template Interpolate<true>(corners, values);
      } else {
        chunk.template Interpolate<false>(corners, values);
      }
      const T weight = in.weights[l];
      for (int i = 0; i < kChunk; ++i) sums[i] += weight * values[i];
    }
    for (int64_t i = 0; i < rows; ++i) scores[first + i] = sums[i];
  }
}

// Scores of rows [begin, end).
template <int kRank, typename T>
void ScoreRows(const EnsembleStructure& s, const EnsembleInputs<T>& in, int64_t begin,
               int64_t end, T* scores) {
  if constexpr (kRank > 0) {
    if (s.unit_cell) return ScoreUnitCellRows<kRank>(s, in, begin, end, scores);
  }
  std::vector<T> z(s.num_calibrated());
  std::vector<int64_t> buckets(s.num_categorical());
  LatticeCell<T> cell;
  CellBuffers<T> buffers(s);
  for (int64_t b = begin; b < end; ++b) {
    CalibrateRow(s, in, b, z.data(), buckets.data());
    T score = in.bias;
    for (int64_t l = 0; l < s.num_lattices(); ++l) {
      LocateLattice<kRank>(s, z.data(), l, &cell);
      score += in.weights[l] * InterpolateCell<kRank>(s, in.params + l * s.num_vertices, cell,
                                                      &buffers, static_cast<T*>(nullptr), T(0),
                                                      static_cast<T*>(nullptr));
    }
    scores[b] = score;
  }
}

// The parameters' gradients, in the order of the gradient op's outputs.
template <typename T>
struct GradientSums {
  T* outputs;
  T* missing_outputs;
  T* tables;
  T* params;
  T* weights;
  T* bias;
};

// Adds row b's calibrator gradients, given dscore/dz (grad_z), the
// positions of its numeric inputs and the buckets its categorical units
// read (CalibrateRow), to `sums`.
template <typename T>
void AddCalibrationGradients(const EnsembleStructure& s, const EnsembleInputs<T>& in, int64_t b,
                             const T* grad_z, const pwl::KeypointPosition<T>* positions,
                             const int64_t* buckets, const GradientSums<T>& sums) {
  const int64_t numeric = s.num_numeric();
  const int64_t k = in.num_keypoints;
  const T* row = in.features + b * in.width;
  for (int64_t p = 0; p < numeric; ++p) {
    const T upstream = grad_z[p];
    const int64_t segment = positions[p].segment;
    T* grad_outputs = sums.outputs + p * k;
    if (!(row[s.numeric_columns[p]] == row[s.numeric_columns[p]])) {
      sums.missing_outputs[p] += upstream;
    } else if (segment < 0) {
      grad_outputs[0] += upstream;
    } else if (segment == k - 1) {
      grad_outputs[k - 1] += upstream;
    } else {
      const T fraction = positions[p].fraction;
      grad_outputs[segment] += upstream * (T(1) - fraction);
      grad_outputs[segment + 1] += upstream * fraction;
    }
  }
  for (int64_t c = 0; c < s.num_categorical(); ++c) {
    sums.tables[c * in.table_width + buckets[c]] += grad_z[numeric + c];
  }
}

// AddRowGradients for unit-cell lattices of rank kRank > 0, kChunk rows at
// a time (see UnitCellChunk).
template <int kRank, typename T>
void AddUnitCellRowGradients(const EnsembleStructure& s, const EnsembleInputs<T>& in,
                             const T* grad, int64_t begin, int64_t end,
                             const GradientSums<T>& sums) {
  constexpr int kCorners = 1 << kRank;
  const int64_t width = s.num_calibrated();
  const int64_t categorical = s.num_categorical();
  std::vector<T> z(kChunk * width, T(0));
  std::vector<T> grad_z(kChunk * width);
  std::vector<int64_t> buckets(kChunk * categorical);
  std::vector<pwl::KeypointPosition<T>> positions(kChunk * s.num_numeric());
  UnitCellChunk<kRank, T> chunk;
  T corners[kCorners];
  T grad_corners[kCorners];
  T values[kChunk];
  T upstream[kChunk];
  T lattice_upstream[kChunk];
  T grad_residual[kRank][kChunk];
  for (int64_t first = begin; first < end; first += kChunk) {
    const int64_t rows = std::min<int64_t>(kChunk, end - first);
    for (int64_t i = 0; i < rows; ++i) {
      CalibrateRow(s, in, first + i, &z[i * width], &buckets[i * categorical],
                   &positions[i * s.num_numeric()]);
    }
    // Rows past the end take part with zero upstream gradient and zero values.
    std::fill(z.begin() + rows * width, z.end(), T(0));
    for (int i = 0; i < kChunk; ++i) upstream[i] = i < rows ? grad[first + i] : T(0);
    for (int i = 0; i < kChunk; ++i) *sums.bias += upstream[i];
    std::fill(grad_z.begin(), grad_z.end(), T(0));
    for (int64_t l = 0; l < s.num_lattices(); ++l) {
      chunk.Locate(s, z.data(), width, l);
      UnitCellCorners<kRank>(s, in.params + l * s.num_vertices, corners);
      const T weight = in.weights[l];
      for (int i = 0; i < kChunk; ++i) lattice_upstream[i] = upstream[i] * weight;
      std::fill(grad_corners, grad_corners + kCorners, T(0));
      if (CornersAreModerate(corners, kCorners)) {
        chunk.template InterpolateWithGradient<true>(corners, lattice_upstream, grad_corners,
                                                     values, grad_residual);
      } else {
        chunk.template InterpolateWithGradient<false>(corners, lattice_upstream, grad_corners,
                                                      values, grad_residual);
      }
      T* grad_theta = sums.params + l * s.num_vertices;
      for (int j = 0; j < kCorners; ++j) grad_theta[s.corner_offsets[j]] += grad_corners[j];
      T grad_weight = T(0);
      for (int i = 0; i < kChunk; ++i) grad_weight += upstream[i] * values[i];
      sums.weights[l] += grad_weight;
      const int64_t* inputs = s.lattice_inputs.data() + l * kRank;
      for (int k = 0; k < kRank; ++k) {
        for (int64_t i = 0; i < rows; ++i) {
          if (chunk.passes[k][i]) {
            grad_z[i * width + inputs[k]] += lattice_upstream[i] * grad_residual[k][i];
          }
        }
      }
    }
    for (int64_t i = 0; i < rows; ++i) {
      AddCalibrationGradients(s, in, first + i, &grad_z[i * width],
                              &positions[i * s.num_numeric()], &buckets[i * categorical], sums);
    }
  }
}

// Adds the gradients of rows [begin, end) (upstream grad[b]) to `sums`.
template <int kRank, typename T>
void AddRowGradients(const EnsembleStructure& s, const EnsembleInputs<T>& in, const T* grad,
                     int64_t begin, int64_t end, const GradientSums<T>& sums) {
  if constexpr (kRank > 0) {
    if (s.unit_cell) return AddUnitCellRowGradients<kRank>(s, in, grad, begin, end, sums);
  }
  const int64_t v = s.num_vertices;
  const int d = Rank<kRank>(s);
  std::vector<T> z(s.num_calibrated());
  std::vector<T> grad_z(s.num_calibrated());
  std::vector<int64_t> buckets(s.num_categorical());
  std::vector<pwl::KeypointPosition<T>> positions(s.num_numeric());
  LatticeCell<T> cell;
  CellBuffers<T> buffers(s);
  T grad_residual[kRank > 0 ? kRank : kMaxLatticeDims];
  for (int64_t b = begin; b < end; ++b) {
    const T upstream = grad[b];
    CalibrateRow(s, in, b, z.data(), buckets.data(), positions.data());
    std::fill(grad_z.begin(), grad_z.end(), T(0));
    *sums.bias += upstream;
    for (int64_t l = 0; l < s.num_lattices(); ++l) {
      LocateLattice<kRank>(s, z.data(), l, &cell);
      const T lattice_upstream = upstream * in.weights[l];
      const T value = InterpolateCell<kRank>(s, in.params + l * v, cell, &buffers,
                                             sums.params + l * v, lattice_upstream, grad_residual);
      sums.weights[l] += upstream * value;
      const int64_t* inputs = s.lattice_inputs.data() + l * d;
      for (int j = 0; j < d; ++j) {
        if (cell.passes_gradient[j]) grad_z[inputs[j]] += lattice_upstream * grad_residual[j];
      }
    }
    AddCalibrationGradients(s, in, b, grad_z.data(), positions.data(), buckets.data(), sums);
  }
}

// Splits [0, batch) into `blocks` ranges; runs work(block, begin, end) for
// each, over the pool when there is more than one.
template <typename Work>
void ForBlocks(OpKernelContext* context, int64_t batch, int64_t blocks, int64_t row_cost,
               Work&& work) {
  const int64_t rows_per_block = (batch + blocks - 1) / std::max<int64_t>(blocks, 1);
  auto run = [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const int64_t begin = block * rows_per_block;
      work(block, begin, std::min(batch, begin + rows_per_block));
    }
  };
  if (blocks <= 1) {
    run(0, blocks);
    return;
  }
  context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
      blocks, rows_per_block * row_cost, run);
}

// One block per thread of the pool when the rows are worth sharding, else one.
int64_t NumBlocks(OpKernelContext* context, int64_t batch, int64_t row_cost) {
  if (!WorthSharding(batch, row_cost)) return 1;
  const int64_t threads = context->device()->tensorflow_cpu_worker_threads()->num_threads;
  return std::max<int64_t>(1, std::min(threads, batch));
}

// The structure, read once from the attrs; each call's inputs are checked
// against it (ReadInputs) before the op's work (Run) starts.
template <typename T>
class EnsembleKernel : public OpKernel {
 public:
  explicit EnsembleKernel(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, ReadStructure(context, &structure_));
  }

  void Compute(OpKernelContext* context) final {
    EnsembleInputs<T> in;
    OP_REQUIRES_OK(context, ReadInputs(context, structure_, &in));
    Run(context, structure_, in);
  }

 protected:
  virtual void Run(OpKernelContext* context, const EnsembleStructure& s,
                   const EnsembleInputs<T>& in) = 0;

 private:
  EnsembleStructure structure_;
};

template <typename T>
class CalibratedEnsembleCpuOp : public EnsembleKernel<T> {
 public:
  using EnsembleKernel<T>::EnsembleKernel;

 protected:
  void Run(OpKernelContext* context, const EnsembleStructure& s,
           const EnsembleInputs<T>& in) override {
    Tensor* scores_tensor = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, TensorShape({in.batch}), &scores_tensor));
    T* scores = scores_tensor->flat<T>().data();
    const int64_t cost = RowCost(s);
    WithStaticDims<kMaxStaticRank>(s.rank(), [&](auto rank) {
      ForBlocks(context, in.batch, NumBlocks(context, in.batch, cost), cost,
                [&](int64_t, int64_t begin, int64_t end) {
                  ScoreRows<decltype(rank)::value>(s, in, begin, end, scores);
                });
    });
  }
};

template <typename T>
class CalibratedEnsembleGradCpuOp : public EnsembleKernel<T> {
 public:
  using EnsembleKernel<T>::EnsembleKernel;

 protected:
  void Run(OpKernelContext* context, const EnsembleStructure& s,
           const EnsembleInputs<T>& in) override {
    const Tensor& grad_tensor = context->input(8);
    OP_REQUIRES(context, grad_tensor.dims() == 1 && grad_tensor.dim_size(0) == in.batch,
                ShapeError("grad", "[batch] (the shape of the scores)", grad_tensor));
    const T* grad = grad_tensor.flat<T>().data();
    // One buffer per block: [outputs | missing outputs | tables | params |
    // weights | bias], the order of the op's outputs.
    const int64_t sizes[6] = {s.num_numeric() * in.num_keypoints, s.num_numeric(),
                              s.num_categorical() * in.table_width,
                              s.num_lattices() * s.num_vertices, s.num_lattices(), 1};
    int64_t offsets[7] = {0};
    for (int i = 0; i < 6; ++i) offsets[i + 1] = offsets[i] + sizes[i];
    const int64_t total = offsets[6];
    const int64_t cost = 2 * RowCost(s);
    const int64_t blocks = NumBlocks(context, in.batch, cost);
    std::vector<T> buffers(blocks * total, T(0));
    WithStaticDims<kMaxStaticRank>(s.rank(), [&](auto rank) {
      ForBlocks(context, in.batch, blocks, cost, [&](int64_t block, int64_t begin, int64_t end) {
        T* sums = buffers.data() + block * total;
        AddRowGradients<decltype(rank)::value>(
            s, in, grad, begin, end,
            GradientSums<T>{sums + offsets[0], sums + offsets[1], sums + offsets[2],
                            sums + offsets[3], sums + offsets[4], sums + offsets[5]});
      });
    });
    for (int i = 0; i < 6; ++i) {
      Tensor* output = nullptr;
      OP_REQUIRES_OK(context, context->allocate_output(i, context->input(i + 2).shape(), &output));
      T* values = output->flat<T>().data();
      for (int64_t j = 0; j < sizes[i]; ++j) {
        T sum = T(0);
        for (int64_t block = 0; block < blocks; ++block) sum += buffers[block * total + offsets[i] + j];
        values[j] = sum;
      }
    }
  }
};

#define REGISTER_ENSEMBLE_KERNELS(T)                                                       \
  REGISTER_KERNEL_BUILDER(                                                                 \
      Name("TfLattice>CalibratedEnsemble").Device(DEVICE_CPU).TypeConstraint<T>("T"),     \
      CalibratedEnsembleCpuOp<T>);                                                         \
  REGISTER_KERNEL_BUILDER(                                                                 \
      Name("TfLattice>CalibratedEnsembleGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      CalibratedEnsembleGradCpuOp<T>);

REGISTER_ENSEMBLE_KERNELS(float);
REGISTER_ENSEMBLE_KERNELS(double);

#undef REGISTER_ENSEMBLE_KERNELS

}  // namespace
}  // namespace tf_lattice
}  // namespace tensorflow
