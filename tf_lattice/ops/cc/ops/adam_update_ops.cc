// Op registration of the Adam update of a list of variables in one call.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tensorflow {
namespace tf_lattice {

using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

// 3 * num_variables resource handles, num_variables gradients of any shape,
// then six scalars (learning rate, beta powers, betas, epsilon); no outputs.
absl::Status AdamUpdateShapeFn(InferenceContext* c) {
  int num_variables = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("num_variables", &num_variables));
  ShapeHandle unused;
  for (int i = 4 * num_variables; i < c->num_inputs(); ++i) {
    TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 0, &unused));
  }
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("TfLattice>AdamUpdate")
    .Attr("num_variables: int >= 1")
    .Attr("T: {float, double}")
    .Input("variables: num_variables * resource")
    .Input("first_moments: num_variables * resource")
    .Input("second_moments: num_variables * resource")
    .Input("gradients: num_variables * T")
    .Input("learning_rate: T")
    .Input("beta_1_power: T")
    .Input("beta_2_power: T")
    .Input("beta_1: T")
    .Input("beta_2: T")
    .Input("epsilon: T")
    .SetIsStateful()
    .SetShapeFn(AdamUpdateShapeFn)
    .Doc("One Adam step of every variable in one call; see tf_lattice.ops.adam_update.");

}  // namespace tf_lattice
}  // namespace tensorflow
