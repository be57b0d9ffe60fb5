// The compiled constraint program of the lattice projection and the small
// helpers every stage of it uses. TF-free: only host_device.h,
// power_of_two.h, <math.h>, <cstdint> and <limits>.
//
// A unit's vertex values x0 [V] are projected onto a compiled constraint
// program (see tf_lattice/ops/_lattice_constraints.py and
// tf_lattice/ops/lattice_projection.py, whose pure-TF twin runs the same
// arithmetic), in three stages, each in a header of its own:
//
// * lattice_dykstra.h: Dykstra's alternating projections onto the program's
//   P projections (F chain families, each chain by isotonic regression,
//   lib/isotonic.h; G half-space groups; the box [low, high] when a bound is
//   finite), one code for the CPU and the GPU, templated on the memory
//   layout of the values.
// * lattice_finalize.h: the exact repair of Dykstra's result, with the exact
//   signs of lib/exact_sign.h.
// * Scale: a unit whose largest |x0| passes 2^SafeExponent is projected
//   scaled down by a power of two (exact) and scaled back, so that sums of
//   values near the dtype's limit cannot overflow (LoadLanes and
//   FinalizeLane, lattice_dykstra.h).
//
// The tables are checked once, by lattice_projection_checks.h, before any of
// this runs, on every device.
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

// A compiled constraint program. Tables as produced by
// lattice_projection.kernel_tables, in host memory for the checks and the
// Dykstra plan on both devices; the GPU kernel reads a copy whose pointers
// are on the device (LaunchLatticeProjection).
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

// The power of two (as its exponent, >= 0) that a unit is scaled down by:
// 0 unless max |x0| passes 2^SafeExponent.
template <typename T>
TF_LATTICE_HOST_DEVICE int DownscaleExponent(const T* x0, int64_t n) {
  return DownscaleExponentOf(MaxAbs(x0, n), SafeExponent<T>());
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_H_
