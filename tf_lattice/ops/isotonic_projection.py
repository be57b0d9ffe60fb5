"""Exact weighted, bounded isotonic regression of each row of a matrix.

For each unit ``u`` (row of ``values``) the op solves

    minimize_y  sum_i w[u, i] (y_i - values[u, i])^2
    subject to  y_0 <= y_1 <= ... <= y_{K-1}   (or >= when decreasing)
                lower <= y_i <= upper

The bounded problem is solved exactly by pool adjacent violators followed by
clipping: clipping the unbounded isotonic fit to ``[lower, upper]`` is the
bounded optimum. The kernel runs pool adjacent violators in O(K) per unit (one
CPU task or one CUDA thread per unit); the pure-TensorFlow twin evaluates the
max-min formula ``y_i = max_{j <= i} min_{k >= i} mean_w(values[j..k])`` in
O(K^2) memory per unit.
"""

import numpy as np
import tensorflow as tf

from tf_lattice import _native
from tf_lattice.ops import _bounds
from tf_lattice.ops import _common

tf.no_gradient("TfLattice>IsotonicProjection")


def isotonic_projection(values, weights=None, increasing=True, lower=None, upper=None,
                        implementation="kernel"):
    """Projects each row of ``values`` onto monotone sequences within bounds.

    Args:
      values: float32 or float64 tensor of shape ``[units, K]``.
      weights: positive tensor of shape ``[units, K]`` (same dtype) giving the
        weight of each squared error, or None for unit weights.
      increasing: a bool for every unit, or a sequence of ``units`` bools.
      lower: scalar lower bound on every output, or None.
      upper: scalar upper bound on every output, or None.
      implementation: "kernel" (compiled op) or "portable" (stock TF ops).

    Returns:
      A tensor of the shape and dtype of ``values``: the weighted Euclidean
      projection of each row onto ``{y : y monotone, lower <= y <= upper}``.

    Raises:
      ValueError: bad ranks, shapes, dtypes, ``increasing`` length or bounds
        (``lower > upper``, NaN bounds).
      tf.errors.InvalidArgumentError: a weight is not positive and finite or
        a value is NaN (the message names the unit). Both implementations
        check on every device.
    """
    _common.check_implementation(implementation)
    with tf.name_scope("isotonic_projection"):
        values = tf.convert_to_tensor(values, name="values")
        _common.check_float_dtype("values", values)
        if values.shape.rank != 2:
            raise ValueError(
                f"values must have shape [units, K], got shape {values.shape}")
        if weights is None:
            weights = tf.ones_like(values)
        else:
            weights = tf.convert_to_tensor(weights, dtype_hint=values.dtype, name="weights")
            _common.check_same_dtype(values=values, weights=weights)
            if not weights.shape.is_compatible_with(values.shape):
                raise ValueError(
                    f"weights must have the shape of values {values.shape}, got "
                    f"{weights.shape}")
        increasing = _increasing_per_unit(increasing, values)
        lower, upper = _bounds.check_output_bounds(lower, upper, ("lower", "upper"))
        lower, upper = _bounds.inward(lower, upper, values.dtype.as_numpy_dtype)
        lower_t = tf.constant(-np.inf if lower is None else lower, values.dtype)
        upper_t = tf.constant(np.inf if upper is None else upper, values.dtype)
        if values.shape[1] == 0:
            return tf.identity(values)
        if implementation == "kernel":
            return _native.load_ops().tf_lattice_isotonic_projection(
                values=values, weights=weights, increasing=increasing,
                lower=lower_t, upper=upper_t)
        return _portable_isotonic_projection(values, weights, increasing, lower_t, upper_t)


def _increasing_per_unit(increasing, values):
    """Returns a bool tensor ``[units]`` from a bool or a per-unit sequence."""
    units = tf.shape(values)[0]
    if isinstance(increasing, (bool, np.bool_)):
        return tf.fill([units], bool(increasing))
    flags = tf.convert_to_tensor(increasing)
    if flags.dtype != tf.bool or flags.shape.rank != 1:
        raise ValueError(
            f"increasing must be a bool or a sequence of bools, one per unit; got "
            f"{increasing!r}")
    static_units = values.shape[0]
    if static_units is not None and flags.shape[0] != static_units:
        raise ValueError(
            f"increasing must have one flag per unit ({static_units}), got "
            f"{flags.shape[0]}")
    return flags


def _portable_isotonic_projection(values, weights, increasing, lower, upper):
    """Pure-TF twin: the max-min characterisation of isotonic regression."""
    units = tf.shape(values)[0]
    # The kernels' checks, with their messages (each names the first bad unit).
    for bad, message in (
            (tf.math.is_nan(values), "isotonic_projection: values contain NaN in unit {}"),
            (~((weights > 0) & tf.math.is_finite(weights)),
             "isotonic_projection: weights must be positive and finite; unit {}")):
        bad_units = tf.reduce_any(bad, axis=1)
        first = tf.argmax(tf.concat([tf.cast(bad_units, tf.int32), [0]], axis=0))
        tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad_units)),
                            [tf.strings.format(message, first)])
    sign = tf.where(increasing, tf.ones([units], values.dtype),
                    -tf.ones([units], values.dtype))[:, tf.newaxis]
    # Rows with values or weights past 2^safe are solved scaled down by powers
    # of two, as in the kernel (IsotonicRow), so that no sum overflows.
    safe = 40 if values.dtype == tf.float32 else 400
    value_down, value_up, _ = _common.power_of_two_downscale(
        tf.reduce_max(tf.abs(values), axis=1, keepdims=True), safe)
    weight_down, _, _ = _common.power_of_two_downscale(
        tf.reduce_max(weights, axis=1, keepdims=True), safe)
    fit = _increasing_fit(values * (sign * value_down), weights * weight_down)
    return tf.clip_by_value(fit * sign * value_up, lower, upper)


def _increasing_fit(values, weights):
    """Unbounded increasing weighted isotonic fit of each row, [units, K]."""
    size = tf.shape(values)[1]
    position = tf.range(size)
    # started[j, l]: element l belongs to a block that starts at j (l >= j).
    started = position[tf.newaxis, :] >= position[:, tf.newaxis]
    zero = tf.zeros([], values.dtype)
    weighted = tf.where(started[tf.newaxis], (weights * values)[:, tf.newaxis, :], zero)
    mass = tf.where(started[tf.newaxis], weights[:, tf.newaxis, :], zero)
    # block_mean[u, j, k]: weighted mean of values[u, j..k] (k >= j).
    block_sum = tf.cumsum(weighted, axis=2)
    block_weight = tf.cumsum(mass, axis=2)
    infinity = tf.constant(np.inf, values.dtype)
    block_mean = tf.where(started[tf.newaxis], block_sum / tf.where(
        started[tf.newaxis], block_weight, tf.ones_like(block_weight)), infinity)
    # lowest_end[u, j, i] = min_{k >= i} block_mean[u, j, k].
    by_end = tf.transpose(block_mean, [2, 0, 1])
    lowest_end = tf.scan(tf.minimum, by_end, reverse=True)
    lowest_end = tf.transpose(lowest_end, [1, 2, 0])
    # fit[u, i] = max_{j <= i} lowest_end[u, j, i].
    admissible = position[:, tf.newaxis] <= position[tf.newaxis, :]
    return tf.reduce_max(tf.where(admissible[tf.newaxis], lowest_end, -infinity), axis=1)
