// Per-example lattice interpolation math shared by the CPU loops and the CUDA
// kernels. TF-free: only host_device.h and <cstdint>.
//
// A lattice with sizes m_0..m_{d-1} stores its V = prod(m) vertex values in
// row-major order (last dimension fastest): index(v) = sum_k v_k s_k with
// s_{d-1} = 1 and s_k = s_{k+1} m_{k+1}. A point x is clipped to
// [0, m_k - 1]; its cell has lower corner b_k = min(floor(x_k), m_k - 2) and
// residual r_k = x_k - b_k in [0, 1]. Only the cell's vertices are read.
//
// Gradients with respect to x are one-sided: the derivative of the cell the
// forward pass used, zero where x_k lies outside [0, m_k - 1]. A NaN input
// gets b_k = 0 and r_k = NaN, so outputs and gradients are NaN.
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_INTERPOLATION_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_INTERPOLATION_H_

#include <math.h>

#include <cstdint>

#include "tf_lattice/ops/cc/lib/host_device.h"

namespace tf_lattice {

// Each size is at least 2 and V < 2^63, so a lattice has at most 62 dims.
constexpr int kMaxLatticeDims = 62;

TF_LATTICE_HOST_DEVICE float Floor(float x) { return floorf(x); }
TF_LATTICE_HOST_DEVICE double Floor(double x) { return floor(x); }

enum class Interpolation { kHypercube = 0, kSimplex = 1 };

// Sizes and row-major strides of a lattice, passed by value to CUDA kernels.
struct LatticeShape {
  int dims;
  int64_t num_vertices;
  int64_t sizes[kMaxLatticeDims];
  int64_t strides[kMaxLatticeDims];
};

// The cell of one point: residuals r_k, the flat index of the lower corner
// b, and for each dimension whether the clip passes the gradient.
template <typename T>
struct LatticeCell {
  T residual[kMaxLatticeDims];
  bool passes_gradient[kMaxLatticeDims];
  int64_t base;
};

// Inputs at or above this value are above every lattice size (m_k <= 2^62),
// and below it their floor converts to int64 exactly.
template <typename T>
TF_LATTICE_HOST_DEVICE T Int64Ceiling() {
  return static_cast<T>(4611686018427387904.0);  // 2^62, exact in float and double.
}

// Sizes up to this bound have every vertex index exact in T (2^24 in float,
// 2^53 in double), so the clip bound m_k - 1 converts to T exactly.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t MaxExactSize() {
  return int64_t{1} << (sizeof(T) == 4 ? 24 : 53);
}

// Fills `cell` for the point x[0..d-1] (sizes m, row-major strides s).
//
// The cell is found in integer arithmetic: with w = floor(x_k) as an int64,
// b_k = min(w, m_k - 2). The bound m_k - 2 and the clip test "x_k > m_k - 1"
// are never rounded to T (in float32, T(m_k - 1) rounds up to m_k for m_k of
// 2^24 + 4 or more, which would place the cell past the last vertex). The
// residual x_k - floor(x_k) is exact, and 1 for x_k >= m_k - 1.
//
// For a number x_k and m_k <= MaxExactSize<T>() the same cell comes from
// clipping first, without branches on the value: c = min(max(x_k, 0), m_k -
// 1) is exact, its truncation w is floor(c), b_k = min(w, m_k - 2) and r_k =
// c - b_k. The gradient passes where 0 <= x_k <= m_k - 1.
template <typename T>
TF_LATTICE_HOST_DEVICE void LocateCell(int d, const T* x, const int64_t* sizes,
                                       const int64_t* strides, LatticeCell<T>* cell) {
  int64_t base = 0;
  for (int k = 0; k < d; ++k) {
    const int64_t last_cell = sizes[k] - 2;
    const T value = x[k];
    int64_t lower = 0;
    T residual;
    bool passes = true;
    if (value == value && sizes[k] <= MaxExactSize<T>()) {
      const T upper = static_cast<T>(last_cell + 1);
      const T positive = value > T(0) ? value : T(0);
      const T clipped = positive < upper ? positive : upper;
      const int64_t whole = static_cast<int64_t>(clipped);
      lower = whole < last_cell ? whole : last_cell;
      residual = clipped - static_cast<T>(lower);
      passes = (value >= T(0)) & (value <= upper);
    } else if (!(value == value)) {
      residual = value;  // NaN input: NaN output, cell 0.
    } else if (!(value > T(0))) {
      residual = T(0);
      passes = !(value < T(0));
    } else {
      const T floor_value = Floor(value);
      // (Past 2^62 any whole number above the last vertex serves.)
      const int64_t whole = value >= Int64Ceiling<T>() ? last_cell + 2
                                                       : static_cast<int64_t>(floor_value);
      if (whole > last_cell) {
        // At or above the last vertex m_k - 1: the last cell, residual 1.
        lower = last_cell;
        residual = T(1);
        passes = whole == last_cell + 1 && value == floor_value;
      } else {
        lower = whole;
        residual = value - floor_value;
      }
    }
    base += lower * strides[k];
    cell->residual[k] = residual;
    cell->passes_gradient[k] = passes;
  }
  cell->base = base;
}

// The cell of a point in a lattice whose every size is 2 (the whole lattice
// is one cell, b = 0): LocateCell's residuals and gradient flags for those
// sizes, r_k = x_k clipped to [0, 1] (NaN stays NaN and passes), without
// the cell search.
template <typename T>
TF_LATTICE_HOST_DEVICE void LocateUnitCell(int d, const T* x, T* residual,
                                           bool* passes_gradient) {
  for (int k = 0; k < d; ++k) {
    const T value = x[k];
    const T positive = value > T(0) ? value : T(0);
    const T clipped = positive < T(1) ? positive : T(1);
    residual[k] = value == value ? clipped : value;
    passes_gradient[k] = !(value < T(0)) & !(value > T(1));
  }
}

// Multilinear interpolation over the 2^d corners of `cell` with a product
// tree walked depth first: corner c has e_k = bit (d-1-k) of c, prefix
// weights W[k+1] = W[k] * (e_k ? r_k : 1 - r_k) and prefix offsets
// O[k+1] = O[k] + e_k s_k are rebuilt only below the bit that changed, so
// the walk costs O(2^d), not O(2^d d).
//
// Returns f = sum_c theta[base + O_c] W_c. If `grad_residual` is not null it
// receives df/dr_k, accumulated by reverse mode through the same tree: the
// finished subtree below a level-k node of prefix weight W[k] contributes
// +-W[k] * S (S: its theta-weighted sum) to df/dr_k. `on_corner(offset,
// weight)` is called once per corner (the params gradient is
// grad_output * weight at theta[base + offset]).
template <typename T, typename Theta, typename OnCorner>
TF_LATTICE_HOST_DEVICE T HypercubeInterpolate(int d, const LatticeCell<T>& cell,
                                              const int64_t* strides, const Theta& theta,
                                              OnCorner on_corner, T* grad_residual) {
  T prefix_weight[kMaxLatticeDims + 1];
  int64_t prefix_offset[kMaxLatticeDims + 1];
  T subtree_sum[kMaxLatticeDims + 1];
  bool step[kMaxLatticeDims];
  prefix_weight[0] = T(1);
  prefix_offset[0] = 0;
  for (int k = 0; k < d; ++k) {
    step[k] = false;
    prefix_weight[k + 1] = prefix_weight[k] * (T(1) - cell.residual[k]);
    prefix_offset[k + 1] = prefix_offset[k];
    subtree_sum[k] = T(0);
    if (grad_residual != nullptr) grad_residual[k] = T(0);
  }
  while (true) {
    const int64_t offset = prefix_offset[d];
    const T leaf_weight = prefix_weight[d];
    subtree_sum[d] = theta(cell.base + offset);
    on_corner(offset, leaf_weight);
    // Close finished subtrees bottom up; stop at the first level whose next
    // child (e_k = 1) is still to visit.
    int k = d - 1;
    while (true) {
      const T r = cell.residual[k];
      const T factor = step[k] ? r : T(1) - r;
      if (grad_residual != nullptr) {
        const T term = prefix_weight[k] * subtree_sum[k + 1];
        grad_residual[k] += step[k] ? term : -term;
      }
      subtree_sum[k] += factor * subtree_sum[k + 1];
      subtree_sum[k + 1] = T(0);
      if (!step[k]) break;
      if (k == 0) return subtree_sum[0];
      --k;
    }
    step[k] = true;
    prefix_weight[k + 1] = prefix_weight[k] * cell.residual[k];
    prefix_offset[k + 1] = prefix_offset[k] + strides[k];
    for (int j = k + 1; j < d; ++j) {
      step[j] = false;
      prefix_weight[j + 1] = prefix_weight[j] * (T(1) - cell.residual[j]);
      prefix_offset[j + 1] = prefix_offset[j];
    }
  }
}

// Level-by-level hypercube interpolation (used by the CPU kernels for
// lattices of at most kMaxLevelDims dimensions; its buffers hold 2^d values).
// Corner j of a cell has e_k = bit k of j, so its vertex is
// base + offsets[j] with offsets[j] = sum_k e_k s_k (one table per lattice).
constexpr int kMaxLevelDims = 20;

// offsets[j] = sum_k bit_k(j) * s_k for j < 2^d.
TF_LATTICE_HOST_DEVICE void HypercubeCornerOffsets(int d, const int64_t* strides,
                                                          int64_t* offsets) {
  offsets[0] = 0;
  for (int k = 0; k < d; ++k) {
    const int64_t half = int64_t{1} << k;
    const int64_t stride = strides[k];
    for (int64_t j = 0; j < half; ++j) offsets[j + half] = offsets[j] + stride;
  }
}

// Partial corner weights of every level: level k (dims 0..k-1 resolved)
// occupies weights[2^k, 2^(k+1)) with entry j = prod_{i<k} (e_i ? r_i : 1 - r_i).
// Level d (weights + 2^d) holds the 2^d corner weights. weights has 2^(d+1)
// entries.
template <typename T>
TF_LATTICE_HOST_DEVICE void HypercubeLevelWeights(int d, const T* residual, T* weights) {
  weights[1] = T(1);
  for (int k = 0; k < d; ++k) {
    const int64_t half = int64_t{1} << k;
    const T* __restrict__ level = weights + half;
    T* __restrict__ next = weights + 2 * half;
    const T r = residual[k];
    const T one_minus_r = T(1) - r;
    for (int64_t j = 0; j < half; ++j) {
      next[j] = level[j] * one_minus_r;
      next[j + half] = level[j] * r;
    }
  }
}

// v + r (w - v), or (1 - r) v + r w where w - v overflows (values of opposite
// signs near the dtype's limit), so that finite values give a finite result.
template <typename T>
TF_LATTICE_HOST_DEVICE T Lerp(T v, T w, T r, T difference) {
  return difference - difference == T(0) ? v + r * difference : (T(1) - r) * v + r * w;
}

// Contracts the 2^d corner values (values[j] = theta at corner j) one
// dimension at a time, last dimension first: v[j] += r_k (v[j + 2^k] - v[j])
// for j < 2^k (Lerp). Returns the interpolated value; `values` is overwritten.
template <typename T>
TF_LATTICE_HOST_DEVICE T HypercubeContract(int d, const T* residual, T* values) {
  for (int k = d - 1; k >= 0; --k) {
    const int64_t half = int64_t{1} << k;
    const T r = residual[k];
    T* __restrict__ low = values;
    const T* __restrict__ high = values + half;
    for (int64_t j = 0; j < half; ++j) low[j] = Lerp(low[j], high[j], r, high[j] - low[j]);
  }
  return values[0];
}

// HypercubeContract that also returns df/dr_k in grad_residual[k]. The
// contraction of dimension k is v'[j] = v[j] + r_k D[j], D[j] = v[j + 2^k] -
// v[j]; the adjoint of v'[j] is the level-k partial weight W_k[j] (the
// dimensions contracted after k are 0..k-1), so df/dr_k = sum_j W_k[j] D[j].
// level_weights is the output of HypercubeLevelWeights.
template <typename T>
TF_LATTICE_HOST_DEVICE T HypercubeContractWithGradient(int d, const T* residual,
                                                       const T* level_weights, T* values,
                                                       T* grad_residual) {
  for (int k = d - 1; k >= 0; --k) {
    const int64_t half = int64_t{1} << k;
    const T r = residual[k];
    T* __restrict__ low = values;
    const T* __restrict__ high = values + half;
    const T* __restrict__ weight = level_weights + half;
    T sum = T(0);
    for (int64_t j = 0; j < half; ++j) {
      const T difference = high[j] - low[j];
      sum += weight[j] * difference;
      low[j] = Lerp(low[j], high[j], r, difference);
    }
    grad_residual[k] = sum;
  }
  return values[0];
}

// True if dimension a precedes b in the simplex order: larger residual
// first, equal residuals by lower dimension index (a total order).
template <typename T>
TF_LATTICE_HOST_DEVICE bool SimplexPrecedes(const T* residual, int a, int b) {
  return residual[a] > residual[b] || (!(residual[a] < residual[b]) && a < b);
}

template <typename T>
TF_LATTICE_HOST_DEVICE void SiftDown(const T* residual, int* order, int root, int end) {
  // Max-heap on "comes later": the heap top is the last dimension in order.
  while (2 * root + 1 < end) {
    int child = 2 * root + 1;
    if (child + 1 < end && SimplexPrecedes(residual, order[child], order[child + 1])) {
      ++child;
    }
    if (!SimplexPrecedes(residual, order[root], order[child])) return;
    const int swap = order[root];
    order[root] = order[child];
    order[child] = swap;
    root = child;
  }
}

// Orders up to this length are sorted by counting, longer ones heap sorted.
constexpr int kRankSortDims = 16;

// Sorts the dimensions 0..d-1 into simplex order (by counting predecessors
// for short NaN-free orders, else heap sort, O(d log d)); the order is
// total, so both agree.
// NaN residuals make the order arbitrary but the walk stays in the cell.
template <typename T>
TF_LATTICE_HOST_DEVICE void SimplexOrder(int d, const T* residual, int* order) {
  if (d <= kRankSortDims) {
    // Without NaN the order is total: the position of k is the number of
    // dimensions that precede it (branch-free, d^2 comparisons).
    bool has_nan = false;
    for (int k = 0; k < d; ++k) has_nan |= !(residual[k] == residual[k]);
    if (!has_nan) {
      for (int k = 0; k < d; ++k) {
        int rank = 0;
        const T r = residual[k];
        for (int j = 0; j < d; ++j) {
          // SimplexPrecedes(residual, j, k) without branches.
          rank += static_cast<int>(residual[j] > r) |
                  (static_cast<int>(!(residual[j] < r)) & static_cast<int>(j < k));
        }
        order[rank] = k;
      }
      return;
    }
  }
  for (int k = 0; k < d; ++k) order[k] = k;
  for (int root = d / 2 - 1; root >= 0; --root) SiftDown(residual, order, root, d);
  for (int end = d - 1; end > 0; --end) {
    const int swap = order[0];
    order[0] = order[end];
    order[end] = swap;
    SiftDown(residual, order, 0, end);
  }
}

// Simplex interpolation: with p the simplex order, the walk v_0 = b,
// v_j = v_{j-1} + e_{p(j-1)} visits d + 1 vertices with weights
// 1 - r_{p(0)}, r_{p(j-1)} - r_{p(j)}, r_{p(d-1)}. Then
// df/dr_{p(j)} = theta[v_{j+1}] - theta[v_j]. Same contract as
// HypercubeInterpolate.
template <typename T, typename Theta, typename OnCorner>
TF_LATTICE_HOST_DEVICE T SimplexInterpolate(int d, const LatticeCell<T>& cell,
                                            const int64_t* strides, const Theta& theta,
                                            OnCorner on_corner, T* grad_residual) {
  int order[kMaxLatticeDims];
  SimplexOrder(d, cell.residual, order);
  int64_t offset = 0;
  T previous_residual = T(1);
  T previous_value = theta(cell.base);
  T result = T(0);
  for (int j = 0; j < d; ++j) {
    const int k = order[j];
    const T weight = previous_residual - cell.residual[k];
    on_corner(offset, weight);
    result += weight * previous_value;
    offset += strides[k];
    const T value = theta(cell.base + offset);
    if (grad_residual != nullptr) grad_residual[k] = value - previous_value;
    previous_value = value;
    previous_residual = cell.residual[k];
  }
  on_corner(offset, previous_residual);
  return result + previous_residual * previous_value;
}

// Interpolates one point with the chosen scheme.
template <typename T, typename Theta, typename OnCorner>
TF_LATTICE_HOST_DEVICE T Interpolate(Interpolation interpolation, int d,
                                     const LatticeCell<T>& cell, const int64_t* strides,
                                     const Theta& theta, OnCorner on_corner,
                                     T* grad_residual) {
  if (interpolation == Interpolation::kSimplex) {
    return SimplexInterpolate(d, cell, strides, theta, on_corner, grad_residual);
  }
  return HypercubeInterpolate(d, cell, strides, theta, on_corner, grad_residual);
}

// Reads the vertex values of one unit's lattice.
template <typename T>
struct ParamsRow {
  const T* row;
  TF_LATTICE_HOST_DEVICE T operator()(int64_t index) const { return row[index]; }
};

// Ignores the corner weights (forward pass).
struct IgnoreCorners {
  template <typename T>
  TF_LATTICE_HOST_DEVICE void operator()(int64_t, T) const {}
};

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_INTERPOLATION_H_
