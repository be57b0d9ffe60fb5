// Registers TfLattice>LatticeInterpolation and its gradient op; see
// tf_lattice/ops/lattice_interpolation.py for the math.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf_lattice/ops/cc/ops/lattice_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

// Checks inputs [batch, d] or [batch, units, d] against params [units, V];
// sets the units dimension.
absl::Status ValidateShapes(InferenceContext* c, ShapeHandle* inputs, ShapeHandle* params,
                            DimensionHandle* units) {
  std::vector<int64_t> sizes;
  int64_t num_vertices = 0;
  std::string interpolation;
  TF_RETURN_IF_ERROR(ReadLatticeAttrs(c, &sizes, &num_vertices, &interpolation));
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(0), 2, inputs));
  TF_RETURN_IF_ERROR(c->WithRankAtMost(*inputs, 3, inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, params));
  const int64_t d = static_cast<int64_t>(sizes.size());
  if (c->RankKnown(*inputs)) {
    const int32_t rank = c->Rank(*inputs);
    const DimensionHandle last = c->Dim(*inputs, rank - 1);
    if (c->ValueKnown(last) && c->Value(last) != d) {
      return absl::InvalidArgumentError(absl::StrCat(
          "inputs last dimension must equal len(lattice_sizes) = ", d, ", got inputs shape ",
          c->DebugString(*inputs)));
    }
  }
  const DimensionHandle vertices = c->Dim(*params, 1);
  if (c->ValueKnown(vertices) && c->Value(vertices) != num_vertices) {
    return absl::InvalidArgumentError(absl::StrCat(
        "params second dimension must equal prod(lattice_sizes) = ", num_vertices,
        ", got params shape ", c->DebugString(*params)));
  }
  *units = c->Dim(*params, 0);
  if (c->RankKnown(*inputs) && c->Rank(*inputs) == 3) {
    if (!c->Merge(c->Dim(*inputs, 1), *units, units).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "inputs units (dimension 1) must equal params units (dimension 0), got inputs "
          "shape ", c->DebugString(*inputs), " and params shape ", c->DebugString(*params)));
    }
  }
  return absl::OkStatus();
}

absl::Status LatticeInterpolationShape(InferenceContext* c) {
  ShapeHandle inputs, params;
  DimensionHandle units;
  TF_RETURN_IF_ERROR(ValidateShapes(c, &inputs, &params, &units));
  c->set_output(0, c->Matrix(c->Dim(inputs, 0), units));
  return absl::OkStatus();
}

absl::Status LatticeInterpolationGradShape(InferenceContext* c) {
  ShapeHandle inputs, params, grad_outputs;
  DimensionHandle units;
  TF_RETURN_IF_ERROR(ValidateShapes(c, &inputs, &params, &units));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &grad_outputs));
  DimensionHandle unused;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(grad_outputs, 0), c->Dim(inputs, 0), &unused));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(grad_outputs, 1), units, &unused));
  c->set_output(0, inputs);
  c->set_output(1, params);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>LatticeInterpolation")
    .Input("inputs: T")
    .Input("params: T")
    .Output("outputs: T")
    .Attr("lattice_sizes: list(int)")
    .Attr("interpolation: string = 'hypercube'")
    .Attr("T: {float, double}")
    .SetShapeFn(LatticeInterpolationShape)
    .Doc("Lattice interpolation; see tf_lattice.ops.lattice_interpolation.");

REGISTER_OP("TfLattice>LatticeInterpolationGrad")
    .Input("inputs: T")
    .Input("params: T")
    .Input("grad_outputs: T")
    .Output("grad_inputs: T")
    .Output("grad_params: T")
    .Attr("lattice_sizes: list(int)")
    .Attr("interpolation: string = 'hypercube'")
    .Attr("T: {float, double}")
    .SetShapeFn(LatticeInterpolationGradShape)
    .Doc("Gradient of TfLattice>LatticeInterpolation; see tf_lattice.ops.lattice_interpolation.");

}  // namespace tf_lattice
}  // namespace tensorflow
