// The attrs of TfLattice>LatticeInterpolation and its gradient op (and the
// lattice sizes of TfLattice>CalibratedEnsemble), read and checked by one
// function for their shape functions and their kernels.
#ifndef TF_LATTICE_OPS_CC_OPS_LATTICE_ATTRS_H_
#define TF_LATTICE_OPS_CC_OPS_LATTICE_ATTRS_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow/core/platform/errors.h"
#include "tf_lattice/ops/cc/lib/lattice_interpolation.h"

namespace tensorflow {
namespace tf_lattice {

// Reads lattice_sizes from `context` (an InferenceContext when a graph is
// built, an OpKernelConstruction when a kernel is) and sets `num_vertices` =
// prod(lattice_sizes). lattice_sizes must name 1 to kMaxLatticeDims
// dimensions, each of at least 2 vertices, with fewer than 2^63 vertices in
// all. Returns InvalidArgument, naming the attr and its value, otherwise.
template <typename Context>
absl::Status ReadLatticeSizes(Context* context, std::vector<int64_t>* sizes,
                              int64_t* num_vertices) {
  TF_RETURN_IF_ERROR(context->GetAttr("lattice_sizes", sizes));
  if (sizes->empty()) {
    return absl::InvalidArgumentError("lattice_sizes must name at least one dimension, got []");
  }
  if (sizes->size() > static_cast<size_t>(::tf_lattice::kMaxLatticeDims)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lattice_sizes has ", sizes->size(), " dimensions, more than the ",
        ::tf_lattice::kMaxLatticeDims, " an int64 vertex index allows"));
  }
  int64_t vertices = 1;
  for (size_t k = 0; k < sizes->size(); ++k) {
    const int64_t size = (*sizes)[k];
    if (size < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lattice_sizes[", k, "] must be at least 2, got ", size, " in [",
          absl::StrJoin(*sizes, ", "), "]"));
    }
    if (vertices > std::numeric_limits<int64_t>::max() / size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lattice_sizes [", absl::StrJoin(*sizes, ", "),
          "] have more vertices than an int64 index can address"));
    }
    vertices *= size;
  }
  *num_vertices = vertices;
  return absl::OkStatus();
}

// ReadLatticeSizes, then interpolation, which must be "hypercube" or
// "simplex".
template <typename Context>
absl::Status ReadLatticeAttrs(Context* context, std::vector<int64_t>* sizes,
                              int64_t* num_vertices, std::string* interpolation) {
  TF_RETURN_IF_ERROR(ReadLatticeSizes(context, sizes, num_vertices));
  TF_RETURN_IF_ERROR(context->GetAttr("interpolation", interpolation));
  if (*interpolation != "hypercube" && *interpolation != "simplex") {
    return absl::InvalidArgumentError(absl::StrCat(
        "interpolation must be 'hypercube' or 'simplex', got '", *interpolation, "'"));
  }
  return absl::OkStatus();
}

}  // namespace tf_lattice
}  // namespace tensorflow

#endif  // TF_LATTICE_OPS_CC_OPS_LATTICE_ATTRS_H_
