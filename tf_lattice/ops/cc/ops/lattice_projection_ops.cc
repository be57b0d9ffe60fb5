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

// Checks that input `index` has rank `rank` and, where given, a last
// dimension of `last`.
absl::Status CheckTable(InferenceContext* c, int index, int rank, int64_t last) {
  ShapeHandle shape;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(index), rank, &shape));
  if (last >= 0) {
    DimensionHandle unused;
    TF_RETURN_IF_ERROR(c->WithValue(c->Dim(shape, rank - 1), last, &unused));
  }
  return absl::OkStatus();
}

absl::Status LatticeProjectionShape(InferenceContext* c) {
  ShapeHandle params;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &params));
  TF_RETURN_IF_ERROR(CheckTable(c, 1, 1, -1));   // chain_index
  TF_RETURN_IF_ERROR(CheckTable(c, 2, 2, 3));    // chain_families
  TF_RETURN_IF_ERROR(CheckTable(c, 3, 2, 4));    // halfspace_index
  TF_RETURN_IF_ERROR(CheckTable(c, 4, 2, 4));    // halfspace_coef
  TF_RETURN_IF_ERROR(CheckTable(c, 5, 1, -1));   // halfspace_groups
  TF_RETURN_IF_ERROR(CheckTable(c, 6, 2, 4));    // row_index
  TF_RETURN_IF_ERROR(CheckTable(c, 7, 2, 4));    // row_coef
  TF_RETURN_IF_ERROR(CheckTable(c, 8, 1, -1));   // row_offsets
  TF_RETURN_IF_ERROR(CheckTable(c, 9, 1, -1));   // interior_direction
  TF_RETURN_IF_ERROR(CheckTable(c, 10, 0, -1));  // interior_margin
  TF_RETURN_IF_ERROR(CheckTable(c, 11, 1, 2));   // bounds
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
    .Input("interior_direction: double")
    .Input("interior_margin: double")
    .Input("bounds: T")
    .Output("projected: T")
    .Attr("num_iterations: int")
    .Attr("tolerance: float")
    .Attr("T: {float, double}")
    .SetShapeFn(LatticeProjectionShape)
    .Doc("Lattice shape-constraint projection; see tf_lattice.ops.lattice_projection.");

}  // namespace tf_lattice
}  // namespace tensorflow
