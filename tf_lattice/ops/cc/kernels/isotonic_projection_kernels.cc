// Kernels of TfLattice>IsotonicProjection: the CPU kernel splits units over
// TensorFlow's thread pool; the GPU kernel (CUDA builds) runs one thread per
// unit. Both call IsotonicRow from lib/isotonic.h, after the same host-side
// checks (CheckInputs): shapes, the bounds and every entry.
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"
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

// The first entry (flat index, -1 if none) that fails IsotonicEntryValid,
// with its value and weight.
template <typename T>
struct InvalidEntry {
  int64_t index = -1;
  T value = T(0);
  T weight = T(0);
};

// The error for an invalid entry of a [units, size] input.
template <typename T>
absl::Status InvalidEntryError(const InvalidEntry<T>& entry, int64_t size) {
  const int64_t unit = entry.index / size;
  const int64_t i = entry.index % size;
  if (std::isnan(static_cast<double>(entry.value))) {
    return absl::InvalidArgumentError(
        absl::StrCat("values contain NaN in unit ", unit, " at index ", i));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "weights must be positive and finite; unit ", unit, " has weight ",
      static_cast<double>(entry.weight), " at index ", i));
}

// Every check of both kernels, run on the host: shapes, then the bounds
// (host memory on both devices), then the entries. `find_invalid(&entry)`
// searches the entries on the kernel's device and returns its status.
template <typename T, typename FindInvalid>
absl::Status CheckInputs(OpKernelContext* context, FindInvalid find_invalid) {
  TF_RETURN_IF_ERROR(CheckShapes(context));
  const T lower = context->input(3).scalar<T>()();
  const T upper = context->input(4).scalar<T>()();
  if (!(lower <= upper)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lower must not exceed upper (nor be NaN), got lower=", static_cast<double>(lower),
        ", upper=", static_cast<double>(upper)));
  }
  InvalidEntry<T> entry;
  TF_RETURN_IF_ERROR(find_invalid(&entry));
  if (entry.index >= 0) return InvalidEntryError(entry, context->input(0).dim_size(1));
  return absl::OkStatus();
}

}  // namespace

template <typename T>
class IsotonicProjectionCpuOp : public OpKernel {
 public:
  explicit IsotonicProjectionCpuOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& values_tensor = context->input(0);
    const T* values = values_tensor.flat<T>().data();
    const T* weights = context->input(1).flat<T>().data();
    OP_REQUIRES_OK(context, CheckInputs<T>(context, [&](InvalidEntry<T>* entry) {
                     const int64_t count = values_tensor.NumElements();
                     for (int64_t i = 0; i < count; ++i) {
                       if (!::tf_lattice::IsotonicEntryValid(values[i], weights[i])) {
                         *entry = {i, values[i], weights[i]};
                         break;
                       }
                     }
                     return absl::OkStatus();
                   }));
    const int64_t units = values_tensor.dim_size(0);
    const int64_t size = values_tensor.dim_size(1);
    const bool* increasing = context->input(2).flat<bool>().data();
    const T lower = context->input(3).scalar<T>()();
    const T upper = context->input(4).scalar<T>()();
    Tensor* output_tensor = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, values_tensor.shape(), &output_tensor));
    T* output = output_tensor->flat<T>().data();
    auto work = [&](int64_t begin, int64_t end) {
      std::vector<T> block_sum(size), block_weight(size), block_mean(size);
      std::vector<int64_t> block_end(size);
      for (int64_t unit = begin; unit < end; ++unit) {
        const int64_t offset = unit * size;
        ::tf_lattice::IsotonicRow(values + offset, weights + offset, size, increasing[unit],
                                  lower, upper, block_sum.data(), block_weight.data(),
                                  block_mean.data(), block_end.data(), output + offset);
      }
    };
    // Pool adjacent violators costs a few dozen operations per entry.
    ForRanges(context, units, 40 * size + 20, work);
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
// Runs the CPU kernel's checks: the entries are searched on the device, the
// bounds read from host memory.
template <typename T>
class IsotonicProjectionGpuOp : public OpKernel {
 public:
  explicit IsotonicProjectionGpuOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& values = context->input(0);
    OP_REQUIRES_OK(context, CheckInputs<T>(context, [&](InvalidEntry<T>* entry) {
                     Tensor scratch;
                     TF_RETURN_IF_ERROR(
                         context->allocate_temp(DT_INT64, TensorShape({1}), &scratch));
                     const std::string error = ::tf_lattice::LaunchFindInvalidIsotonicEntry<T>(
                         GpuStream(context), values.flat<T>().data(),
                         context->input(1).flat<T>().data(), values.NumElements(),
                         reinterpret_cast<unsigned long long*>(scratch.flat<int64_t>().data()),
                         &entry->index, &entry->value, &entry->weight);
                     if (!error.empty()) {
                       return absl::InternalError(
                           absl::StrCat("isotonic projection input check on the GPU: ", error));
                     }
                     return absl::OkStatus();
                   }));
    const int64_t units = values.dim_size(0);
    const int64_t size = values.dim_size(1);
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, values.shape(), &output));
    if (units == 0 || size == 0) return;
    Tensor block_sum, block_weight, block_mean, block_end;
    OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                   values.shape(), &block_sum));
    OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                   values.shape(), &block_weight));
    OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                   values.shape(), &block_mean));
    OP_REQUIRES_OK(context, context->allocate_temp(DT_INT64, values.shape(), &block_end));
    const std::string error = ::tf_lattice::LaunchIsotonicProjection<T>(
        GpuStream(context), values.flat<T>().data(), context->input(1).flat<T>().data(),
        context->input(2).flat<bool>().data(), context->input(3).scalar<T>()(),
        context->input(4).scalar<T>()(), units, size, block_sum.flat<T>().data(),
        block_weight.flat<T>().data(), block_mean.flat<T>().data(),
        block_end.flat<int64_t>().data(),
        output->flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("isotonic projection CUDA launch: ", error)));
  }
};

// lower and upper are read on the host by the checks and passed by value.
#define TF_LATTICE_REGISTER_ISOTONIC_GPU(T)                      \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>IsotonicProjection")    \
                              .Device(DEVICE_GPU)                 \
                              .TypeConstraint<T>("T")             \
                              .HostMemory("lower")                \
                              .HostMemory("upper"),               \
                          IsotonicProjectionGpuOp<T>)
TF_LATTICE_REGISTER_ISOTONIC_GPU(float);
TF_LATTICE_REGISTER_ISOTONIC_GPU(double);
#undef TF_LATTICE_REGISTER_ISOTONIC_GPU
#endif  // TF_LATTICE_WITH_CUDA

#undef TF_LATTICE_REGISTER_ISOTONIC

}  // namespace tf_lattice
}  // namespace tensorflow
