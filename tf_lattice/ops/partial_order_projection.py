"""Euclidean projection of categorical calibrator outputs onto a partial order.

For each unit (row) the projection solves

    minimize_y  ||y - values||^2
    subject to  y_a <= y_b for every declared pair (a, b)
                output_min <= y_c <= output_max

(isotonic regression on a directed acyclic graph). It runs a batched
interior-point solver to high accuracy (:mod:`tf_lattice.ops._quadratic_program`:
the compiled op, or the portable solver XLA-compiled inside graphs), then a finalize step that makes every
pair hold exactly in floating point: the result is clipped to the bounds, then
two feasible points are formed, one by raising entries in topological order
(``y_b <- max(y_b, y_a)``) and one by lowering them in reverse order
(``y_a <- min(y_a, y_b)``), and their average is returned (an average of two
feasible points is feasible, and float rounding keeps the order). Everything is
TensorFlow graph compatible except ``exact=True``, which solves the problem
with cvxpy (eager only).
"""

import numpy as np
import tensorflow as tf

from tf_lattice.ops import _bounds
from tf_lattice.ops import _common
from tf_lattice.ops import _compiled
from tf_lattice.ops import _exact_solve
from tf_lattice.ops import _pairwise
from tf_lattice.ops import _quadratic_program
from tf_lattice.specs import CategoricalSpec

DEFAULT_NUM_ITERATIONS = 40


def partial_order_projection(values, pairs=(), *, output_min=None, output_max=None,
                             num_iterations=DEFAULT_NUM_ITERATIONS, exact=False,
                             implementation="kernel", spec=None):
    """Projects each row of ``values`` onto a partial order and bounds.

    Args:
      values: float32 or float64 tensor ``[units, C]``.
      pairs: ``(a, b)`` index pairs, each meaning ``values[:, a] <= values[:, b]``.
      output_min: lower bound or None.
      output_max: upper bound or None.
      num_iterations: interior-point iterations.
      exact: solve with cvxpy instead (eager only).
      implementation: "kernel" (the compiled interior-point op) or "portable"
        (stock TensorFlow ops, XLA-compiled inside graphs).
      spec: a :class:`tf_lattice.specs.CategoricalSpec` in place of ``pairs``
        and the bounds (which then stay unset): its ``category_order`` and
        bounds; ``C`` may exceed its ``num_buckets`` (a default bucket).

    Returns:
      A tensor like ``values`` satisfying every pair and bound exactly.

    Raises:
      TypeError: both ``spec`` and pairs or bounds.
      ValueError: bad shapes or pairs, a cycle among the pairs (named in the
        message), NaN bounds or ``output_min > output_max``.
      tf.errors.InvalidArgumentError: NaN in ``values`` (eager or in graphs).
      RuntimeError: with ``exact=True``, no cvxpy solver found the projection
        to its tolerances (the message names the unit).
    """
    _common.check_implementation(implementation)
    with tf.name_scope("partial_order_projection"):
        values = _common.float_matrix("values", values, ("units", "C"), known_axis=1)
        values = _common.assert_no_nan("values", values, "partial_order_projection")
        size = values.shape[1]
        if spec is None:
            pairs = _pairwise.check_pairs(pairs, size)
            check_acyclic(pairs, size)
            lower, upper = _bounds.check_output_bounds(output_min, output_max)
        else:
            pairs, lower, upper = _from_spec(spec, size, pairs, output_min, output_max)
        if exact:
            return tf.constant(
                exact_partial_order_projection(values.numpy(), pairs, lower, upper),
                values.dtype)
        lower, upper = _bounds.inward(lower, upper, values.dtype.as_numpy_dtype)
        if not pairs:
            return _bounds.clip(values, lower, upper)
        target = tf.cast(
            _quadratic_program.check_target("values", values, "partial_order_projection"),
            tf.float64)
        rows = _pairwise.inequality_rows(pairs, [1.0] * len(pairs), [1.0] * len(pairs), size)
        bounds = [np.zeros(len(pairs))]
        if upper is not None:
            rows = np.concatenate([rows, np.eye(size)])
            bounds.append(np.full(size, upper))
        if lower is not None:
            rows = np.concatenate([rows, -np.eye(size)])
            bounds.append(np.full(size, -lower))
        bounds = np.concatenate(bounds)

        def project(target):
            units = tf.shape(target)[0]
            matrix = tf.tile(tf.constant(rows)[tf.newaxis], [units, 1, 1])
            bound = tf.tile(tf.constant(bounds)[tf.newaxis], [units, 1])
            approximate = _quadratic_program.project_onto_polyhedron(
                target, matrix, bound, num_iterations=num_iterations,
                implementation=implementation)
            return finalize_partial_order(approximate, pairs, lower, upper)

        # Inside graphs: one graph function per configuration, XLA-compiled
        # for the portable solver.
        key = ("partial_order_projection", implementation, size, tuple(pairs), lower, upper,
               num_iterations)
        call = (_compiled.call_traced_in_graphs if implementation == "kernel"
                else _compiled.call_compiled_in_graphs)
        final = call(key, project, target)
        return tf.cast(final, values.dtype)


def _from_spec(spec, size, pairs, output_min, output_max):
    """The pairs and bounds of a :class:`CategoricalSpec` over ``size`` entries."""
    if not isinstance(spec, CategoricalSpec):
        raise TypeError(
            f"partial_order_projection spec must be a CategoricalSpec, got {type(spec).__name__}")
    if len(pairs) or output_min is not None or output_max is not None:
        raise TypeError("partial_order_projection takes either spec or pairs and bounds")
    if size < spec.num_buckets:
        raise ValueError(f"partial_order_projection: the spec declares {spec.num_buckets} "
                         f"categories, the values have {size}")
    return spec.category_order, spec.output_min, spec.output_max


def check_acyclic(pairs, size, argument="pairs"):
    """Raises ValueError naming a cycle if the pairs ``a <= b`` contain one."""
    cycle = _pairwise.find_cycle(size, pairs)
    if cycle is not None:
        chain = " <= ".join(str(node) for node in cycle)
        raise ValueError(
            f"{argument} contain a cycle ({chain}): the only feasible values would be "
            "equal along it; drop a pair or merge the entries")


def finalize_partial_order(values, pairs, lower, upper):
    """Makes nearly feasible ``[units, C]`` values satisfy every pair exactly.

    Args:
      values: ``[units, C]`` tensor.
      pairs: acyclic ``(a, b)`` pairs meaning ``values[:, a] <= values[:, b]``.
      lower, upper: bounds or None.

    Returns:
      The average of the raising and lowering sweeps of the clipped values.
    """
    size = values.shape[1]
    order = _pairwise.topological_order(size, pairs)
    predecessors = {b: [a for a, bb in pairs if bb == b] for b in range(size)}
    successors = {a: [b for aa, b in pairs if aa == a] for a in range(size)}
    columns = tf.unstack(_bounds.clip(values, lower, upper), axis=1)
    raised = list(columns)
    for node in order:
        for a in predecessors[node]:
            raised[node] = tf.maximum(raised[node], raised[a])
    lowered = list(columns)
    for node in reversed(order):
        for b in successors[node]:
            lowered[node] = tf.minimum(lowered[node], lowered[b])
    return (tf.stack(raised, axis=1) + tf.stack(lowered, axis=1)) / 2


def exact_partial_order_projection(values, pairs, lower, upper):
    """The exact projection of each row, solved with cvxpy (NumPy, float64)."""

    def feasible(variable):
        constraints = [variable[a] <= variable[b] for a, b in pairs]
        if lower is not None:
            constraints.append(variable >= lower)
        if upper is not None:
            constraints.append(variable <= upper)
        return constraints

    result = np.empty(values.shape, np.float64)
    for unit, target in enumerate(values.astype(np.float64)):
        result[unit] = _exact_solve.projection(target, feasible,
                                               f"partial_order_projection, unit {unit}")
    return result
