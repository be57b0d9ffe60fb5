// Exact scaling by powers of two, shared by the projections that scale rows
// with values near the dtype's limit down before summing them. TF-free:
// only host_device.h and <math.h>.
#ifndef TF_LATTICE_OPS_CC_LIB_POWER_OF_TWO_H_
#define TF_LATTICE_OPS_CC_LIB_POWER_OF_TWO_H_

#include <math.h>

#include "tf_lattice/ops/cc/lib/host_device.h"

namespace tf_lattice {

// x * 2^e, exact unless it overflows or underflows.
TF_LATTICE_HOST_DEVICE float ScaleByPowerOfTwo(float x, int e) { return ldexpf(x, e); }
TF_LATTICE_HOST_DEVICE double ScaleByPowerOfTwo(double x, int e) { return ldexp(x, e); }

// The e with x = f 2^e, f in [0.5, 1) (0 for x = 0).
TF_LATTICE_HOST_DEVICE int BinaryExponent(float x) {
  int e = 0;
  frexpf(x, &e);
  return e;
}
TF_LATTICE_HOST_DEVICE int BinaryExponent(double x) {
  int e = 0;
  frexp(x, &e);
  return e;
}

// The e >= 0 by which a value of magnitude `largest` is scaled down (by 2^-e)
// so that it is at most 2^safe_exponent: 0 when it already is, and for an
// infinite or NaN `largest`.
template <typename T>
TF_LATTICE_HOST_DEVICE int DownscaleExponentOf(T largest, int safe_exponent) {
  if (!(largest - largest == T(0))) return 0;
  const int exponent = BinaryExponent(largest);
  return exponent > safe_exponent ? exponent - safe_exponent : 0;
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_POWER_OF_TWO_H_
