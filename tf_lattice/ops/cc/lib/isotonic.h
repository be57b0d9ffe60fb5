// Weighted, bounded isotonic regression of one row by pool adjacent violators.
// TF-free: compiled by g++ for the CPU kernel and by nvcc for the CUDA kernel.
#ifndef TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_
#define TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_

#include <cstdint>

#include "tf_lattice/ops/cc/lib/host_device.h"

namespace tf_lattice {

// Whether one entry is a valid input: the value is not NaN and the weight is
// positive and finite. Both kernels report the first invalid entry.
template <typename T>
TF_LATTICE_HOST_DEVICE bool IsotonicEntryValid(T value, T weight) {
  return value == value && weight > T(0) && weight - weight == T(0);
}

// Solves  min_y sum_i w_i (y_i - v_i)^2  s.t. y monotone, lower <= y_i <= upper
// for one row of `size` entries, in O(size).
//
// Pool adjacent violators on the sign-adjusted values (negated when
// decreasing): entries are pushed as blocks of (sum w v, sum w); while the
// last block's mean is below the previous block's mean, the two are merged.
// The block means of the result are then non-decreasing, and clipping them to
// [lower, upper] gives the bounded optimum. `block_sum`, `block_weight` and
// `block_end` are scratch arrays of `size` entries.
template <typename T>
TF_LATTICE_HOST_DEVICE void IsotonicRow(const T* values, const T* weights, int64_t size,
                                        bool increasing, T lower, T upper, T* block_sum,
                                        T* block_weight, int64_t* block_end, T* output) {
  const T sign = increasing ? T(1) : T(-1);
  int64_t blocks = 0;
  for (int64_t i = 0; i < size; ++i) {
    block_sum[blocks] = weights[i] * (sign * values[i]);
    block_weight[blocks] = weights[i];
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
  int64_t start = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    T value = sign * (block_sum[b] / block_weight[b]);
    value = value < lower ? lower : value;
    value = value > upper ? upper : value;
    for (int64_t i = start; i < block_end[b]; ++i) output[i] = value;
    start = block_end[b];
  }
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_ISOTONIC_H_
