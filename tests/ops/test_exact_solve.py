"""Tests of tf_lattice.ops._exact_solve, the cvxpy solve behind ``exact=True``."""

import cvxpy as cp
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
    variable = cp.Variable(3)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(variable - target)), [variable <= 1.0])
    np.testing.assert_allclose(_exact_solve.solve(problem, variable, "test"),
                               np.minimum(target, 1.0), rtol=0, atol=1e-7)


def test_a_problem_no_solver_solves_is_refused_by_name():
    variable = cp.Variable(2)
    infeasible = cp.Problem(cp.Minimize(cp.sum_squares(variable)),
                            [variable >= 1.0, variable <= 0.0])
    assert _exact_solve.solve_nearest(infeasible, variable) is None
    with pytest.raises(RuntimeError, match="linear_projection, unit 3: no solver"):
        _exact_solve.solve(infeasible, variable, "linear_projection, unit 3")
