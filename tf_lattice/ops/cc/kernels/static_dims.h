// Dispatch of a run-time lattice rank to a compile-time constant, so that the
// CPU loops over a small lattice's dimensions and corners unroll. Only
// compiled by g++.
#ifndef TF_LATTICE_OPS_CC_KERNELS_STATIC_DIMS_H_
#define TF_LATTICE_OPS_CC_KERNELS_STATIC_DIMS_H_

#include <type_traits>

namespace tensorflow {
namespace tf_lattice {

// Calls run(std::integral_constant<int, d>()) for 1 <= d <= kMaxDims, else
// run(std::integral_constant<int, 0>()) (the rank read at run time).
template <int kMaxDims, typename Run>
void WithStaticDims(int d, Run&& run) {
  if constexpr (kMaxDims == 0) {
    run(std::integral_constant<int, 0>());
  } else if (d == kMaxDims) {
    run(std::integral_constant<int, kMaxDims>());
  } else {
    WithStaticDims<kMaxDims - 1>(d, run);
  }
}

}  // namespace tf_lattice
}  // namespace tensorflow

#endif  // TF_LATTICE_OPS_CC_KERNELS_STATIC_DIMS_H_
