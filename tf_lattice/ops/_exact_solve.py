"""The cvxpy solve behind the projections' ``exact=True``.

Each exact projection is a small convex quadratic program solved unit by unit:
the nearest point to a target ``t`` (``[n]``) under linear constraints,

    minimize ||v - t||^2  subject to  constraints(v),

stated here once. Each projection gives only its constraints, as a function
from the cvxpy variable ``v`` to a list of cvxpy constraints, and the problem
is solved by the first of `EXACT_SOLVERS` that reports it solved to its
tolerances (cvxpy's status ``optimal``; an ``optimal_inaccurate`` result,
which an interior-point solver returns when it stops at its iteration limit,
is not taken) and whose point satisfies every constraint to
`FEASIBILITY_TOLERANCE`. The solvers' tolerances are relative to the data:
a target far outside a bounded set (a linear weight of 1e10 against the unit
l1 sphere) came back "optimal" from the operator-splitting solver and 6e-3
off its constraints (at 1e20: 7e7 off), and such a point is refused, not
returned as exact.
"""

import warnings

import numpy as np

#: The largest violation of a constraint a solution may show, relative to
#: ``1 + max |v|``.
FEASIBILITY_TOLERANCE = 1e-6

#: Solvers, tried in order. First the interior-point solver at tight
#: tolerances: at its defaults (1e-8 on the duality gap) it moved a point
#: that already satisfied its bound by 2e-6, where the projection is the
#: point itself. It can fail where the feasible set has no interior
#: (declarations that force values equal, as a trapezoid trust along a
#: monotone lattice dimension); its defaults, then the operator-splitting
#: solver polished to an active-set solution, still find the projection there.
#: The interior-point solver can also stall at its iteration limit short of
#: the optimum (a convex calibrator of 9 keypoints bounded above: objective
#: 0.86035 against the optimum's 0.85634); the polished operator-splitting
#: solver then finds the optimum.
EXACT_SOLVERS = (
    ("CLARABEL", dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)),
    ("CLARABEL", {}),
    # cvxpy polishes OSQP's result by default (the option's name depends on
    # OSQP's version).
    ("OSQP", dict(eps_abs=1e-10, eps_rel=1e-10, max_iter=200000)),
)


def nearest_point(target, constraints):
    """The point nearest ``target`` (float64 ``[n]``) that satisfies
    ``constraints(v)``, at the first solver of `EXACT_SOLVERS` that solves the
    problem to its tolerances with a point meeting every constraint to
    `FEASIBILITY_TOLERANCE`, or None when none does."""
    import cvxpy as cp  # pylint: disable=import-outside-toplevel

    variable = cp.Variable(target.shape[0])
    conditions = constraints(variable)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(variable - target)), conditions)
    for solver, options in EXACT_SOLVERS:
        try:
            with warnings.catch_warnings():
                # An inaccurate result is refused below, and the next solver tried.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                problem.solve(solver=getattr(cp, solver), **options)
        except cp.error.SolverError:
            continue
        if (problem.status == cp.OPTIMAL and variable.value is not None
                and _satisfies(conditions, variable.value)):
            return variable.value
    return None


def _satisfies(conditions, value):
    """Whether the solved ``value`` meets every cvxpy constraint in
    ``conditions`` to `FEASIBILITY_TOLERANCE`."""
    limit = FEASIBILITY_TOLERANCE * (1.0 + float(np.max(np.abs(value), initial=0.0)))
    return all(float(np.max(np.atleast_1d(condition.violation()), initial=0.0)) <= limit
               for condition in conditions)


def projection(target, constraints, description):
    """`nearest_point`, raising ``RuntimeError`` (naming ``description``, the
    op and unit) when no solver finds it."""
    value = nearest_point(target, constraints)
    if value is None:
        names = ", ".join(name for name, _ in EXACT_SOLVERS)
        raise RuntimeError(f"{description}: no solver ({names}) found the exact projection")
    return value
