"""Tests of tf_lattice.ops._exact_solve, the cvxpy solve behind ``exact=True``."""

import warnings

import numpy as np
import pytest

from tf_lattice.constraints import certify_calibrator
from tf_lattice.ops import _exact_solve
from tf_lattice.ops import calibrator_projection
from tf_lattice.ops import linear_projection
from tf_lattice.ops import partial_order_projection


def test_a_point_inside_its_bound_is_its_own_exact_projection():
    # At the interior-point solver's default tolerances this point moved by
    # 2.1e-6, more than the projection tests allow the kernels.
    values = np.array([[1.7764913, -2.55329184]])
    exact = partial_order_projection(values, [], output_max=1.77734375, exact=True).numpy()
    np.testing.assert_allclose(exact, values, rtol=0, atol=1e-7)


def test_the_nearest_point_is_solved_to_tight_tolerances():
    target = np.array([3.0, -1.0, 0.5])
    nearest = _exact_solve.projection(target, lambda v: [v <= 1.0], "test")
    np.testing.assert_allclose(nearest, np.minimum(target, 1.0), rtol=0, atol=1e-7)


def test_the_nearest_point_of_an_equality_is_the_orthogonal_projection():
    target = np.array([0.25, 2.0, -1.0])
    normal = np.array([1.0, 1.0, 1.0])
    nearest = _exact_solve.projection(target, lambda v: [normal @ v == 1.0], "test")
    expected = target - (normal @ target - 1.0) / (normal @ normal) * normal
    np.testing.assert_allclose(nearest, expected, rtol=0, atol=1e-7)


def test_a_problem_no_solver_solves_is_refused_by_name():
    def infeasible(v):
        return [v >= 1.0, v <= 0.0]

    assert _exact_solve.nearest_point(np.zeros(2), infeasible) is None
    with pytest.raises(RuntimeError, match="linear_projection, unit 3: no solver"):
        _exact_solve.projection(np.zeros(2), infeasible, "linear_projection, unit 3")


def test_an_inaccurate_solve_is_not_taken_for_the_projection():
    # The interior-point solver stops at its iteration limit on this convex
    # calibrator (objective 0.86035); the exact projection must be the
    # optimum, no farther from the outputs than the kernel's feasible result.
    outputs = np.array([[2.54309495e-02, -2.79794371e-02, -3.71628803e-01, -4.93976476e-01,
                         -4.37203575e-01, -2.33077404e-01, 5.99878332e-01, -8.69652173e-05,
                         6.38992409e-01]])
    keypoints = np.array([0.62802127, 2.06780103, 2.89892319, 3.41666707, 4.02501233,
                          4.75741817, 6.08428254, 7.81516214, 9.17384411])
    constraints = dict(convexity="convex", output_max=0.125)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Solution may be inaccurate")
        exact = calibrator_projection(outputs, keypoints, exact=True, **constraints).numpy()
    assert certify_calibrator(keypoints, exact, tolerance=1e-7, **constraints).holds
    kernel = calibrator_projection(outputs, keypoints, **constraints).numpy()
    assert certify_calibrator(keypoints, kernel, **constraints).holds
    distance = lambda x: np.sum((x - outputs) ** 2)  # noqa: E731
    assert distance(exact) <= distance(kernel) + 1e-9
    np.testing.assert_allclose(exact, kernel, rtol=0, atol=1e-6)


@pytest.mark.parametrize("weight", [1e10, 1e20])
def test_a_solve_off_its_constraints_is_refused_not_returned(weight):
    # Far outside the unit l1 sphere the solvers' tolerances, relative to
    # the data, let points 6e-3 (at 1e10) to 7e7 (at 1e20) off the
    # constraints through as "optimal".
    weights = np.array([[weight], [0.0]])
    with pytest.raises(RuntimeError, match="linear_projection, unit 0: no solver"):
        linear_projection(weights, monotonicities=["increasing", "increasing"],
                          monotonic_dominances=[(0, 1)], normalization_order=1, exact=True)


def test_the_nearest_point_meets_every_constraint_to_the_feasibility_tolerance():
    target = np.array([2.0, -3.0, 0.5, 1.5])

    def constraints(v):
        return [v >= 0.0, v[0] >= v[3], np.ones(4) @ v == 1.0]

    nearest = _exact_solve.projection(target, constraints, "test")
    scale = _exact_solve.FEASIBILITY_TOLERANCE * (1.0 + np.abs(nearest).max())
    assert nearest.min() >= -scale
    assert nearest[0] >= nearest[3] - scale
    assert abs(nearest.sum() - 1.0) <= scale
    np.testing.assert_allclose(nearest, [0.75, 0.0, 0.0, 0.25], atol=1e-7)
