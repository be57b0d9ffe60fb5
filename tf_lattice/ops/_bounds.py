"""Validation of scalar output bounds, their rounding to a dtype, and clipping to them."""

import numpy as np
import tensorflow as tf

from tf_lattice.specs import _vocabulary


def check_output_bounds(output_min, output_max, names=("output_min", "output_max")):
    """Validates optional scalar bounds; returns them as floats or None.

    Raises:
      ValueError: a bound is NaN or ``output_min > output_max`` (no output
        can satisfy both).
    """
    return _vocabulary.parse_bounds(output_min, output_max, names=names)


def inward(lower, upper, dtype):
    """Rounds bounds inward to numbers representable in ``dtype``.

    A float32 output clipped to a float64 bound would round to a neighbour
    that may lie outside it; the nearest representable numbers inside the
    bounds keep clipped outputs exactly within them.
    """
    dtype = np.dtype(dtype)
    if lower is not None:
        rounded = dtype.type(lower)
        if float(rounded) < lower:
            rounded = np.nextafter(rounded, dtype.type(np.inf))
        lower = float(rounded)
    if upper is not None:
        rounded = dtype.type(upper)
        if float(rounded) > upper:
            rounded = np.nextafter(rounded, dtype.type(-np.inf))
        upper = float(rounded)
    if lower is not None and upper is not None and lower > upper:
        # No representable number lies between the bounds: keep the lower one.
        upper = lower
    return lower, upper


def clip(values, lower, upper):
    """``min(max(values, lower), upper)``, skipping a bound that is None.

    Args:
      values: float tensor of any shape.
      lower: None or a scalar lower bound.
      upper: None or a scalar upper bound.

    Returns:
      A tensor like ``values``.
    """
    if lower is not None:
        values = tf.maximum(values, tf.constant(lower, values.dtype))
    if upper is not None:
        values = tf.minimum(values, tf.constant(upper, values.dtype))
    return values
