// Registers TfLattice>PolyhedronProjection; see
// tf_lattice/ops/_quadratic_program.py for the problem and
// lib/polyhedron_projection.h for the algorithm.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf_lattice/ops/cc/ops/iteration_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

// target [units, N], inequality_matrix [units, M, N], inequality_bound
// [units, M], equality_matrix [units, P, N], equality_bound [units, P];
// projection [units, N].
absl::Status PolyhedronProjectionShape(InferenceContext* c) {
  ShapeHandle target, g, h, e_matrix, e_bound;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &target));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &g));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &h));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 3, &e_matrix));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 2, &e_bound));
  DimensionHandle units = c->Dim(target, 0);
  for (ShapeHandle shape : {g, h, e_matrix, e_bound}) {
    TF_RETURN_IF_ERROR(c->Merge(units, c->Dim(shape, 0), &units));
  }
  DimensionHandle size = c->Dim(target, 1);
  TF_RETURN_IF_ERROR(c->Merge(size, c->Dim(g, 2), &size));
  TF_RETURN_IF_ERROR(c->Merge(size, c->Dim(e_matrix, 2), &size));
  DimensionHandle unused;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(g, 1), c->Dim(h, 1), &unused));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(e_matrix, 1), c->Dim(e_bound, 1), &unused));
  int64_t num_iterations = 0;
  float tolerance = 0;
  TF_RETURN_IF_ERROR(ReadIterationAttrs(c, &num_iterations, &tolerance));
  c->set_output(0, c->Matrix(units, size));
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>PolyhedronProjection")
    .Input("target: T")
    .Input("inequality_matrix: T")
    .Input("inequality_bound: T")
    .Input("equality_matrix: T")
    .Input("equality_bound: T")
    .Output("projection: double")
    .Attr("num_iterations: int")
    .Attr("tolerance: float")
    .Attr("T: {float, double}")
    .SetShapeFn(PolyhedronProjectionShape)
    .Doc("Batched Euclidean projection onto polyhedra; see "
         "tf_lattice.ops._quadratic_program.project_onto_polyhedron.");

}  // namespace tf_lattice
}  // namespace tensorflow
