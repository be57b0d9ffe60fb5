// Weighted, bounded isotonic regression of one row by pool adjacent violators.
// TF-free: compiled by g++ for the CPU kernel and by nvcc for the CUDA kernel.
#ifndef TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_
#define TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_

#include <cstdint>

#include "tf_lattice/ops/cc/lib/host_device.h"
#include "tf_lattice/ops/cc/lib/power_of_two.h"

namespace tf_lattice {

// Whether one entry is a valid input: the value is not NaN and the weight is
// positive and finite. Both kernels report the first invalid entry.
template <typename T>
TF_LATTICE_HOST_DEVICE bool IsotonicEntryValid(T value, T weight) {
  return value == value && weight > T(0) && weight - weight == T(0);
}

// Values and weights up to 2^IsotonicSafeExponent are used as they are:
// their products, summed over up to 2^40 entries, stay finite.
template <typename T>
TF_LATTICE_HOST_DEVICE int IsotonicSafeExponent() {
  return sizeof(T) == sizeof(float) ? 40 : 400;
}

// Solves  min_y sum_i w_i (y_i - v_i)^2  s.t. y monotone, lower <= y_i <= upper
// for one row of `size` entries, in O(size).
//
// Pool adjacent violators on the sign-adjusted values (negated when
// decreasing): entries are pushed as blocks of (sum w v, sum w); while the
// last block's mean is below the previous block's mean, the two are merged.
// The block means of the result are then non-decreasing, and clipping them to
// [lower, upper] gives the bounded optimum. A row whose values or weights
// pass 2^IsotonicSafeExponent is solved with them scaled down by powers of two
// (exact; the means scale with the values and do not depend on the weights'
// scale), so that no block sum overflows. `block_sum`, `block_weight` and
// `block_end` are scratch arrays of `size` entries.
template <typename T>
TF_LATTICE_HOST_DEVICE void IsotonicRow(const T* values, const T* weights, int64_t size,
                                        bool increasing, T lower, T upper, T* block_sum,
                                        T* block_weight, int64_t* block_end, T* output) {
  T largest_value = T(0);
  T largest_weight = T(0);
  for (int64_t i = 0; i < size; ++i) {
    const T magnitude = values[i] < T(0) ? -values[i] : values[i];
    largest_value = magnitude > largest_value ? magnitude : largest_value;
    largest_weight = weights[i] > largest_weight ? weights[i] : largest_weight;
  }
  const int value_shift = DownscaleExponentOf(largest_value, IsotonicSafeExponent<T>());
  const int weight_shift = DownscaleExponentOf(largest_weight, IsotonicSafeExponent<T>());
  const T sign = ScaleByPowerOfTwo(increasing ? T(1) : T(-1), -value_shift);
  const T weight_scale = ScaleByPowerOfTwo(T(1), -weight_shift);
  int64_t blocks = 0;
  for (int64_t i = 0; i < size; ++i) {
    const T weight = weights[i] * weight_scale;
    block_sum[blocks] = weight * (sign * values[i]);
    block_weight[blocks] = weight;
    block_end[blocks] = i + 1;
    ++blocks;
    while (blocks > 1 && block_sum[blocks - 2] / block_weight[blocks - 2] >
                             block_sum[blocks - 1] / block_weight[blocks - 1]) {
      block_sum[blocks - 2] += block_sum[blocks - 1];
      block_weight[blocks - 2] += block_weight[blocks - 1];
      block_end[blocks - 2] = block_end[blocks - 1];
      --blocks;
    }
  }
  const T unsign = increasing ? T(1) : T(-1);
  int64_t start = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    T value = ScaleByPowerOfTwo(unsign * (block_sum[b] / block_weight[b]), value_shift);
    value = value < lower ? lower : value;
    value = value > upper ? upper : value;
    for (int64_t i = start; i < block_end[b]; ++i) output[i] = value;
    start = block_end[b];
  }
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_
