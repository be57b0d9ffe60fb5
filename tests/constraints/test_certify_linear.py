"""Tests of tf_lattice.constraints.certify_linear."""

from fractions import Fraction

import numpy as np
import pytest

from tf_lattice.constraints import certify_linear

CONSTRAINTS = dict(monotonicities=["increasing", "increasing", "decreasing", "none"],
                   monotonic_dominances=[(0, 1)], range_dominances=[(1, 0)],
                   input_ranges=[(0.0, 4.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0)])


def _check(certificate, name):
    return next(c for c in certificate.checks if c.name.startswith(name))


def test_satisfying_weights_hold():
    # w0 >= w1 and w1 * 1 >= w0 * 4 force w0 = w1 = 0 for the increasing pair.
    weights = np.array([[0.0], [0.0], [-0.5], [0.5]])
    assert certify_linear(weights, **CONSTRAINTS, normalization_order=1).holds


def test_each_violation_is_located():
    weights = np.array([[0.2, -0.1], [0.5, 0.0], [0.3, -1.0], [0.0, -0.2]])
    certificate = certify_linear(weights, **CONSTRAINTS, normalization_order=1)
    sign = _check(certificate, "monotonicity")
    assert sign.location == (2, 0) and sign.worst_violation == pytest.approx(0.3)
    dominance = _check(certificate, "monotonic_dominance")
    assert dominance.location == (0, (0, 1)) and dominance.worst_violation == pytest.approx(0.3)
    ranged = _check(certificate, "range_dominance")
    # Unit 0: w0 r0 - w1 r1 = 0.8 - 0.5.
    assert ranged.location == (0, (1, 0)) and ranged.worst_violation == pytest.approx(0.3)
    normal = _check(certificate, "normalization")
    # Every input counts, the unconstrained one too. Unit 0:
    # |0.2| + |0.5| + |0.3| + 0 = 1 holds; unit 1: 0.1 + 0 + 1 + 0.2 = 1.3.
    assert normal.location == (1,) and normal.worst_violation == pytest.approx(0.3)


def test_range_dominance_is_exact():
    ranges = [(0.0, 0.1), (0.0, 0.3)]
    # 3 * 0.1 versus 1 * 0.3 differ only in their last bits: the certificate
    # must agree with exact rational arithmetic on the binary values.
    weights = np.array([[3.0], [1.0]])
    certificate = certify_linear(weights, monotonicities="increasing", range_dominances=[(0, 1)],
                           input_ranges=ranges)
    holds = Fraction(3.0) * Fraction(0.1) >= Fraction(1.0) * Fraction(0.3)
    assert certificate.holds == holds
    flipped = certify_linear(weights[::-1].copy(), monotonicities="increasing",
                             range_dominances=[(1, 0)], input_ranges=ranges[::-1])
    assert flipped.holds == holds


def test_errors():
    with pytest.raises(ValueError, match="input_ranges"):
        certify_linear(np.ones((2, 1)), monotonicities="increasing", range_dominances=[(0, 1)])
    with pytest.raises(ValueError, match="one direction per input"):
        certify_linear(np.ones((2, 1)), monotonicities=["increasing"])
