// Finalize of the lattice projection: the exact repair of Dykstra's result
// (lattice_dykstra.h) into a point that satisfies every row and bound of the
// program (lattice_projection.h) exactly in floating point. TF-free: only
// host_device.h, exact_sign.h and lattice_projection.h (and <vector> for the
// host-only sweep of many units at once).
//
// The finalize rows are r: sum_t c_t x[i_t] >= 0 with c_t in {0, +-1, +-2},
// listed under their largest vertex ("target") with a nonzero coefficient.
// A row holds exactly when the exact sign of its sum (exact_sign.h) is >= 0;
// an order row x[a] - x[b] >= 0 holds exactly when x[a] >= x[b].
//
// * Sweep (FinalizeSweep): visiting targets in increasing index order, every
//   row of target t involves t and smaller, already final vertices only, so
//   it bounds x[t] alone: c_t x[t] >= -sum_{i < t} c_i x[i], i.e.
//   x[t] >= -others / c_t for c_t > 0 and x[t] <= -others / c_t for c_t < 0.
//   x[t] is clamped into the intersection of these bounds and [low, high]
//   (to the lower end when it is empty), then nudged by up to kMaxNudges
//   ulps in the one direction that its failing rows ask for, until each of
//   its rows holds exactly. With order rows only the clamp is exact and no
//   nudge is needed.
// * Check (ExactlyFeasible): every value finite and in [low, high], every
//   row exactly satisfied.
// * Fallbacks, when the swept point fails the check: sweep again from
//   x + s (1 + max|x|) / margin * q for s in 1e-12, 1e-9, 1e-6, 1e-3, with q
//   a strictly feasible direction (q satisfies every row with slack
//   >= margin); then from the blend x + lam (p - x) toward the strictly
//   feasible point p = center + size q, lam the smallest in [0, 1] that makes
//   every row and bound hold up to rounding (BlendTowardInterior); finally
//   return the constant clip(mean(x0), low, high). The constant satisfies
//   every row of the public constraint families (their coefficients sum to
//   0); a program whose constant fails too (possible only with hand-made
//   tables) is reported as infeasible by a mask of the families of its
//   failing rows (InfeasibleFamilies).
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_FINALIZE_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_FINALIZE_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "tf_lattice/ops/cc/lib/exact_sign.h"
#include "tf_lattice/ops/cc/lib/host_device.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"

namespace tf_lattice {

static_assert(kRowTerms <= kMaxSignTerms, "a row's terms must fit ExactSign");

// Ulp nudges per vertex in the finalize sweep.
constexpr int kMaxNudges = 4;
// Relative interior shifts tried after the unshifted sweep.
constexpr int kNumShifts = 4;

// Exact sign of row r of the finalize table with x[target] replaced by value.
template <typename T>
TF_LATTICE_HOST_DEVICE int RowSign(const ProjectionProgram<T>& program, const T* x, int64_t r,
                                   int64_t target, T value) {
  double terms[kRowTerms];
  for (int t = 0; t < kRowTerms; ++t) {
    const int64_t i = program.row_index[r * kRowTerms + t];
    const T c = program.row_coef[r * kRowTerms + t];
    const T xi = i == target ? value : x[i];
    terms[t] = c == T(0) ? 0.0 : static_cast<double>(c) * static_cast<double>(xi);
  }
  return ExactSign(terms, kRowTerms);
}

// Whether row r is an order row x[upper] - x[lower] >= 0 (two terms on two
// vertices, coefficients +1 and -1); if so, sets *upper and *lower.
template <typename T>
TF_LATTICE_HOST_DEVICE bool IsOrderRow(const ProjectionProgram<T>& program, int64_t r,
                                       int64_t* upper, int64_t* lower) {
  const int64_t* index = program.row_index + r * kRowTerms;
  const T* coef = program.row_coef + r * kRowTerms;
  int64_t plus = -1;
  int64_t minus = -1;
  int num_terms = 0;
  for (int t = 0; t < kRowTerms; ++t) {
    if (coef[t] == T(0)) continue;
    ++num_terms;
    if (coef[t] == T(1)) plus = index[t];
    if (coef[t] == T(-1)) minus = index[t];
  }
  if (num_terms != 2 || plus < 0 || minus < 0 || plus == minus) return false;
  *upper = plus;
  *lower = minus;
  return true;
}

// Whether row r holds exactly on x: an order row by comparison, any other by
// the exact sign of its sum.
template <typename T>
TF_LATTICE_HOST_DEVICE bool RowHolds(const ProjectionProgram<T>& program, const T* x, int64_t r) {
  int64_t upper = 0;
  int64_t lower = 0;
  if (IsOrderRow(program, r, &upper, &lower)) return x[upper] >= x[lower];
  return RowSign(program, x, r, int64_t{-1}, T(0)) >= 0;
}

// The ordered clamp-and-nudge sweep over x [V], in place.
template <typename T>
TF_LATTICE_HOST_DEVICE void FinalizeSweep(const ProjectionProgram<T>& program, T* x) {
  const T inf = Infinity<T>();
  for (int64_t target = 0; target < program.num_vertices; ++target) {
    const int64_t first = program.row_offsets[target];
    const int64_t last = program.row_offsets[target + 1];
    T value = x[target];
    if (first == last) {
      x[target] = Clip(value, program.low, program.high);
      continue;
    }
    T lower = program.low;
    T upper = program.high;
    // Whether every row is an order row: its bound is then the other vertex's
    // value itself and the clamp below satisfies it exactly.
    bool order_rows_only = true;
    for (int64_t r = first; r < last; ++r) {
      T target_coef = T(0);
      T others = T(0);
      for (int t = 0; t < kRowTerms; ++t) {
        const int64_t i = program.row_index[r * kRowTerms + t];
        const T c = program.row_coef[r * kRowTerms + t];
        if (c == T(0)) continue;
        if (i == target) {
          target_coef += c;
        } else {
          others += c * x[i];
        }
      }
      int64_t upper_vertex = 0;
      int64_t lower_vertex = 0;
      order_rows_only = order_rows_only && IsOrderRow(program, r, &upper_vertex, &lower_vertex);
      if (target_coef > T(0)) lower = Max(lower, -others / target_coef);
      if (target_coef < T(0)) upper = Min(upper, -others / target_coef);
    }
    value = lower <= upper ? Min(Max(value, lower), upper) : lower;
    for (int nudge = 0; nudge < kMaxNudges && !(order_rows_only && lower <= upper); ++nudge) {
      bool need_up = false;
      bool need_down = false;
      for (int64_t r = first; r < last; ++r) {
        if (RowSign(program, x, r, target, value) >= 0) continue;
        T target_coef = T(0);
        for (int t = 0; t < kRowTerms; ++t) {
          if (program.row_index[r * kRowTerms + t] == target) {
            target_coef += program.row_coef[r * kRowTerms + t];
          }
        }
        need_up = need_up || target_coef > T(0);
        need_down = need_down || target_coef < T(0);
      }
      if (need_up == need_down) break;  // every row holds, or no single direction helps
      if (need_up && !need_down) value = NextAfter(value, inf);
      if (need_down && !need_up) value = NextAfter(value, -inf);
    }
    x[target] = Clip(value, program.low, program.high);
  }
}

// Whether every value is finite and within the bounds and every row holds
// exactly on x [V].
template <typename T>
TF_LATTICE_HOST_DEVICE bool ExactlyFeasible(const ProjectionProgram<T>& program, const T* x) {
  for (int64_t v = 0; v < program.num_vertices; ++v) {
    if (!(x[v] >= program.low && x[v] <= program.high && IsFiniteValue(x[v]))) return false;
  }
  const int64_t num_rows = program.row_offsets[program.num_vertices];
  for (int64_t r = 0; r < num_rows; ++r) {
    if (!RowHolds(program, x, r)) return false;
  }
  return true;
}

// The mask (kBoundsBit, family bits) of what fails on x [V]; 0 when x is
// exactly feasible.
template <typename T>
TF_LATTICE_HOST_DEVICE uint64_t InfeasibleFamilies(const ProjectionProgram<T>& program,
                                                   const T* x) {
  uint64_t mask = 0;
  for (int64_t v = 0; v < program.num_vertices; ++v) {
    if (!(x[v] >= program.low && x[v] <= program.high && IsFiniteValue(x[v]))) {
      mask |= uint64_t{1} << kBoundsBit;
    }
  }
  const int64_t num_rows = program.row_offsets[program.num_vertices];
  for (int64_t r = 0; r < num_rows; ++r) {
    if (RowHolds(program, x, r)) continue;
    const int64_t family = program.row_family == nullptr ? 0 : program.row_family[r];
    mask |= uint64_t{1} << (family < kLastFamilyBit ? family : kLastFamilyBit);
  }
  return mask;
}

// out = x + lam (p - x) with the smallest lam in [0, 1] making every row and
// bound hold (up to rounding), p = center + size q strictly feasible.
template <typename T>
TF_LATTICE_HOST_DEVICE void BlendTowardInterior(const ProjectionProgram<T>& program, const T* x,
                                                const T* x0, T* out) {
  const int64_t n = program.num_vertices;
  const T low = program.low;
  const T high = program.high;
  const bool has_low = low > -Infinity<T>();
  const bool has_high = high < Infinity<T>();
  T size = T(1) + MaxAbs(x, n);
  if (has_low && has_high) size = Min(size, (high - low) / T(4));
  T center = Mean(x0, n);
  if (has_low) center = Max(center, low + size);
  if (has_high) center = Min(center, high - size);
  const double* q = program.interior_direction;
  // out holds the interior point p while lam is found.
  for (int64_t v = 0; v < n; ++v) out[v] = center + static_cast<T>(q[v]) * size;
  const T tiny = std::numeric_limits<T>::min();  // smallest positive normal
  T lam = T(0);
  const int64_t num_rows = program.row_offsets[n];
  for (int64_t r = 0; r < num_rows; ++r) {
    T a_x = T(0);
    T a_p = T(0);
    for (int t = 0; t < kRowTerms; ++t) {
      const int64_t i = program.row_index[r * kRowTerms + t];
      const T c = program.row_coef[r * kRowTerms + t];
      a_x += x[i] * c;
      a_p += out[i] * c;
    }
    if (a_x < T(0)) lam = Max(lam, -a_x / Max(a_p - a_x, tiny));
  }
  for (int64_t v = 0; v < n; ++v) {
    if (has_low && x[v] < low) lam = Max(lam, (low - x[v]) / Max(out[v] - x[v], tiny));
    if (has_high && x[v] > high) lam = Max(lam, (x[v] - high) / Max(x[v] - out[v], tiny));
  }
  lam = Min(lam, T(1));
  for (int64_t v = 0; v < n; ++v) out[v] = x[v] + lam * (out[v] - x[v]);
}

// Finalize: out holds the Dykstra result on entry, an exactly feasible
// point on exit; saved [V] is scratch. Returns 0, or the InfeasibleFamilies
// mask of the constant fallback when even that fails.
template <typename T>
TF_LATTICE_HOST_DEVICE uint64_t Finalize(const ProjectionProgram<T>& program, const T* x0,
                                         T* out, T* saved) {
  const int64_t n = program.num_vertices;
  for (int64_t v = 0; v < n; ++v) saved[v] = out[v];
  FinalizeSweep(program, out);
  if (ExactlyFeasible(program, out)) return 0;
  if (program.interior_margin > 0) {
    const double shifts[kNumShifts] = {1e-12, 1e-9, 1e-6, 1e-3};
    const T scale = (T(1) + MaxAbs(saved, n)) / static_cast<T>(program.interior_margin);
    for (int s = 0; s < kNumShifts; ++s) {
      for (int64_t v = 0; v < n; ++v) {
        out[v] = saved[v] + static_cast<T>(program.interior_direction[v] * shifts[s]) * scale;
      }
      FinalizeSweep(program, out);
      if (ExactlyFeasible(program, out)) return 0;
    }
    BlendTowardInterior(program, saved, x0, out);
    FinalizeSweep(program, out);
    if (ExactlyFeasible(program, out)) return 0;
  }
  const T constant = Clip(Mean(x0, n), program.low, program.high);
  for (int64_t v = 0; v < n; ++v) out[v] = constant;
  return InfeasibleFamilies(program, out);
}

// The finalize rows of a program with order rows only, by target: the rows
// of target t are offsets[t] .. offsets[t + 1] - 1, each with its other
// vertex and whether it reads x[target] >= x[other]. Built on the host.
struct OrderRowTable {
  bool order_rows_only = false;
  std::vector<int64_t> offsets;
  std::vector<int64_t> other;
  std::vector<char> target_is_upper;
};

// The order-row table of the program's finalize rows (order_rows_only false,
// and the table empty, when some row is not an order row).
template <typename T>
OrderRowTable MakeOrderRowTable(const ProjectionProgram<T>& program) {
  OrderRowTable table;
  table.order_rows_only = true;
  table.offsets.assign(1, 0);
  for (int64_t target = 0; target < program.num_vertices; ++target) {
    for (int64_t r = program.row_offsets[target]; r < program.row_offsets[target + 1]; ++r) {
      int64_t upper = 0;
      int64_t lower = 0;
      if (!IsOrderRow(program, r, &upper, &lower)) return OrderRowTable();
      table.other.push_back(upper == target ? lower : upper);
      table.target_is_upper.push_back(upper == target);
    }
    table.offsets.push_back(static_cast<int64_t>(table.other.size()));
  }
  return table;
}

// SweepOrderRowsLanes with kLanes lanes fixed at compile time (0: `lanes`
// at run time), so that one lane (a single lattice) runs without the lane
// loops' overhead on each of its vertices.
template <typename T, int kLanes>
void SweepOrderRowsFixedLanes(const OrderRowTable& table, T low, T high, int64_t num_vertices,
                              int64_t dynamic_lanes, T* x, char* holds) {
  const int64_t lanes = kLanes > 0 ? kLanes : dynamic_lanes;
  std::vector<T> lower(lanes), upper(lanes);
  const int64_t* offsets = table.offsets.data();
  const int64_t* other = table.other.data();
  const char* target_is_upper = table.target_is_upper.data();
  for (int64_t target = 0; target < num_vertices; ++target) {
    T* xt = x + target * lanes;
    const int64_t first = offsets[target];
    const int64_t last = offsets[target + 1];
    if (first == last) {
      for (int64_t l = 0; l < lanes; ++l) xt[l] = Clip(xt[l], low, high);
      continue;
    }
    for (int64_t l = 0; l < lanes; ++l) {
      lower[l] = low;
      upper[l] = high;
    }
    for (int64_t r = first; r < last; ++r) {
      const T* xo = x + other[r] * lanes;
      if (target_is_upper[r]) {
        for (int64_t l = 0; l < lanes; ++l) lower[l] = Max(lower[l], xo[l]);
      } else {
        for (int64_t l = 0; l < lanes; ++l) upper[l] = Min(upper[l], xo[l]);
      }
    }
    for (int64_t l = 0; l < lanes; ++l) {
      const T value = lower[l] <= upper[l] ? Min(Max(xt[l], lower[l]), upper[l]) : lower[l];
      xt[l] = Clip(value, low, high);
    }
  }
  for (int64_t l = 0; l < lanes; ++l) holds[l] = 1;
  for (int64_t target = 0; target < num_vertices; ++target) {
    const T* xt = x + target * lanes;
    for (int64_t l = 0; l < lanes; ++l) {
      holds[l] = holds[l] && xt[l] >= low && xt[l] <= high;
    }
    for (int64_t r = offsets[target]; r < offsets[target + 1]; ++r) {
      const T* xo = x + other[r] * lanes;
      if (target_is_upper[r]) {
        for (int64_t l = 0; l < lanes; ++l) holds[l] = holds[l] && xt[l] >= xo[l];
      } else {
        for (int64_t l = 0; l < lanes; ++l) holds[l] = holds[l] && xt[l] <= xo[l];
      }
    }
  }
}

// FinalizeSweep and the exact check of an order-rows-only program on the
// units x [V, lanes] (vertex-major), in place, all lanes at once on the host:
// each vertex is clamped, in increasing order, between its lower and upper
// neighbours (and the bounds), as FinalizeSweep does. holds[l] is 1 when
// swept lane l is exactly feasible, 0 when it needs FinalizeSweep's nudges
// or Finalize's fallbacks.
template <typename T>
void SweepOrderRowsLanes(const OrderRowTable& table, T low, T high, int64_t num_vertices,
                         int64_t lanes, T* x, char* holds) {
  if (lanes == 1) {
    SweepOrderRowsFixedLanes<T, 1>(table, low, high, num_vertices, lanes, x, holds);
  } else {
    SweepOrderRowsFixedLanes<T, 0>(table, low, high, num_vertices, lanes, x, holds);
  }
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_FINALIZE_H_
