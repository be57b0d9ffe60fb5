// Kernel of TfLattice>AdamUpdate: the update of TensorFlow's ResourceApplyAdam
// (without Nesterov momentum), for a whole list of variables in one call, in
// the same arithmetic, so the results are the same numbers. Only a CPU kernel:
// TensorFlow's CPU kernel hands every variable of more than a few dozen
// entries to the thread pool (its cost estimate is the whole variable's, read
// as the cost of each entry), and waking the pool costs more than updating a
// small variable; here a variable is split over the pool only when
// WorthSharding says so (cpu_sharding.h). On GPUs TensorFlow's own kernel is
// used (tf_lattice.ops.adam_update chooses).
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/tensor.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"

namespace tensorflow {
namespace tf_lattice {

namespace {

// The names of the three resource lists, in input order, for messages.
constexpr const char* kResourceNames[] = {"variables", "first_moments", "second_moments"};

// Estimated cycles to update one entry: a square root, a division and a dozen
// additions and multiplications.
constexpr int64_t kCostPerEntry = 40;

// The tensor of resource input `input` (entry `index` of the list `name`),
// ready to be updated in place: as TensorFlow's training ops do, a buffer
// that a read still holds (or that sparse reads asked to keep) is first
// copied, so the update never changes a value read before it.
template <typename T>
absl::Status UpdatableTensor(OpKernelContext* context, int input, const char* name, int index,
                             Tensor* tensor) {
  core::RefCountPtr<Var> variable;
  TF_RETURN_IF_ERROR(LookupResource(context, HandleFromInput(context, input), &variable));
  mutex_lock lock(*variable->mu());
  Tensor* held = variable->tensor();
  if (!held->IsInitialized()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, "[", index, "] is not initialized"));
  }
  if (held->dtype() != DataTypeToEnum<T>::value) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, "[", index, "] holds ", DataTypeString(held->dtype()), ", not ",
        DataTypeString(DataTypeToEnum<T>::value), " as the gradients"));
  }
  if (variable->copy_on_read_mode.load() || !held->RefCountIsOne()) {
    Tensor copy;
    AllocatorAttributes attributes;
    attributes.set_gpu_compatible(true);
    attributes.set_nic_compatible(true);
    TF_RETURN_IF_ERROR(context->allocate_temp(held->dtype(), held->shape(), &copy, attributes));
    if (held->NumElements() > 0) {
      std::memcpy(copy.flat<T>().data(), held->flat<T>().data(), held->TotalBytes());
    }
    *held = copy;
  }
  *tensor = *held;
  return absl::OkStatus();
}

// The Adam update of entries [begin, end), with alpha = lr sqrt(1 - beta_2^t)
// / (1 - beta_1^t):
//   m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2);
//   w -= m alpha / (sqrt(v) + epsilon).
template <typename T>
void AdamEntries(T* weights, T* first, T* second, const T* gradient, int64_t begin, int64_t end,
                 T alpha, T beta_1, T beta_2, T epsilon) {
  const T keep_1 = T(1) - beta_1;
  const T keep_2 = T(1) - beta_2;
  for (int64_t i = begin; i < end; ++i) first[i] += (gradient[i] - first[i]) * keep_1;
  for (int64_t i = begin; i < end; ++i) {
    second[i] += (gradient[i] * gradient[i] - second[i]) * keep_2;
  }
  for (int64_t i = begin; i < end; ++i) {
    weights[i] -= (first[i] * alpha) / (std::sqrt(second[i]) + epsilon);
  }
}

}  // namespace

template <typename T>
class AdamUpdateCpuOp : public OpKernel {
 public:
  explicit AdamUpdateCpuOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("num_variables", &num_variables_));
  }

  void Compute(OpKernelContext* context) override {
    const int n = num_variables_;
    T scalars[6];
    static const char* const kScalarNames[] = {"learning_rate", "beta_1_power", "beta_2_power",
                                               "beta_1", "beta_2", "epsilon"};
    for (int k = 0; k < 6; ++k) {
      const Tensor& scalar = context->input(4 * n + k);
      OP_REQUIRES(context, TensorShapeUtils::IsScalar(scalar.shape()),
                  absl::InvalidArgumentError(absl::StrCat(
                      kScalarNames[k], " must be a scalar, got shape ",
                      scalar.shape().DebugString())));
      scalars[k] = scalar.scalar<T>()();
    }
    const T learning_rate = scalars[0], beta_1_power = scalars[1], beta_2_power = scalars[2];
    const T beta_1 = scalars[3], beta_2 = scalars[4], epsilon = scalars[5];
    const T alpha = learning_rate * std::sqrt(T(1) - beta_2_power) / (T(1) - beta_1_power);
    // Every variable is looked up and checked before any is updated, so an
    // error leaves them all as they were.
    std::vector<std::array<Tensor, 3>> tensors(n);
    for (int i = 0; i < n; ++i) {
      for (int role = 0; role < 3; ++role) {
        OP_REQUIRES_OK(context, UpdatableTensor<T>(context, role * n + i, kResourceNames[role],
                                                   i, &tensors[i][role]));
      }
      for (int role = 1; role < 3; ++role) {
        OP_REQUIRES(context, tensors[i][role].shape() == tensors[i][0].shape(),
                    absl::InvalidArgumentError(absl::StrCat(
                        kResourceNames[role], "[", i, "] has shape ",
                        tensors[i][role].shape().DebugString(), ", variables[", i, "] ",
                        tensors[i][0].shape().DebugString())));
      }
      const Tensor& gradient = context->input(3 * n + i);
      OP_REQUIRES(context, gradient.shape() == tensors[i][0].shape(),
                  absl::InvalidArgumentError(absl::StrCat(
                      "gradients[", i, "] has shape ", gradient.shape().DebugString(),
                      ", variables[", i, "] ", tensors[i][0].shape().DebugString())));
    }
    for (int i = 0; i < n; ++i) {
      T* weights = tensors[i][0].flat<T>().data();
      T* first = tensors[i][1].flat<T>().data();
      T* second = tensors[i][2].flat<T>().data();
      const T* gradient = context->input(3 * n + i).flat<T>().data();
      ForRanges(context, tensors[i][0].NumElements(), kCostPerEntry,
                [&](int64_t begin, int64_t end) {
                  AdamEntries(weights, first, second, gradient, begin, end, alpha, beta_1,
                              beta_2, epsilon);
                });
    }
  }

 private:
  int num_variables_ = 0;
};

REGISTER_KERNEL_BUILDER(
    Name("TfLattice>AdamUpdate").Device(DEVICE_CPU).TypeConstraint<float>("T"),
    AdamUpdateCpuOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("TfLattice>AdamUpdate").Device(DEVICE_CPU).TypeConstraint<double>("T"),
    AdamUpdateCpuOp<double>);

}  // namespace tf_lattice
}  // namespace tensorflow
