"""Euclidean projection of monotonic linear-layer weights onto their constraints.

For weights ``w`` of shape ``[d, units]`` each unit (column) is projected:

    minimize_v  ||v - w||^2
    subject to  v_i >= 0 (increasing input i), v_i <= 0 (decreasing input i)
                v_i >= v_j              for each monotonic dominance (i, j)
                v_i r_i >= v_j r_j      for each range dominance (i, j)
                sum_{monotone i} |v_i| = 1   when normalization_order=1

with ``r_i = max_i - min_i`` the width of input ``i``'s range. Dominance pairs
must name increasing inputs (a dominance between decreasing inputs is the same
constraint on the negated inputs: flip them upstream). Only
``normalization_order=1`` is supported: with every monotone weight's sign fixed,
``sum |v_i| = 1`` is the affine equality ``sum_i sign_i v_i = 1``, so the set
stays convex; non-monotone weights are left free.

The projection runs a batched interior-point solver, then a finalize step that
makes every constraint hold exactly in the weights' dtype: signs are clipped,
the dominance graph (edges weak -> dominant) is swept upward in topological
order and downward in reverse, the two feasible sweeps are averaged and swept
upward once more with a relative margin of a few ulps on range dominances (so
that rounding cannot undo them), and monotone weights are divided by their l1
norm when normalizing. ``exact=True`` solves with cvxpy (eager only).
"""

import numpy as np
import tensorflow as tf

from tf_lattice.ops import _common
from tf_lattice.ops import _directions
from tf_lattice.ops import _pairwise
from tf_lattice.ops import _quadratic_program

DEFAULT_NUM_ITERATIONS = 40


def linear_projection(weights, *, monotonicities=None, monotonic_dominances=(),
                      range_dominances=(), input_ranges=None, normalization_order=None,
                      num_iterations=DEFAULT_NUM_ITERATIONS, exact=False):
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

    Returns:
      A tensor like ``weights`` satisfying every constraint (the normalization
      to rounding).

    Raises:
      ValueError: bad shapes or directions, a dominance on an input that is not
        increasing, a cycle among dominances, missing or empty input ranges, an
        unsupported normalization order or one without monotone inputs.
    """
    with tf.name_scope("linear_projection"):
        weights = tf.convert_to_tensor(weights, name="weights")
        _common.check_float_dtype("weights", weights)
        if weights.shape.rank != 2 or weights.shape[0] is None:
            raise ValueError(
                f"weights must have shape [d, units] with known d, got {weights.shape}")
        problem = LinearConstraints(weights.shape[0], monotonicities, monotonic_dominances,
                                    range_dominances, input_ranges, normalization_order)
        if exact:
            return tf.constant(exact_linear_projection(weights.numpy(), problem),
                               weights.dtype)
        target = tf.transpose(tf.cast(weights, tf.float64))
        if not problem.needs_solver:
            final = problem.finalize(target, np.finfo(weights.dtype.as_numpy_dtype).eps)
            return tf.cast(tf.transpose(final), weights.dtype)
        units = tf.shape(target)[0]
        rows = problem.inequality_rows()
        matrix = tf.tile(tf.constant(rows)[tf.newaxis], [units, 1, 1])
        bound = tf.zeros([units, rows.shape[0]], tf.float64)
        if problem.normalization_order:
            equality = tf.tile(tf.constant(problem.signs[np.newaxis, np.newaxis]),
                               [units, 1, 1])
            approximate = _quadratic_program.project_onto_polyhedron(
                target, matrix, bound, equality, tf.ones([units, 1], tf.float64),
                num_iterations=num_iterations)
        else:
            approximate = _quadratic_program.project_onto_polyhedron(
                target, matrix, bound, num_iterations=num_iterations)
        final = problem.finalize(approximate, np.finfo(weights.dtype.as_numpy_dtype).eps)
        return tf.cast(tf.transpose(final), weights.dtype)


class LinearConstraints:
    """Validated constraints on the weights of one linear layer (``d`` inputs).

    Attributes:
      signs: float64 ``[d]``, 1 / -1 / 0 per input.
      dominances: ``(dominant, weak)`` monotonic dominance pairs.
      range_pairs: ``(dominant, weak)`` range dominance pairs.
      widths: float64 ``[d]`` input range widths (ones without ranges).
      normalization_order: None or 1.
    """

    def __init__(self, size, monotonicities, monotonic_dominances, range_dominances,
                 input_ranges, normalization_order):
        self.size = size
        if monotonicities is None or isinstance(monotonicities, str):
            parsed = (_directions.canonical_monotonicity(monotonicities, "monotonicities"),) * size
        else:
            parsed = tuple(_directions.canonical_monotonicity(m, f"monotonicities[{i}]")
                           for i, m in enumerate(monotonicities))
            if len(parsed) != size:
                raise ValueError(
                    f"monotonicities must have one direction per input ({size}), got "
                    f"{len(parsed)}")
        self.signs = np.array(parsed, np.float64)
        self.dominances = _pairwise.check_pairs(monotonic_dominances, size,
                                                "monotonic_dominances")
        self.range_pairs = _pairwise.check_pairs(range_dominances, size, "range_dominances")
        for argument, pairs in (("monotonic_dominances", self.dominances),
                                ("range_dominances", self.range_pairs)):
            for pair in pairs:
                if any(self.signs[i] != 1 for i in pair):
                    raise ValueError(
                        f"{argument} entry {pair} needs both inputs declared 'increasing'; "
                        f"monotonicities are {parsed}")
        self.widths = np.ones(size)
        if self.range_pairs:
            self.widths = _input_widths(input_ranges, size)
        # Edges weak -> dominant: the weak weight must not exceed the dominant one.
        self.edges = [(j, i) for i, j in self.dominances] + [(j, i) for i, j in self.range_pairs]
        cycle = _pairwise.find_cycle(size, self.edges)
        if cycle is not None:
            raise ValueError(
                "monotonic_dominances and range_dominances contain a cycle "
                f"({' <= '.join(str(n) for n in cycle)}; inputs listed weak to dominant)")
        if normalization_order not in (None, 1):
            raise ValueError(
                f"normalization_order must be None or 1, got {normalization_order!r}")
        if normalization_order and not self.signs.any():
            raise ValueError("normalization_order=1 needs at least one monotone input")
        self.normalization_order = normalization_order

    @property
    def needs_solver(self):
        """False when clipping signs is already the exact projection."""
        return bool(self.edges or self.normalization_order)

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

    def finalize(self, weights, output_epsilon):
        """Makes nearly feasible ``[units, d]`` float64 weights feasible exactly."""
        margin = 16 * output_epsilon
        columns = [self._signed(c, i) for i, c in enumerate(tf.unstack(weights, axis=1))]
        if self.edges:
            raised = self._raise(columns, margin)
            lowered = self._lower(columns, margin)
            columns = self._raise([(r + l) / 2 for r, l in zip(raised, lowered)], margin)
        if self.normalization_order:
            monotone = [i for i in range(self.size) if self.signs[i]]
            total = tf.add_n([tf.abs(columns[i]) for i in monotone])
            fallback = self._raise([tf.fill(tf.shape(columns[0]), s) for s in self.signs],
                                   margin)
            empty = total <= 0
            columns = [tf.where(empty, f, c) if self.signs[i] else c
                       for i, (c, f) in enumerate(zip(columns, fallback))]
            total = tf.add_n([tf.abs(columns[i]) for i in monotone])
            columns = [c / total if self.signs[i] else c for i, c in enumerate(columns)]
        return tf.stack(columns, axis=1)

    def _signed(self, column, index):
        if self.signs[index] > 0:
            return tf.nn.relu(column)
        if self.signs[index] < 0:
            return -tf.nn.relu(-column)
        return column

    def _requirements(self):
        """Per dominant input: (weak input, factor) with v_dominant >= factor v_weak."""
        needs = {i: [] for i in range(self.size)}
        for i, j in self.dominances:
            needs[i].append((j, 1.0, False))
        for i, j in self.range_pairs:
            needs[i].append((j, self.widths[j] / self.widths[i], True))
        return needs

    def _raise(self, columns, margin):
        columns = list(columns)
        needs = self._requirements()
        for node in _pairwise.topological_order(self.size, self.edges):
            for weak, factor, scaled in needs[node]:
                floor = columns[weak] * (factor * (1 + margin)) if scaled else columns[weak]
                columns[node] = tf.maximum(columns[node], floor)
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


def _input_widths(input_ranges, size):
    if input_ranges is None:
        raise ValueError("range_dominances need input_ranges: one (min, max) per input")
    ranges = [tuple(r) for r in input_ranges]
    if len(ranges) != size or any(len(r) != 2 for r in ranges):
        raise ValueError(
            f"input_ranges must hold one (min, max) pair per input ({size}), got {ranges!r}")
    widths = np.array([float(high) - float(low) for low, high in ranges])
    bad = np.nonzero(~(widths > 0))[0]
    if bad.size:
        raise ValueError(f"input_ranges[{bad[0]}] = {ranges[bad[0]]!r} must have min < max")
    return widths


def exact_linear_projection(weights, problem):
    """The exact projection of each unit, solved with cvxpy (NumPy, float64 ``[d, units]``)."""
    import cvxpy as cp

    result = np.empty(weights.shape, np.float64)
    rows = problem.inequality_rows()
    for unit, target in enumerate(weights.astype(np.float64).T):
        variable = cp.Variable(target.shape[0])
        constraints = [rows @ variable <= 0]
        if problem.normalization_order:
            constraints.append(problem.signs @ variable == 1)
        cp.Problem(cp.Minimize(cp.sum_squares(variable - target)),
                   constraints).solve(solver=cp.CLARABEL)
        result[:, unit] = variable.value
    return result
