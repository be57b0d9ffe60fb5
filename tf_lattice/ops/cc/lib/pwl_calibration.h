// Per-element math of piecewise-linear calibration, shared by the CPU loop
// (g++) and the CUDA kernels (nvcc). No TensorFlow header.
//
// One unit's function has keypoints k_0 < ... < k_{K-1} and outputs
// o_0 ... o_{K-1}. For k_i <= x <= k_{i+1}:
//   y = o_i + (o_{i+1} - o_i) * (x - k_i) / (k_{i+1} - k_i),
// y = o_0 below k_0 and y = o_{K-1} above k_{K-1}. The segment i is the floor
// segment (k_i <= x < k_{i+1}), except that x == k_{K-1} uses the last
// segment; derivatives are those of the segment used, and d/dx is zero
// outside [k_0, k_{K-1}].
//
// Infinite and far-apart keypoints. Only k_0 = -inf and k_{K-1} = +inf can be
// infinite (the keypoints increase strictly), and at least one keypoint must
// be finite. A segment with an infinite end is flat at its finite end (the
// limit of the formula as that end runs off): y = o_1 for finite x < k_1
// when k_0 = -inf, y = o_{K-2} for finite x > k_{K-2} when k_{K-1} = +inf,
// and y = o_0, o_{K-1} at x = -inf, +inf themselves. A segment whose width
// k_{i+1} - k_i overflows is interpolated with every term halved (exact in
// binary floating point), so it gives the formula's value, not NaN.
#ifndef TF_LATTICE_OPS_CC_LIB_PWL_CALIBRATION_H_
#define TF_LATTICE_OPS_CC_LIB_PWL_CALIBRATION_H_

#include <cstdint>

#include "tf_lattice/ops/cc/lib/host_device.h"

namespace tf_lattice {
namespace pwl_calibration {

// True for finite v (x - x is NaN for infinities and NaN).
template <typename T>
TF_LATTICE_HOST_DEVICE bool IsFinite(T v) {
  return v - v == T(0);
}

// Index (1..K-1) of the first keypoint that is NaN or not greater than its
// predecessor (k_0 itself is reported as index 0 when NaN), or K - 1 when no
// keypoint is finite (k_0 = -inf, k_1 = +inf); -1 if the keypoints are valid.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t FirstInvalidKeypoint(const T* keypoints,
                                                    int64_t num_keypoints) {
  if (!(keypoints[0] == keypoints[0])) return 0;
  bool has_finite = IsFinite(keypoints[0]);
  for (int64_t i = 1; i < num_keypoints; ++i) {
    if (!(keypoints[i] > keypoints[i - 1])) return i;
    has_finite = has_finite || IsFinite(keypoints[i]);
  }
  return has_finite ? -1 : num_keypoints - 1;
}

// 1 / spacing when the keypoints are evenly spaced to within a fraction of a
// segment (so that the O(1) guess is at most one segment off), else 0.
template <typename T>
TF_LATTICE_HOST_DEVICE T EvenSpacingInverseStep(const T* keypoints,
                                                int64_t num_keypoints) {
  const int64_t segments = num_keypoints - 1;
  const T step = (keypoints[segments] - keypoints[0]) / T(segments);
  if (!(step > T(0))) return T(0);
  const T tolerance = step / T(4 * segments + 4);
  for (int64_t i = 1; i <= segments; ++i) {
    const T expected = keypoints[0] + step * T(i);
    const T error = keypoints[i] - expected;
    if (error > tolerance || -error > tolerance) return T(0);
  }
  return T(1) / step;
}

// The number of the n >= 1 increasing values that are <= x (0 for NaN x),
// by a branch-free binary search: every value before `first` is <= x and the
// count exceeds (first - values) by at most n.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t CountKeypointsAtOrBelow(const T* values, int64_t n, T x) {
  const T* first = values;
  while (n > 1) {
    const int64_t half = n / 2;
    first = first[half] <= x ? first + half : first;
    n -= half;
  }
  return (first - values) + (first[0] <= x ? 1 : 0);
}

// The segment 0..K-2 whose left keypoint is the last one <= x (clipped to the
// valid range; NaN x gives 0). O(1) when inverse_step > 0 (evenly spaced
// keypoints, the guess is then corrected against the keypoints themselves so
// the result is exactly that of the binary search), else O(log K).
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t FindSegment(const T* keypoints,
                                           int64_t num_keypoints, T x,
                                           T inverse_step) {
  const int64_t last = num_keypoints - 2;
  if (!(x >= keypoints[1])) return 0;  // Below k_1, or NaN.
  if (x >= keypoints[last]) return last;
  if (inverse_step > T(0)) {
    int64_t guess = static_cast<int64_t>((x - keypoints[0]) * inverse_step);
    guess = guess < 0 ? 0 : (guess > last ? last : guess);
    while (guess > 0 && x < keypoints[guess]) --guess;
    while (guess < last && x >= keypoints[guess + 1]) ++guess;
    return guess;
  }
  return CountKeypointsAtOrBelow(keypoints + 1, last, x);
}

// (x - k_lo) / (k_hi - k_lo) for x in the segment [k_lo, k_hi], with the
// limits of the header comment where an end is infinite (x == k_lo gives 0,
// x == k_hi gives 1, any other x the finite end; NaN stays NaN) and halved
// terms where the width overflows.
template <typename T>
TF_LATTICE_HOST_DEVICE T SegmentFraction(T k_lo, T k_hi, T x) {
  const T width = k_hi - k_lo;
  if (IsFinite(width)) return (x - k_lo) / width;
  const T finite_x = x == x ? T(1) : x;  // 1, or NaN for NaN x.
  if (!IsFinite(k_lo)) return x == k_lo ? T(0) : finite_x;
  if (!IsFinite(k_hi)) return x == k_hi ? T(1) : finite_x - T(1);
  const T half = T(0.5);
  return (x * half - k_lo * half) / (k_hi * half - k_lo * half);
}

// rise / (k_hi - k_lo), the slope of a segment: 0 for a segment with an
// infinite end, computed with halved terms where the width overflows.
template <typename T>
TF_LATTICE_HOST_DEVICE T SegmentSlope(T k_lo, T k_hi, T rise) {
  const T width = k_hi - k_lo;
  if (IsFinite(width)) return rise / width;
  if (!IsFinite(k_lo) || !IsFinite(k_hi)) return T(0);
  const T half = T(0.5);
  return (rise * half) / (k_hi * half - k_lo * half);
}

// Where x lies among the keypoints: below k_0 (segment -1), above k_{K-1}
// (segment K - 1), or in segment i (FindSegment) at `fraction` along it
// (SegmentFraction). The value (PointValue) and the outputs' gradients
// ((1 - fraction, fraction) inside, all to o_0 or o_{K-1} outside) follow
// from it, so a caller that needs both searches once.
template <typename T>
struct KeypointPosition {
  int64_t segment;
  T fraction;
};

template <typename T>
TF_LATTICE_HOST_DEVICE KeypointPosition<T> LocateAmongKeypoints(const T* keypoints,
                                                                int64_t num_keypoints, T x,
                                                                T inverse_step) {
  if (x < keypoints[0]) return {-1, T(0)};
  if (x > keypoints[num_keypoints - 1]) return {num_keypoints - 1, T(1)};
  const int64_t i = FindSegment(keypoints, num_keypoints, x, inverse_step);
  return {i, SegmentFraction(keypoints[i], keypoints[i + 1], x)};
}

// y at a position found by LocateAmongKeypoints.
template <typename T>
TF_LATTICE_HOST_DEVICE T PointValue(const T* outputs, int64_t num_keypoints,
                                    KeypointPosition<T> position) {
  const int64_t i = position.segment;
  if (i < 0) return outputs[0];
  if (i == num_keypoints - 1) return outputs[num_keypoints - 1];
  const T fraction = position.fraction;
  const T rise = outputs[i + 1] - outputs[i];
  // Outputs of opposite signs near the dtype's limit: a rise that overflows
  // is not used, so finite outputs give a finite result.
  if (!IsFinite(rise)) return (T(1) - fraction) * outputs[i] + fraction * outputs[i + 1];
  return outputs[i] + rise * fraction;
}

// y for one element.
template <typename T>
TF_LATTICE_HOST_DEVICE T Calibrate(const T* keypoints, const T* outputs,
                                   int64_t num_keypoints, T x,
                                   T inverse_step) {
  return PointValue(outputs, num_keypoints,
                    LocateAmongKeypoints(keypoints, num_keypoints, x, inverse_step));
}

// Gradients of one element, given the upstream gradient: d/dx and the
// contributions to the two keypoints and two outputs of segment `segment`.
template <typename T>
struct ElementGradient {
  int64_t segment;
  T input;
  T keypoint_low;
  T keypoint_high;
  T output_low;
  T output_high;
};

template <typename T>
TF_LATTICE_HOST_DEVICE ElementGradient<T> CalibrateGradient(
    const T* keypoints, const T* outputs, int64_t num_keypoints, T x,
    T inverse_step, T upstream) {
  ElementGradient<T> g = {0, T(0), T(0), T(0), T(0), T(0)};
  if (x < keypoints[0]) {
    g.output_low = upstream;
    return g;
  }
  if (x > keypoints[num_keypoints - 1]) {
    g.segment = num_keypoints - 2;
    g.output_high = upstream;
    return g;
  }
  const int64_t i = FindSegment(keypoints, num_keypoints, x, inverse_step);
  const T rise = outputs[i + 1] - outputs[i];
  const T fraction = SegmentFraction(keypoints[i], keypoints[i + 1], x);
  const T slope = SegmentSlope(keypoints[i], keypoints[i + 1], rise);
  g.segment = i;
  g.input = upstream * slope;
  g.output_low = upstream * (T(1) - fraction);
  g.output_high = upstream * fraction;
  // dy/dk_i = slope * (fraction - 1), dy/dk_{i+1} = -slope * fraction.
  g.keypoint_low = upstream * slope * (fraction - T(1));
  g.keypoint_high = -upstream * slope * fraction;
  return g;
}

}  // namespace pwl_calibration
}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_PWL_CALIBRATION_H_
