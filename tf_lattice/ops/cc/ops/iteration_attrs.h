// The attrs of the iterative projection ops (TfLattice>LatticeProjection,
// TfLattice>LatticeProjectionSets, TfLattice>PolyhedronProjection), read and
// checked by one function for their shape functions and their kernels.
#ifndef TF_LATTICE_OPS_CC_OPS_ITERATION_ATTRS_H_
#define TF_LATTICE_OPS_CC_OPS_ITERATION_ATTRS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/platform/errors.h"

namespace tensorflow {
namespace tf_lattice {

// Reads num_iterations (>= 0) and tolerance (>= 0, not NaN) from `context`:
// an InferenceContext when a graph is built, an OpKernelConstruction when a
// kernel is. Returns InvalidArgument, naming the attr and its value, when
// either is out of range.
template <typename Context>
absl::Status ReadIterationAttrs(Context* context, int64_t* num_iterations, float* tolerance) {
  TF_RETURN_IF_ERROR(context->GetAttr("num_iterations", num_iterations));
  if (*num_iterations < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_iterations must be >= 0, got ", *num_iterations));
  }
  TF_RETURN_IF_ERROR(context->GetAttr("tolerance", tolerance));
  if (!(*tolerance >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("tolerance must be >= 0, got ", *tolerance));
  }
  return absl::OkStatus();
}

}  // namespace tf_lattice
}  // namespace tensorflow

#endif  // TF_LATTICE_OPS_CC_OPS_ITERATION_ATTRS_H_
