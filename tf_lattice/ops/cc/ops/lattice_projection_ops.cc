// Registers TfLattice>LatticeProjection and TfLattice>LatticeProjectionSets;
// see tf_lattice/ops/lattice_projection.py for the algorithm and the tables
// (lattice_projection.kernel_tables).
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_tables.h"
#include "tf_lattice/ops/cc/ops/iteration_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;
using ::tf_lattice::kNumProjectionTables;
using ::tf_lattice::kProjectionTableFormats;

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

// Checks the attrs of both ops.
absl::Status CheckAttrs(InferenceContext* c) {
  int64_t num_iterations = 0;
  float tolerance = 0;
  return ReadIterationAttrs(c, &num_iterations, &tolerance);
}

// TfLattice>LatticeProjection: params, then one set of tables.
absl::Status LatticeProjectionShape(InferenceContext* c) {
  ShapeHandle params;
  TF_RETURN_IF_ERROR(CheckTable(c, 0, "params", 2, -1, &params));
  for (int t = 0; t < kNumProjectionTables; ++t) {
    const auto& table = kProjectionTableFormats[t];
    TF_RETURN_IF_ERROR(CheckTable(c, 1 + t, table.name, table.rank, table.last));
  }
  TF_RETURN_IF_ERROR(CheckAttrs(c));
  c->set_output(0, params);
  return absl::OkStatus();
}

// TfLattice>LatticeProjectionSets: params, unit_offsets, then each table as
// a list of N tensors (input 2 + t * N + s is table t of set s).
absl::Status LatticeProjectionSetsShape(InferenceContext* c) {
  ShapeHandle params;
  TF_RETURN_IF_ERROR(CheckTable(c, 0, "params", 2, -1, &params));
  int64_t num_sets = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("N", &num_sets));
  TF_RETURN_IF_ERROR(CheckTable(c, 1, "unit_offsets", 1, num_sets + 1));
  for (int t = 0; t < kNumProjectionTables; ++t) {
    const auto& table = kProjectionTableFormats[t];
    for (int64_t s = 0; s < num_sets; ++s) {
      const std::string name = absl::StrCat(table.name, "[", s, "]");
      TF_RETURN_IF_ERROR(CheckTable(c, static_cast<int>(2 + t * num_sets + s), name.c_str(),
                                    table.rank, table.last));
    }
  }
  TF_RETURN_IF_ERROR(CheckAttrs(c));
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

// Several constraint sets in one call: the units of set s are the params rows
// unit_offsets[s] .. unit_offsets[s + 1] - 1, projected with table s of each
// list. family_names holds every set's names in order, family_counts[s] of
// them for set s (both empty: no names).
REGISTER_OP("TfLattice>LatticeProjectionSets")
    .Input("params: T")
    .Input("unit_offsets: int64")
    .Input("chain_index: N * int64")
    .Input("chain_families: N * int64")
    .Input("halfspace_index: N * int64")
    .Input("halfspace_coef: N * T")
    .Input("halfspace_groups: N * int64")
    .Input("row_index: N * int64")
    .Input("row_coef: N * T")
    .Input("row_offsets: N * int64")
    .Input("row_family: N * int64")
    .Input("interior_direction: N * double")
    .Input("interior_margin: N * double")
    .Input("bounds: N * T")
    .Output("projected: T")
    .Attr("N: int >= 1")
    .Attr("num_iterations: int")
    .Attr("tolerance: float")
    .Attr("family_names: list(string) = []")
    .Attr("family_counts: list(int) = []")
    .Attr("T: {float, double}")
    .SetShapeFn(LatticeProjectionSetsShape)
    .Doc("Lattice projection of several constraint sets; see "
         "tf_lattice.ops.lattice_projection.");

}  // namespace tf_lattice
}  // namespace tensorflow
