// Registers TfLattice>LatticeProjection; see tf_lattice/ops/lattice_projection.py
// for the algorithm and the tables (lattice_projection.kernel_tables).
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

// Checks that input `index` (named `name`) has rank `rank` and, where given,
// a last dimension of `last`; the error names the input. Sets *shape, when
// given, to the input's shape with that rank.
absl::Status CheckTable(InferenceContext* c, int index, const char* name, int rank,
                        int64_t last, ShapeHandle* shape_out = nullptr) {
  ShapeHandle shape;
  if (!c->WithRank(c->input(index), rank, &shape).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must have rank ", rank, ", got shape ", c->DebugString(c->input(index))));
  }
  if (last >= 0) {
    DimensionHandle unused;
    if (!c->WithValue(c->Dim(shape, rank - 1), last, &unused).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(name, " must have ", last,
                                                     " entries in its last dimension, got shape ",
                                                     c->DebugString(shape)));
    }
  }
  if (shape_out != nullptr) *shape_out = shape;
  return absl::OkStatus();
}

absl::Status LatticeProjectionShape(InferenceContext* c) {
  ShapeHandle params;
  TF_RETURN_IF_ERROR(CheckTable(c, 0, "params", 2, -1, &params));
  TF_RETURN_IF_ERROR(CheckTable(c, 1, "chain_index", 1, -1));
  TF_RETURN_IF_ERROR(CheckTable(c, 2, "chain_families", 2, 3));
  TF_RETURN_IF_ERROR(CheckTable(c, 3, "halfspace_index", 2, 4));
  TF_RETURN_IF_ERROR(CheckTable(c, 4, "halfspace_coef", 2, 4));
  TF_RETURN_IF_ERROR(CheckTable(c, 5, "halfspace_groups", 1, -1));
  TF_RETURN_IF_ERROR(CheckTable(c, 6, "row_index", 2, 4));
  TF_RETURN_IF_ERROR(CheckTable(c, 7, "row_coef", 2, 4));
  TF_RETURN_IF_ERROR(CheckTable(c, 8, "row_offsets", 1, -1));
  TF_RETURN_IF_ERROR(CheckTable(c, 9, "row_family", 1, -1));
  TF_RETURN_IF_ERROR(CheckTable(c, 10, "interior_direction", 1, -1));
  TF_RETURN_IF_ERROR(CheckTable(c, 11, "interior_margin", 0, -1));
  TF_RETURN_IF_ERROR(CheckTable(c, 12, "bounds", 1, 2));
  int64_t num_iterations = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("num_iterations", &num_iterations));
  if (num_iterations < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_iterations must be >= 0, got ", num_iterations));
  }
  float tolerance = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("tolerance", &tolerance));
  if (!(tolerance >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("tolerance must be >= 0, got ", tolerance));
  }
  c->set_output(0, params);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>LatticeProjection")
    .Input("params: T")
    .Input("chain_index: int64")
    .Input("chain_families: int64")
    .Input("halfspace_index: int64")
    .Input("halfspace_coef: T")
    .Input("halfspace_groups: int64")
    .Input("row_index: int64")
    .Input("row_coef: T")
    .Input("row_offsets: int64")
    .Input("row_family: int64")
    .Input("interior_direction: double")
    .Input("interior_margin: double")
    .Input("bounds: T")
    .Output("projected: T")
    .Attr("num_iterations: int")
    .Attr("tolerance: float")
    .Attr("family_names: list(string) = []")
    .Attr("T: {float, double}")
    .SetShapeFn(LatticeProjectionShape)
    .Doc("Lattice shape-constraint projection; see tf_lattice.ops.lattice_projection.");

}  // namespace tf_lattice
}  // namespace tensorflow
