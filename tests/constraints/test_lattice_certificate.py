"""Tests of tf_lattice.constraints.certify_lattice on hand-built violations."""

import numpy as np
import pytest

from tf_lattice.constraints import Certificate, certify_lattice

INC, DEC, NONE = "increasing", "decreasing", "none"


def _flat(grid):
    return np.asarray(grid, np.float64).reshape(1, -1)


def _only_check(cert):
    assert isinstance(cert, Certificate)
    assert len(cert.checks) == 1
    return cert.checks[0]


def test_feasible_lattice_holds():
    grid = np.indices([3, 3, 2]).sum(axis=0)  # increasing in every dimension
    cert = certify_lattice(_flat(grid), [3, 3, 2], monotonicities=[INC, INC, INC],
                           output_min=0, output_max=5)
    assert cert.holds and len(cert.checks) == 5


def test_monotonicity_violation_location():
    grid = np.indices([3, 3]).sum(axis=0).astype(float)
    grid[1, 2] = 0.5  # theta[1,2] < theta[1,1] = 2 along dim 1
    check = _only_check(certify_lattice(np.stack([_flat(np.indices([3, 3]).sum(0))[0],
                                                  _flat(grid)[0]]),
                                        [3, 3], monotonicities=[NONE, INC]))
    assert not check.holds
    assert check.worst_violation == pytest.approx(1.5)
    assert check.location == (1, (1, 1))


def test_decreasing_and_tolerance():
    check = _only_check(certify_lattice([[0.0, 1e-9]], [2], monotonicities=[DEC]))
    assert not check.holds and check.location == (0, (0,))
    assert _only_check(certify_lattice([[0.0, 1e-9]], [2], monotonicities=[DEC],
                                       tolerance=1e-8)).holds


def test_exact_tie_holds():
    # 0.1 + 0.2 - 0.3 style rounding must not create or hide a violation:
    # theta11 - theta01 - theta10 + theta00 with exact sum 0.
    a, b = 0.1, 0.2
    grid = [[0.0, a], [b, np.float64(a) + np.float64(b)]]
    check = _only_check(certify_lattice(_flat(grid), [2, 2], edgeworth_trusts=[(0, 1, INC)]))
    # a + b rounds; the exact sum is fl(a+b) - a - b, whose sign decides.
    from fractions import Fraction
    exact = Fraction(grid[1][1]) - Fraction(a) - Fraction(b)
    assert check.holds == (exact >= 0)


def test_unimodality_violation():
    check = _only_check(certify_lattice([[0.0, 1.0, 2.0]], [3], unimodalities=["valley"]))
    assert not check.holds and check.location == (0, (0,))
    assert certify_lattice([[2.0, 1.0, 3.0]], [3], unimodalities=["valley"]).holds


def test_edgeworth_violation():
    grid = np.zeros((3, 3))
    grid[2, 1] = 1.0  # slope along 0 at column 1 larger than at column 2
    check = _only_check(certify_lattice(_flat(grid), [3, 3], edgeworth_trusts=[(0, 1, INC)]))
    assert not check.holds and check.location == (0, (1, 1))
    assert check.worst_violation == pytest.approx(1.0)


def test_trapezoid_violation():
    grid = np.array([[0.0, 0.5], [1.0, 1.0]])  # low edge rises with dim 1
    check = certify_lattice(_flat(grid), [2, 2], monotonicities=[INC, NONE],
                            trapezoid_trusts=[(0, 1, INC)]).checks[1]
    assert not check.holds and check.location == (0, (0, 0))


def test_monotonic_dominance_violation():
    grid = np.array([[0.0, 1.0], [0.5, 1.5]])  # weak dim 1 steeper than dominant dim 0
    check = certify_lattice(_flat(grid), [2, 2], monotonicities=[INC, INC],
                            monotonic_dominances=[(0, 1)]).checks[2]
    assert not check.holds and check.location == (0, (0, 0))
    assert certify_lattice(_flat(grid.T), [2, 2], monotonicities=[INC, INC],
                           monotonic_dominances=[(0, 1)]).holds


def test_range_dominance_violation():
    grid = np.array([[0.0, 1.0, 3.0], [1.0, 2.0, 3.5]])  # range along 1 exceeds along 0
    check = certify_lattice(_flat(grid), [2, 3], monotonicities=[INC, INC],
                            range_dominances=[(0, 1)]).checks[2]
    assert not check.holds
    assert check.worst_violation == pytest.approx(3.0 - 0.5)


def test_joint_monotonicity_violation():
    grid = np.array([[1.0, 0.0], [0.5, 2.0]])  # theta10 + theta01 < 2 theta00
    check = _only_check(certify_lattice(_flat(grid), [2, 2], joint_monotonicities=[(0, 1)]))
    assert not check.holds and check.location == (0, (0, 0))
    assert check.worst_violation == pytest.approx(1.5)


def test_bounds_violation():
    cert = certify_lattice([[0.0, 2.0, -1.0, 0.5]], [2, 2], output_min=-0.5, output_max=1.0)
    low, high = cert.checks
    assert low.location == (0, (1, 0)) and low.worst_violation == pytest.approx(0.5)
    assert high.location == (0, (0, 1)) and high.worst_violation == pytest.approx(1.0)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="params must have shape"):
        certify_lattice(np.zeros((1, 5)), [2, 2])
