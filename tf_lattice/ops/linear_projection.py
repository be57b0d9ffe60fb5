"""Euclidean projection of monotonic linear-layer weights onto their constraints.

For weights ``w`` of shape ``[d, units]`` each unit (column) is projected:

    minimize_v  ||v - w||^2
    subject to  v_i >= 0 (increasing input i), v_i <= 0 (decreasing input i)
                v_i >= v_j              for each monotonic dominance (i, j)
                v_i r_i >= v_j r_j      for each range dominance (i, j)
                sum_i |v_i| = 1               when normalization_order=1

with ``r_i = max_i - min_i`` the width of input ``i``'s range. Dominance pairs
must name increasing inputs (a dominance between decreasing inputs is the same
constraint on the negated inputs: flip them upstream). Only
``normalization_order=1`` is supported. The unit l1 sphere is not convex, but
its nearest point keeps the sign of every weight: an unconstrained input
appears only in the norm, and flipping the sign of its ``v_i`` towards
``sign(w_i)`` keeps the norm and every other constraint while moving closer.
So each unconstrained weight gets the orientation ``o_i = sign(w_i)`` (+1 at
zero), monotone ones ``o_i = sign_i``, and the projection is the convex problem
with ``o_i v_i >= 0`` and the affine equality ``sum_i o_i v_i = 1``. Without
dominances this is a simplex projection of ``o * w``, computed in closed form.

Dominances run a batched interior-point solver
(:mod:`tf_lattice.ops._quadratic_program`: the compiled op, or the portable
solver XLA-compiled inside graphs), then a finalize step that
makes every constraint hold exactly in the weights' dtype: signs are clipped,
the dominance graph (edges weak -> dominant) is swept upward in topological
order and downward in reverse, the two feasible sweeps are averaged and swept
upward once more with a relative margin of a few ulps on range dominances (so
that rounding cannot undo them), and the weights are divided by their l1 norm
when normalizing. ``exact=True`` solves with cvxpy (eager only).
"""

import functools

import numpy as np
import tensorflow as tf

from tf_lattice.ops import _common
from tf_lattice.ops import _compiled
from tf_lattice.ops import _exact_solve
from tf_lattice.ops import _pairwise
from tf_lattice.ops import _quadratic_program
from tf_lattice.specs import LinearSpec
from tf_lattice.specs import _vocabulary

DEFAULT_NUM_ITERATIONS = 40


def linear_projection(weights, *, monotonicities=None, monotonic_dominances=(),
                      range_dominances=(), input_ranges=None, normalization_order=None,
                      num_iterations=DEFAULT_NUM_ITERATIONS, exact=False,
                      implementation="kernel", spec=None):
    """Projects linear weights onto sign, dominance and normalization constraints.

    Args:
      weights: float32 or float64 tensor ``[d, units]``.
      monotonicities: None, one direction for every input, or ``d`` directions
        ("increasing", "decreasing", "none").
      monotonic_dominances: ``(dominant, weak)`` pairs of increasing inputs.
      range_dominances: ``(dominant, weak)`` pairs of increasing inputs.
      input_ranges: ``d`` pairs ``(min, max)``; required with range dominances.
      normalization_order: None or 1 (see the module docstring).
      num_iterations: interior-point iterations.
      exact: solve with cvxpy instead (eager only).
      implementation: "kernel" (the compiled interior-point op) or "portable"
        (stock TensorFlow ops, XLA-compiled inside graphs).
      spec: a :class:`tf_lattice.specs.LinearSpec` in place of the
        constraint arguments (which then stay unset); its ``num_inputs``
        must be ``d``.

    Returns:
      A tensor like ``weights`` satisfying every constraint (the normalization
      to rounding).

    Raises:
      TypeError: both ``spec`` and constraint arguments.
      ValueError: bad shapes or directions, a dominance on an input that is not
        increasing, a cycle among dominances, missing or empty input ranges, an
        unsupported normalization order.
      tf.errors.InvalidArgumentError: NaN in ``weights`` (eager or in graphs).
      RuntimeError: with ``exact=True``, no cvxpy solver found the projection
        to its tolerances (the message names the unit).
    """
    _common.check_implementation(implementation)
    with tf.name_scope("linear_projection"):
        weights = _common.float_matrix("weights", weights, ("d", "units"), known_axis=0)
        weights = _common.assert_no_nan("weights", weights, "linear_projection")
        spec = linear_spec("linear_projection", spec, weights.shape[0],
                           monotonicities=monotonicities,
                           monotonic_dominances=monotonic_dominances,
                           range_dominances=range_dominances, input_ranges=input_ranges,
                           normalization_order=normalization_order)
        problem = LinearProgram(spec)
        if exact:
            return tf.constant(exact_linear_projection(weights.numpy(), problem),
                               weights.dtype)
        if not problem.edges and not problem.normalization_order:
            # Signs only: a clip in the weights' own dtype (the same numbers as
            # clipping in float64 and rounding back).
            return problem.clip_signs(weights, axis=0)
        weights = _quadratic_program.check_target("weights", weights, "linear_projection")
        target = tf.transpose(tf.cast(weights, tf.float64))
        epsilon = np.finfo(weights.dtype.as_numpy_dtype).eps
        if not problem.edges:
            # Normalization without dominances: a simplex projection.
            orientation = problem.orientation(target)
            target = orientation * project_onto_simplex(orientation * target)
            return tf.cast(tf.transpose(problem.finalize(target, epsilon)), weights.dtype)

        def project(target):
            return problem.finalize(_solve(target, problem, num_iterations, implementation),
                                    epsilon)

        # Inside graphs: one graph function per configuration, XLA-compiled
        # for the portable solver.
        key = ("linear_projection", implementation, problem.key(), num_iterations,
               float(epsilon))
        call = (_compiled.call_traced_in_graphs if implementation == "kernel"
                else _compiled.call_compiled_in_graphs)
        final = call(key, project, target)
        return tf.cast(tf.transpose(final), weights.dtype)


def _solve(target, problem, num_iterations, implementation):
    """Interior-point projection of ``[units, d]`` float64 weights (nearly feasible)."""
    units = tf.shape(target)[0]
    matrix = tf.tile(tf.constant(problem.inequality_rows())[tf.newaxis], [units, 1, 1])
    if not problem.normalization_order:
        return _quadratic_program.project_onto_polyhedron(
            target, matrix, tf.zeros(tf.shape(matrix)[:2], tf.float64),
            num_iterations=num_iterations, implementation=implementation)
    orientation = problem.orientation(target)
    free = np.nonzero(problem.signs == 0)[0]
    if free.size:
        free_rows = (-tf.gather(orientation, free, axis=1)[:, :, tf.newaxis]
                     * tf.constant(np.eye(problem.size)[free])[tf.newaxis])
        matrix = tf.concat([matrix, free_rows], axis=1)
    return _quadratic_program.project_onto_polyhedron(
        target, matrix, tf.zeros(tf.shape(matrix)[:2], tf.float64),
        orientation[:, tf.newaxis, :], tf.ones([units, 1], tf.float64),
        num_iterations=num_iterations, implementation=implementation)

def project_onto_simplex(points):
    """Euclidean projection of each row onto ``{u : u >= 0, sum_i u_i = 1}``.

    With ``u`` sorted descending and ``c_j`` its prefix sums, the projection is
    ``max(points - t, 0)`` for ``t = (c_r - 1) / r`` at the largest ``r`` with
    ``u_r > (c_r - 1) / r`` (Held, Wolfe and Crowder, 1974).

    Args:
      points: float ``[units, d]``.

    Returns:
      ``[units, d]``, each row on the probability simplex.
    """
    ordered = tf.sort(points, axis=1, direction="DESCENDING")
    thresholds = (tf.cumsum(ordered, axis=1) - 1.0) / tf.cast(
        tf.range(1, tf.shape(points)[1] + 1), points.dtype)
    count = tf.reduce_sum(tf.cast(ordered > thresholds, tf.int32), axis=1, keepdims=True)
    threshold = tf.gather(thresholds, count - 1, axis=1, batch_dims=1)
    return tf.nn.relu(points - threshold)


def linear_spec(function, spec, num_inputs, **arguments):
    """The :class:`LinearSpec` of ``num_inputs`` weights a function works on.

    Either ``spec`` (validated, used as it is; its ``num_inputs`` must match)
    or the raw constraint ``arguments`` (parsed once, here).

    Raises:
      TypeError: both a spec and raw arguments.
      ValueError: raw arguments the spec refuses, or a spec of another size.
    """
    if spec is None:
        return LinearSpec.parse(num_inputs, **arguments)
    if not isinstance(spec, LinearSpec):
        raise TypeError(f"{function} spec must be a LinearSpec, got {type(spec).__name__}")
    given = sorted(name for name, value in arguments.items() if not _vocabulary.is_unset(value))
    if given:
        raise TypeError(f"{function} takes either spec or constraint arguments, got spec and "
                        f"{given}")
    if spec.num_inputs != num_inputs:
        raise ValueError(
            f"{function}: the spec declares {spec.num_inputs} inputs, the weights have "
            f"{num_inputs}")
    return spec


class LinearProgram:
    """The constraints of a :class:`LinearSpec` as arrays and projection steps.

    Attributes:
      spec: the :class:`LinearSpec`.
      size: ``d``.
      signs: float64 ``[d]``, 1 / -1 / 0 per input.
      dominances: ``(dominant, weak)`` monotonic dominance pairs.
      range_pairs: ``(dominant, weak)`` range dominance pairs.
      widths: float64 ``[d]`` input range widths (ones without ranges).
      edges: ``(weak, dominant)`` edges of the dominance graph.
      normalization_order: None or 1.
    """

    def __init__(self, spec):
        self.spec = spec
        self.size = spec.num_inputs
        self.signs = np.array(spec.monotonicities, np.float64)
        self.dominances = list(spec.monotonic_dominances)
        self.range_pairs = list(spec.range_dominances)
        self.widths = np.array(spec.widths if self.range_pairs else (1.0,) * self.size)
        # Edges weak -> dominant: the weak weight must not exceed the dominant one.
        self.edges = [(j, i) for i, j in self.dominances] + [(j, i) for i, j in self.range_pairs]
        self.normalization_order = spec.normalization_order

    def key(self):
        """A hashable value that determines every constraint (for caches)."""
        return (self.size, tuple(self.signs.tolist()), tuple(self.dominances),
                tuple(self.range_pairs), tuple(self.widths.tolist()),
                self.normalization_order)

    def orientation(self, target):
        """The sign each weight keeps under normalization, float64 ``[units, d]``.

        Monotone inputs keep their declared sign; the others keep the sign of
        ``target`` (+1 at zero), where the nearest point of the l1 sphere lies.
        """
        free = tf.where(target < 0, tf.constant(-1.0, tf.float64), tf.constant(1.0, tf.float64))
        return tf.where(tf.constant(self.signs != 0), tf.constant(self.signs), free)

    def inequality_rows(self):
        """The constraints as rows of ``G v <= 0``, float64 ``[M, d]``."""
        sign_rows = -np.diag(self.signs)[self.signs != 0]
        dominance = _pairwise.inequality_rows(
            [(j, i) for i, j in self.dominances], [1.0] * len(self.dominances),
            [1.0] * len(self.dominances), self.size)
        ranges = _pairwise.inequality_rows(
            [(j, i) for i, j in self.range_pairs],
            [self.widths[j] for _, j in self.range_pairs],
            [self.widths[i] for i, _ in self.range_pairs], self.size)
        rows = np.concatenate([sign_rows, dominance, ranges])
        if rows.shape[0] == 0:
            rows = np.zeros((1, self.size))
        return rows

    def clip_signs(self, weights, axis=1):
        """The nearest weights of the declared signs: ``max(w, 0)`` for
        increasing inputs, ``min(w, 0)`` for decreasing ones, ``w`` for the
        others; the inputs run along ``axis`` (1: ``[units, d]``, 0:
        ``[d, units]``)."""
        if not np.any(self.signs):
            return weights
        shape = (1, self.size) if axis == 1 else (self.size, 1)
        dtype = weights.dtype.as_numpy_dtype
        low = np.where(self.signs > 0, 0.0, -np.inf).astype(dtype).reshape(shape)
        high = np.where(self.signs < 0, 0.0, np.inf).astype(dtype).reshape(shape)
        if not np.any(self.signs < 0):
            return tf.maximum(weights, low)
        if not np.any(self.signs > 0):
            return tf.minimum(weights, high)
        return tf.minimum(tf.maximum(weights, low), high)

    def finalize(self, weights, output_epsilon):
        """Makes nearly feasible ``[units, d]`` float64 weights feasible exactly.

        Signs are clipped; dominances are swept per input column (see the
        module docstring); the l1 normalization divides each unit by its
        norm, a unit of norm 0 taking the fallback weights first (the
        declared signs, 1 for the other inputs, raised to the dominances).
        """
        margin = 16 * output_epsilon
        weights = self.clip_signs(weights)
        if self.edges:
            columns = tf.unstack(weights, axis=1)
            raised = self._raise(columns, margin)
            lowered = self._lower(columns, margin)
            weights = tf.stack(
                self._raise([(r + l) / 2 for r, l in zip(raised, lowered)], margin), axis=1)
        if self.normalization_order:
            fallback = np.array(self._raise(np.where(self.signs != 0, self.signs, 1.0), margin,
                                            np.maximum))
            norms = tf.reduce_sum(tf.abs(weights), axis=1, keepdims=True)
            weights = tf.where(norms <= 0, tf.constant(fallback[np.newaxis]), weights)
            weights = weights / tf.reduce_sum(tf.abs(weights), axis=1, keepdims=True)
        return weights

    def _requirements(self):
        """Per dominant input: (weak input, factor) with v_dominant >= factor v_weak."""
        needs = {i: [] for i in range(self.size)}
        for i, j in self.dominances:
            needs[i].append((j, 1.0, False))
        for i, j in self.range_pairs:
            needs[i].append((j, self.widths[j] / self.widths[i], True))
        return needs

    def _raise(self, columns, margin, maximum=tf.maximum):
        """Raises each dominant input's column to its weak inputs' (times the
        range factor and ``1 + margin``), in topological order; ``maximum``
        is ``tf.maximum`` for tensors, ``np.maximum`` for NumPy values."""
        columns = list(columns)
        needs = self._requirements()
        for node in _pairwise.topological_order(self.size, self.edges):
            for weak, factor, scaled in needs[node]:
                floor = columns[weak] * (factor * (1 + margin)) if scaled else columns[weak]
                columns[node] = maximum(columns[node], floor)
        return columns

    def _lower(self, columns, margin):
        columns = list(columns)
        limits = {j: [] for j in range(self.size)}
        for i, needs in self._requirements().items():
            for weak, factor, scaled in needs:
                limits[weak].append((i, factor, scaled))
        for node in reversed(_pairwise.topological_order(self.size, self.edges)):
            for dominant, factor, scaled in limits[node]:
                ceiling = (columns[dominant] * ((1 - margin) / factor) if scaled
                           else columns[dominant])
                columns[node] = tf.minimum(columns[node], ceiling)
        return columns


def exact_linear_projection(weights, problem):
    """The exact projection of each unit, solved with cvxpy (NumPy, float64 ``[d, units]``)."""
    import cvxpy as cp

    result = np.empty(weights.shape, np.float64)
    rows = problem.inequality_rows()

    def feasible(variable, orientation):
        constraints = [rows @ variable <= 0]
        if problem.normalization_order:
            constraints += [cp.multiply(orientation, variable) >= 0,
                            orientation @ variable == 1]
        return constraints

    for unit, target in enumerate(weights.astype(np.float64).T):
        orientation = np.where(problem.signs != 0, problem.signs,
                               np.where(target < 0, -1.0, 1.0))
        result[:, unit] = _exact_solve.projection(
            target, functools.partial(feasible, orientation=orientation),
            f"linear_projection, unit {unit}")
    return result
