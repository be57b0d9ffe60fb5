// Kernels of TfLattice>IsotonicProjection: the CPU kernel splits units over
// TensorFlow's thread pool; the GPU kernel (CUDA builds) runs one thread per
// unit. Both call IsotonicRow from lib/isotonic.h.
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tf_lattice/ops/cc/kernels/gpu_stream.h"
#include "tf_lattice/ops/cc/lib/isotonic.h"

#if TF_LATTICE_WITH_CUDA
#include "tf_lattice/ops/cc/kernels/isotonic_projection_gpu.h"
#endif

namespace tensorflow {
namespace tf_lattice {

namespace {

// Checks ranks and shapes shared by the CPU and GPU kernels.
absl::Status CheckShapes(OpKernelContext* context) {
  const Tensor& values = context->input(0);
  const Tensor& weights = context->input(1);
  const Tensor& increasing = context->input(2);
  if (values.dims() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "values must have shape [units, K], got ", values.shape().DebugString()));
  }
  if (weights.shape() != values.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weights must have the shape of values ", values.shape().DebugString(),
        ", got ", weights.shape().DebugString()));
  }
  if (!(increasing.dims() == 1 && increasing.dim_size(0) == values.dim_size(0))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "increasing must have shape [units] = [", values.dim_size(0), "], got ",
        increasing.shape().DebugString()));
  }
  if (!(context->input(3).dims() == 0 && context->input(4).dims() == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lower and upper must be scalars, got ", context->input(3).shape().DebugString(),
        " and ", context->input(4).shape().DebugString()));
  }
  return absl::OkStatus();
}

}  // namespace

template <typename T>
class IsotonicProjectionCpuOp : public OpKernel {
 public:
  explicit IsotonicProjectionCpuOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    OP_REQUIRES_OK(context, CheckShapes(context));
    const Tensor& values_tensor = context->input(0);
    const int64_t units = values_tensor.dim_size(0);
    const int64_t size = values_tensor.dim_size(1);
    const T* values = values_tensor.flat<T>().data();
    const T* weights = context->input(1).flat<T>().data();
    const bool* increasing = context->input(2).flat<bool>().data();
    const T lower = context->input(3).scalar<T>()();
    const T upper = context->input(4).scalar<T>()();
    OP_REQUIRES(context, !(lower > upper),
                absl::InvalidArgumentError(absl::StrCat(
                    "lower must not exceed upper, got lower=", lower, " > upper=", upper)));
    for (int64_t unit = 0; unit < units; ++unit) {
      for (int64_t i = 0; i < size; ++i) {
        const T value = values[unit * size + i];
        const T weight = weights[unit * size + i];
        OP_REQUIRES(context, !std::isnan(value),
                    absl::InvalidArgumentError(absl::StrCat(
                        "values contain NaN in unit ", unit, " at index ", i)));
        OP_REQUIRES(context, weight > T(0) && std::isfinite(weight),
                    absl::InvalidArgumentError(absl::StrCat(
                        "weights must be positive and finite; unit ", unit, " has weight ",
                        weight, " at index ", i)));
      }
    }
    Tensor* output_tensor = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, values_tensor.shape(), &output_tensor));
    T* output = output_tensor->flat<T>().data();
    auto work = [&](int64_t begin, int64_t end) {
      std::vector<T> block_sum(size), block_weight(size);
      std::vector<int64_t> block_end(size);
      for (int64_t unit = begin; unit < end; ++unit) {
        const int64_t offset = unit * size;
        ::tf_lattice::IsotonicRow(values + offset, weights + offset, size, increasing[unit],
                                  lower, upper, block_sum.data(), block_weight.data(),
                                  block_end.data(), output + offset);
      }
    };
    // Pool adjacent violators costs a few dozen operations per entry.
    context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        units, 40 * size + 20, work);
  }
};

// Registers `KERNEL<float>` and `KERNEL<double>` on `DEVICE`.
#define TF_LATTICE_REGISTER_ISOTONIC(DEVICE, KERNEL)                                  \
  REGISTER_KERNEL_BUILDER(                                                            \
      Name("TfLattice>IsotonicProjection").Device(DEVICE).TypeConstraint<float>("T"),  \
      KERNEL<float>);                                                                 \
  REGISTER_KERNEL_BUILDER(                                                            \
      Name("TfLattice>IsotonicProjection").Device(DEVICE).TypeConstraint<double>("T"), \
      KERNEL<double>)

TF_LATTICE_REGISTER_ISOTONIC(DEVICE_CPU, IsotonicProjectionCpuOp);

#if TF_LATTICE_WITH_CUDA
// The GPU kernel checks shapes; the value and weight checks (NaN, positivity)
// are done by the Python wrapper before the op for GPU placement.
template <typename T>
class IsotonicProjectionGpuOp : public OpKernel {
 public:
  explicit IsotonicProjectionGpuOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    OP_REQUIRES_OK(context, CheckShapes(context));
    const Tensor& values = context->input(0);
    const int64_t units = values.dim_size(0);
    const int64_t size = values.dim_size(1);
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, values.shape(), &output));
    if (units == 0 || size == 0) return;
    Tensor block_sum, block_weight, block_end;
    OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                   values.shape(), &block_sum));
    OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                   values.shape(), &block_weight));
    OP_REQUIRES_OK(context, context->allocate_temp(DT_INT64, values.shape(), &block_end));
    const std::string error = ::tf_lattice::LaunchIsotonicProjection<T>(
        GpuStream(context), values.flat<T>().data(), context->input(1).flat<T>().data(),
        context->input(2).flat<bool>().data(), context->input(3).flat<T>().data(),
        context->input(4).flat<T>().data(), units, size, block_sum.flat<T>().data(),
        block_weight.flat<T>().data(), block_end.flat<int64_t>().data(),
        output->flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("isotonic projection CUDA launch: ", error)));
  }
};

TF_LATTICE_REGISTER_ISOTONIC(DEVICE_GPU, IsotonicProjectionGpuOp);
#endif  // TF_LATTICE_WITH_CUDA

#undef TF_LATTICE_REGISTER_ISOTONIC

}  // namespace tf_lattice
}  // namespace tensorflow
