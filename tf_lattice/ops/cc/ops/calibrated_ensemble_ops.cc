// Registers TfLattice>CalibratedEnsemble and its gradient op.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

// Checks the ranks of the eight inputs (features [batch, width], keypoints
// and outputs [numeric, K], missing_outputs [numeric], tables [categorical,
// buckets], lattice_params [lattices, vertices], weights [lattices], bias
// []) and merges the sizes they share; stores the batch dimension.
absl::Status CheckEnsembleShapes(InferenceContext* c, DimensionHandle* batch) {
  ShapeHandle features, keypoints, outputs, missing, tables, params, weights, bias;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &features));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &keypoints));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &outputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &missing));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 2, &tables));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 2, &params));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(6), 1, &weights));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(7), 0, &bias));
  TF_RETURN_IF_ERROR(c->Merge(keypoints, outputs, &outputs));
  DimensionHandle numeric;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(outputs, 0), c->Dim(missing, 0), &numeric));
  DimensionHandle lattices;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(params, 0), c->Dim(weights, 0), &lattices));
  *batch = c->Dim(features, 0);
  return absl::OkStatus();
}

absl::Status EnsembleShape(InferenceContext* c) {
  DimensionHandle batch;
  TF_RETURN_IF_ERROR(CheckEnsembleShapes(c, &batch));
  c->set_output(0, c->Vector(batch));
  return absl::OkStatus();
}

absl::Status EnsembleGradShape(InferenceContext* c) {
  DimensionHandle batch;
  TF_RETURN_IF_ERROR(CheckEnsembleShapes(c, &batch));
  ShapeHandle grad;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(8), 1, &grad));
  DimensionHandle unused;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(grad, 0), batch, &unused));
  for (int k = 0; k < 6; ++k) c->set_output(k, c->input(k + 2));
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>CalibratedEnsemble")
    .Input("features: T")
    .Input("keypoints: T")
    .Input("outputs: T")
    .Input("missing_outputs: T")
    .Input("tables: T")
    .Input("lattice_params: T")
    .Input("weights: T")
    .Input("bias: T")
    .Output("scores: T")
    .Attr("numeric_columns: list(int) >= 0")
    .Attr("categorical_columns: list(int) >= 0")
    .Attr("num_buckets: list(int) >= 0")
    .Attr("lattice_sizes: list(int) >= 1")
    .Attr("lattice_inputs: list(int) >= 0")
    .Attr("T: {float, double}")
    .SetShapeFn(EnsembleShape)
    .Doc("A calibrated lattice ensemble's scores; see tf_lattice.ops.calibrated_ensemble.");

REGISTER_OP("TfLattice>CalibratedEnsembleGrad")
    .Input("features: T")
    .Input("keypoints: T")
    .Input("outputs: T")
    .Input("missing_outputs: T")
    .Input("tables: T")
    .Input("lattice_params: T")
    .Input("weights: T")
    .Input("bias: T")
    .Input("grad: T")
    .Output("grad_outputs: T")
    .Output("grad_missing_outputs: T")
    .Output("grad_tables: T")
    .Output("grad_lattice_params: T")
    .Output("grad_weights: T")
    .Output("grad_bias: T")
    .Attr("numeric_columns: list(int) >= 0")
    .Attr("categorical_columns: list(int) >= 0")
    .Attr("num_buckets: list(int) >= 0")
    .Attr("lattice_sizes: list(int) >= 1")
    .Attr("lattice_inputs: list(int) >= 0")
    .Attr("T: {float, double}")
    .SetShapeFn(EnsembleGradShape)
    .Doc("Gradient of TfLattice>CalibratedEnsemble; see tf_lattice.ops.calibrated_ensemble.");

}  // namespace tf_lattice
}  // namespace tensorflow
