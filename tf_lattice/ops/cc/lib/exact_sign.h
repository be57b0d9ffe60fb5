// Exact sign of a short sum of doubles, the arithmetic behind the lattice
// projection's exact feasibility checks (lattice_finalize.h). TF-free: only
// host_device.h and <math.h>.
//
// A constraint row sum_t c_t x_t >= 0 has at most kMaxSignTerms terms with
// c_t in {0, +-1, +-2} and x_t a float or double, so every product
// c_t x_t is exact in double. Its sum s = sum_t a_t is evaluated in two
// stages:
//
// 1. Filter: the rounded sum s~ (left to right) satisfies
//      |s~ - s| <= (n - 1) u sum_t |a_t|,   u = 2^-53,
//    so sign(s~) is sign(s) once |s~| exceeds that bound. The bound used is
//    8 n u sum|a_t|, which also covers the rounding of sum|a_t| itself.
// 2. Otherwise the sum is turned into a non-overlapping expansion
//    e_1 + ... + e_m = s, exactly, by Knuth's TwoSum: for doubles q and e,
//      s = q + e,  b = s - q,  a = s - b,  err = (q - a) + (e - b)
//    gives s + err = q + e exactly (round to nearest, no overflow); the
//    sign of s is that of the expansion's last nonzero component (the one of
//    largest magnitude).
//
// Both stages use only IEEE additions in double, so the sign is the same on
// every device (the CUDA sources are compiled without fused multiply-adds).
#ifndef TF_LATTICE_OPS_CC_LIB_EXACT_SIGN_H_
#define TF_LATTICE_OPS_CC_LIB_EXACT_SIGN_H_

#include <math.h>

#include "tf_lattice/ops/cc/lib/host_device.h"

namespace tf_lattice {

// Most terms ExactSign accepts.
constexpr int kMaxSignTerms = 4;

// Sign (-1, 0, 1) of the exact sum of terms[0..n), n <= kMaxSignTerms.
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
  double expansion[kMaxSignTerms];
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

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_EXACT_SIGN_H_
