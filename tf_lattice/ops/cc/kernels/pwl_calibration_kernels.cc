// CPU (and, when built with CUDA, GPU) kernels of TfLattice>PwlCalibration
// and TfLattice>PwlCalibrationGrad. The per-element math lives in
// lib/pwl_calibration.h, shared with the CUDA kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"
#include "tf_lattice/ops/cc/kernels/gpu_stream.h"
#include "tf_lattice/ops/cc/kernels/pwl_calibration_gpu.h"
#include "tf_lattice/ops/cc/lib/pwl_calibration.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using ::tf_lattice::pwl_calibration::CalibrationShape;

// Checks the shapes of inputs [batch, units], keypoints [K] or [units, K] and
// outputs [units, K] (K >= 2), and of `grad` when given.
absl::Status ValidateShapes(const Tensor& inputs, const Tensor& keypoints,
                            const Tensor& outputs, const Tensor* grad,
                            CalibrationShape* shape) {
  if (inputs.dims() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs must have shape [batch, units] (rank 2), got shape ",
        inputs.shape().DebugString()));
  }
  if (keypoints.dims() != 1 && keypoints.dims() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keypoints must have shape [K] or [units, K] (rank 1 or 2), got shape ",
        keypoints.shape().DebugString()));
  }
  if (outputs.dims() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outputs must have shape [units, K] (rank 2), got shape ",
        outputs.shape().DebugString()));
  }
  shape->batch = inputs.dim_size(0);
  shape->units = outputs.dim_size(0);
  shape->num_keypoints = outputs.dim_size(1);
  shape->keypoint_rows = keypoints.dims() == 2 ? keypoints.dim_size(0) : 1;
  if (shape->num_keypoints < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outputs must have at least 2 keypoints (K >= 2), got shape ",
        outputs.shape().DebugString()));
  }
  if (inputs.dim_size(1) != shape->units) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs has ", inputs.dim_size(1), " units (shape ",
        inputs.shape().DebugString(), ") but outputs has ", shape->units,
        " (shape ", outputs.shape().DebugString(), ")"));
  }
  if (keypoints.dims() == 2 && keypoints.dim_size(0) != shape->units) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keypoints has ", keypoints.dim_size(0), " units (shape ",
        keypoints.shape().DebugString(), ") but outputs has ", shape->units,
        " (shape ", outputs.shape().DebugString(), ")"));
  }
  if (keypoints.dim_size(keypoints.dims() - 1) != shape->num_keypoints) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keypoints has K=", keypoints.dim_size(keypoints.dims() - 1),
        " (shape ", keypoints.shape().DebugString(), ") but outputs has K=",
        shape->num_keypoints, " (shape ", outputs.shape().DebugString(), ")"));
  }
  if (grad != nullptr && grad->shape() != inputs.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grad must have the shape of inputs ", inputs.shape().DebugString(),
        ", got shape ", grad->shape().DebugString()));
  }
  return absl::OkStatus();
}

// The validated inputs of TfLattice>PwlCalibration (grad == nullptr) or of
// TfLattice>PwlCalibrationGrad.
struct CalibrationInputs {
  const Tensor* inputs = nullptr;
  const Tensor* keypoints = nullptr;
  const Tensor* outputs = nullptr;
  const Tensor* grad = nullptr;
  CalibrationShape shape;
  // Whether one keypoint row [K] serves all units.
  bool shared = false;
};

// Reads inputs 0-2 (and input 3, `grad`, when `with_grad`) of `context` and
// checks their shapes with ValidateShapes.
absl::Status ReadCalibrationInputs(OpKernelContext* context, bool with_grad,
                                   CalibrationInputs* in) {
  in->inputs = &context->input(0);
  in->keypoints = &context->input(1);
  in->outputs = &context->input(2);
  in->grad = with_grad ? &context->input(3) : nullptr;
  in->shared = in->keypoints->dims() == 1;
  return ValidateShapes(*in->inputs, *in->keypoints, *in->outputs, in->grad,
                        &in->shape);
}

// The outputs of TfLattice>PwlCalibrationGrad: gradients with respect to
// inputs, keypoints and outputs, each shaped like the tensor it belongs to.
struct CalibrationGradients {
  Tensor* inputs = nullptr;
  Tensor* keypoints = nullptr;
  Tensor* outputs = nullptr;
};

absl::Status AllocateCalibrationGradients(OpKernelContext* context,
                                          const CalibrationInputs& in,
                                          CalibrationGradients* grads) {
  TF_RETURN_IF_ERROR(
      context->allocate_output(0, in.inputs->shape(), &grads->inputs));
  TF_RETURN_IF_ERROR(
      context->allocate_output(1, in.keypoints->shape(), &grads->keypoints));
  return context->allocate_output(2, in.outputs->shape(), &grads->outputs);
}

// The error for the keypoint at flat position `flat` (row * K + index), whose
// value is `value` and whose predecessor is `previous` (unused at index 0).
template <typename T>
absl::Status InvalidKeypointError(const CalibrationShape& shape, bool shared,
                                  int64_t flat, T previous, T value) {
  const int64_t row = flat / shape.num_keypoints;
  const int64_t index = flat % shape.num_keypoints;
  const std::string where =
      shared ? absl::StrCat("index ", index)
             : absl::StrCat("unit ", row, " index ", index);
  const std::string subject =
      shared ? "keypoints (shared by all units)" : "keypoints";
  if (std::isnan(static_cast<double>(value))) {
    return absl::InvalidArgumentError(
        absl::StrCat(subject, " must not be NaN, but at ", where,
                     " keypoints[index] = nan"));
  }
  if (index > 0 && value > previous) {
    // Increasing, so the row was rejected for having no finite keypoint.
    return absl::InvalidArgumentError(absl::StrCat(
        subject, " must include a finite keypoint, but ",
        shared ? "they are" : absl::StrCat("unit ", row, " has"), " [",
        static_cast<double>(previous), ", ", static_cast<double>(value), "]"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      subject, " must be strictly increasing, but at ", where,
      " keypoints[index] = ", static_cast<double>(value),
      " is not greater than keypoints[index - 1] = ",
      static_cast<double>(previous)));
}

// Validates every keypoint row and returns its even-spacing inverse step
// (0 when the row is not evenly spaced).
template <typename T>
absl::Status AnalyzeKeypointsOnCpu(const T* keypoints,
                                   const CalibrationShape& shape, bool shared,
                                   std::vector<T>* inverse_steps) {
  namespace pwl = ::tf_lattice::pwl_calibration;
  const int64_t k = shape.num_keypoints;
  inverse_steps->resize(shape.keypoint_rows);
  for (int64_t row = 0; row < shape.keypoint_rows; ++row) {
    const T* row_keypoints = keypoints + row * k;
    const int64_t invalid = pwl::FirstInvalidKeypoint(row_keypoints, k);
    if (invalid >= 0) {
      return InvalidKeypointError<T>(
          shape, shared, row * k + invalid,
          invalid > 0 ? row_keypoints[invalid - 1] : T(0),
          row_keypoints[invalid]);
    }
    (*inverse_steps)[row] = pwl::EvenSpacingInverseStep(row_keypoints, k);
  }
  return absl::OkStatus();
}

// Reads and checks the inputs with ReadCalibrationInputs, then validates the
// keypoints and fills their per-row inverse steps on the CPU.
template <typename T>
absl::Status ReadCalibrationInputsOnCpu(OpKernelContext* context, bool with_grad,
                                        CalibrationInputs* in,
                                        std::vector<T>* inverse_steps) {
  TF_RETURN_IF_ERROR(ReadCalibrationInputs(context, with_grad, in));
  return AnalyzeKeypointsOnCpu(in->keypoints->flat<T>().data(), in->shape,
                               in->shared, inverse_steps);
}

// Rough cycles per element: a binary search of log2(K) steps plus the
// interpolation.
int64_t CostPerElement(int64_t num_keypoints) {
  int64_t steps = 1;
  while ((int64_t{1} << steps) < num_keypoints) ++steps;
  return 20 + 6 * steps;
}

// Whether a call runs on the calling thread (see WorthSharding).
bool RunsOnCallingThread(const CalibrationShape& shape) {
  return !WorthSharding(shape.batch, shape.units * CostPerElement(shape.num_keypoints));
}

template <typename T>
class PwlCalibrationCpuOp : public OpKernel {
 public:
  explicit PwlCalibrationCpuOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    CalibrationInputs in;
    std::vector<T> inverse_steps;
    OP_REQUIRES_OK(context, ReadCalibrationInputsOnCpu<T>(context, false, &in,
                                                          &inverse_steps));
    const CalibrationShape& shape = in.shape;
    const bool shared = in.shared;
    Tensor* calibrated = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, in.inputs->shape(), &calibrated));
    if (in.inputs->NumElements() == 0) return;

    const T* x = in.inputs->flat<T>().data();
    const T* keypoint_data = in.keypoints->flat<T>().data();
    const T* output_data = in.outputs->flat<T>().data();
    T* y = calibrated->flat<T>().data();
    const int64_t units = shape.units;
    const int64_t k = shape.num_keypoints;
    auto calibrate_rows = [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        for (int64_t u = 0; u < units; ++u) {
          const int64_t row = shared ? 0 : u;
          y[b * units + u] = ::tf_lattice::pwl_calibration::Calibrate(
              keypoint_data + row * k, output_data + u * k, k, x[b * units + u],
              inverse_steps[row]);
        }
      }
    };
    ForRanges(context, shape.batch, units * CostPerElement(k), calibrate_rows);
  }
};

template <typename T>
class PwlCalibrationGradCpuOp : public OpKernel {
 public:
  explicit PwlCalibrationGradCpuOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    CalibrationInputs in;
    std::vector<T> inverse_steps;
    OP_REQUIRES_OK(context, ReadCalibrationInputsOnCpu<T>(context, true, &in,
                                                          &inverse_steps));
    const CalibrationShape& shape = in.shape;
    const bool shared = in.shared;
    CalibrationGradients grads;
    OP_REQUIRES_OK(context, AllocateCalibrationGradients(context, in, &grads));

    const int64_t units = shape.units;
    const int64_t k = shape.num_keypoints;
    const int64_t keypoint_size = shape.keypoint_rows * k;
    const int64_t output_size = units * k;
    const int64_t shard_size = keypoint_size + output_size;

    // Contiguous row ranges, each accumulating into its own buffer of
    // keypoint and output gradients; the buffers are summed once at the end.
    auto* workers = context->device()->tensorflow_cpu_worker_threads();
    const int64_t cost_per_row = units * (CostPerElement(k) + 10);
    // A shard pays about two operations per buffer entry (zeroing and the
    // final sum) and tens per element, so it needs at least shard_size / 8
    // elements to be worth its buffer.
    const int64_t min_rows_per_shard =
        std::max<int64_t>(1, shard_size / (8 * std::max<int64_t>(units, 1)));
    int64_t num_shards = std::min<int64_t>(
        std::max(1, workers->num_threads),
        std::max<int64_t>(1, shape.batch / min_rows_per_shard));
    if (RunsOnCallingThread(shape)) num_shards = 1;
    const int64_t rows_per_shard =
        shape.batch == 0 ? 0 : (shape.batch + num_shards - 1) / num_shards;
    Tensor buffers;
    OP_REQUIRES_OK(context, context->allocate_temp(
                                DataTypeToEnum<T>::value,
                                TensorShape({num_shards, shard_size}), &buffers));
    T* buffer_data = buffers.flat<T>().data();
    std::fill(buffer_data, buffer_data + num_shards * shard_size, T(0));

    const T* x = in.inputs->flat<T>().data();
    const T* g = in.grad->flat<T>().data();
    const T* keypoint_data = in.keypoints->flat<T>().data();
    const T* output_data = in.outputs->flat<T>().data();
    T* dx = grads.inputs->flat<T>().data();
    auto accumulate_shards = [&](int64_t first_shard, int64_t end_shard) {
      for (int64_t s = first_shard; s < end_shard; ++s) {
        T* d_keypoints = buffer_data + s * shard_size;
        T* d_outputs = d_keypoints + keypoint_size;
        const int64_t end = std::min(shape.batch, (s + 1) * rows_per_shard);
        for (int64_t b = s * rows_per_shard; b < end; ++b) {
          for (int64_t u = 0; u < units; ++u) {
            const int64_t row = shared ? 0 : u;
            const int64_t e = b * units + u;
            const auto element = ::tf_lattice::pwl_calibration::CalibrateGradient(
                keypoint_data + row * k, output_data + u * k, k, x[e],
                inverse_steps[row], g[e]);
            dx[e] = element.input;
            T* unit_outputs = d_outputs + u * k + element.segment;
            unit_outputs[0] += element.output_low;
            unit_outputs[1] += element.output_high;
            T* row_keypoints = d_keypoints + row * k + element.segment;
            row_keypoints[0] += element.keypoint_low;
            row_keypoints[1] += element.keypoint_high;
          }
        }
      }
    };
    if (num_shards == 1) {
      accumulate_shards(0, 1);
    } else if (shape.batch > 0) {
      workers->workers->ParallelFor(num_shards, rows_per_shard * cost_per_row,
                                    accumulate_shards);
    }

    T* d_keypoints = grads.keypoints->flat<T>().data();
    T* d_outputs = grads.outputs->flat<T>().data();
    for (int64_t j = 0; j < shard_size; ++j) {
      T total = T(0);
      for (int64_t s = 0; s < num_shards; ++s) total += buffer_data[s * shard_size + j];
      if (j < keypoint_size) {
        d_keypoints[j] = total;
      } else {
        d_outputs[j - keypoint_size] = total;
      }
    }
  }
};

#define TF_LATTICE_REGISTER_CPU(T)                                        \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>PwlCalibration")                \
                              .Device(DEVICE_CPU)                         \
                              .TypeConstraint<T>("T"),                    \
                          PwlCalibrationCpuOp<T>);                        \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>PwlCalibrationGrad")            \
                              .Device(DEVICE_CPU)                         \
                              .TypeConstraint<T>("T"),                    \
                          PwlCalibrationGradCpuOp<T>);
TF_LATTICE_REGISTER_CPU(float)
TF_LATTICE_REGISTER_CPU(double)
#undef TF_LATTICE_REGISTER_CPU

#if TF_LATTICE_WITH_CUDA

// Validates the keypoints on the device and fills the per-row inverse steps.
template <typename T>
absl::Status AnalyzeKeypointsOnGpu(OpKernelContext* context,
                                   const Tensor& keypoints,
                                   const CalibrationShape& shape,
                                   Tensor* inverse_steps) {
  TF_RETURN_IF_ERROR(context->allocate_temp(DataTypeToEnum<T>::value,
                                            TensorShape({shape.keypoint_rows}),
                                            inverse_steps));
  Tensor scratch;
  TF_RETURN_IF_ERROR(
      context->allocate_temp(DT_INT64, TensorShape({1}), &scratch));
  int64_t first_invalid = -1;
  T invalid_values[2] = {T(0), T(0)};
  const std::string error =
      ::tf_lattice::pwl_calibration::LaunchAnalyzeKeypoints<T>(
          GpuStream(context), keypoints.flat<T>().data(), shape,
          inverse_steps->flat<T>().data(),
          reinterpret_cast<unsigned long long*>(scratch.flat<int64_t>().data()),
          &first_invalid, invalid_values);
  if (!error.empty()) {
    return absl::InternalError(absl::StrCat("CUDA error: ", error));
  }
  if (first_invalid >= 0) {
    return InvalidKeypointError<T>(shape, keypoints.dims() == 1, first_invalid,
                                   invalid_values[0], invalid_values[1]);
  }
  return absl::OkStatus();
}

// Reads and checks the inputs with ReadCalibrationInputs, then validates the
// keypoints and fills their per-row inverse steps on the device.
template <typename T>
absl::Status ReadCalibrationInputsOnGpu(OpKernelContext* context, bool with_grad,
                                        CalibrationInputs* in,
                                        Tensor* inverse_steps) {
  TF_RETURN_IF_ERROR(ReadCalibrationInputs(context, with_grad, in));
  return AnalyzeKeypointsOnGpu<T>(context, *in->keypoints, in->shape,
                                  inverse_steps);
}

template <typename T>
class PwlCalibrationGpuOp : public OpKernel {
 public:
  explicit PwlCalibrationGpuOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    CalibrationInputs in;
    Tensor inverse_steps;
    OP_REQUIRES_OK(context, ReadCalibrationInputsOnGpu<T>(context, false, &in,
                                                          &inverse_steps));
    Tensor* calibrated = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, in.inputs->shape(), &calibrated));
    const std::string error = ::tf_lattice::pwl_calibration::LaunchCalibrate<T>(
        GpuStream(context), in.inputs->flat<T>().data(),
        in.keypoints->flat<T>().data(), in.outputs->flat<T>().data(),
        inverse_steps.flat<T>().data(), in.shape,
        calibrated->flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("CUDA error: ", error)));
  }
};

template <typename T>
class PwlCalibrationGradGpuOp : public OpKernel {
 public:
  explicit PwlCalibrationGradGpuOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    CalibrationInputs in;
    Tensor inverse_steps;
    OP_REQUIRES_OK(context, ReadCalibrationInputsOnGpu<T>(context, true, &in,
                                                          &inverse_steps));
    CalibrationGradients grads;
    OP_REQUIRES_OK(context, AllocateCalibrationGradients(context, in, &grads));
    const std::string error =
        ::tf_lattice::pwl_calibration::LaunchCalibrateGradient<T>(
            GpuStream(context), in.inputs->flat<T>().data(),
            in.keypoints->flat<T>().data(), in.outputs->flat<T>().data(),
            inverse_steps.flat<T>().data(), in.grad->flat<T>().data(),
            in.shape, grads.inputs->flat<T>().data(),
            grads.keypoints->flat<T>().data(), grads.outputs->flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("CUDA error: ", error)));
  }
};

#define TF_LATTICE_REGISTER_GPU(T)                                        \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>PwlCalibration")                \
                              .Device(DEVICE_GPU)                         \
                              .TypeConstraint<T>("T"),                    \
                          PwlCalibrationGpuOp<T>);                        \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>PwlCalibrationGrad")            \
                              .Device(DEVICE_GPU)                         \
                              .TypeConstraint<T>("T"),                    \
                          PwlCalibrationGradGpuOp<T>);
TF_LATTICE_REGISTER_GPU(float)
TF_LATTICE_REGISTER_GPU(double)
#undef TF_LATTICE_REGISTER_GPU

#endif  // TF_LATTICE_WITH_CUDA

}  // namespace
}  // namespace tf_lattice
}  // namespace tensorflow
