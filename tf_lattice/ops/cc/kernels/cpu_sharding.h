// When the CPU kernels hand their work to TensorFlow's thread pool. Only
// compiled by g++.
#ifndef TF_LATTICE_OPS_CC_KERNELS_CPU_SHARDING_H_
#define TF_LATTICE_OPS_CC_KERNELS_CPU_SHARDING_H_

#include <cstdint>
#include <utility>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/platform/threadpool.h"

namespace tensorflow {
namespace tf_lattice {

// Work estimated below this many cycles runs on the calling thread: waking
// the pool's threads and waiting for them costs tens of microseconds, more
// than they save on smaller work. Measured on 2 cores of an Intel Xeon:
// calibrating 256 x 16 elements at 10 keypoints (estimated 180k cycles) took
// half the time on one thread as on two, 1,000 x 16 (704k) about the same;
// the gradient of 6 rank-3 unit-cell lattices at 32 rows took 10 us on one
// thread and 78 us when split in two, 28 of them at 1,024 rows (487k) took
// the same time either way, 32 rank-4 ones at 1,024 rows (917k) half the
// time on two.
constexpr int64_t kMinParallelCost = int64_t{1} << 19;

// Whether `count` items of `cost_per_item` estimated cycles each are worth
// sharding over the pool (see kMinParallelCost).
inline bool WorthSharding(int64_t count, int64_t cost_per_item) {
  return count > 1 && count * cost_per_item >= kMinParallelCost;
}

// Runs work(begin, end) over [0, count): sharded by the pool when
// WorthSharding, else on the calling thread in one call.
template <typename Work>
void ForRanges(OpKernelContext* context, int64_t count, int64_t cost_per_item, Work&& work) {
  if (!WorthSharding(count, cost_per_item)) {
    if (count > 0) work(int64_t{0}, count);
    return;
  }
  context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
      count, cost_per_item, std::forward<Work>(work));
}

}  // namespace tf_lattice
}  // namespace tensorflow

#endif  // TF_LATTICE_OPS_CC_KERNELS_CPU_SHARDING_H_
