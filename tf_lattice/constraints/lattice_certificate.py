"""Exact certificate of a lattice's declared shape constraints.

Every declared constraint is a set of linear inequalities on the vertex values
(declared by a :class:`tf_lattice.specs.LatticeSpec`, compiled in
:mod:`tf_lattice.ops._lattice_constraints`). Each inequality
``sum_i c_i theta_i >= 0`` is evaluated without rounding error (an exact
floating-point expansion of the float64 terms, see
:mod:`tf_lattice.ops._exact_sum`), so a check that reports "holds" is right.
"""

import numpy as np

from tf_lattice.constraints.certificate import Certificate, ConstraintCheck
from tf_lattice.ops import _exact_sum
from tf_lattice.ops import _lattice_constraints


def certify_lattice(params, lattice_sizes=None, *, monotonicities=None, unimodalities=None,
                    edgeworth_trusts=None, trapezoid_trusts=None, monotonic_dominances=None,
                    range_dominances=None, joint_monotonicities=None, output_min=None,
                    output_max=None, tolerance=0.0, spec=None):
    """Checks every declared lattice constraint exactly.

    Args:
      params: array-like ``[units, prod(lattice_sizes)]`` (or ``[V]`` for one
        unit), vertices row-major.
      lattice_sizes, monotonicities, ...: as in
        :func:`tf_lattice.ops.lattice_projection`.
      tolerance: violations at most this large count as holding.
      spec: a :class:`tf_lattice.specs.LatticeSpec` in place of
        ``lattice_sizes`` and the constraint arguments.

    Returns:
      A :class:`Certificate` with one :class:`ConstraintCheck` per declared
      constraint (each monotone/unimodal dimension, trust, dominance, joint
      monotonicity, and ``output_min``/``output_max``). ``worst_violation`` is
      the largest ``max(0, -(sum_i c_i theta_i))`` over the constraint's
      inequalities, written as in the definitions (e.g. ``theta[v] -
      theta[v + e_k]`` for an increasing dimension); ``location`` is
      ``(unit, vertex multi-index)``: the lower vertex of an edge, the lower
      corner of a cell, or for range dominance the vertex with index ``i``
      along the dominant and ``j`` along the weak dimension.

    Raises:
      TypeError: both ``spec`` and raw constraint arguments.
      ValueError: for invalid constraints or a ``params`` shape mismatch.
    """
    constraints = _lattice_constraints.lattice_spec(
        "certify_lattice", spec, lattice_sizes, monotonicities=monotonicities,
        unimodalities=unimodalities,
        edgeworth_trusts=edgeworth_trusts, trapezoid_trusts=trapezoid_trusts,
        monotonic_dominances=monotonic_dominances, range_dominances=range_dominances,
        joint_monotonicities=joint_monotonicities, output_min=output_min,
        output_max=output_max)
    values = np.asarray(params)
    if values.ndim == 1:
        values = values[None, :]
    num_vertices = constraints.num_vertices
    if values.ndim != 2 or values.shape[1] != num_vertices:
        raise ValueError(
            f"params must have shape [units, {num_vertices}] (prod(lattice_sizes="
            f"{list(constraints.lattice_sizes)})), got shape {np.shape(params)}")
    values = values.astype(np.float64)
    sizes = constraints.lattice_sizes
    program = _lattice_constraints.compile_constraints(constraints)
    checks = [_check_rows(values, rows, sizes, tolerance) for rows in program.rows]
    if constraints.output_min is not None:
        checks.append(_check_bound(values, constraints.output_min - values, "output_min",
                                   constraints.output_min, sizes, tolerance))
    if constraints.output_max is not None:
        checks.append(_check_bound(values, values - constraints.output_max, "output_max",
                                   constraints.output_max, sizes, tolerance))
    return Certificate("lattice", tuple(checks))


def _location(unit, vertex, sizes):
    return (int(unit), tuple(int(i) for i in np.unravel_index(int(vertex), sizes)))


def _check_rows(values, rows, sizes, tolerance):
    if values.size == 0 or rows.index.shape[0] == 0:
        return ConstraintCheck(rows.name, 0.0, None, tolerance)
    if not np.all(np.isfinite(values)):
        unit, vertex = np.argwhere(~np.isfinite(values))[0]
        return ConstraintCheck(rows.name, float("inf"), _location(unit, vertex, sizes), tolerance)
    terms = values[:, rows.index] * rows.coef[None]  # [units, R, 4], exact products
    sign, value = _exact_sum.exact_sum_np(terms)
    violation = np.where(sign < 0, np.maximum(-value, np.finfo(np.float64).tiny), 0.0)
    unit, row = np.unravel_index(int(np.argmax(violation)), violation.shape)
    worst = float(violation[unit, row])
    location = _location(unit, rows.anchor[row], sizes) if worst > 0 else None
    return ConstraintCheck(rows.name, worst, location, tolerance)


def _check_bound(values, excess, name, bound, sizes, tolerance):
    label = f"{name}={bound}"
    if values.size == 0:
        return ConstraintCheck(label, 0.0, None, tolerance)
    excess = np.where(np.isnan(excess), np.inf, excess)
    unit, vertex = np.unravel_index(int(np.argmax(excess)), excess.shape)
    worst = float(max(excess[unit, vertex], 0.0))
    if worst == 0.0 and excess[unit, vertex] == 0.0:
        worst = 0.0
    location = _location(unit, vertex, sizes) if worst > 0 else None
    return ConstraintCheck(label, worst, location, tolerance)
