"""Plain l1 and l2 penalties, the building block of every regularizer here."""

import tensorflow as tf

from tf_lattice.regularizers.amounts import check_amount


def l1_l2_penalty(values, l1, l2):
    """Returns ``l1 * sum |values| + l2 * sum values^2`` as a scalar.

    Terms whose amount is zero are skipped (not computed), so a zero amount
    costs nothing and contributes an exact zero gradient. Amounts are assumed
    already validated.

    Args:
      values: tensor of any shape.
      l1: non-negative float.
      l2: non-negative float.

    Returns:
      Scalar tensor of the dtype of ``values``.
    """
    total = tf.zeros([], dtype=values.dtype)
    if l1:
        total += tf.constant(l1, dtype=values.dtype) * tf.reduce_sum(tf.abs(values))
    if l2:
        total += tf.constant(l2, dtype=values.dtype) * tf.reduce_sum(tf.square(values))
    return total


def l1_l2(weights, *, l1=0.0, l2=0.0):
    """Plain l1/l2 penalty on parameters: ``l1 * sum |w| + l2 * sum w^2``.

    Args:
      weights: float tensor of any shape (lattice parameters ``[units, V]``,
        linear weights ``[num_inputs, units]``, ...).
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.

    Returns:
      Scalar tensor of the dtype of ``weights``.

    Raises:
      ValueError: if ``l1`` or ``l2`` is negative or not finite.
    """
    l1 = check_amount("l1", l1)
    l2 = check_amount("l2", l2)
    weights = tf.convert_to_tensor(weights)
    return l1_l2_penalty(weights, l1, l2)
