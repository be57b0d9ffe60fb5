"""Smoothness regularizers for piecewise-linear calibrators.

A calibrator with keypoints ``k_0 < ... < k_{K-1}`` and outputs
``o_0 ... o_{K-1}`` has segment slopes

    s_i = (o_{i+1} - o_i) / (k_{i+1} - k_i),      i = 0 .. K-2.

The three regularizers penalize successively higher differences:

* Laplacian (flatness):  ``d1_i = o_{i+1} - o_i``                (K-1 terms)
* Hessian (linearity):   ``d2_i = s_{i+1} - s_i``                (K-2 terms)
* wrinkle (curvature):   ``d3_i = d2_{i+1} - d2_i``              (K-3 terms)

each as ``l1 * sum |d| + l2 * sum d^2`` summed over units. The Laplacian uses
output differences only (it penalizes the total variation of the calibrator
whatever the keypoint spacing). The Hessian and wrinkle use slopes, so they
measure the change of slope between segments; with unit keypoint spacing
(the default when no keypoints are given) ``s_i = o_{i+1} - o_i`` and they
reduce to the plain second and third differences of the outputs. With uniform
spacing ``h`` they equal the plain differences divided by ``h``. A calibrator
with too few keypoints for a term (fewer than 2, 3 or 4) gets a zero penalty.

Calibrator layers pass keypoints evenly spaced on ``[0, 1]`` (keypoint ``j``
at ``j / (K - 1)``), not their keypoint inputs: their penalties then depend on
the outputs only and are the same in any units of the input (see
:func:`tf_lattice.layers.pwl_calibration.calibrator_regularizer_builders`).
Keypoints are a :class:`tf_lattice.specs.CalibratorSpec`, used as it is, or
raw keypoints, parsed into a spec here, once, by the spec's own rule. Given a
calibrator's own keypoint inputs, the Hessian and wrinkle measure slopes in
the input's units, and their size changes with those units: rescaling the
input by ``c`` scales the l2 terms by ``1 / c^2``.
"""

import numpy as np
import tensorflow as tf

from tf_lattice.regularizers.amounts import calibrator_spec, check_amount
from tf_lattice.regularizers.norms import l1_l2_penalty
from tf_lattice.regularizers.tensors import check_float_rank_1_or_2
from tf_lattice.specs import CalibratorSpec


def _check_outputs(outputs):
    return check_float_rank_1_or_2("outputs", outputs, "[units, K] or [K]")


#: Outputs of at most this many keypoints are differenced by one product with
#: a dense difference operator ``[K, K - t]`` (see `_difference_operator`):
#: one matrix product forward and one backward, where differencing by slices
#: costs two slices and a subtraction per difference each way (on the README's
#: Heart ensemble the slices took about 0.08 s of the first fit's tracing).
#: Beyond it the ``K^2`` entries would cost more than the slices.
DENSE_OPERATOR_MAX_KEYPOINTS = 64


def _differences(values, times):
    """Applies ``times`` forward differences along the last axis (``[..., n - times]``)."""
    for _ in range(times):
        values = values[..., 1:] - values[..., :-1]
    return values


def _difference_operator(size, times, spacings=None):
    """The matrix ``M`` for which ``outputs @ M`` is the ``times``-th forward
    difference of ``outputs`` ``[..., size]`` along its last axis, the first
    difference divided by ``spacings`` when given.

    Column ``i`` of the first difference is ``e_{i+1} - e_i``; each further
    difference subtracts adjacent columns. Float64 NumPy, ``[size, size -
    times]``; per-unit ``spacings`` ``[units, size - 1]`` give ``[units,
    size, size - times]``.
    """
    matrix = np.diff(np.eye(size), axis=1)
    if spacings is not None:
        matrix = matrix / np.asarray(spacings)[..., None, :]
    for _ in range(times - 1):
        matrix = np.diff(matrix, axis=-1)
    return matrix


def _apply_operator(outputs, operator):
    """``outputs @ operator`` for outputs ``[K]`` or ``[units, K]`` and an
    operator ``[K, m]`` (shared) or ``[units, K, m]`` (per unit)."""
    operator = tf.constant(operator, outputs.dtype)
    if operator.shape.rank == 2:
        if outputs.shape.rank == 1:
            return tf.linalg.matvec(operator, outputs, transpose_a=True)
        return tf.matmul(outputs, operator)
    subscripts = "k,ukm->um" if outputs.shape.rank == 1 else "uk,ukm->um"
    return tf.einsum(subscripts, outputs, operator)


def _keypoint_values(keypoints):
    """Keypoints ``[K]`` or ``[units, K]``, validated once (see `calibrator_spec`).

    A CalibratorSpec gives its keypoints as they are; raw keypoints are parsed
    into a spec; a tensor whose values are only known when it runs is used as
    it is (nothing can be checked before).
    """
    if (not isinstance(keypoints, CalibratorSpec) and tf.is_tensor(keypoints)
            and tf.get_static_value(keypoints) is None):
        return keypoints
    return calibrator_spec(keypoints).keypoints_array()


def _check_keypoints_shape(keypoints, outputs):
    """Raises ValueError unless ``keypoints`` has rank 1 or 2 and, where both
    are known, as many entries on its last axis as ``outputs``."""
    shape = tf.TensorShape(keypoints.shape)
    if shape.rank is not None and shape.rank not in (1, 2):
        raise ValueError(f"keypoints must have shape [K] or [units, K], got {shape}")
    if (shape.rank and outputs.shape.rank and shape[-1] is not None
            and outputs.shape[-1] is not None and shape[-1] != outputs.shape[-1]):
        raise ValueError(
            f"keypoints must have as many entries as outputs on the last axis: "
            f"keypoints shape {shape}, outputs shape {outputs.shape}")


def _dense(outputs):
    """Whether ``outputs`` are differenced by a dense operator (a static
    ``K`` of at most `DENSE_OPERATOR_MAX_KEYPOINTS`)."""
    size = outputs.shape[-1] if outputs.shape.rank else None
    return size is not None and size <= DENSE_OPERATOR_MAX_KEYPOINTS


def _slope_differences(outputs, keypoints, times):
    """The ``times``-th differences ``[..., K - 1 - times]`` of the segment
    slopes (``times = 0``: the slopes); unit spacing when ``keypoints`` is None.

    ``keypoints`` is None, a CalibratorSpec, raw keypoints (parsed into a
    spec by `_keypoint_values`) or a tensor whose values are only known when
    run. Known keypoints and a small ``K`` (`_dense`) take one product with
    `_difference_operator`; otherwise slopes are differenced by slices.
    """
    if keypoints is not None:
        keypoints = _keypoint_values(keypoints)
        _check_keypoints_shape(keypoints, outputs)
    if _dense(outputs) and not tf.is_tensor(keypoints):
        spacings = None if keypoints is None else np.diff(keypoints, axis=-1)
        return _apply_operator(
            outputs, _difference_operator(outputs.shape[-1], times + 1, spacings))
    slopes = _differences(outputs, 1)
    if keypoints is not None:
        keypoints = tf.cast(
            tf.convert_to_tensor(keypoints, dtype_hint=outputs.dtype), outputs.dtype)
        slopes = slopes / _differences(keypoints, 1)
    return _differences(slopes, times)


def _slope_change_penalty(outputs, keypoints, times, *, l1, l2):
    """``l1 * sum |d| + l2 * sum d^2`` of the ``times``-th slope differences ``d``.

    ``outputs``, ``keypoints``, ``l1`` and ``l2`` are as in `calibrator_hessian`;
    ``d`` is ``[..., K-1-times]`` (`_slope_differences`).
    Returns a scalar tensor of the dtype of ``outputs``; raises ValueError on a
    negative amount or a bad shape.
    """
    l1 = check_amount("l1", l1)
    l2 = check_amount("l2", l2)
    outputs = _check_outputs(outputs)
    return l1_l2_penalty(_slope_differences(outputs, keypoints, times), l1, l2)


def calibrator_laplacian(outputs, *, l1=0.0, l2=0.0):
    """Laplacian (flatness) penalty of calibrator outputs.

    ``sum_u sum_{i=0}^{K-2} l1 |o_{u,i+1} - o_{u,i}| + l2 (o_{u,i+1} - o_{u,i})^2``.

    Args:
      outputs: float tensor ``[units, K]`` (or ``[K]``) of keypoint outputs.
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.

    Returns:
      Scalar tensor of the dtype of ``outputs``.

    Raises:
      ValueError: if an amount is negative, or ``outputs`` has a bad shape.
    """
    # The slopes at unit spacing are the output steps.
    return _slope_change_penalty(outputs, None, 0, l1=l1, l2=l2)


def calibrator_hessian(outputs, keypoints=None, *, l1=0.0, l2=0.0):
    """Hessian (linearity) penalty: changes of slope between adjacent segments.

    With slopes ``s_i = (o_{i+1} - o_i) / (k_{i+1} - k_i)``:
    ``sum_u sum_{i=0}^{K-3} l1 |s_{u,i+1} - s_{u,i}| + l2 (s_{u,i+1} - s_{u,i})^2``.
    Without keypoints the spacing is 1 and the terms are the second
    differences ``o_{i+2} - 2 o_{i+1} + o_i``.

    Args:
      outputs: float tensor ``[units, K]`` (or ``[K]``) of keypoint outputs.
      keypoints: the calibrator's :class:`tf_lattice.specs.CalibratorSpec`
        (its keypoints, validated once), or optional strictly increasing
        keypoints ``[K]`` (shared by all units) or ``[units, K]``; None means
        ``0, 1, ..., K-1``.
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.

    Returns:
      Scalar tensor of the dtype of ``outputs``.

    Raises:
      ValueError: if an amount is negative, or a shape is bad.
    """
    return _slope_change_penalty(outputs, keypoints, 1, l1=l1, l2=l2)


def calibrator_wrinkle(outputs, keypoints=None, *, l1=0.0, l2=0.0):
    """Wrinkle (curvature change) penalty: differences of slope changes.

    With ``d2_i = s_{i+1} - s_i`` (see `calibrator_hessian`):
    ``sum_u sum_{i=0}^{K-4} l1 |d2_{u,i+1} - d2_{u,i}| + l2 (d2_{u,i+1} - d2_{u,i})^2``.
    Without keypoints the terms are the third differences
    ``o_{i+3} - 3 o_{i+2} + 3 o_{i+1} - o_i``.

    Args:
      outputs: float tensor ``[units, K]`` (or ``[K]``) of keypoint outputs.
      keypoints: a CalibratorSpec, or optional strictly increasing keypoints
        ``[K]`` or ``[units, K]`` (as in `calibrator_hessian`); None means
        ``0, 1, ..., K-1``.
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.

    Returns:
      Scalar tensor of the dtype of ``outputs``.

    Raises:
      ValueError: if an amount is negative, or a shape is bad.
    """
    return _slope_change_penalty(outputs, keypoints, 2, l1=l1, l2=l2)
