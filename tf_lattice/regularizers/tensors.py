"""Validation of the tensors that the regularizers penalize."""

import tensorflow as tf


def check_float_rank_1_or_2(name, value, shapes):
    """Returns ``value`` as a float tensor of rank 1 or 2 (when the rank is known).

    Args:
      name: argument name used in error messages.
      value: tensor-like of keypoint outputs, weights or parameters.
      shapes: the accepted shapes in words, for the error message (for
        example ``"[units, K] or [K]"``).

    Returns:
      ``value`` converted with ``tf.convert_to_tensor``.

    Raises:
      ValueError: if the dtype is not floating, or the static rank is neither
        1 nor 2.
    """
    value = tf.convert_to_tensor(value)
    if not value.dtype.is_floating:
        raise ValueError(f"{name} must be a float tensor, got {value.dtype.name}")
    if value.shape.rank is not None and value.shape.rank not in (1, 2):
        raise ValueError(f"{name} must have shape {shapes}, got {value.shape}")
    return value
