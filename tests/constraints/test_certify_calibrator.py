"""Tests of tf_lattice.constraints.certify_calibrator."""

import numpy as np
import pytest

from tf_lattice.constraints import certify_calibrator

KEYPOINTS = np.array([0.0, 1.0, 3.0, 4.0])


def _check(certificate, name):
    return next(c for c in certificate.checks if c.name.startswith(name))


def test_satisfying_outputs_hold():
    outputs = np.array([[0.0, 0.1, 0.5, 1.0], [1.0, 0.5, 0.3, 0.0]])
    certificate = certify_calibrator(
        KEYPOINTS, outputs, monotonicity=["increasing", "decreasing"],
        convexity=["convex", "none"], output_min=0.0, output_max=1.0)
    assert certificate.holds and len(certificate.checks) == 4


def test_each_violation_is_located():
    outputs = np.array([[0.0, 0.2, 0.1, 1.5], [0.0, 0.0, 0.0, -0.2]])
    certificate = certify_calibrator(KEYPOINTS, outputs, monotonicity="increasing",
                                     convexity="convex", output_min=-0.1, output_max=1.0)
    assert not certificate.holds
    monotone = _check(certificate, "monotonicity")
    assert monotone.location == (1, 2) and monotone.worst_violation == pytest.approx(0.2)
    convex = _check(certificate, "convexity")
    # Unit 0 at knot 1: slopes 0.2 then -0.05.
    assert convex.location == (0, 1) and convex.worst_violation == pytest.approx(0.25)
    assert _check(certificate, "output_max").location == (0, 3)
    assert _check(certificate, "output_min").location == (1, 3)


def test_convexity_on_uneven_keypoints_is_exact():
    # On keypoints (0, 1, 3) the points (0, 1, 3) lie on a line: convex and
    # concave both hold; nudging the middle by one ulp breaks exactly one.
    keypoints = np.array([0.0, 1.0, 3.0])
    line = np.array([[0.0, 1.0, 3.0]])
    assert certify_calibrator(keypoints, line, convexity="convex").holds
    assert certify_calibrator(keypoints, line, convexity="concave").holds
    raised = line.copy()
    raised[0, 1] = np.nextafter(1.0, 2.0)
    assert not certify_calibrator(keypoints, raised, convexity="convex").holds
    assert certify_calibrator(keypoints, raised, convexity="concave").holds


def test_nan_is_a_violation_and_tolerance_applies():
    assert not certify_calibrator(KEYPOINTS, [[0.0, np.nan, 1.0, 2.0]],
                                  monotonicity="increasing").holds
    slightly = np.array([[0.0, 1e-9, 0.0, 1.0]])
    assert not certify_calibrator(KEYPOINTS, slightly, monotonicity="increasing").holds
    assert certify_calibrator(KEYPOINTS, slightly, monotonicity="increasing",
                              tolerance=1e-8).holds


def test_errors():
    with pytest.raises(ValueError, match="strictly increasing"):
        certify_calibrator([0.0, 0.0, 1.0, 2.0], np.zeros((1, 4)))
    with pytest.raises(ValueError, match="monotonicity must be one of"):
        certify_calibrator(KEYPOINTS, np.zeros((1, 4)), monotonicity="upward")
