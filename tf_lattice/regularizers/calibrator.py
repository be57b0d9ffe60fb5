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

import tensorflow as tf

from tf_lattice.regularizers.amounts import calibrator_spec, check_amount
from tf_lattice.regularizers.norms import l1_l2_penalty
from tf_lattice.regularizers.tensors import check_float_rank_1_or_2
from tf_lattice.specs import CalibratorSpec


def _check_outputs(outputs):
    return check_float_rank_1_or_2("outputs", outputs, "[units, K] or [K]")


def _differences(values, times):
    """Applies ``times`` forward differences along the last axis (``[..., n - times]``)."""
    for _ in range(times):
        values = values[..., 1:] - values[..., :-1]
    return values


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


def _slopes(outputs, keypoints):
    """Segment slopes ``[..., K-1]``; unit spacing when ``keypoints`` is None.

    ``keypoints`` is None, a CalibratorSpec, raw keypoints (parsed into a spec
    by `_keypoint_values`) or a tensor whose values are only known when run.
    """
    output_steps = _differences(outputs, 1)
    if keypoints is None:
        return output_steps
    keypoints = _keypoint_values(keypoints)
    keypoints = tf.cast(
        tf.convert_to_tensor(keypoints, dtype_hint=outputs.dtype), outputs.dtype)
    if keypoints.shape.rank is not None and keypoints.shape.rank not in (1, 2):
        raise ValueError(
            f"keypoints must have shape [K] or [units, K], got {keypoints.shape}")
    if (keypoints.shape.rank and outputs.shape.rank
            and keypoints.shape[-1] is not None and outputs.shape[-1] is not None
            and keypoints.shape[-1] != outputs.shape[-1]):
        raise ValueError(
            f"keypoints must have as many entries as outputs on the last axis: "
            f"keypoints shape {keypoints.shape}, outputs shape {outputs.shape}")
    return output_steps / _differences(keypoints, 1)


def _slope_change_penalty(outputs, keypoints, times, *, l1, l2):
    """``l1 * sum |d| + l2 * sum d^2`` of the ``times``-th slope differences ``d``.

    ``outputs``, ``keypoints``, ``l1`` and ``l2`` are as in `calibrator_hessian`;
    the slopes ``[..., K-1]`` come from `_slopes`, ``d`` is ``[..., K-1-times]``.
    Returns a scalar tensor of the dtype of ``outputs``; raises ValueError on a
    negative amount or a bad shape.
    """
    l1 = check_amount("l1", l1)
    l2 = check_amount("l2", l2)
    outputs = _check_outputs(outputs)
    return l1_l2_penalty(_differences(_slopes(outputs, keypoints), times), l1, l2)


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
    l1 = check_amount("l1", l1)
    l2 = check_amount("l2", l2)
    outputs = _check_outputs(outputs)
    return l1_l2_penalty(_differences(outputs, 1), l1, l2)


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
