// Euclidean projection of one point onto a polyhedron by Mehrotra's
// predictor-corrector interior-point method. TF-free: only host_device.h,
// <math.h> and <cstdint>, with caller-provided scratch, so g++ compiles it for
// the CPU kernel and nvcc can compile it unchanged for a CUDA kernel.
//
// Problem, for one row (unit):
//
//   minimize_x  1/2 ||x - y||^2   subject to   G x <= h  (M rows),  E x = e  (P rows)
//
// Layout: y [N]; G [M, N] row-major; h [M]; E [P, N] row-major; e [P]; the
// result x [N]. Inputs of type T (float or double) are read into double; all
// arithmetic is in double. M = 0 and P = 0 are allowed. A constraint that
// does not apply is the inert row 0 <= 1.
//
// Iteration (Nocedal and Wright, Numerical Optimization, section 16.6), the
// same as the pure-TensorFlow twin tf_lattice/ops/_quadratic_program.py, step
// for step: slacks s = h - G x > 0, multipliers z > 0 (G) and nu (E). Start at
// x = y, s = max(h - G y, 1), z = 1, nu = 0. Each iteration forms
//
//   r_d = x - y + G^T z + E^T nu,  r_p = G x + s - h,  r_e = E x - e,
//   mu = s.z / M,  W = diag(min(z / s, 1e30)),
//
// stops the row once max(sqrt(mu), |r_p|_inf, |r_d|_inf, |r_e|_inf) <=
// tolerance * (1 + |y|_inf + |h|_inf), and otherwise solves the reduced Newton
// system twice with the same matrix,
//
//   [I + G^T W G   E^T] [dx ]   [-r_d - G^T ((z r_p - c) / s)]
//   [E             0  ] [dnu] = [-r_e                        ],
//   ds = -r_p - G dx,  dz = (-c - z ds) / s,
//
// first with c = s z (predictor: step alpha_a to the boundary, centering
// sigma = (mu_a / mu)^3 with mu_a the complementarity after that step), then
// with c = s z + ds_a dz_a - sigma mu (corrector), and moves by 0.99 times the
// largest step in [0, 1] keeping s, z >= 0. A row also stops when the new
// iterate is not finite or the Newton matrix is singular to rounding (a
// Cholesky pivot at most 1e-13 times its diagonal entry), both at
// convergence. The result is feasible only to the tolerance; callers follow
// it with a finalize step that makes it feasible exactly.
//
// Linear algebra: A = I + G^T W G is symmetric positive definite; it is
// factored once per iteration by Cholesky, A = L L^T, restricted to the lower
// bandwidth b = max over rows of G of (last nonzero column - first nonzero
// column), which the factor keeps (b = 2 for a calibrator's convexity rows,
// so the cost per iteration is O(N b^2) there, O(N^3 / 3) for dense G). G is
// read once into compressed rows, so forming G^T W G costs the sum over rows
// of nnz^2. Equalities use the Schur complement S = E A^{-1} E^T = V^T V with
// V = L^{-1} E^T, itself factored by Cholesky; a pivot of S below 1e-13 times
// its diagonal marks an equality that repeats earlier ones, and its multiplier
// step is set to zero (consistent duplicates then solve exactly).
//
// Why interior point and not a dual active-set method (Goldfarb-Idnani): the
// projections here are highly degenerate (a calibrator's convexity,
// monotonicity and bound rows are linearly dependent where they are active
// together, and points already feasible have active rows with zero
// multipliers). An active-set method needs tolerances to decide dependence and
// can cycle there; the interior-point iteration has no combinatorial
// decisions, its cost is fixed by the iteration count, and it reproduces the
// twin's iterates up to rounding, so the twin is an exact oracle for it.
#ifndef TF_LATTICE_OPS_CC_LIB_POLYHEDRON_PROJECTION_H_
#define TF_LATTICE_OPS_CC_LIB_POLYHEDRON_PROJECTION_H_

#include <math.h>

#include <cstdint>

#include "tf_lattice/ops/cc/lib/host_device.h"

namespace tf_lattice {

// Sizes and settings shared by every row of a batch.
struct PolyhedronProblem {
  int64_t size;              // N
  int64_t num_inequalities;  // M
  int64_t num_equalities;    // P
  int64_t num_iterations;
  double tolerance;
};

// Fraction of the step to the boundary that an iteration takes.
constexpr double kPolyhedronStepFraction = 0.99;
// Cap on the weights z / s (as in the twin).
constexpr double kPolyhedronMaxWeight = 1e30;
// Relative pivot below which an equality counts as dependent on earlier ones.
constexpr double kPolyhedronDependentPivot = 1e-13;
// Relative pivot of I + G^T W G below which the Newton system is singular to
// rounding and the row stops.
constexpr double kPolyhedronSingularPivot = 1e-13;

// Doubles of scratch one row needs.
TF_LATTICE_HOST_DEVICE int64_t PolyhedronScratchDoubles(const PolyhedronProblem& problem) {
  const int64_t n = problem.size;
  const int64_t m = problem.num_inequalities;
  const int64_t p = problem.num_equalities;
  // G (compressed), A, V, S, E; vectors of length N (5), M (11), P (6).
  return m * n + n * n + n * p + p * p + p * n + 5 * n + 11 * m + 6 * p;
}

// int64 entries of scratch one row needs (column indices and row starts of G).
TF_LATTICE_HOST_DEVICE int64_t PolyhedronScratchIndices(const PolyhedronProblem& problem) {
  return problem.num_inequalities * problem.size + problem.num_inequalities + 1;
}

namespace polyhedron_internal {

TF_LATTICE_HOST_DEVICE double Max(double a, double b) { return a > b ? a : b; }
TF_LATTICE_HOST_DEVICE double Min(double a, double b) { return a < b ? a : b; }

// G in compressed rows: row r holds values[k], columns[k] for k in
// [starts[r], starts[r + 1]), columns increasing.
struct SparseRows {
  const double* values;
  const int64_t* columns;
  const int64_t* starts;
  int64_t rows;
};

// out = G v.
TF_LATTICE_HOST_DEVICE void Multiply(const SparseRows& g, const double* v, double* out) {
  for (int64_t r = 0; r < g.rows; ++r) {
    double sum = 0.0;
    for (int64_t k = g.starts[r]; k < g.starts[r + 1]; ++k) sum += g.values[k] * v[g.columns[k]];
    out[r] = sum;
  }
}

// out += G^T v.
TF_LATTICE_HOST_DEVICE void AddTransposed(const SparseRows& g, const double* v, double* out) {
  for (int64_t r = 0; r < g.rows; ++r) {
    for (int64_t k = g.starts[r]; k < g.starts[r + 1]; ++k) out[g.columns[k]] += g.values[k] * v[r];
  }
}

// Dense row-major [rows, n] matrix times v: out = D v.
TF_LATTICE_HOST_DEVICE void MultiplyDense(const double* d, int64_t rows, int64_t n, const double* v,
                                          double* out) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t c = 0; c < n; ++c) sum += d[r * n + c] * v[c];
    out[r] = sum;
  }
}

// In place, the lower Cholesky factor of the row-major [n, n] matrix `a`
// (lower triangle read and written) with lower bandwidth `band`. Returns false
// when a pivot is not finite or at most kPolyhedronSingularPivot times its
// diagonal entry: the matrix is then singular to rounding (near convergence
// the weights z / s of active rows reach 1e30 and swamp the identity), its
// pivot is rounding noise of either sign, and a positive one would give a
// meaningless step. The twin's Cholesky fails there (NaN) when the noise is
// negative; stopping on both signs makes the kernel agree with it.
TF_LATTICE_HOST_DEVICE bool Cholesky(double* a, int64_t n, int64_t band) {
  for (int64_t j = 0; j < n; ++j) {
    const int64_t first = j - band > 0 ? j - band : 0;
    const double diagonal = a[j * n + j];
    double pivot = diagonal;
    for (int64_t k = first; k < j; ++k) pivot -= a[j * n + k] * a[j * n + k];
    if (!(pivot > kPolyhedronSingularPivot * diagonal) || !isfinite(pivot)) return false;
    const double root = sqrt(pivot);
    a[j * n + j] = root;
    const int64_t last = j + band < n - 1 ? j + band : n - 1;
    for (int64_t i = j + 1; i <= last; ++i) {
      const int64_t start = i - band > 0 ? i - band : 0;
      double sum = a[i * n + j];
      for (int64_t k = start; k < j; ++k) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = sum / root;
    }
  }
  return true;
}

// Solves L u = v in place (v becomes u) for the banded factor of Cholesky.
TF_LATTICE_HOST_DEVICE void ForwardSolve(const double* l, int64_t n, int64_t band, double* v) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t start = i - band > 0 ? i - band : 0;
    double sum = v[i];
    for (int64_t k = start; k < i; ++k) sum -= l[i * n + k] * v[k];
    v[i] = sum / l[i * n + i];
  }
}

// Solves L^T u = v in place.
TF_LATTICE_HOST_DEVICE void BackwardSolve(const double* l, int64_t n, int64_t band, double* v) {
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t last = i + band < n - 1 ? i + band : n - 1;
    double sum = v[i];
    for (int64_t k = i + 1; k <= last; ++k) sum -= l[k * n + i] * v[k];
    v[i] = sum / l[i * n + i];
  }
}

// Cholesky of the [p, p] positive semidefinite Schur complement, in place.
// A pivot at most kPolyhedronDependentPivot times the largest diagonal entry
// marks an equality dependent on the earlier ones: its column is zeroed and
// `dependent[j]` set to 1. Returns false on a non-finite entry.
TF_LATTICE_HOST_DEVICE bool SemidefiniteCholesky(double* s, int64_t p, double* dependent) {
  double largest = 0.0;
  for (int64_t j = 0; j < p; ++j) largest = Max(largest, s[j * p + j]);
  if (!isfinite(largest)) return false;
  for (int64_t j = 0; j < p; ++j) {
    double pivot = s[j * p + j];
    for (int64_t k = 0; k < j; ++k) pivot -= s[j * p + k] * s[j * p + k];
    if (!isfinite(pivot)) return false;
    dependent[j] = pivot <= kPolyhedronDependentPivot * largest ? 1.0 : 0.0;
    const double root = dependent[j] != 0.0 ? 0.0 : sqrt(pivot);
    s[j * p + j] = root;
    for (int64_t i = j + 1; i < p; ++i) {
      double sum = s[i * p + j];
      for (int64_t k = 0; k < j; ++k) sum -= s[i * p + k] * s[j * p + k];
      s[i * p + j] = dependent[j] != 0.0 ? 0.0 : sum / root;
    }
  }
  return true;
}

// Solves S u = v in place with the factor above; dependent entries get 0.
TF_LATTICE_HOST_DEVICE void SemidefiniteSolve(const double* s, int64_t p, const double* dependent,
                                              double* v) {
  for (int64_t i = 0; i < p; ++i) {
    double sum = v[i];
    for (int64_t k = 0; k < i; ++k) sum -= s[i * p + k] * v[k];
    v[i] = dependent[i] != 0.0 ? 0.0 : sum / s[i * p + i];
  }
  for (int64_t i = p - 1; i >= 0; --i) {
    double sum = v[i];
    for (int64_t k = i + 1; k < p; ++k) sum -= s[k * p + i] * v[k];
    v[i] = dependent[i] != 0.0 ? 0.0 : sum / s[i * p + i];
  }
}

// Largest step in [0, 1] keeping value + step * change >= 0.
TF_LATTICE_HOST_DEVICE double MaxStep(const double* value, const double* change, int64_t m) {
  double step = 1.0;
  for (int64_t r = 0; r < m; ++r) {
    if (change[r] < 0.0) step = Min(step, -value[r] / change[r]);
  }
  return step;
}

}  // namespace polyhedron_internal

// Projects one row; returns the number of iterations that moved the iterate.
//
// `target` [N], `g` [M, N], `h` [M], `e_matrix` [P, N], `e_bound` [P] of
// type T; `output` [N] double. `scratch` holds PolyhedronScratchDoubles and
// `indices` PolyhedronScratchIndices entries. Inputs must be finite (the
// kernel checks); an infeasible problem returns the last iterate.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t ProjectOntoPolyhedron(const PolyhedronProblem& problem,
                                                     const T* target, const T* g, const T* h,
                                                     const T* e_matrix, const T* e_bound,
                                                     double* scratch, int64_t* indices,
                                                     double* output) {
  namespace internal = polyhedron_internal;
  const int64_t n = problem.size;
  const int64_t m = problem.num_inequalities;
  const int64_t p = problem.num_equalities;
  // Carve the scratch.
  double* cursor = scratch;
  const auto take = [&cursor](int64_t count) {
    double* block = cursor;
    cursor += count;
    return block;
  };
  double* g_values = take(m * n);
  double* a = take(n * n);
  double* v = take(n * p);  // V = L^{-1} E^T, column j at v[j * n]
  double* schur = take(p * p);
  double* e = take(p * n);
  double* y = take(n);
  double* x = output;
  double* dual = take(n);
  double* rhs = take(n);
  double* dx = take(n);
  double* new_x = take(n);
  double* bound = take(m);
  double* s = take(m);
  double* z = take(m);
  double* primal = take(m);
  double* weights = take(m);
  double* complementarity = take(m);
  double* ds = take(m);
  double* dz = take(m);
  double* new_s = take(m);
  double* new_z = take(m);
  double* work = take(m);
  double* e_bound_d = take(p);
  double* nu = take(p);
  double* equality = take(p);
  double* dnu = take(p);
  double* new_nu = take(p);
  double* dependent = take(p);

  // G in compressed rows, and its lower bandwidth.
  int64_t* columns = indices;
  int64_t* starts = indices + m * n;
  int64_t nonzeros = 0;
  int64_t band = 0;
  for (int64_t r = 0; r < m; ++r) {
    starts[r] = nonzeros;
    for (int64_t c = 0; c < n; ++c) {
      const double value = static_cast<double>(g[r * n + c]);
      if (value != 0.0) {
        g_values[nonzeros] = value;
        columns[nonzeros] = c;
        ++nonzeros;
      }
    }
    if (nonzeros > starts[r]) {
      const int64_t width = columns[nonzeros - 1] - columns[starts[r]];
      band = width > band ? width : band;
    }
  }
  starts[m] = nonzeros;
  const internal::SparseRows rows = {g_values, columns, starts, m};

  double scale_target = 0.0;
  double scale_bound = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<double>(target[i]);
    scale_target = internal::Max(scale_target, fabs(y[i]));
  }
  for (int64_t r = 0; r < m; ++r) {
    bound[r] = static_cast<double>(h[r]);
    scale_bound = internal::Max(scale_bound, fabs(bound[r]));
  }
  for (int64_t k = 0; k < p * n; ++k) e[k] = static_cast<double>(e_matrix[k]);
  for (int64_t k = 0; k < p; ++k) e_bound_d[k] = static_cast<double>(e_bound[k]);
  const double threshold = problem.tolerance * (1.0 + scale_target + scale_bound);
  const double count = static_cast<double>(m > 0 ? m : 1);

  for (int64_t i = 0; i < n; ++i) x[i] = y[i];
  internal::Multiply(rows, x, work);
  for (int64_t r = 0; r < m; ++r) {
    s[r] = internal::Max(bound[r] - work[r], 1.0);
    z[r] = 1.0;
  }
  for (int64_t k = 0; k < p; ++k) nu[k] = 0.0;

  // The Newton step for complementarity target `c` (in `complementarity`):
  // fills dx, dnu, ds, dz. Uses the factors of A (in `a`) and S (in `schur`).
  const auto newton_step = [&]() {
    for (int64_t r = 0; r < m; ++r) work[r] = (z[r] * primal[r] - complementarity[r]) / s[r];
    for (int64_t i = 0; i < n; ++i) rhs[i] = 0.0;
    internal::AddTransposed(rows, work, rhs);
    for (int64_t i = 0; i < n; ++i) rhs[i] = -dual[i] - rhs[i];
    internal::ForwardSolve(a, n, band, rhs);  // u = L^{-1} rhs
    if (p > 0) {
      // S dnu = V^T u + r_e, then dx = L^{-T} (u - V dnu).
      for (int64_t j = 0; j < p; ++j) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i) sum += v[j * n + i] * rhs[i];
        dnu[j] = sum + equality[j];
      }
      internal::SemidefiniteSolve(schur, p, dependent, dnu);
      for (int64_t j = 0; j < p; ++j) {
        for (int64_t i = 0; i < n; ++i) rhs[i] -= v[j * n + i] * dnu[j];
      }
    }
    internal::BackwardSolve(a, n, band, rhs);
    for (int64_t i = 0; i < n; ++i) dx[i] = rhs[i];
    internal::Multiply(rows, dx, ds);
    for (int64_t r = 0; r < m; ++r) {
      ds[r] = -primal[r] - ds[r];
      dz[r] = (-complementarity[r] - z[r] * ds[r]) / s[r];
    }
  };

  int64_t moves = 0;
  for (int64_t iteration = 0; iteration < problem.num_iterations; ++iteration) {
    // Residuals and the stopping test.
    for (int64_t i = 0; i < n; ++i) dual[i] = x[i] - y[i];
    internal::AddTransposed(rows, z, dual);
    for (int64_t j = 0; j < p; ++j) {
      for (int64_t i = 0; i < n; ++i) dual[i] += e[j * n + i] * nu[j];
    }
    internal::Multiply(rows, x, primal);
    double mu = 0.0;
    double error = 0.0;
    for (int64_t r = 0; r < m; ++r) {
      primal[r] += s[r] - bound[r];
      mu += s[r] * z[r];
      error = internal::Max(error, fabs(primal[r]));
    }
    mu /= count;
    error = internal::Max(error, sqrt(internal::Max(mu, 0.0)));
    for (int64_t i = 0; i < n; ++i) error = internal::Max(error, fabs(dual[i]));
    internal::MultiplyDense(e, p, n, x, equality);
    for (int64_t j = 0; j < p; ++j) {
      equality[j] -= e_bound_d[j];
      error = internal::Max(error, fabs(equality[j]));
    }
    if (!(error > threshold)) break;

    // A = I + G^T W G (lower triangle), and its factor.
    for (int64_t r = 0; r < m; ++r) weights[r] = internal::Min(z[r] / s[r], kPolyhedronMaxWeight);
    for (int64_t k = 0; k < n * n; ++k) a[k] = 0.0;
    for (int64_t i = 0; i < n; ++i) a[i * n + i] = 1.0;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t k = starts[r]; k < starts[r + 1]; ++k) {
        const double scaled = weights[r] * g_values[k];
        for (int64_t l = starts[r]; l <= k; ++l) {
          a[columns[k] * n + columns[l]] += scaled * g_values[l];
        }
      }
    }
    bool finite = internal::Cholesky(a, n, band);
    if (finite && p > 0) {
      // V = L^{-1} E^T and S = V^T V.
      for (int64_t j = 0; j < p; ++j) {
        for (int64_t i = 0; i < n; ++i) v[j * n + i] = e[j * n + i];
        internal::ForwardSolve(a, n, band, v + j * n);
      }
      for (int64_t j = 0; j < p; ++j) {
        for (int64_t k = 0; k <= j; ++k) {
          double sum = 0.0;
          for (int64_t i = 0; i < n; ++i) sum += v[j * n + i] * v[k * n + i];
          schur[j * p + k] = sum;
        }
      }
      finite = internal::SemidefiniteCholesky(schur, p, dependent);
    }
    if (!finite) break;

    // Predictor (affine scaling) step.
    for (int64_t r = 0; r < m; ++r) complementarity[r] = s[r] * z[r];
    newton_step();
    double alpha = internal::Min(internal::MaxStep(s, ds, m), internal::MaxStep(z, dz, m));
    double mu_affine = 0.0;
    for (int64_t r = 0; r < m; ++r) mu_affine += (s[r] + alpha * ds[r]) * (z[r] + alpha * dz[r]);
    mu_affine /= count;
    const double ratio = mu_affine / internal::Max(mu, 1e-300);
    const double centering = ratio * ratio * ratio;
    // Corrector step.
    for (int64_t r = 0; r < m; ++r) {
      complementarity[r] = s[r] * z[r] + ds[r] * dz[r] - centering * mu;
    }
    newton_step();
    alpha = kPolyhedronStepFraction *
            internal::Min(internal::MaxStep(s, ds, m), internal::MaxStep(z, dz, m));
    for (int64_t i = 0; i < n; ++i) {
      new_x[i] = x[i] + alpha * dx[i];
      finite = finite && isfinite(new_x[i]);
    }
    for (int64_t r = 0; r < m; ++r) {
      new_s[r] = s[r] + alpha * ds[r];
      new_z[r] = z[r] + alpha * dz[r];
      finite = finite && isfinite(new_s[r]) && isfinite(new_z[r]);
    }
    for (int64_t j = 0; j < p; ++j) {
      new_nu[j] = nu[j] + alpha * dnu[j];
      finite = finite && isfinite(new_nu[j]);
    }
    if (!finite) break;
    for (int64_t i = 0; i < n; ++i) x[i] = new_x[i];
    for (int64_t r = 0; r < m; ++r) {
      s[r] = new_s[r];
      z[r] = new_z[r];
    }
    for (int64_t j = 0; j < p; ++j) nu[j] = new_nu[j];
    ++moves;
  }
  return moves;
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_POLYHEDRON_PROJECTION_H_
