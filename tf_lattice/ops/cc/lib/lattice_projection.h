// Per-unit lattice projection shared by the CPU loop and the CUDA kernel.
// TF-free: only host_device.h, power_of_two.h, <math.h>, <cstdint> and <limits>.
//
// A unit's vertex values x0 [V] are projected onto a compiled constraint
// program (see tf_lattice/ops/_lattice_constraints.py and
// tf_lattice/ops/lattice_projection.py, whose pure-TF twin runs the same
// arithmetic):
//
// * P projections, in this order: F chain families (every chain of a family
//   is projected by pool adjacent violators onto non-decreasing values), G
//   half-space groups (rows sum_t c_t x[i_t] >= 0 with disjoint supports,
//   each projected in closed form x += c max(-c.x, 0) / |c|^2), and the box
//   [low, high] when a bound is finite.
// * Dykstra's algorithm: per projection p an increment inc_p [V]; each cycle
//   y = x + inc_p, x = P_p(y), inc_p = y - x for every p, stopping after
//   num_iterations cycles or once a cycle moves no value by more than
//   tolerance * (1 + max |x0|). With a single projection it is applied once.
// * Finalize: visiting vertices in increasing index order, clamp each into
//   the bounds that its rows (the rows whose largest vertex it is) put on it
//   given the smaller, final vertices, then nudge it by up to 4 ulps until
//   each of its rows holds in exact arithmetic. If the result fails the exact
//   check, retry from x + s (1 + max|x|) / margin * q for s in 1e-12 ... 1e-3
//   (q a strictly feasible direction), then from the blend of x toward a
//   strictly feasible point, and finally return the constant clip(mean(x0)).
//   The constant satisfies every row of the public constraint families (their
//   coefficients sum to 0); a program whose constant fails too (possible only
//   with hand-made tables) is reported as infeasible by a mask of the
//   families of its failing rows (InfeasibleFamilies).
// * Scale: a unit whose largest |x0| passes 2^kSafeExponent is projected
//   scaled down by a power of two (exact) and scaled back, so that sums of
//   values near the dtype's limit cannot overflow (ProjectUnit).
//
// Exact signs of rows: the products c_t x[i_t] with c_t in {+-1, +-2} are
// exact in double; their rounded sum decides when it clears its error bound,
// and a floating-point expansion (Knuth's TwoSum) otherwise.
//
// On the CPU the Dykstra cycles run for several units at once with
// lib/lattice_dykstra_lanes.h (same projections, vectorized across chains and
// units); the finalize below runs per unit on both devices.
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_H_

#include <math.h>

#include <cstdint>
#include <limits>

#include "tf_lattice/ops/cc/lib/host_device.h"
#include "tf_lattice/ops/cc/lib/power_of_two.h"

namespace tf_lattice {

// Terms per inequality row (unused terms have coefficient 0).
constexpr int kRowTerms = 4;
// Ulp nudges per vertex in the finalize sweep.
constexpr int kMaxNudges = 4;
// Relative interior shifts tried after the unshifted sweep.
constexpr int kNumShifts = 4;

// A compiled constraint program; every pointer is on the device that runs
// the projection. Tables as produced by lattice_projection.kernel_tables.
template <typename T>
struct ProjectionProgram {
  int64_t num_vertices;
  int64_t num_chain_families;
  const int64_t* chain_index;     // flat chains of every family
  const int64_t* chain_families;  // [F, 3]: offset, num_chains, length
  int64_t num_halfspace_groups;
  const int64_t* halfspace_index;   // [H, 4]
  const T* halfspace_coef;          // [H, 4]
  const int64_t* halfspace_groups;  // [G + 1] offsets into the half-spaces
  const int64_t* row_index;         // [R, 4], sorted by target vertex
  const T* row_coef;                // [R, 4]
  const int64_t* row_offsets;       // [V + 1]: rows of target t
  const double* interior_direction;  // [V]
  double interior_margin;
  T low;
  T high;
  int64_t num_iterations;
  T tolerance;
  // Table sizes (checked by lattice_projection_checks.h) and the family of
  // each row, which names the constraints of an infeasible unit.
  int64_t num_chain_values;
  int64_t num_halfspaces;
  int64_t num_rows;
  const int64_t* row_family;  // [R], in [0, num_families)
  int64_t num_families;
};

// Bits of the mask returned by InfeasibleFamilies: bit f for a failing row of
// family f (families from kLastFamilyBit on share its bit), kBoundsBit for a
// value out of the bounds or not finite.
constexpr int kLastFamilyBit = 62;
constexpr int kBoundsBit = 63;

TF_LATTICE_HOST_DEVICE float Abs(float x) { return fabsf(x); }
TF_LATTICE_HOST_DEVICE double Abs(double x) { return fabs(x); }
TF_LATTICE_HOST_DEVICE float NextAfter(float x, float to) { return nextafterf(x, to); }
TF_LATTICE_HOST_DEVICE double NextAfter(double x, double to) { return nextafter(x, to); }
// Units with values up to 2^kSafeExponent are projected as they are: the
// sums of the projection (of at most 2^63 terms, times coefficients up to 4)
// stay finite. Larger ones are scaled down to that size first.
template <typename T>
TF_LATTICE_HOST_DEVICE int SafeExponent() {
  return sizeof(T) == sizeof(float) ? 60 : 900;
}

// True for finite v (v - v is NaN for infinities and NaN).
template <typename T>
TF_LATTICE_HOST_DEVICE bool IsFiniteValue(T v) {
  return v - v == T(0);
}

template <typename T>
TF_LATTICE_HOST_DEVICE T Infinity() {
  return std::numeric_limits<T>::infinity();
}

template <typename T>
TF_LATTICE_HOST_DEVICE T Max(T a, T b) {
  return a > b ? a : b;
}

template <typename T>
TF_LATTICE_HOST_DEVICE T Min(T a, T b) {
  return a < b ? a : b;
}

template <typename T>
TF_LATTICE_HOST_DEVICE T Clip(T x, T low, T high) {
  return Min(Max(x, low), high);
}

template <typename T>
TF_LATTICE_HOST_DEVICE bool HasBounds(const ProjectionProgram<T>& program) {
  return program.low > -Infinity<T>() || program.high < Infinity<T>();
}

// Number of Dykstra projections: chain families, half-space groups, box.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t NumProjections(const ProjectionProgram<T>& program) {
  return program.num_chain_families + program.num_halfspace_groups +
         (HasBounds(program) ? 1 : 0);
}

// Scratch values one unit needs: a chain's values, its Dykstra input, the
// cycle start, the Dykstra result, two PAV stacks of V, one increment per
// projection, and the scaled input of a unit with large values.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t ScratchPerUnit(const ProjectionProgram<T>& program) {
  return (NumProjections(program) + 7) * program.num_vertices;
}

// Sign (-1, 0, 1) of the exact sum of up to kRowTerms double terms. The
// rounded sum decides when it is farther from zero than its error bound,
// (n - 1) u sum |t| with u = 2^-53 (taken 8x larger, which also covers the
// rounding of sum |t|); otherwise an expansion of the sum is built exactly
// (Knuth's TwoSum) and its sign read off.
TF_LATTICE_HOST_DEVICE int ExactSign(const double* terms, int n) {
  double sum = 0.0;
  double magnitude = 0.0;
  for (int t = 0; t < n; ++t) {
    sum += terms[t];
    magnitude += fabs(terms[t]);
  }
  constexpr double kUnitRoundoff = 1.1102230246251565e-16;  // 2^-53
  const double bound = 8.0 * n * kUnitRoundoff * magnitude;
  if (sum > bound) return 1;
  if (sum < -bound) return -1;
  double expansion[kRowTerms];
  int size = 0;
  for (int t = 0; t < n; ++t) {
    double q = terms[t];
    for (int i = 0; i < size; ++i) {
      const double e = expansion[i];
      const double s = q + e;
      const double bv = s - q;
      const double av = s - bv;
      expansion[i] = (q - av) + (e - bv);
      q = s;
    }
    expansion[size++] = q;
  }
  int sign = 0;
  for (int i = 0; i < size; ++i) {
    if (expansion[i] > 0) sign = 1;
    if (expansion[i] < 0) sign = -1;
  }
  return sign;
}

// Exact sign of row r of the finalize table with x[target] replaced by value.
template <typename T>
TF_LATTICE_HOST_DEVICE int RowSign(const ProjectionProgram<T>& program, const T* x, int64_t r,
                                   int64_t target, T value) {
  double terms[kRowTerms];
  for (int t = 0; t < kRowTerms; ++t) {
    const int64_t i = program.row_index[r * kRowTerms + t];
    const T c = program.row_coef[r * kRowTerms + t];
    terms[t] = c == T(0) ? 0.0 : static_cast<double>(c) * static_cast<double>(i == target ? value : x[i]);
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

// Projects the contiguous values y[0..length) onto non-decreasing sequences
// in place (pool adjacent violators); sums and counts hold at least length
// values. Block means are compared without division (counts are positive).
template <typename T>
TF_LATTICE_HOST_DEVICE void PoolAdjacentViolatorsContiguous(T* y, int64_t length, T* sums,
                                                            T* counts) {
  int64_t blocks = 0;
  for (int64_t i = 0; i < length; ++i) {
    sums[blocks] = y[i];
    counts[blocks] = T(1);
    ++blocks;
    while (blocks > 1 &&
           sums[blocks - 2] * counts[blocks - 1] > sums[blocks - 1] * counts[blocks - 2]) {
      sums[blocks - 2] += sums[blocks - 1];
      counts[blocks - 2] += counts[blocks - 1];
      --blocks;
    }
  }
  int64_t i = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const T mean = sums[b] / counts[b];
    for (int64_t n = static_cast<int64_t>(counts[b]); n > 0; --n) y[i++] = mean;
  }
}

// Projects the values x[chain[0..length)] onto non-decreasing sequences;
// buffer, sums and counts hold at least length values.
template <typename T>
TF_LATTICE_HOST_DEVICE void PoolAdjacentViolators(T* x, const int64_t* chain, int64_t length,
                                                  T* buffer, T* sums, T* counts) {
  for (int64_t i = 0; i < length; ++i) buffer[i] = x[chain[i]];
  PoolAdjacentViolatorsContiguous(buffer, length, sums, counts);
  for (int64_t i = 0; i < length; ++i) x[chain[i]] = buffer[i];
}

// Projection p of the program applied in place to y [V].
template <typename T>
TF_LATTICE_HOST_DEVICE void ApplyProjection(const ProjectionProgram<T>& program, int64_t p, T* y,
                                            T* buffer, T* sums, T* counts) {
  if (p < program.num_chain_families) {
    const int64_t* family = program.chain_families + 3 * p;
    const int64_t length = family[2];
    const int64_t* chains = program.chain_index + family[0];
    for (int64_t c = 0; c < family[1]; ++c) {
      PoolAdjacentViolators(y, chains + c * length, length, buffer, sums, counts);
    }
    return;
  }
  p -= program.num_chain_families;
  if (p < program.num_halfspace_groups) {
    for (int64_t h = program.halfspace_groups[p]; h < program.halfspace_groups[p + 1]; ++h) {
      const int64_t* index = program.halfspace_index + h * kRowTerms;
      const T* coef = program.halfspace_coef + h * kRowTerms;
      T slack = T(0);
      double norm = 0.0;
      for (int t = 0; t < kRowTerms; ++t) {
        slack += coef[t] * y[index[t]];
        norm += static_cast<double>(coef[t]) * static_cast<double>(coef[t]);
      }
      const T step = Max(-slack, T(0)) * static_cast<T>(1.0 / norm);
      for (int t = 0; t < kRowTerms; ++t) y[index[t]] += coef[t] * step;
    }
    return;
  }
  for (int64_t v = 0; v < program.num_vertices; ++v) y[v] = Clip(y[v], program.low, program.high);
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

template <typename T>
TF_LATTICE_HOST_DEVICE T MaxAbs(const T* x, int64_t n) {
  T result = T(0);
  for (int64_t i = 0; i < n; ++i) result = Max(result, Abs(x[i]));
  return result;
}

template <typename T>
TF_LATTICE_HOST_DEVICE T Mean(const T* x, int64_t n) {
  T sum = T(0);
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  return sum / static_cast<T>(n);
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

// One Dykstra step of projection p on the vertices it touches: with
// y = x + inc, x = P_p(y) and inc = y - x. Vertices outside a chain family's
// chains or a half-space group's rows keep x (P_p(y) = y there and inc stays
// 0), so only the projection's support is visited.
template <typename T>
TF_LATTICE_HOST_DEVICE void DykstraStep(const ProjectionProgram<T>& program, int64_t p, T* x,
                                        T* inc, T* y, T* input, T* sums, T* counts) {
  if (p < program.num_chain_families) {
    const int64_t* family = program.chain_families + 3 * p;
    const int64_t length = family[2];
    const int64_t* chains = program.chain_index + family[0];
    if (length == 2) {
      // Closed form of a two-vertex chain: pool the pair when it decreases.
      for (int64_t c = 0; c < family[1]; ++c) {
        const int64_t a = chains[2 * c];
        const int64_t b = chains[2 * c + 1];
        const T ya = x[a] + inc[a];
        const T yb = x[b] + inc[b];
        const T mean = (ya + yb) / T(2);
        const bool pool = ya > yb;
        x[a] = pool ? mean : ya;
        x[b] = pool ? mean : yb;
        inc[a] = ya - x[a];
        inc[b] = yb - x[b];
      }
      return;
    }
    for (int64_t c = 0; c < family[1]; ++c) {
      const int64_t* chain = chains + c * length;
      // y[0..length) holds the chain's Dykstra input, then its projection.
      for (int64_t i = 0; i < length; ++i) {
        const int64_t v = chain[i];
        y[i] = x[v] + inc[v];
        input[i] = y[i];
      }
      PoolAdjacentViolatorsContiguous(y, length, sums, counts);
      for (int64_t i = 0; i < length; ++i) {
        const int64_t v = chain[i];
        x[v] = y[i];
        inc[v] = input[i] - y[i];
      }
    }
    return;
  }
  const int64_t g = p - program.num_chain_families;
  if (g < program.num_halfspace_groups) {
    for (int64_t h = program.halfspace_groups[g]; h < program.halfspace_groups[g + 1]; ++h) {
      const int64_t* index = program.halfspace_index + h * kRowTerms;
      const T* coef = program.halfspace_coef + h * kRowTerms;
      T values[kRowTerms];
      T slack = T(0);
      double norm = 0.0;
      for (int t = 0; t < kRowTerms; ++t) {
        // A zero coefficient pads the row (its index repeats another term).
        values[t] = coef[t] == T(0) ? T(0) : x[index[t]] + inc[index[t]];
        slack += coef[t] * values[t];
        norm += static_cast<double>(coef[t]) * static_cast<double>(coef[t]);
      }
      const T step = Max(-slack, T(0)) * static_cast<T>(1.0 / norm);
      for (int t = 0; t < kRowTerms; ++t) {
        if (coef[t] == T(0)) continue;
        const T projected = values[t] + coef[t] * step;
        inc[index[t]] = values[t] - projected;
        x[index[t]] = projected;
      }
    }
    return;
  }
  for (int64_t v = 0; v < program.num_vertices; ++v) {
    const T value = x[v] + inc[v];
    x[v] = Clip(value, program.low, program.high);
    inc[v] = value - x[v];
  }
}

// Projects one unit as it is (see ProjectUnit); scratch holds
// ScratchPerUnit - V values. Returns Finalize's mask.
template <typename T>
TF_LATTICE_HOST_DEVICE uint64_t ProjectUnscaled(const ProjectionProgram<T>& program,
                                                const T* x0, T* out, T* scratch) {
  const int64_t n = program.num_vertices;
  T* y = scratch;
  T* start = y + n;
  T* saved = start + n;
  T* buffer = saved + n;
  T* sums = buffer + n;
  T* counts = sums + n;
  T* increments = counts + n;
  for (int64_t v = 0; v < n; ++v) out[v] = x0[v];
  const int64_t num_projections = NumProjections(program);
  if (num_projections == 1) {
    ApplyProjection(program, 0, out, buffer, sums, counts);
  } else if (num_projections > 1 && program.num_iterations > 0) {
    for (int64_t i = 0; i < num_projections * n; ++i) increments[i] = T(0);
    const T threshold = program.tolerance * (T(1) + MaxAbs(x0, n));
    for (int64_t cycle = 0; cycle < program.num_iterations; ++cycle) {
      for (int64_t v = 0; v < n; ++v) start[v] = out[v];
      for (int64_t p = 0; p < num_projections; ++p) {
        DykstraStep(program, p, out, increments + p * n, y, buffer, sums, counts);
      }
      T change = T(0);
      for (int64_t v = 0; v < n; ++v) change = Max(change, Abs(out[v] - start[v]));
      if (!(change > threshold)) break;
    }
  }
  return Finalize(program, x0, out, saved);
}

// The power of two (as its exponent, >= 0) that a unit is scaled down by:
// 0 unless max |x0| passes 2^SafeExponent.
template <typename T>
TF_LATTICE_HOST_DEVICE int DownscaleExponent(const T* x0, int64_t n) {
  return DownscaleExponentOf(MaxAbs(x0, n), SafeExponent<T>());
}

// Projects one unit of finite values: x0 [V] -> out [V]; scratch holds
// ScratchPerUnit values. A unit with values past 2^SafeExponent is projected
// scaled by 2^-e (values and bounds; the rows are homogeneous, so exact
// feasibility survives the exact scaling back unless a value underflows,
// which the final check catches). Returns 0, or the InfeasibleFamilies mask
// of a unit whose output is not exactly feasible.
template <typename T>
TF_LATTICE_HOST_DEVICE uint64_t ProjectUnit(const ProjectionProgram<T>& program, const T* x0,
                                            T* out, T* scratch) {
  const int64_t n = program.num_vertices;
  const int shift = DownscaleExponent(x0, n);
  if (shift == 0) return ProjectUnscaled(program, x0, out, scratch);
  ProjectionProgram<T> scaled = program;
  scaled.low = ScaleByPowerOfTwo(program.low, -shift);
  scaled.high = ScaleByPowerOfTwo(program.high, -shift);
  T* scaled_x0 = scratch + ScratchPerUnit(program) - n;
  for (int64_t v = 0; v < n; ++v) scaled_x0[v] = ScaleByPowerOfTwo(x0[v], -shift);
  ProjectUnscaled(scaled, scaled_x0, out, scratch);
  for (int64_t v = 0; v < n; ++v) out[v] = ScaleByPowerOfTwo(out[v], shift);
  if (ExactlyFeasible(program, out)) return 0;
  const T mean = ScaleByPowerOfTwo(Mean(scaled_x0, n), shift);
  const T constant = Clip(mean, program.low, program.high);
  for (int64_t v = 0; v < n; ++v) out[v] = constant;
  return InfeasibleFamilies(program, out);
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_H_
