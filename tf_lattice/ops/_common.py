"""Argument checks shared by the op wrappers."""

import numpy as np
import tensorflow as tf

from tf_lattice.ops import _compiled

IMPLEMENTATIONS = ("kernel", "portable")
FLOAT_DTYPES = (tf.float32, tf.float64)


def check_implementation(implementation):
    """Raises ValueError unless ``implementation`` is "kernel" or "portable"."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}"
        )


def check_float_dtype(name, tensor):
    """Raises ValueError unless ``tensor`` is float32 or float64."""
    if tensor.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{name} must be float32 or float64, got {tensor.dtype.name}"
        )


def check_same_dtype(**tensors):
    """Raises ValueError unless every tensor given has the same dtype."""
    dtypes = {name: t.dtype for name, t in tensors.items()}
    if len(set(dtypes.values())) > 1:
        described = ", ".join(f"{n}: {d.name}" for n, d in dtypes.items())
        raise ValueError(f"dtypes must match ({described})")


def float_matrix(name, value, axis_names, known_axis):
    """Converts ``value`` to a float32/float64 tensor of rank 2.

    Args:
      name: argument name, used as the tensor name and in error messages.
      value: tensor-like.
      axis_names: the two axes' names for the message, e.g. ``("units", "K")``.
      known_axis: 0 or 1, the axis whose size must be known statically.

    Returns:
      The converted tensor.

    Raises:
      ValueError: if the dtype is not float32/float64, the rank is not 2, or
        the size of ``known_axis`` is unknown.
    """
    tensor = tf.convert_to_tensor(value, name=name)
    check_float_dtype(name, tensor)
    if tensor.shape.rank != 2 or tensor.shape[known_axis] is None:
        raise ValueError(
            f"{name} must have shape [{axis_names[0]}, {axis_names[1]}] with known "
            f"{axis_names[known_axis]}, got {tensor.shape}")
    return tensor


def assert_no_nan(name, tensor, op_name, reason=None):
    """Returns ``tensor`` after checking that it holds no NaN.

    Eager tensors are checked at once, and the error names the position of
    the first NaN. In graphs an assertion raises when the graph runs (its
    message is a constant, so a step that passes costs one reduction);
    inside XLA-compiled functions, which have no assertions, nothing is
    checked. The error is ``tf.errors.InvalidArgumentError`` naming the op and
    the argument.

    Args:
      name: the argument's name.
      tensor: a float tensor.
      op_name: the public function checking it.
      reason: None for an argument (the message says it must not contain
        NaN), or the cause of a NaN in a result, which the message gives
        instead.
    """
    if reason is None:
        reason = f"{name} must not contain NaN"
        graph_message = f"{op_name}: {reason}"
    else:
        graph_message = f"{op_name}: {name} holds NaN; {reason}"
    return _assert_nowhere(tensor, tf.math.is_nan, lambda entry, value: f"{entry} is NaN",
                           op_name, name, reason, graph_message)


def assert_magnitude_at_most(name, tensor, op_name, limit, reason):
    """Returns ``tensor`` after checking that ``|tensor| <= limit`` everywhere.

    Checked as `assert_no_nan` checks (eagerly at once, naming the first
    entry beyond the limit and its value; in graphs by an assertion; not in
    XLA-compiled functions). NaN entries pass (`assert_no_nan` is their check).

    Args:
      name: the argument's name.
      tensor: a float tensor.
      op_name: the public function checking it.
      limit: the largest magnitude allowed, a positive float.
      reason: why larger values are refused, for the message.
    """
    if float(np.finfo(tensor.dtype.as_numpy_dtype).max) <= limit:
        return tensor  # no value of this dtype exceeds it
    return _assert_nowhere(
        tensor, lambda values: abs(values) > limit,
        lambda entry, value: f"{entry} = {value!r} exceeds {limit:g} in magnitude",
        op_name, name, reason,
        f"{op_name}: {name} exceeds {limit:g} in magnitude; {reason}")


def _assert_nowhere(tensor, violates, describe, op_name, name, reason, graph_message):
    """Returns ``tensor`` after checking that no entry ``violates`` a rule.

    The one skeleton of the checks above: eagerly the first violating entry
    is named at once (``describe(entry, value)``, ``entry`` as ``name[i, j]``)
    in ``"{op_name}: {description}; {reason}"``; in graphs an assertion with
    the constant ``graph_message`` runs before ``tensor`` is read; inside
    XLA-compiled functions nothing is checked.

    Args:
      tensor: a float tensor.
      violates: maps a tensor to a boolean tensor of its shape, True where
        an entry breaks the rule.
      describe: ``(entry, value) -> str``, the eager message's description.
      op_name, name, reason: the checking function, the argument's name and
        why the rule holds, for the eager message.
      graph_message: the graph assertion's message.
    """
    if tf.executing_eagerly():
        bad = np.argwhere(np.asarray(violates(tensor)))
        if bad.size:
            where = tuple(int(i) for i in bad[0])
            entry = f"{name}[{', '.join(map(str, where))}]"
            value = np.asarray(tensor)[where]
            raise tf.errors.InvalidArgumentError(
                None, None, f"{op_name}: {describe(entry, value)}; {reason}")
        return tensor
    if _compiled.in_xla_context():
        return tensor
    check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(violates(tensor))), [graph_message])
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


_EXPONENT_BITS = {tf.float32: (tf.int32, 23, 127), tf.float64: (tf.int64, 52, 1023)}


def power_of_two_downscale(largest, safe_exponent):
    """The kernels' ``DownscaleExponentOf`` (lib/power_of_two.h) on a tensor.

    For each entry of ``largest`` (a magnitude), ``e >= 0`` with
    ``largest * 2^-e <= 2^safe_exponent``, 0 when it already is or when
    ``largest`` is not finite; ``e`` is read from the float's bits, so it
    equals the kernels' ``frexp`` exponent exactly.

    Returns:
      ``(2^-e, 2^e, e > 0)``, the first two of ``largest``'s dtype.
    """
    dtype = largest.dtype
    int_dtype, mantissa_bits, bias = _EXPONENT_BITS[dtype]
    bits = tf.bitcast(tf.abs(largest), int_dtype)
    exponent = tf.bitwise.right_shift(bits, mantissa_bits) - (bias - 1)
    shift = tf.where(tf.math.is_finite(largest),
                     tf.maximum(exponent - safe_exponent, 0), tf.zeros_like(exponent))

    def power_of_two(e):
        return tf.bitcast(tf.bitwise.left_shift(e + bias, mantissa_bits), dtype)

    return power_of_two(-shift), power_of_two(shift), shift > 0
