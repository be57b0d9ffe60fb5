"""Exact certificate of a piecewise-linear calibrator's shape constraints."""

import numpy as np

from tf_lattice.constraints import _exact
from tf_lattice.constraints.certificate import Certificate, ConstraintCheck
from tf_lattice.ops.calibrator_projection import unit_constraints


def certify_calibrator(keypoints, outputs, *, monotonicity="none", convexity="none",
                       output_min=None, output_max=None, tolerance=0.0,
                       subject="calibrator", spec=None):
    """Checks a calibrator's declared constraints exactly on its outputs.

    With ``h_i = k_{i+1} - k_i`` and slopes ``s_i = (o_{i+1} - o_i) / h_i``:

    * monotonicity: ``o_i <= o_{i+1}`` (increasing) or ``>=`` (decreasing);
      violation ``o_i - o_{i+1}`` (resp. its negative), located at
      ``(unit, i)``;
    * convexity: ``s_{i-1} <= s_i`` (convex) or ``>=`` (concave); violation
      ``s_{i-1} - s_i`` (resp. its negative), located at ``(unit, i)``, with
      the sign decided in exact rational arithmetic when float64 cannot;
    * bounds: ``output_min <= o_i <= output_max``, located at ``(unit, i)``.

    Args:
      keypoints: strictly increasing ``[K]`` or ``[units, K]``.
      outputs: ``[units, K]`` keypoint outputs (float32 or float64 values are
        checked exactly as the numbers they are).
      monotonicity: "increasing", "decreasing", "none", or one per unit.
      convexity: "convex", "concave", "none", or one per unit.
      output_min: lower bound or None.
      output_max: upper bound or None.
      tolerance: violations up to this size count as holding.
      subject: the name reported in the certificate.
      spec: a :class:`tf_lattice.specs.CalibratorSpec` of ``units``
        calibrators in place of the direction and bound arguments.

    Returns:
      A :class:`Certificate` with one check per declared constraint family.

    Raises:
      TypeError: both ``spec`` and direction or bound arguments.
      ValueError: bad shapes, directions or bounds, or keypoints not strictly
        increasing.
    """
    outputs = np.asarray(outputs, np.float64)
    if outputs.ndim != 2:
        raise ValueError(f"outputs must have shape [units, K], got shape {outputs.shape}")
    units, size = outputs.shape
    keypoints = np.asarray(keypoints, np.float64)
    if keypoints.ndim == 1:
        keypoints = np.broadcast_to(keypoints, (units, keypoints.shape[0]))
    if keypoints.shape != outputs.shape:
        raise ValueError(
            f"keypoints must have shape [K] or [units, K] = {list(outputs.shape)}, got "
            f"{list(keypoints.shape)}")
    if np.any(~(np.diff(keypoints, axis=1) > 0)):
        raise ValueError("keypoints must be strictly increasing")
    monotonicities, convexities, output_min, output_max = unit_constraints(
        "certify_calibrator", spec, units, monotonicity=monotonicity, convexity=convexity,
        output_min=output_min, output_max=output_max)
    monotonicities, convexities = np.array(monotonicities), np.array(convexities)
    checks = []
    if monotonicities.any():
        violation = monotonicities[:, None] * (outputs[:, :-1] - outputs[:, 1:])
        checks.append(_check("monotonicity", violation, tolerance))
    if convexities.any() and size > 2:
        checks.append(_check("convexity", _convexity_violation(keypoints, outputs, convexities),
                             tolerance, offset=1))
    if output_min is not None:
        checks.append(_check(f"output_min={output_min}", float(output_min) - outputs,
                             tolerance))
    if output_max is not None:
        checks.append(_check(f"output_max={output_max}", outputs - float(output_max),
                             tolerance))
    return Certificate(subject, tuple(checks))


def _check(name, violation, tolerance, offset=0):
    """One ConstraintCheck from per-(unit, index) violations; NaN counts as infinite."""
    violation = np.where(np.isnan(violation), np.inf, violation)
    value, location = _exact.worst(violation, lambda index: (index[0], index[1] + offset))
    return ConstraintCheck(name, value, location, tolerance)


def _convexity_violation(keypoints, outputs, convexities):
    """``c (s_{i-1} - s_i)`` for each interior keypoint ``i``, sign exact."""
    left_rise = outputs[:, 1:-1] - outputs[:, :-2]
    right_rise = outputs[:, 2:] - outputs[:, 1:-1]
    left_gap = keypoints[:, 1:-1] - keypoints[:, :-2]
    right_gap = keypoints[:, 2:] - keypoints[:, 1:-1]
    sign = convexities[:, None].astype(np.float64)
    # c (s_{i-1} - s_i) h_{i-1} h_i = c (left_rise h_i - right_rise h_{i-1}).
    first, second = left_rise * right_gap, right_rise * left_gap
    scaled = sign * (first - second)

    def exact(index):
        unit, i = index
        o = [_exact.rational(v) for v in outputs[unit, i:i + 3]]
        k = [_exact.rational(v) for v in keypoints[unit, i:i + 3]]
        value = (o[1] - o[0]) * (k[2] - k[1]) - (o[2] - o[1]) * (k[1] - k[0])
        return int(convexities[unit]) * value / ((k[1] - k[0]) * (k[2] - k[1]))

    violation = scaled / (left_gap * right_gap)
    bound = _exact.product_error_bound(first, second) / (left_gap * right_gap)
    violation = np.where(sign == 0, 0.0, violation)
    bound = np.where(sign == 0, -1.0, bound)
    return _exact.settle(violation, bound, exact)
