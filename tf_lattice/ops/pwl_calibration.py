"""Piecewise-linear calibration: the compiled kernel and its pure-TF twin."""

import tensorflow as tf

from tf_lattice import _native
from tf_lattice.ops import _common

__all__ = ["pwl_calibration"]


def pwl_calibration(inputs, keypoints, outputs, implementation="kernel", name=None):
    r"""Evaluates one piecewise-linear function per unit.

    Unit ``u`` maps ``x = inputs[b, u]`` through the polyline with keypoints
    ``k_0 < k_1 < ... < k_{K-1}`` (``keypoints[u]``, or ``keypoints`` when it
    is shared) and keypoint outputs ``o_0, ..., o_{K-1}`` (``outputs[u]``):

    .. math::

        y = o_i + (o_{i+1} - o_i) \frac{x - k_i}{k_{i+1} - k_i}
        \quad \text{for } k_i \le x \le k_{i+1},

    with ``y = o_0`` for ``x < k_0`` and ``y = o_{K-1}`` for ``x > k_{K-1}``.
    The kernel finds the segment by binary search, O(log K) per element, or
    in O(1) when a unit's keypoints are evenly spaced; the portable twin
    counts the keypoints below each input, O(K), with ops that ONNX has.

    Infinite and far-apart keypoints: ``k_0`` may be ``-inf`` and
    ``k_{K-1}`` may be ``+inf`` (at least one keypoint must be finite). A
    segment with an infinite end is flat at its finite end, the limit of the
    formula: with ``k_0 = -inf``, ``y = o_1`` for every finite ``x < k_1``
    (and ``y = o_0`` at ``x = -inf``); with ``k_{K-1} = +inf``,
    ``y = o_{K-2}`` for every finite ``x > k_{K-2}`` (and ``o_{K-1}`` at
    ``+inf``). Its slope and keypoint gradients are 0. Keypoints whose span
    overflows the dtype (``[-3e38, 3e38]`` in float32) are interpolated
    exactly as the formula says, never NaN.

    Gradients flow to ``inputs``, ``keypoints`` and ``outputs``. At a keypoint
    the derivative is the one-sided derivative of the segment the forward pass
    used: the segment to the right of an interior keypoint and of ``k_0``, the
    segment to the left of ``k_{K-1}``; ``dy/dx`` is zero outside
    ``[k_0, k_{K-1}]``.

    XLA cannot compile the ``"kernel"`` implementation (it is a custom op), so
    layers built on it set ``supports_jit = False``; the ``"portable"``
    implementation uses stock TensorFlow ops only, compiles under XLA and
    serves from a SavedModel loaded without tf_lattice. Both give the same
    outputs and gradients.

    Args:
      inputs: float32 or float64 tensor of shape ``[batch, units]``.
      keypoints: tensor of the same dtype, shape ``[K]`` (shared by every
        unit) or ``[units, K]``, strictly increasing along its last axis,
        ``K >= 2``.
      outputs: tensor of the same dtype and shape ``[units, K]``: the value of
        each unit's function at its keypoints.
      implementation: ``"kernel"`` (the compiled C++/CUDA op) or
        ``"portable"`` (the pure-TensorFlow twin). Never switched silently.
      name: optional name scope for the ops.

    Returns:
      A tensor of shape ``[batch, units]`` and the dtype of ``inputs``. NaN
      inputs give NaN outputs.

    Raises:
      ValueError: statically known ranks, shapes or dtypes that do not fit
        (mismatched units or K, ``K < 2``, non-float or mixed dtypes), or an
        unknown ``implementation``.
      tf.errors.InvalidArgumentError: the same problems found only at run
        time, and keypoints that are NaN, not strictly increasing (the
        message names the unit and index) or all infinite (``[-inf, inf]``).
      tf_lattice._native.OpsNotBuiltError: ``implementation="kernel"`` and
        the compiled kernels are missing or were built for another
        TensorFlow.

    Example:

    >>> import tensorflow as tf
    >>> from tf_lattice.ops import pwl_calibration
    >>> x = tf.constant([[-1.0], [0.5], [2.0], [4.0]])
    >>> y = pwl_calibration(x, keypoints=[0.0, 1.0, 3.0],
    ...                     outputs=[[5.0, 6.0, 8.0]], implementation="portable")
    >>> y.numpy().ravel().tolist()
    [5.0, 5.5, 7.0, 8.0]
    """
    _common.check_implementation(implementation)
    with tf.name_scope(name or "pwl_calibration"):
        inputs = _as_tensor(inputs, "inputs", tf.float32)
        keypoints = _as_tensor(keypoints, "keypoints", inputs.dtype)
        outputs = _as_tensor(outputs, "outputs", inputs.dtype)
        check_static_arguments(inputs, keypoints, outputs)
        if implementation == "portable":
            return portable_pwl_calibration(inputs, keypoints, outputs)
        ops = _native.load_ops()
        result = ops.tf_lattice_pwl_calibration(
            inputs=inputs, keypoints=keypoints, outputs=outputs)
        result.set_shape(inputs.shape)
        return result


def _as_tensor(value, name, dtype_hint):
    """Converts to a tensor; Python lists and numbers take ``dtype_hint``.

    Tensors, variables and NumPy arrays keep their dtype, so integer or
    mismatched arrays are reported rather than silently cast.
    """
    if hasattr(value, "dtype"):
        return tf.convert_to_tensor(value, name=name)
    if dtype_hint not in _common.FLOAT_DTYPES:
        dtype_hint = tf.float32
    return tf.convert_to_tensor(value, dtype_hint=dtype_hint, name=name)


def check_static_arguments(inputs, keypoints, outputs):
    """Raises ValueError for dtypes, ranks or static shapes that cannot work.

    Args:
      inputs: tensor, expected ``[batch, units]``.
      keypoints: tensor, expected ``[K]`` or ``[units, K]``.
      outputs: tensor, expected ``[units, K]``.
    """
    for arg_name, tensor in (("inputs", inputs), ("keypoints", keypoints),
                             ("outputs", outputs)):
        _common.check_float_dtype(arg_name, tensor)
    _common.check_same_dtype(inputs=inputs, keypoints=keypoints, outputs=outputs)
    _check_rank("inputs", inputs, (2,), "[batch, units]")
    _check_rank("keypoints", keypoints, (1, 2), "[K] or [units, K]")
    _check_rank("outputs", outputs, (2,), "[units, K]")
    units, num_keypoints = _dim(outputs, 0), _dim(outputs, -1)
    if num_keypoints is not None and num_keypoints < 2:
        raise ValueError(
            f"outputs must have at least 2 keypoints (K >= 2), got shape {outputs.shape}")
    if _dim(keypoints, -1) is not None and _dim(keypoints, -1) < 2:
        raise ValueError(
            f"keypoints must have at least 2 keypoints (K >= 2), got shape {keypoints.shape}")
    if not _compatible(_dim(inputs, 1), units):
        raise ValueError(
            f"inputs has {_dim(inputs, 1)} units (shape {inputs.shape}) but outputs "
            f"has {units} (shape {outputs.shape})")
    if keypoints.shape.rank == 2 and not _compatible(keypoints.shape[0], units):
        raise ValueError(
            f"keypoints has {keypoints.shape[0]} units (shape {keypoints.shape}) but "
            f"outputs has {units} (shape {outputs.shape})")
    if not _compatible(_dim(keypoints, -1), num_keypoints):
        raise ValueError(
            f"keypoints has K={_dim(keypoints, -1)} (shape {keypoints.shape}) but "
            f"outputs has K={num_keypoints} (shape {outputs.shape})")


def _check_rank(arg_name, tensor, ranks, layout):
    rank = tensor.shape.rank
    if rank is not None and rank not in ranks:
        raise ValueError(
            f"{arg_name} must have shape {layout} (rank "
            f"{' or '.join(map(str, ranks))}), got shape {tensor.shape}")


def _dim(tensor, axis):
    """The static size of ``axis``, or None when the rank or size is unknown."""
    return None if tensor.shape.rank is None else tensor.shape[axis]


def _compatible(a, b):
    return a is None or b is None or a == b


def portable_pwl_calibration(inputs, keypoints, outputs):
    """The pure-TensorFlow twin of the kernel: same outputs, same gradients.

    Uses stock ops only (comparisons, sums, ``gather``, ``where``), so it runs
    under XLA, in SavedModels loaded without tf_lattice and, converted to
    ONNX, in onnxruntime. The run-time checks are ``tf.debugging`` assertions,
    which XLA drops.

    Args:
      inputs: ``[batch, units]`` float tensor.
      keypoints: ``[K]`` or ``[units, K]`` tensor of the same dtype.
      outputs: ``[units, K]`` tensor of the same dtype.

    Returns:
      ``[batch, units]`` tensor.
    """
    with tf.control_dependencies(_dynamic_checks(inputs, keypoints, outputs)):
        inputs = tf.identity(inputs)
        keypoints = tf.identity(keypoints)
        outputs = tf.identity(outputs)
    # [K] and [units, K] keypoints both broadcast to one row per unit.
    unit_keypoints = tf.broadcast_to(keypoints, tf.shape(outputs))
    x = tf.transpose(inputs)  # [units, batch], so each unit searches its own row.
    segment = _floor_segment(unit_keypoints, x)
    k_lo = tf.gather(unit_keypoints, segment, batch_dims=1)
    k_hi = tf.gather(unit_keypoints, segment + 1, batch_dims=1)
    o_lo = tf.gather(outputs, segment, batch_dims=1)
    o_hi = tf.gather(outputs, segment + 1, batch_dims=1)
    below = x < unit_keypoints[:, :1]
    above = x > unit_keypoints[:, -1:]
    # The inside branch sees a point of its segment wherever the outside
    # branches answer (x clipped to [k_0, k_{K-1}]; NaN stays NaN), so that
    # its discarded value and gradient stay finite: ONNX converters may turn
    # tf.where into cond * a + (1 - cond) * b, where an infinite discarded
    # value would give NaN.
    clipped = tf.minimum(tf.maximum(x, unit_keypoints[:, :1]), unit_keypoints[:, -1:])
    inside_x = tf.where(tf.math.is_nan(x), x, clipped)
    fraction = _segment_fraction(k_lo, k_hi, inside_x)
    rise = o_hi - o_lo
    # As the kernel: a rise that overflows (outputs of opposite signs near the
    # dtype's limit) is not used, so finite outputs give a finite result.
    regular = tf.math.is_finite(rise)
    inside = tf.where(regular, o_lo + tf.where(regular, rise, tf.zeros_like(rise)) * fraction,
                      (1 - fraction) * o_lo + fraction * o_hi)
    y = tf.where(below, outputs[:, :1], tf.where(above, outputs[:, -1:], inside))
    return tf.transpose(y)


def _floor_segment(unit_keypoints, x):
    """Each input's segment: ``#{i : k_i <= x} - 1``, clipped to ``[0, K - 2]``.

    The count is a sum of comparisons, ``O(K)`` work and memory per element
    (a binary search, ``searchsorted``, becomes ``UpperBound``, an op ONNX
    lacks); it equals ``searchsorted(keypoints, x, side="right")`` for
    strictly increasing keypoints, infinite ones included. The clip sends
    ``x == k_{K-1}`` (and anything above) to the last segment and ``x < k_0``
    (and NaN, which compares false) to the first: as in the kernel, NaN
    inputs take the first segment (the output is NaN either way; this keeps
    the gradients of the two implementations equal).

    Args:
      unit_keypoints: ``[units, K]``.
      x: ``[units, batch]``.

    Returns:
      int32 ``[units, batch]``.
    """
    num_keypoints = tf.shape(unit_keypoints)[1]
    at_or_below = x[:, :, tf.newaxis] >= unit_keypoints[:, tf.newaxis, :]  # [units, batch, K]
    count = tf.reduce_sum(tf.cast(at_or_below, tf.int32), axis=-1)
    return tf.clip_by_value(count - 1, 0, num_keypoints - 2)


def _segment_fraction(k_lo, k_hi, x):
    """``(x - k_lo) / (k_hi - k_lo)`` with the kernel's limits (``SegmentFraction``).

    A segment with an infinite end is flat at its finite end (fraction 1 below
    an infinite ``k_lo``, 0 above an infinite ``k_hi``; ``x`` equal to that
    end gives its own output); a width that overflows is divided with every
    term halved. Each branch divides by a safe denominator where another
    branch answers, so no gradient becomes NaN.
    """
    width = k_hi - k_lo
    regular = tf.math.is_finite(width)
    lo_infinite = tf.math.is_inf(k_lo)
    hi_infinite = tf.math.is_inf(k_hi)
    one = tf.ones_like(width)
    half = tf.constant(0.5, width.dtype)
    plain = (x - k_lo) / tf.where(regular, width, one)
    halved_width = k_hi * half - k_lo * half
    halved = (x * half - k_lo * half) / tf.where(
        regular | lo_infinite | hi_infinite, one, halved_width)
    finite_x = tf.where(tf.math.is_nan(x), x, one)  # 1, or NaN for NaN x.
    below_infinite = tf.where(tf.equal(x, k_lo), tf.zeros_like(x), finite_x)
    above_infinite = tf.where(tf.equal(x, k_hi), one, finite_x - 1)
    return tf.where(regular, plain, tf.where(
        lo_infinite, below_infinite, tf.where(hi_infinite, above_infinite, halved)))


def _dynamic_checks(inputs, keypoints, outputs):
    """Run-time assertions (InvalidArgumentError) in three ordered stages.

    Ranks first, then the sizes that the ranks make readable, then the
    keypoint values; returns the assertions of the last stage, which depend
    on the earlier ones.
    """
    ranks = [
        tf.debugging.assert_rank(
            inputs, 2, message="inputs must have shape [batch, units] (rank 2)"),
        tf.debugging.assert_rank_in(
            keypoints, [1, 2],
            message="keypoints must have shape [K] or [units, K] (rank 1 or 2)"),
        tf.debugging.assert_rank(
            outputs, 2, message="outputs must have shape [units, K] (rank 2)"),
    ]
    with tf.control_dependencies(ranks):
        inputs_shape = tf.shape(inputs)
        keypoints_shape = tf.shape(keypoints)
        outputs_shape = tf.shape(outputs)
        sizes = [
            tf.debugging.assert_equal(
                inputs_shape[1], outputs_shape[0],
                message="inputs and outputs must have the same number of units "
                        "(inputs [batch, units], outputs [units, K])"),
            tf.debugging.assert_equal(
                keypoints_shape[-1], outputs_shape[1],
                message="keypoints and outputs must have the same K "
                        "(keypoints [K] or [units, K], outputs [units, K])"),
            tf.debugging.assert_greater_equal(
                outputs_shape[1], 2,
                message="outputs must have at least 2 keypoints (K >= 2)"),
            tf.debugging.Assert(
                tf.logical_or(tf.equal(tf.size(keypoints_shape), 1),
                              tf.equal(keypoints_shape[0], outputs_shape[0])),
                ["keypoints and outputs must have the same number of units "
                 "(keypoints [units, K], outputs [units, K]); got shapes",
                 keypoints_shape, outputs_shape]),
        ]
    with tf.control_dependencies(sizes):
        return [_check_keypoint_values(keypoints)]


def _check_keypoint_values(keypoints):
    """Asserts no NaN and strict increase; names the first bad unit and index."""
    rows = tf.reshape(keypoints, [-1, tf.shape(keypoints)[-1]])
    no_nan = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(tf.math.is_nan(rows))),
        ["keypoints must not be NaN; got keypoints =", keypoints], summarize=64)
    has_finite = tf.debugging.Assert(
        tf.reduce_all(tf.reduce_any(tf.math.is_finite(rows), axis=1)),
        ["keypoints must include a finite keypoint; got keypoints =", keypoints],
        summarize=64)
    with tf.control_dependencies([no_nan, has_finite]):
        gaps = rows[:, 1:] - rows[:, :-1]
    violations = tf.reshape(tf.logical_not(gaps > 0), [-1])
    first = tf.argmax(tf.cast(violations, tf.int32), output_type=tf.int32)
    per_row = tf.maximum(tf.shape(gaps)[1], 1)
    unit, index = first // per_row, first % per_row + 1
    flat_rows = tf.reshape(rows, [-1])
    where = (["keypoints (shared by all units) must be strictly increasing, but at index",
              index]
             if keypoints.shape.rank == 1 else
             ["keypoints must be strictly increasing, but at unit", unit, "index", index])
    return tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(violations)),
        where + ["keypoints[index] =", tf.gather(flat_rows, unit * (per_row + 1) + index),
                 "is not greater than keypoints[index - 1] =",
                 tf.gather(flat_rows, unit * (per_row + 1) + index - 1)],
        summarize=64)


@tf.RegisterGradient("TfLattice>PwlCalibration")
def _pwl_calibration_grad(op, grad):
    inputs, keypoints, outputs = op.inputs
    ops = _native.load_ops()
    return ops.tf_lattice_pwl_calibration_grad(
        inputs=inputs, keypoints=keypoints, outputs=outputs, grad=grad)


tf.no_gradient("TfLattice>PwlCalibrationGrad")
