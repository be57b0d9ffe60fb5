"""Regularizers for the weights of a linear layer."""

from tf_lattice.regularizers.amounts import check_amount
from tf_lattice.regularizers.norms import l1_l2_penalty
from tf_lattice.regularizers.tensors import check_float_rank_1_or_2


def linear_laplacian(weights, *, l1=0.0, l2=0.0):
    """Penalizes differences between the weights of consecutive inputs.

    For weights ``w`` of shape ``[num_inputs, units]``:
    ``sum_u sum_{i=0}^{n-2} l1 |w_{i+1,u} - w_{i,u}| + l2 (w_{i+1,u} - w_{i,u})^2``.
    Useful when the inputs are ordered (for example the outputs of calibrators
    of neighbouring time steps) and their weights should vary smoothly.

    Args:
      weights: float tensor ``[num_inputs, units]`` or ``[num_inputs]``.
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.

    Returns:
      Scalar tensor of the dtype of ``weights``.

    Raises:
      ValueError: if an amount is negative, or ``weights`` has a bad rank.
    """
    l1 = check_amount("l1", l1)
    l2 = check_amount("l2", l2)
    weights = check_float_rank_1_or_2(
        "weights", weights, "[num_inputs, units] or [num_inputs]")
    return l1_l2_penalty(weights[1:] - weights[:-1], l1, l2)
