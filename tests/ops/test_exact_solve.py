"""Tests of tf_lattice.ops._exact_solve, the cvxpy solve behind ``exact=True``."""

import numpy as np
import pytest

from tf_lattice.ops import _exact_solve
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
