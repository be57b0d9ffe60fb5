// Isotonic regression: the one implementation behind every kernel that
// projects values onto a chain (the calibrator's isotonic projection and the
// chain families of the lattice projection, on the CPU and the GPU).
// TF-free: compiled by g++ for the CPU kernels and by nvcc for the CUDA ones.
//
// For values v_1..v_n with positive weights w_i, the isotonic regression is
//
//   P(v) = argmin_y sum_i w_i (y_i - v_i)^2  s.t.  y_1 <= y_2 <= ... <= y_n,
//
// computed by pool adjacent violators (PoolAdjacentViolators): entries are
// pushed as blocks (sum w v, sum w); while the last block's mean is below
// the previous block's, the two merge. The final block means are
// non-decreasing, also in floating point (each is the very quotient that the
// merge test compared), and P(v)_i is the mean of i's block. O(n).
//
// Unweighted chains of a fixed short length M are evaluated branch-free by
// the equivalent max-min formula (IsotonicShortChain),
//
//   P(v)_i = max_{j <= i} min_{k >= i} mean(v_j, ..., v_k),
//
// which vectorizes across the CPU's lanes and does not diverge across GPU
// threads; its results are non-decreasing in floating point too (the sets of
// means nest) and agree with pooling up to rounding.
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

// Pool adjacent violators on `size` entries: entry i has value sign * v[i]
// and weight w[i] (1 for every entry when w is null). Leaves the blocks in
// block_sum (sum of w * sign * v), block_weight (sum of w), block_mean
// (block_sum / block_weight) and block_end (one past the block's last
// entry), each with room for `size` entries, and returns their number. The
// block means are non-decreasing: each is computed once, when its block is
// formed, and merging compares exactly these values.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t PoolAdjacentViolators(const T* v, const T* w, int64_t size,
                                                     T sign, T* block_sum, T* block_weight,
                                                     T* block_mean, int64_t* block_end) {
  int64_t blocks = 0;
  for (int64_t i = 0; i < size; ++i) {
    // The new block, merged with the blocks before it while their mean is
    // above its mean; then pushed.
    const T value = sign * v[i];
    T weight = w == nullptr ? T(1) : w[i];
    T sum = weight * value;
    T mean = value;  // the mean of one entry is its value
    while (blocks > 0 && block_mean[blocks - 1] > mean) {
      --blocks;
      sum = block_sum[blocks] + sum;
      weight = block_weight[blocks] + weight;
      mean = sum / weight;
    }
    block_sum[blocks] = sum;
    block_weight[blocks] = weight;
    block_mean[blocks] = mean;
    block_end[blocks] = i + 1;
    ++blocks;
  }
  return blocks;
}

// Unweighted isotonic regression of y[0..size) in place (non-decreasing);
// the scratch arrays hold `size` entries each.
template <typename T>
TF_LATTICE_HOST_DEVICE void IsotonicInPlace(T* y, int64_t size, T* block_sum, T* block_weight,
                                            T* block_mean, int64_t* block_end) {
  const int64_t blocks =
      PoolAdjacentViolators(y, static_cast<const T*>(nullptr), size, T(1), block_sum,
                            block_weight, block_mean, block_end);
  int64_t start = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t i = start; i < block_end[b]; ++i) y[i] = block_mean[b];
    start = block_end[b];
  }
}

// Solves  min_y sum_i w_i (y_i - v_i)^2  s.t. y monotone, lower <= y_i <= upper
// for one row of `size` entries, in O(size): pool adjacent violators on the
// values (negated when decreasing), then the block means clipped to
// [lower, upper], which is the bounded optimum. A row whose values or weights
// pass 2^IsotonicSafeExponent is solved with them scaled down by powers of
// two (exact; the means scale with the values and do not depend on the
// weights' scale), so that no block sum overflows. `block_sum`,
// `block_weight`, `block_mean` and `block_end` are scratch arrays of `size`
// entries.
template <typename T>
TF_LATTICE_HOST_DEVICE void IsotonicRow(const T* values, const T* weights, int64_t size,
                                        bool increasing, T lower, T upper, T* block_sum,
                                        T* block_weight, T* block_mean, int64_t* block_end,
                                        T* output) {
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
  // The weights, scaled, are written to the output first (it is overwritten
  // by the block means below, after the last read).
  for (int64_t i = 0; i < size; ++i) output[i] = weights[i] * weight_scale;
  const int64_t blocks = PoolAdjacentViolators(values, output, size, sign, block_sum,
                                               block_weight, block_mean, block_end);
  const T unsign = increasing ? T(1) : T(-1);
  int64_t start = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    T value = ScaleByPowerOfTwo(unsign * block_mean[b], value_shift);
    value = value < lower ? lower : value;
    value = value > upper ? upper : value;
    for (int64_t i = start; i < block_end[b]; ++i) output[i] = value;
    start = block_end[b];
  }
}

// Unweighted isotonic regression of y[0..M) in place by the max-min formula
// (see the top of this file): P(y)_i is the max over j <= i of
// s_j(i) = min_{k >= i} mean(y_j..y_k), each s_j a suffix minimum. For M = 2
// it is the pair pooled when it decreases: (min(y0, m), max(y1, m)) with
// m = (y0 + y1) / 2. Loops have fixed bounds, so that the compiler unrolls
// them and the caller's loop over chains vectorizes.
template <typename T, int M>
TF_LATTICE_INLINE_ALWAYS void IsotonicShortChain(T* y) {
  if constexpr (M == 2) {
    const T mean = (y[0] + y[1]) / T(2);
    const T low = y[0] < mean ? y[0] : mean;
    const T high = y[1] > mean ? y[1] : mean;
    y[0] = low;
    y[1] = high;
  } else {
    T result[M];
    TF_LATTICE_UNROLL
    for (int j = 0; j < M; ++j) {
      T mean[M];  // mean[k] = mean(y_j..y_k), k >= j
      T sum = y[j];
      mean[j] = sum;
      TF_LATTICE_UNROLL
      for (int k = j + 1; k < M; ++k) {
        sum += y[k];
        mean[k] = sum / static_cast<T>(k - j + 1);
      }
      T suffix_min = mean[M - 1];
      TF_LATTICE_UNROLL
      for (int k = M - 1; k >= j; --k) {
        suffix_min = mean[k] < suffix_min ? mean[k] : suffix_min;
        result[k] = j == 0 ? suffix_min : (result[k] > suffix_min ? result[k] : suffix_min);
      }
    }
    TF_LATTICE_UNROLL
    for (int i = 0; i < M; ++i) y[i] = result[i];
  }
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_
