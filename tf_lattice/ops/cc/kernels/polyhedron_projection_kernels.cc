// CPU kernel of TfLattice>PolyhedronProjection: checks the inputs, then
// projects the units in parallel over TensorFlow's thread pool, each with
// ProjectOntoPolyhedron from lib/polyhedron_projection.h. There is no GPU
// kernel: the Python wrapper places the op on the CPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/threadpool.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"
#include "tf_lattice/ops/cc/lib/polyhedron_projection.h"
#include "tf_lattice/ops/cc/ops/iteration_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using ::tf_lattice::PolyhedronProblem;

enum Input { kTarget = 0, kInequalityMatrix, kInequalityBound, kEqualityMatrix, kEqualityBound };

absl::Status ShapeError(const char* name, const std::string& expected, const Tensor& tensor) {
  return absl::InvalidArgumentError(absl::StrCat(name, " must have shape ", expected, ", got ",
                                                 tensor.shape().DebugString()));
}

// Checks ranks and that every dimension agrees with target's and with the
// matrices'; returns the sizes.
absl::Status CheckShapes(OpKernelContext* context, PolyhedronProblem* problem) {
  const Tensor& target = context->input(kTarget);
  const Tensor& g = context->input(kInequalityMatrix);
  const Tensor& h = context->input(kInequalityBound);
  const Tensor& e_matrix = context->input(kEqualityMatrix);
  const Tensor& e_bound = context->input(kEqualityBound);
  if (target.dims() != 2) return ShapeError("target", "[units, N]", target);
  const int64_t units = target.dim_size(0);
  const int64_t n = target.dim_size(1);
  if (g.dims() != 3 || g.dim_size(0) != units || g.dim_size(2) != n) {
    return ShapeError("inequality_matrix", absl::StrCat("[units, M, N] = [", units, ", M, ", n,
                                                        "] to match target"), g);
  }
  const int64_t m = g.dim_size(1);
  if (h.dims() != 2 || h.dim_size(0) != units || h.dim_size(1) != m) {
    return ShapeError("inequality_bound",
                      absl::StrCat("[units, M] = [", units, ", ", m, "] to match "
                                   "inequality_matrix"), h);
  }
  if (e_matrix.dims() != 3 || e_matrix.dim_size(0) != units || e_matrix.dim_size(2) != n) {
    return ShapeError("equality_matrix", absl::StrCat("[units, P, N] = [", units, ", P, ", n,
                                                      "] to match target"), e_matrix);
  }
  const int64_t p = e_matrix.dim_size(1);
  if (e_bound.dims() != 2 || e_bound.dim_size(0) != units || e_bound.dim_size(1) != p) {
    return ShapeError("equality_bound",
                      absl::StrCat("[units, P] = [", units, ", ", p, "] to match "
                                   "equality_matrix"), e_bound);
  }
  problem->size = n;
  problem->num_inequalities = m;
  problem->num_equalities = p;
  return absl::OkStatus();
}

// Fails on the first non-finite entry of `tensor`, naming its unit and index.
template <typename T>
absl::Status CheckFinite(const char* name, const Tensor& tensor) {
  const auto values = tensor.flat<T>();
  const int64_t per_unit = tensor.dim_size(0) > 0 ? values.size() / tensor.dim_size(0) : 0;
  for (int64_t k = 0; k < values.size(); ++k) {
    if (std::isfinite(values(k))) continue;
    const int64_t unit = k / per_unit;
    int64_t rest = k % per_unit;
    std::string index;
    for (int d = 1; d < tensor.dims(); ++d) {
      int64_t stride = 1;
      for (int later = d + 1; later < tensor.dims(); ++later) stride *= tensor.dim_size(later);
      absl::StrAppend(&index, d > 1 ? ", " : "", rest / stride);
      rest %= stride;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be finite; unit ", unit, " has ", values(k), " at [", unit, ", ", index,
        "]"));
  }
  return absl::OkStatus();
}

template <typename T>
class PolyhedronProjectionCpuOp : public OpKernel {
 public:
  explicit PolyhedronProjectionCpuOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, ReadIterationAttrs(context, &num_iterations_, &tolerance_));
  }

  void Compute(OpKernelContext* context) override {
    PolyhedronProblem problem;
    OP_REQUIRES_OK(context, CheckShapes(context, &problem));
    problem.num_iterations = num_iterations_;
    problem.tolerance = tolerance_;
    static constexpr const char* kNames[] = {"target", "inequality_matrix", "inequality_bound",
                                             "equality_matrix", "equality_bound"};
    for (int input = kTarget; input <= kEqualityBound; ++input) {
      OP_REQUIRES_OK(context, CheckFinite<T>(kNames[input], context->input(input)));
    }
    const Tensor& target = context->input(kTarget);
    const int64_t units = target.dim_size(0);
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, target.shape(), &output));
    if (units == 0 || problem.size == 0) return;

    const int64_t n = problem.size;
    const int64_t m = problem.num_inequalities;
    const int64_t p = problem.num_equalities;
    const T* y = target.flat<T>().data();
    const T* g = context->input(kInequalityMatrix).flat<T>().data();
    const T* h = context->input(kInequalityBound).flat<T>().data();
    const T* e_matrix = context->input(kEqualityMatrix).flat<T>().data();
    const T* e_bound = context->input(kEqualityBound).flat<T>().data();
    double* out = output->flat<double>().data();
    const auto project_range = [&](int64_t begin, int64_t end) {
      std::vector<double> scratch(::tf_lattice::PolyhedronScratchDoubles(problem));
      std::vector<int64_t> indices(::tf_lattice::PolyhedronScratchIndices(problem));
      for (int64_t u = begin; u < end; ++u) {
        ::tf_lattice::ProjectOntoPolyhedron(problem, y + u * n, g + u * m * n, h + u * m,
                                            e_matrix + u * p * n, e_bound + u * p,
                                            scratch.data(), indices.data(), out + u * n);
      }
    };
    // Per iteration: forming and factoring A (at most m n^2 + n^3 / 3 for
    // dense G, far less for banded G), a few passes over G; iterations usually
    // stop well before the limit.
    const int64_t iterations = std::min<int64_t>(num_iterations_, 25);
    const int64_t cost = std::max<int64_t>(
        1, iterations * (4 * m * n + n * n * std::min<int64_t>(n, 8) + 2 * p * n * n));
    ForRanges(context, units, cost, project_range);
  }

 private:
  int64_t num_iterations_ = 0;
  float tolerance_ = 0;
};

#define TF_LATTICE_REGISTER_CPU(T)                                                          \
  REGISTER_KERNEL_BUILDER(                                                                  \
      Name("TfLattice>PolyhedronProjection").Device(DEVICE_CPU).TypeConstraint<T>("T"),     \
      PolyhedronProjectionCpuOp<T>);
TF_LATTICE_REGISTER_CPU(float);
TF_LATTICE_REGISTER_CPU(double);
#undef TF_LATTICE_REGISTER_CPU

}  // namespace
}  // namespace tf_lattice
}  // namespace tensorflow
