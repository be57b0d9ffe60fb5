"""Projection of lattice parameters onto their shape constraints.

``lattice_projection`` maps each unit's vertex values ``x`` (row-major, see
DESIGN.md) to a point ``P(x)`` that satisfies every declared constraint
(defined precisely in :mod:`tf_lattice.ops._lattice_constraints`) and is close
to the Euclidean projection ``argmin_{theta feasible} ||theta - x||_2``.

Algorithm (identical in the C++/CUDA kernel and the pure-TF twin):

1. Constraint families, each with an exact projection:
   * a monotone dimension splits into independent 1-D chains along it; each
     chain is projected exactly by isotonic regression (the max-min formula
     ``x_i = max_{j<=i} min_{k>=i} mean(x_j..x_k)`` in the twin and, for
     chains of up to 8 vertices, in the kernel; pool adjacent violators
     for longer chains in the kernel, ``ops/cc/lib/isotonic.h``); a unimodal
     dimension gives two such families (the chains below and above the
     center), a trapezoid trust one family (the two end faces along the
     conditional dimension);
   * the other constraints are half-spaces of at most 4 vertices, grouped so
     that the half-spaces of a group touch disjoint vertices and are
     projected at once;
   * the output bounds are a box (clipping).
2. Dykstra's algorithm cycles through the families for ``num_iterations``
   cycles (stopping early once a cycle moves no value by more than
   ``tolerance * (1 + max |x|)``); it converges to the exact projection.
   The kernel's cycles are one code for both devices
   (``ops/cc/lib/lattice_dykstra.h``), templated on the memory layout of the
   values: the CPU runs up to 16 units at once, vertex-major, so that each
   family step is a loop over contiguous values (many chains and units) that
   the compiler vectorizes; the GPU runs one unit per thread over all units
   stored vertex-major. Each unit stops at its own converged cycle, so its
   result does not depend on the other units.
3. Finalize makes every constraint hold exactly. Every inequality has a
   *target*, its largest vertex index; visiting vertices in increasing index
   order, each vertex is clamped into ``[L, U]``, the largest lower and
   smallest upper bound that its inequalities (and the output bounds) put on
   it given the already final smaller vertices, then nudged by one ulp at a
   time (at most 4) until each of its inequalities holds in exact arithmetic
   (see :mod:`tf_lattice.ops._exact_sum`). Each inequality involves only its
   target and smaller vertices, so once its target is visited it is never
   touched again: if every clamp succeeded (``L <= U``) and every nudge
   converged, every inequality holds. The result is then re-checked exactly.
   A clamp can fail (``L > U``) when an inequality implied by several others
   is violated by rounding; the sweep is then retried from
   ``x + s * (1 + max|x|) / t * q`` for growing ``s`` (1e-12 ... 1e-3), where
   ``q`` is a fixed strictly feasible direction (``A q >= t > 0``, a linear
   program solved once per constraint set), which turns tiny violations into
   slack. The smallest shift whose sweep passes the exact check is kept; a
   unit for which none passes becomes the constant lattice ``clip(mean(x),
   output_min, output_max)``, which satisfies every constraint exactly (all
   differences are 0). Hence the output is always feasible.

4. Scale: a unit whose largest ``|x|`` passes ``2^60`` (float32; ``2^900``
   in float64) is projected scaled down by a power of two (exact) with its
   bounds, then scaled back; the rows are homogeneous, so exact feasibility
   survives, and a unit for which it does not (a value underflowed) becomes
   the constant lattice. Sums of values near the dtype's limit then cannot
   overflow.
5. Check: the kernel checks the tables on the host, on every device
   (``ops/cc/lib/lattice_projection_checks.h``), so that a malformed table
   is an ``InvalidArgumentError`` naming the entry. It checks and plans a
   set of table tensors once and keeps the result for the last few sets it
   saw, with references to their tensors: a layer passes the same
   constants on every call, and for a small lattice the check and the plan
   cost more than the projection itself. Parameters must be finite (NaN or
   infinite ones raise ``InvalidArgumentError`` naming the first one), and a
   unit whose result is not exactly feasible raises ``InvalidArgumentError``
   naming the constraints that fail. The declared constraints always admit the constant lattice, so
   this error means tables that contradict each other.

Several constraint sets: given a sequence of specs, consecutive blocks of
units have constraint sets of their own, and one op call
(``TfLattice>LatticeProjectionSets``) projects each block exactly as the
single-set op would project it alone; a layer whose units differ in their
constraints (a fused ensemble's lattices) is projected in one call.

With ``exact=True`` the projection is solved by cvxpy (small lattices) and
then finalized the same way (which moves it by at most the solver tolerance).

Set-up cost: the finalize's direction ``q`` is closed-form for monotonicities
and unimodalities alone and otherwise a linear program over all ``V``
vertices and ``R`` rows, so such constraint sets are refused above
``V x R = 2^32`` (``_lattice_constraints.MAX_INTERIOR_PROGRAM_SIZE``), and
``exact=True`` above ``2^25`` (``MAX_EXACT_PROGRAM_SIZE``), with a
``ValueError`` raised before any other work.
"""

import numpy as np
import tensorflow as tf

from tf_lattice.ops import _common
from tf_lattice.ops import _exact_solve
from tf_lattice.ops import _exact_sum
from tf_lattice.ops import _lattice_constraints
from tf_lattice.specs import LatticeSpec

#: Default Dykstra cycles; cycles stop early once converged.
DEFAULT_NUM_ITERATIONS = 300
#: Default early-stopping tolerance relative to ``1 + max |x|``. Dykstra
#: converges linearly and its per-cycle change shrinks with the distance to
#: the exact projection: on standard-normal all-monotone lattices (2^8, 3^6,
#: 4^4) a stop at 2e-5 leaves every unit within about 0.2% of the distance to
#: the exact projection (1e-6: 0.02%, 1e-4: 0.5%), ten times closer than 10
#: plain cycles; the declared target is 1%. Tighter tolerances pay many
#: cycles for digits that a training step does not use.
DEFAULT_TOLERANCE = {tf.float32: 2e-5, tf.float64: 2e-5}
_MAX_NUDGES = 4

tf.no_gradient("TfLattice>LatticeProjection")
tf.no_gradient("TfLattice>LatticeProjectionSets")


def lattice_projection(params, lattice_sizes=None, *, monotonicities=None, unimodalities=None,
                       edgeworth_trusts=None, trapezoid_trusts=None,
                       monotonic_dominances=None, range_dominances=None,
                       joint_monotonicities=None, output_min=None, output_max=None,
                       num_iterations=DEFAULT_NUM_ITERATIONS, tolerance=None, exact=False,
                       implementation="kernel", name=None, spec=None):
    """Projects lattice parameters onto their shape constraints.

    Computes, per unit, a point satisfying every declared constraint exactly
    and close to ``argmin ||theta - params[u]||_2`` over feasible ``theta``
    (Dykstra's algorithm over exact per-family projections, then a finalize
    step; see the module docstring). The constraints are defined in
    :mod:`tf_lattice.ops._lattice_constraints`. The op has no gradient.

    Args:
      params: float32/float64 tensor ``[units, V]``, ``V = prod(lattice_sizes)``,
        vertices row-major (last dimension fastest).
      lattice_sizes: list of ints ``>= 2`` (or None with ``spec``).
      monotonicities: None or one of "increasing"/"decreasing"/"none" per dimension.
      unimodalities: None or one of "valley"/"peak"/"none" per dimension.
      edgeworth_trusts: list of ``(main_dim, conditional_dim, direction)``,
        direction "increasing"/"decreasing".
      trapezoid_trusts: list of ``(main_dim, conditional_dim, direction)``.
      monotonic_dominances: list of ``(dominant_dim, weak_dim)``.
      range_dominances: list of ``(dominant_dim, weak_dim)``.
      joint_monotonicities: list of ``(dim_a, dim_b)``.
      output_min: None or lower bound on every vertex value.
      output_max: None or upper bound on every vertex value.
      num_iterations: maximum number of Dykstra cycles (int >= 0).
      tolerance: early-stopping tolerance relative to ``1 + max |params[u]|``
        (None: 2e-5, see ``DEFAULT_TOLERANCE``).
      exact: solve the projection with cvxpy instead (small lattices; eager).
      implementation: "kernel" (the fused C++/CUDA op) or "portable" (stock TF).
      name: optional name scope.
      spec: a :class:`tf_lattice.specs.LatticeSpec` in place of
        ``lattice_sizes`` and the constraint arguments (which then stay
        unset); layers pass the spec they built once. Or a sequence of
        specs with the same ``lattice_sizes``, each with ``units`` set
        (summing to the rows of ``params``): the first ``specs[0].units``
        rows are projected onto ``specs[0]``, the next ones onto
        ``specs[1]``, and so on, all in one op call.

    Returns:
      Tensor like ``params``: the projected parameters.

    Raises:
      TypeError: both ``spec`` and raw constraint arguments.
      ValueError: for invalid constraints (see
        :meth:`tf_lattice.specs.LatticeSpec.parse`), a sequence of specs
        that is empty, mixes lattice sizes, leaves ``units`` unset or whose
        ``units`` do not sum to the rows of ``params``, a
        ``params`` shape other than ``[units, prod(lattice_sizes)]``, a non-float
        dtype, a bad ``num_iterations`` or ``implementation``, or a lattice too
        large for the set-up (see
        :func:`tf_lattice.ops._lattice_constraints.check_projection_size`:
        ``V x R`` above ``2^32`` with trusts, dominances or joint
        monotonicities, above ``2^25`` with ``exact=True``).
      tf.errors.InvalidArgumentError: a NaN or infinite parameter (every
        implementation; the message names the first), or a unit for which no
        exactly feasible point was found (the message names the failing
        constraints; only contradictory tables can cause it).
    """
    _common.check_implementation(implementation)
    arguments = dict(
        monotonicities=monotonicities, unimodalities=unimodalities,
        edgeworth_trusts=edgeworth_trusts, trapezoid_trusts=trapezoid_trusts,
        monotonic_dominances=monotonic_dominances, range_dominances=range_dominances,
        joint_monotonicities=joint_monotonicities, output_min=output_min,
        output_max=output_max)
    if isinstance(spec, (list, tuple)):
        specs = _constraint_sets(spec)
        for each in specs:
            _lattice_constraints.lattice_spec("lattice_projection", each, lattice_sizes,
                                              **arguments)
    else:
        specs = [_lattice_constraints.lattice_spec("lattice_projection", spec, lattice_sizes,
                                                   **arguments)]
    for constraints in specs:
        _lattice_constraints.check_projection_size(constraints, exact=exact)
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)) \
            or num_iterations < 0:
        raise ValueError(f"num_iterations must be an int >= 0, got {num_iterations!r}")
    with tf.name_scope(name or "lattice_projection"):
        params = tf.convert_to_tensor(params, name="params")
        _common.check_float_dtype("params", params)
        _check_params_shape(params, specs[0])
        counts = [each.units for each in specs] if len(specs) > 1 else None
        if counts is not None and params.shape[0] is not None and params.shape[0] != sum(counts):
            raise ValueError(
                f"params has {params.shape[0]} rows but the specs' units sum to {sum(counts)} "
                f"({counts})")
        if tolerance is None:
            tolerance = DEFAULT_TOLERANCE[params.dtype]
        tolerance = float(tolerance)
        if not tolerance >= 0:
            raise ValueError(f"tolerance must be >= 0, got {tolerance}")
        programs = [_lattice_constraints.compile_constraints(each) for each in specs]
        bounds = [_lattice_constraints.working_bounds(each, params.dtype.as_numpy_dtype)
                  for each in specs]
        if implementation == "kernel" and not exact:
            return _kernel_projection(params, programs, bounds, counts, int(num_iterations),
                                      tolerance)
        if exact:
            with tf.control_dependencies([_assert_finite_params(params)]):
                params = tf.identity(params)
        parts = tf.split(params, counts) if counts is not None else [params]
        projected = [
            _exact_projection(part, program, bound) if exact else
            _portable_projection(part, program, bound, int(num_iterations), tolerance)
            for part, program, bound in zip(parts, programs, bounds)]
        return projected[0] if len(projected) == 1 else tf.concat(projected, axis=0)


def _constraint_sets(specs):
    """Checks a sequence of specs for one projection call: not empty, one
    ``lattice_sizes``, every ``units`` set."""
    specs = list(specs)
    if not specs:
        raise ValueError("lattice_projection needs at least one spec, got an empty sequence")
    for index, each in enumerate(specs):
        if not isinstance(each, LatticeSpec):
            raise TypeError(
                f"lattice_projection spec[{index}] must be a LatticeSpec, got {type(each).__name__}")
        if each.lattice_sizes != specs[0].lattice_sizes:
            raise ValueError(
                f"lattice_projection specs must share lattice_sizes: spec[{index}] has "
                f"{list(each.lattice_sizes)}, spec[0] {list(specs[0].lattice_sizes)}")
        if each.units is None:
            raise ValueError(
                f"lattice_projection spec[{index}] needs units (its number of params rows) "
                "when several specs are given")
    return specs


def _check_params_shape(params, constraints):
    num_vertices = constraints.num_vertices
    shape = params.shape
    if shape.rank is not None and shape.rank != 2:
        raise ValueError(
            f"params must have shape [units, {num_vertices}] (prod(lattice_sizes="
            f"{list(constraints.lattice_sizes)})), got shape {shape}")
    if shape.rank == 2 and shape[1] is not None and shape[1] != num_vertices:
        raise ValueError(
            f"params must have shape [units, {num_vertices}] (prod(lattice_sizes="
            f"{list(constraints.lattice_sizes)})), got shape {shape}")


def _assert_finite_params(params):
    """Asserts that every parameter is finite; the message names the first
    that is not, in the kernels' words."""
    bad = tf.reshape(tf.logical_not(tf.math.is_finite(params)), [-1])
    # (A trailing entry keeps the argmax and the gather defined when empty.)
    first = tf.argmax(tf.concat([tf.cast(bad, tf.int32), [0]], axis=0), output_type=tf.int64)
    value = tf.gather(tf.concat([tf.reshape(params, [-1]), tf.zeros([1], params.dtype)], 0),
                      first)
    vertices = tf.maximum(tf.shape(params, out_type=tf.int64)[-1], 1)
    return tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)),
        [tf.strings.format(
            "params[{}, {}] = {} is not finite: the lattice projection needs finite "
            "parameters (NaN or infinite parameters usually mean that training diverged)",
            (first // vertices, first % vertices, value))])


class _Bounds:
    """Output bounds as tensors broadcastable to ``[V, units]`` ([1, units] when
    scaled per unit), with their static presence."""

    def __init__(self, low, high, has_low, has_high):
        self.low, self.high = low, high
        self.has_low, self.has_high = has_low, has_high

    @classmethod
    def of(cls, bounds, dtype):
        """From the working bounds ``(low, high)`` (NumPy scalars, +-inf when absent)."""
        return cls(tf.constant(bounds[0], dtype), tf.constant(bounds[1], dtype),
                   bool(np.isfinite(bounds[0])), bool(np.isfinite(bounds[1])))

    def scaled(self, scale):
        return _Bounds(self.low * scale, self.high * scale, self.has_low, self.has_high)

    @property
    def any(self):
        return self.has_low or self.has_high


#: Units with values up to 2^SAFE_EXPONENT are projected as they are (the
#: kernel's SafeExponent), larger ones scaled down to that size.
_SAFE_EXPONENT = {tf.float32: 60, tf.float64: 900}


def _downscale(x0):
    """The kernel's per-unit power-of-two scale of ``x0 [V, units]``:
    ``(2^-e, 2^e, e > 0)``, each ``[1, units]``."""
    largest = tf.reduce_max(tf.abs(x0), axis=0, keepdims=True)
    return _common.power_of_two_downscale(largest, _SAFE_EXPONENT[x0.dtype])


# ---------------------------------------------------------------------------
# Pure-TensorFlow twin.


def _isotonic_tf(chains):
    """Exact non-decreasing isotonic regression of each row ``[..., L]``.

    ``y_i = max_{j <= i} min_{k >= i} mean(x_j..x_k)`` (equal to pool adjacent
    violators), computed densely in O(L^3) per chain.
    """
    length = chains.shape[-1]
    if length == 1:
        return chains
    zeros = tf.zeros_like(chains[..., :1])
    sums = tf.concat([zeros, tf.cumsum(chains, axis=-1)], axis=-1)
    j = np.arange(length)[:, None]
    k = np.arange(length)[None, :]
    counts = np.where(k >= j, k - j + 1, 1).astype(chains.dtype.as_numpy_dtype)
    means = (sums[..., None, 1:] - sums[..., :-1, None]) / counts  # [..., j, k]
    big = tf.constant(np.inf, chains.dtype)
    i = np.arange(length)
    # [..., j, i, k]: mean(j..k) where j <= i <= k.
    valid = (j[:, :, None] <= i[None, :, None]) & (i[None, :, None] <= k[None, :, :].reshape(1, 1, -1))
    expanded = tf.where(valid, means[..., :, None, :], big)
    inner = tf.reduce_min(expanded, axis=-1)  # [..., j, i]
    inner = tf.where(np.arange(length)[:, None] <= i[None, :], inner, -big)
    return tf.reduce_max(inner, axis=-2)


def _portable_projection(params, program, bounds, num_iterations, tolerance):
    dtype = params.dtype
    if params.shape[0] == 0:
        return tf.identity(params)
    with tf.control_dependencies([_assert_finite_params(params)]):
        x0 = tf.transpose(params)  # [V, units]
    down, up, scaled = _downscale(x0)
    original = _Bounds.of(bounds, dtype)
    x0 = x0 * down
    unit_bounds = original.scaled(down)
    low, high = unit_bounds.low, unit_bounds.high

    projections = []
    for _, chains in program.chain_families:
        flat = tf.constant(chains.reshape(-1, 1))
        shape = chains.shape

        def project_chains(y, flat=flat, shape=shape):
            values = tf.reshape(tf.gather_nd(y, flat), [shape[0], shape[1], -1])
            fitted = _isotonic_tf(tf.transpose(values, [0, 2, 1]))
            fitted = tf.reshape(tf.transpose(fitted, [0, 2, 1]), [-1, tf.shape(y)[1]])
            return tf.tensor_scatter_nd_update(y, flat, fitted)

        projections.append(project_chains)
    for index, coef in program.halfspace_groups:
        norm = np.sum(coef * coef, axis=1)
        flat = tf.constant(index.reshape(-1, 1))
        coef_t = tf.constant(coef[:, :, None], dtype)
        inv_norm = tf.constant((1.0 / norm)[:, None], dtype)
        n = index.shape[0]

        def project_halfspaces(y, flat=flat, coef_t=coef_t, inv_norm=inv_norm, n=n):
            values = tf.reshape(tf.gather_nd(y, flat), [n, 4, -1])
            slack = tf.reduce_sum(values * coef_t, axis=1)  # [n, units]
            step = tf.maximum(-slack, 0) * inv_norm
            update = tf.reshape(coef_t * step[:, None, :], [n * 4, -1])
            return tf.tensor_scatter_nd_add(y, flat, update)

        projections.append(project_halfspaces)
    if unit_bounds.any:
        projections.append(lambda y: tf.minimum(tf.maximum(y, low), high))

    x = x0
    if len(projections) == 1:
        x = projections[0](x)
    elif projections and num_iterations > 0:
        scale = 1 + tf.reduce_max(tf.abs(x0), axis=0)  # [units]
        threshold = tf.cast(tolerance, dtype) * scale

        def body(it, x, increments, active):
            x_start = x
            new_increments = []
            for project, increment in zip(projections, increments):
                y = x + increment
                x_new = project(y)
                new_increments.append(y - x_new)
                x = x_new
            x = tf.where(active, x, x_start)
            new_increments = [tf.where(active, n, o) for n, o in zip(new_increments, increments)]
            change = tf.reduce_max(tf.abs(x - x_start), axis=0)
            active = tf.logical_and(active, change > threshold)
            return it + 1, x, new_increments, active

        def cond(it, x, increments, active):
            return tf.logical_and(it < num_iterations, tf.reduce_any(active))

        increments = [tf.zeros_like(x0) for _ in projections]
        active = tf.ones_like(scale, dtype=tf.bool)
        _, x, _, _ = tf.while_loop(cond, body, [tf.constant(0), x0, increments, active])
    x = _finalize_tf(x, x0, program, unit_bounds) * up
    # A scaled unit that lost exact feasibility on the way back (an underflow)
    # becomes the constant lattice, as in the kernel.
    constant = tf.clip_by_value(tf.reduce_mean(x0, axis=0, keepdims=True) * up,
                                original.low, original.high)
    keep = tf.logical_or(tf.logical_not(scaled), _feasible_tf(x, program, original)[None, :])
    x = tf.where(keep, x, tf.broadcast_to(constant, tf.shape(x)))
    with tf.control_dependencies([_assert_feasible(x, program, original)]):
        return tf.transpose(x)


def _assert_feasible(x, program, bounds):
    """Asserts that every unit of ``x [V, units]`` is exactly feasible; the
    message names the first failing unit and the constraints (and bounds) it
    violates, as the kernel's does."""
    index, coef, _ = program.all_rows
    names = list(program.family_names)
    bounds_fail = tf.logical_not(tf.reduce_all(
        (x >= bounds.low) & (x <= bounds.high) & tf.math.is_finite(x), axis=0))  # [units]
    unit_fails = bounds_fail
    if index.shape[0]:
        values = tf.cast(tf.gather(x, index), tf.float64) * tf.constant(coef[..., None],
                                                                        tf.float64)
        row_fails = _exact_sum.exact_sign_tf(tf.transpose(values, [0, 2, 1])) < 0  # [R, units]
        unit_fails = unit_fails | tf.reduce_any(row_fails, axis=0)
    first = tf.argmax(tf.concat([tf.cast(unit_fails, tf.int32), [0]], axis=0))
    failing = [tf.reshape(tf.gather(tf.concat([bounds_fail, [False]], axis=0), first), [1])]
    if index.shape[0]:
        unit_rows = tf.gather(tf.concat([row_fails, tf.zeros_like(row_fails[:, :1])], axis=1),
                              first, axis=1)
        failing.insert(0, tf.math.unsorted_segment_max(
            tf.cast(unit_rows, tf.int32), program.row_families, len(names)) > 0)
    labels = tf.boolean_mask(tf.constant(names + ["output bounds"]), tf.concat(failing, axis=0))
    return tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(unit_fails)),
        [tf.strings.join([
            tf.strings.format("lattice projection found no point that satisfies every "
                              "constraint exactly for unit {}: even the constant lattice "
                              "violates ", first),
            tf.strings.reduce_join(labels, separator=", "),
            " (these constraints contradict one another)"])])


#: Relative sizes of the interior shifts tried when a sweep leaves a conflict.
_SHIFTS = (0.0, 1e-12, 1e-9, 1e-6, 1e-3)


def _finalize_tf(x, x0, program, bounds):
    """Finalize (module docstring) on ``x`` of shape ``[V, units]`` (``bounds``
    a ``_Bounds``)."""
    dtype = x.dtype
    low, high = bounds.low, bounds.high
    direction, margin = _lattice_constraints.interior_direction(program)
    shifts = _SHIFTS if margin > 0 else _SHIFTS[:1]
    scale = (1 + tf.reduce_max(tf.abs(x), axis=0, keepdims=True)) / max(margin, 1e-300)
    result = tf.minimum(tf.maximum(tf.reduce_mean(x0, axis=0, keepdims=True), low), high)
    result = tf.broadcast_to(result, tf.shape(x))
    # Later starts override earlier ones: the least perturbed feasible one wins.
    starts = [x + tf.constant(direction[:, None] * shift, dtype) * scale if shift else x
              for shift in reversed(shifts)]
    if margin > 0:
        starts.insert(0, _blend_toward_interior_tf(x, x0, program, bounds, direction))
    for start in starts:
        candidate = _sweep_tf(start, program, bounds)
        feasible = _feasible_tf(candidate, program, bounds)
        result = tf.where(feasible[None, :], candidate, result)
    return result


def _blend_toward_interior_tf(x, x0, program, bounds, direction):
    """``x + lam (p - x)`` with the smallest ``lam`` making it feasible.

    ``p = c + s q`` is strictly feasible: every row sums its coefficients to 0,
    so ``a . p = s a . q > 0``, and ``c``, ``s`` keep ``p`` inside the bounds.
    Each row ``a`` with ``a . x < 0`` needs ``lam >= -a.x / (a.p - a.x)``; each
    bound likewise. Rounding left over is repaired by the sweep.
    """
    dtype = x.dtype
    low, high = bounds.low, bounds.high
    size = 1 + tf.reduce_max(tf.abs(x), axis=0, keepdims=True)  # [1, units]
    mean = tf.reduce_mean(x0, axis=0, keepdims=True)
    if bounds.has_low and bounds.has_high:
        size = tf.minimum(size, (high - low) / 4)
    center = mean
    if bounds.has_low:
        center = tf.maximum(center, low + size)
    if bounds.has_high:
        center = tf.minimum(center, high - size)
    interior = center + tf.constant(direction[:, None], dtype) * size
    index, coef, _ = program.all_rows
    a_x = tf.reduce_sum(tf.gather(x, index) * tf.constant(coef[..., None], dtype), axis=1)
    a_p = tf.reduce_sum(tf.gather(interior, index) * tf.constant(coef[..., None], dtype), axis=1)
    tiny = tf.constant(np.finfo(dtype.as_numpy_dtype).tiny, dtype)  # smallest positive normal
    need = tf.where(a_x < 0, -a_x / tf.maximum(a_p - a_x, tiny), 0)
    lam = tf.reduce_max(need, axis=0, keepdims=True)
    if bounds.has_low:
        lam = tf.maximum(lam, tf.reduce_max(tf.where(
            x < low, (low - x) / tf.maximum(interior - x, tiny), 0), axis=0, keepdims=True))
    if bounds.has_high:
        lam = tf.maximum(lam, tf.reduce_max(tf.where(
            x > high, (x - high) / tf.maximum(x - interior, tiny), 0), axis=0, keepdims=True))
    lam = tf.minimum(lam, 1)
    return x + lam * (interior - x)


def _sweep_tf(x, program, bounds):
    """The ordered clamp-and-nudge sweep over the vertices of ``x [V, units]``."""
    dtype = x.dtype
    index, coef, offsets, levels = program.finalize_tables
    low, high = bounds.low, bounds.high
    up = tf.constant(np.inf, dtype)
    for level in levels:
        counts = offsets[level + 1] - offsets[level]
        width = int(counts.max(initial=0))
        if width == 0:
            x = tf.tensor_scatter_nd_update(
                x, level[:, None], tf.minimum(tf.maximum(tf.gather(x, level), low), high))
            continue
        # Rows of each target, padded to ``width`` with all-zero rows.
        rows = offsets[level][:, None] + np.arange(width)[None, :]
        present = np.arange(width)[None, :] < counts[:, None]
        rows = np.where(present, rows, 0)
        row_index = np.where(present[..., None], index[rows], 0)
        row_coef = np.where(present[..., None], coef[rows], 0.0)
        is_target = (row_index == level[:, None, None]) & (row_coef != 0)
        target_coef = np.sum(np.where(is_target, row_coef, 0.0), axis=-1)  # [n, w]
        other_coef = np.where(is_target, 0.0, row_coef)
        other_values = tf.gather(x, row_index)  # [n, w, 4, units]
        other_sum = tf.reduce_sum(other_values * tf.constant(other_coef[..., None], dtype), axis=2)
        bound = -other_sum / tf.constant(np.where(target_coef == 0, 1.0, target_coef)[..., None], dtype)
        is_lower = tf.constant((target_coef > 0)[..., None])
        is_upper = tf.constant((target_coef < 0)[..., None])
        lower = tf.maximum(tf.reduce_max(tf.where(is_lower, bound, -up), axis=1), low)
        upper = tf.minimum(tf.reduce_min(tf.where(is_upper, bound, up), axis=1), high)
        value = tf.gather(x, level)
        value = tf.where(lower <= upper, tf.minimum(tf.maximum(value, lower), upper), lower)
        terms64 = tf.cast(other_values, tf.float64) * tf.constant(other_coef[..., None], tf.float64)
        terms64 = tf.transpose(terms64, [0, 1, 3, 2])  # [n, w, units, 4]
        tcoef = tf.constant(target_coef[..., None], tf.float64)
        for _ in range(_MAX_NUDGES):
            target_term = tf.cast(value, tf.float64)[:, None, :] * tcoef
            sign = _exact_sum.exact_sign_tf(tf.concat([terms64, target_term[..., None]], axis=-1))
            violated = sign < 0
            need_up = tf.reduce_any(violated & is_lower, axis=1)
            need_down = tf.reduce_any(violated & is_upper, axis=1)
            value = tf.where(need_up & ~need_down, tf.math.nextafter(value, up), value)
            value = tf.where(need_down & ~need_up, tf.math.nextafter(value, -up), value)
        value = tf.minimum(tf.maximum(value, low), high)
        x = tf.tensor_scatter_nd_update(x, level[:, None], value)
    return x


def _feasible_tf(x, program, bounds):
    """Bool ``[units]``: every inequality and bound holds exactly on ``x [V, units]``."""
    index, coef, _ = program.all_rows
    ok = tf.reduce_all((x >= bounds.low) & (x <= bounds.high) & tf.math.is_finite(x), axis=0)
    if index.shape[0] == 0:
        return ok
    values = tf.cast(tf.gather(x, index), tf.float64) * tf.constant(coef[..., None], tf.float64)
    sign = _exact_sum.exact_sign_tf(tf.transpose(values, [0, 2, 1]))  # [R, units]
    return ok & tf.reduce_all(sign >= 0, axis=0)


# ---------------------------------------------------------------------------
# Fused kernel.


def _kernel_projection(params, programs, bounds, counts, num_iterations, tolerance):
    """One op call: TfLattice>LatticeProjection for one program (``counts``
    None), TfLattice>LatticeProjectionSets for ``counts[s]`` rows of each."""
    from tf_lattice import _native  # pylint: disable=import-outside-toplevel
    ops = _native.load_ops()
    op_name = "tf_lattice_lattice_projection" + ("_sets" if counts is not None else "")
    if not hasattr(ops, op_name):
        raise _native.OpsNotBuiltError(
            f"the compiled kernel library has no {op_name} op; rebuild "
            f"with `{_native.REBUILD_COMMAND}` or pass implementation='portable'")
    inputs = [_kernel_inputs(program, bound, params.dtype)
              for program, bound in zip(programs, bounds)]
    if counts is None:
        return ops.tf_lattice_lattice_projection(
            params=params, num_iterations=num_iterations, tolerance=tolerance,
            family_names=programs[0].family_names, **inputs[0])
    return ops.tf_lattice_lattice_projection_sets(
        params=params, unit_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        num_iterations=num_iterations, tolerance=tolerance,
        family_names=[name for program in programs for name in program.family_names],
        family_counts=[len(program.family_names) for program in programs],
        **{name: [each[name] for each in inputs] for name in inputs[0]})


def _kernel_inputs(program, bounds, dtype):
    """The op's table inputs as constants, built once per program and dtype.

    They are created eagerly (``tf.init_scope``) so that one set serves every
    call, eager or inside any ``tf.function``. Under a TF1 graph (an
    Estimator's) ``tf.init_scope`` enters that graph instead: the constants
    then belong to it and are not kept. They live in host memory, where the
    kernel of every device reads (and checks) them.
    """
    with tf.init_scope():
        eager = tf.executing_eagerly()
    cache = program.__dict__.setdefault("_kernel_inputs", {}) if eager else {}
    key = (dtype, float(bounds[0]), float(bounds[1]))
    if key not in cache:
        tables = kernel_tables(program)
        direction, margin = _lattice_constraints.interior_direction(program)
        np_dtype = dtype.as_numpy_dtype
        with tf.init_scope(), tf.device("/cpu:0"):
            cache[key] = {
                "chain_index": tf.constant(tables["chain_index"], tf.int64),
                "chain_families": tf.constant(tables["chain_families"], tf.int64),
                "halfspace_index": tf.constant(tables["halfspace_index"], tf.int64),
                "halfspace_coef": tf.constant(tables["halfspace_coef"].astype(np_dtype)),
                "halfspace_groups": tf.constant(tables["halfspace_groups"], tf.int64),
                "row_index": tf.constant(tables["row_index"], tf.int64),
                "row_coef": tf.constant(tables["row_coef"].astype(np_dtype)),
                "row_offsets": tf.constant(tables["row_offsets"], tf.int64),
                "row_family": tf.constant(program.row_families, tf.int64),
                "interior_direction": tf.constant(np.asarray(direction, np.float64)),
                "interior_margin": tf.constant(float(margin), tf.float64),
                "bounds": tf.constant(np.array(bounds, np_dtype)),
            }
    return cache[key]


def kernel_tables(program):
    """Flat int64/float64 arrays describing ``program`` to the fused kernel.

    Returns:
      dict with ``chain_index`` [sum chains*length], ``chain_families``
      [F, 3] (offset, num_chains, length), ``halfspace_index`` [H, 4],
      ``halfspace_coef`` [H, 4], ``halfspace_groups`` [G + 1] offsets,
      ``row_index`` [R, 4], ``row_coef`` [R, 4], ``row_offsets`` [V + 1]
      (rows sorted by target vertex).
    """
    cached = getattr(program, "_kernel_tables", None)
    if cached is not None:
        return cached
    families, flat, offset = [], [], 0
    for _, chains in program.chain_families:
        families.append((offset, chains.shape[0], chains.shape[1]))
        flat.append(chains.reshape(-1))
        offset += chains.size
    group_offsets, h_index, h_coef = [0], [], []
    for index, coef in program.halfspace_groups:
        h_index.append(index)
        h_coef.append(coef)
        group_offsets.append(group_offsets[-1] + index.shape[0])
    row_index, row_coef, row_offsets, _ = program.finalize_tables
    tables = {
        "chain_index": np.concatenate(flat) if flat else np.zeros(0, np.int64),
        "chain_families": np.array(families, np.int64).reshape(-1, 3),
        "halfspace_index": np.concatenate(h_index) if h_index else np.zeros((0, 4), np.int64),
        "halfspace_coef": np.concatenate(h_coef) if h_coef else np.zeros((0, 4)),
        "halfspace_groups": np.array(group_offsets, np.int64),
        "row_index": row_index,
        "row_coef": row_coef,
        "row_offsets": row_offsets,
    }
    program._kernel_tables = tables
    return tables


# ---------------------------------------------------------------------------
# Exact projection (cvxpy).


def _exact_projection(params, program, bounds):
    import scipy.sparse as sparse  # pylint: disable=import-outside-toplevel
    values = np.asarray(params.numpy(), np.float64)
    index, coef, _ = program.all_rows
    num_vertices = program.constraints.num_vertices
    matrix = None
    if index.shape[0]:
        rows = np.repeat(np.arange(index.shape[0]), 4)
        dense = sparse.coo_matrix(
            (coef.reshape(-1), (rows, index.reshape(-1))),
            shape=(index.shape[0], num_vertices)).toarray()
        # Constraint families can share rows (a joint monotonicity declared
        # as (a, b) and (b, a), ...); repeated rows make the interior-point
        # solver fail, and all-zero rows say nothing.
        dense = np.unique(dense[np.any(dense != 0, axis=1)], axis=0)
        matrix = sparse.csr_matrix(dense) if dense.shape[0] else None
    lower, upper = (float(bound) for bound in bounds)

    def feasible(theta):
        constraints = [] if matrix is None else [matrix @ theta >= 0]
        if np.isfinite(lower):
            constraints.append(theta >= lower)
        if np.isfinite(upper):
            constraints.append(theta <= upper)
        return constraints

    solutions = []
    for unit in values:
        nearest = _exact_solve.nearest_point(unit, feasible)
        # Where no solver succeeds, the finalize repairs the unit itself.
        solutions.append(unit if nearest is None else nearest)
    solved = tf.constant(np.array(solutions).reshape(values.shape), params.dtype)
    checked = _Bounds.of(bounds, params.dtype)
    result = _finalize_tf(tf.transpose(solved), tf.transpose(params), program, checked)
    with tf.control_dependencies([_assert_feasible(result, program, checked)]):
        return tf.transpose(result)
