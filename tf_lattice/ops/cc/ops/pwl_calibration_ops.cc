// Registers TfLattice>PwlCalibration and its gradient op.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

// Checks inputs [batch, units], keypoints [K] or [units, K], outputs
// [units, K]; stores the shape of inputs with units merged from outputs.
absl::Status CheckCalibrationShapes(InferenceContext* c, ShapeHandle* inputs) {
  ShapeHandle keypoints;
  ShapeHandle outputs;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, inputs));
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(1), 1, &keypoints));
  TF_RETURN_IF_ERROR(c->WithRankAtMost(keypoints, 2, &keypoints));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &outputs));
  DimensionHandle units;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(*inputs, 1), c->Dim(outputs, 0), &units));
  DimensionHandle num_keypoints;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(keypoints, -1), c->Dim(outputs, 1),
                              &num_keypoints));
  if (c->RankKnown(keypoints) && c->Rank(keypoints) == 2) {
    TF_RETURN_IF_ERROR(c->Merge(c->Dim(keypoints, 0), units, &units));
  }
  if (c->ValueKnown(num_keypoints) && c->Value(num_keypoints) < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("outputs must have at least 2 keypoints (K >= 2), got K = ",
                     c->Value(num_keypoints)));
  }
  return c->ReplaceDim(*inputs, 1, units, inputs);
}

absl::Status CalibrationShape(InferenceContext* c) {
  ShapeHandle inputs;
  TF_RETURN_IF_ERROR(CheckCalibrationShapes(c, &inputs));
  c->set_output(0, inputs);
  return absl::OkStatus();
}

absl::Status CalibrationGradShape(InferenceContext* c) {
  ShapeHandle inputs;
  TF_RETURN_IF_ERROR(CheckCalibrationShapes(c, &inputs));
  ShapeHandle grad;
  TF_RETURN_IF_ERROR(c->Merge(c->input(3), inputs, &grad));
  c->set_output(0, grad);
  c->set_output(1, c->input(1));
  c->set_output(2, c->input(2));
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>PwlCalibration")
    .Input("inputs: T")
    .Input("keypoints: T")
    .Input("outputs: T")
    .Output("calibrated: T")
    .Attr("T: {float, double}")
    .SetShapeFn(CalibrationShape)
    .Doc("Piecewise-linear calibration; see tf_lattice.ops.pwl_calibration.");

REGISTER_OP("TfLattice>PwlCalibrationGrad")
    .Input("inputs: T")
    .Input("keypoints: T")
    .Input("outputs: T")
    .Input("grad: T")
    .Output("grad_inputs: T")
    .Output("grad_keypoints: T")
    .Output("grad_outputs: T")
    .Attr("T: {float, double}")
    .SetShapeFn(CalibrationGradShape)
    .Doc("Gradient of TfLattice>PwlCalibration; see tf_lattice.ops.pwl_calibration.");

}  // namespace tf_lattice
}  // namespace tensorflow
