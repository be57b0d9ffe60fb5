// Op registration of the weighted, bounded isotonic projection.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tensorflow {
namespace tf_lattice {

using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

// values and weights: [units, K]; increasing: [units]; lower, upper: scalars.
absl::Status IsotonicProjectionShapeFn(InferenceContext* c) {
  ShapeHandle values;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &values));
  ShapeHandle weights;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &weights));
  TF_RETURN_IF_ERROR(c->Merge(values, weights, &values));
  ShapeHandle increasing;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &increasing));
  ShapeHandle unused;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 0, &unused));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 0, &unused));
  shape_inference::DimensionHandle units;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(values, 0), c->Dim(increasing, 0), &units));
  c->set_output(0, values);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>IsotonicProjection")
    .Attr("T: {float, double}")
    .Input("values: T")
    .Input("weights: T")
    .Input("increasing: bool")
    .Input("lower: T")
    .Input("upper: T")
    .Output("output: T")
    .SetShapeFn(IsotonicProjectionShapeFn)
    .Doc("Bounded weighted isotonic regression per row; see tf_lattice.ops.isotonic_projection.");

}  // namespace tf_lattice
}  // namespace tensorflow
