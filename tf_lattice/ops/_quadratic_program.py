"""A batched interior-point solver for small Euclidean projection problems.

For each row ``u`` of a batch it solves

    minimize_x  1/2 ||x - y_u||^2
    subject to  G_u x <= h_u      (M inequalities)
                E_u x  = e_u      (P equalities, optional)

with Mehrotra's predictor-corrector primal-dual method (Nocedal and Wright,
*Numerical Optimization*, section 16.6). Each iteration solves, for every row
at once, the reduced Newton system

    [I + G^T diag(z / s) G   E^T] [dx]   [-r_d - G^T (z r_p - r_c) / s]
    [E                        0 ] [dn] = [-r_e                        ]

so the cost per iteration is ``O(units (N + P)^3 + units M N^2)``: meant for
calibrators, categorical calibrators and linear layers (N up to a few
hundred), not lattices. Rows whose duality measure has fallen below the
tolerance stop moving, so extra iterations are harmless. The result is
feasible only to the solver's tolerance; callers follow it with a finalize
step that makes it feasible exactly.

Two implementations compute the same iterates (up to rounding):

* ``"kernel"``: the compiled op ``TfLattice>PolyhedronProjection`` (CPU; the
  math is in ``ops/cc/lib/polyhedron_projection.h``), in eager mode and in
  graphs, without XLA. It factors the Newton matrix once per iteration within
  the bandwidth of ``G`` and stops each row on its own.
* ``"portable"``: stock TensorFlow ops with batched dense Cholesky factors
  (equalities through the Schur complement, as in the kernel); every
  operation is XLA compatible, so callers compile it inside graphs (see
  :mod:`tf_lattice.ops._compiled`). Custom ops cannot run inside an
  XLA-compiled function, so ``"kernel"`` called while one is being traced
  computes with the portable ops, which XLA then compiles.

Inequalities that do not apply to some row are written as ``0 <= 1`` (a zero
row of ``G`` with ``h = 1``). ``M = 0`` and ``P = 0`` are allowed.
"""

import tensorflow as tf

from tf_lattice import _native
from tf_lattice.ops import _common
from tf_lattice.ops import _compiled

#: The largest target magnitude the solve takes: its float64 arithmetic
#: squares targets and slopes, and beyond ``2^500`` that overflows (the kernel
#: then returns NaN, the XLA-compiled portable solver zeros). Callers refuse
#: larger targets by name with `check_target`, outside compiled functions.
MAX_TARGET_MAGNITUDE = 2.0 ** 500


def check_target(name, target, op_name):
    """``target`` after checking ``|target| <= MAX_TARGET_MAGNITUDE`` (see
    `_common.assert_magnitude_at_most`); ``name`` and ``op_name`` are the
    caller's argument and function, for the message."""
    return _common.assert_magnitude_at_most(
        name, target, op_name, MAX_TARGET_MAGNITUDE,
        "the interior-point solve squares them in float64")


STEP_FRACTION = 0.99

tf.no_gradient("TfLattice>PolyhedronProjection")


def project_onto_polyhedron(target, inequality_matrix, inequality_bound,
                            equality_matrix=None, equality_bound=None,
                            num_iterations=40, tolerance=1e-11, implementation="kernel"):
    """Solves the batched projection problem above in float64.

    The result has no gradient (projections are not differentiated).

    Args:
      target: ``[units, N]`` float32 or float64, the points ``y`` to project.
      inequality_matrix: ``[units, M, N]``, ``G``.
      inequality_bound: ``[units, M]``, ``h``.
      equality_matrix: ``[units, P, N]`` ``E`` or None.
      equality_bound: ``[units, P]`` ``e`` or None.
      num_iterations: interior-point iterations (Python int >= 0).
      tolerance: rows stop once the square root of the mean complementarity
        ``s.z / M`` and the residuals fall below ``tolerance`` times their
        scale ``1 + max |y_u| + max |h_u|``. The kernel reads it as float32.
      implementation: "kernel" (the compiled op) or "portable" (stock TF ops).

    Returns:
      ``[units, N]`` float64, the approximate projections (float32 operands
      are read as float64).

    Raises:
      ValueError: a bad ``implementation``, or equalities given by halves.
      tf.errors.InvalidArgumentError: (kernel) mismatched shapes or a
        non-finite operand; the message names the argument, unit and index.
    """
    _common.check_implementation(implementation)
    if (equality_matrix is None) != (equality_bound is None):
        raise ValueError("equality_matrix and equality_bound must be given together")
    if implementation == "kernel" and not _compiled.in_xla_context():
        return _kernel_projection(target, inequality_matrix, inequality_bound,
                                  equality_matrix, equality_bound, num_iterations, tolerance)
    return _portable_projection(target, inequality_matrix, inequality_bound,
                                equality_matrix, equality_bound, num_iterations, tolerance)


def _kernel_projection(target, inequality_matrix, inequality_bound, equality_matrix,
                       equality_bound, num_iterations, tolerance):
    """Runs ``TfLattice>PolyhedronProjection`` on the CPU (it has no GPU kernel)."""
    operands = [tf.convert_to_tensor(t) for t in (target, inequality_matrix, inequality_bound)]
    if equality_matrix is None:
        units, size = tf.shape(operands[0])[0], tf.shape(operands[0])[1]
        operands += [tf.zeros([units, 0, size], operands[0].dtype),
                     tf.zeros([units, 0], operands[0].dtype)]
    else:
        operands += [tf.convert_to_tensor(t) for t in (equality_matrix, equality_bound)]
    # One dtype for all: float32 only when every operand is float32.
    dtype = tf.float32 if all(t.dtype == tf.float32 for t in operands) else tf.float64
    operands = [tf.cast(t, dtype) if t.dtype != dtype else t for t in operands]
    with tf.device("/CPU:0"):
        return _native.load_ops().tf_lattice_polyhedron_projection(
            *operands, num_iterations=num_iterations, tolerance=tolerance)


#: Relative pivot of the Schur complement below which an equality counts as
#: dependent on earlier ones (the kernel's kPolyhedronDependentPivot).
DEPENDENT_PIVOT = 1e-13


def _semidefinite_solve(schur, rhs):
    """``u`` with ``S u = r`` for each row's positive semidefinite ``S``
    (``schur``, ``[units, P, P]``, static ``P``) and ``r`` (``rhs``,
    ``[units, P]``), by Cholesky as in the kernel: a pivot at most
    `DEPENDENT_PIVOT` times the largest diagonal entry of ``S`` marks an
    equality that repeats earlier ones, and its entry of ``u`` is 0."""
    size = schur.shape[1]
    largest = tf.reduce_max(tf.linalg.diag_part(schur), axis=1)
    factor = [[None] * size for _ in range(size)]
    dependent = []
    zero = tf.zeros_like(largest)
    for j in range(size):
        pivot = schur[:, j, j] - sum((factor[j][k] ** 2 for k in range(j)), zero)
        dependent.append(pivot <= DEPENDENT_PIVOT * largest)
        root = tf.where(dependent[j], zero, tf.sqrt(tf.maximum(pivot, 0.0)))
        factor[j][j] = root
        safe_root = tf.where(dependent[j], tf.ones_like(root), root)
        for i in range(j + 1, size):
            total = schur[:, i, j] - sum((factor[i][k] * factor[j][k] for k in range(j)), zero)
            factor[i][j] = tf.where(dependent[j], zero, total / safe_root)
    forward = []
    for i in range(size):
        total = rhs[:, i] - sum((factor[i][k] * forward[k] for k in range(i)), zero)
        forward.append(_divide_unless(dependent[i], total, factor[i][i]))
    solution = [None] * size
    for i in reversed(range(size)):
        total = forward[i] - sum((factor[k][i] * solution[k] for k in range(i + 1, size)), zero)
        solution[i] = _divide_unless(dependent[i], total, factor[i][i])
    return tf.stack(solution, axis=1) if size else tf.zeros_like(rhs)


def _divide_unless(dependent, numerator, denominator):
    """``numerator / denominator``, 0 where ``dependent``."""
    safe = tf.where(dependent, tf.ones_like(denominator), denominator)
    return tf.where(dependent, tf.zeros_like(numerator), numerator / safe)


def _portable_projection(target, inequality_matrix, inequality_bound, equality_matrix,
                         equality_bound, num_iterations, tolerance):
    """The twin: the same iteration in stock TensorFlow ops, all rows at once."""
    # Every operand in float64, whatever the callers' dtypes: constants below
    # are typed from these tensors, never inferred from Python numbers.
    target = tf.cast(target, tf.float64)
    g = tf.cast(inequality_matrix, tf.float64)
    h = tf.cast(inequality_bound, tf.float64)
    # With no inequalities (M = 0) mu is 0, as in the kernel.
    num_inequalities = tf.maximum(tf.cast(tf.shape(h)[1], tf.float64), 1.0)
    has_equalities = equality_matrix is not None
    if has_equalities:
        e_matrix = tf.cast(equality_matrix, tf.float64)
        e_bound = tf.cast(equality_bound, tf.float64)
        num_equalities = e_matrix.shape[1]
    size = target.shape[1]
    # (The maxima of empty rows are -inf: clipped to 0.)
    scale = (1.0 + tf.maximum(tf.reduce_max(tf.abs(target), axis=1, keepdims=True), 0.0)
             + tf.maximum(tf.reduce_max(tf.abs(h), axis=1, keepdims=True), 0.0))

    def gx(matrix, x):
        return tf.linalg.matvec(matrix, x)

    def gtx(matrix, v):
        return tf.linalg.matvec(matrix, v, transpose_a=True)

    x = target
    s = tf.maximum(h - gx(g, x), tf.ones_like(h))
    z = tf.ones_like(s)
    nu = tf.zeros([tf.shape(target)[0], num_equalities], tf.float64) if has_equalities else None
    identity = tf.eye(size, dtype=tf.float64)

    def residuals(x, s, z, nu):
        dual = x - target + gtx(g, z)
        if has_equalities:
            dual += gtx(e_matrix, nu)
        primal = gx(g, x) + s - h
        equality = gx(e_matrix, x) - e_bound if has_equalities else None
        return dual, primal, equality

    def newton_step(moving, weights, dual, primal, equality, complementarity, s, z):
        matrix = identity + tf.matmul(g * weights[:, :, tf.newaxis], g, transpose_a=True)
        # Rows that have stopped factor the identity instead. A moving row
        # whose matrix is singular to rounding gets a NaN factor (Cholesky
        # does not raise), so its step is not finite and it stops, as in the
        # kernel.
        still = moving[:, :, tf.newaxis]
        rhs = -dual - gtx(g, (z * primal - complementarity) / s)
        factor = tf.linalg.cholesky(tf.where(still, matrix, identity))
        if has_equalities:
            # The Schur complement S = E A^-1 E^T = V^T V with V = L^-1 E^T,
            # as in the kernel: S dnu = V^T u + r_e with u = L^-1 rhs, then
            # dx = L^-T (u - V dnu).
            u = tf.linalg.triangular_solve(factor, rhs[:, :, tf.newaxis], lower=True)
            v = tf.linalg.triangular_solve(factor, tf.transpose(e_matrix, [0, 2, 1]),
                                           lower=True)
            dnu = _semidefinite_solve(tf.matmul(v, v, transpose_a=True),
                                      tf.matmul(v, u, transpose_a=True)[:, :, 0] + equality)
            dx = tf.linalg.triangular_solve(factor, u - tf.matmul(v, dnu[:, :, tf.newaxis]),
                                            lower=True, adjoint=True)[:, :, 0]
        else:
            dx = tf.linalg.cholesky_solve(factor, rhs[:, :, tf.newaxis])
            dx, dnu = dx[:, :, 0], None
        ds = -primal - gx(g, dx)
        dz = (-complementarity - z * ds) / s
        return dx, ds, dz, dnu

    def max_step(value, change):
        one = tf.ones_like(value)
        ratio = tf.where(change < 0, -value / tf.where(change < 0, change, -one), one)
        # The minimum over no inequalities is +inf: the step is 1.
        return tf.minimum(tf.reduce_min(ratio, axis=1, keepdims=True),
                          tf.constant(1.0, tf.float64))

    def iterate(iteration, unused_running, x, s, z, nu):
        dual, primal, equality = residuals(x, s, z, nu)
        mu = tf.reduce_sum(s * z, axis=1, keepdims=True) / num_inequalities
        # Where a constraint is active with a zero multiplier (projecting a
        # point that is already a projection), x converges like sqrt(mu): mu
        # is driven to the square of the tolerance.
        error = tf.sqrt(tf.maximum(mu, 0.0))
        error = tf.maximum(error, tf.reduce_max(tf.abs(primal), axis=1, keepdims=True))
        error = tf.maximum(error, tf.reduce_max(tf.abs(dual), axis=1, keepdims=True))
        if has_equalities:
            error = tf.maximum(error, tf.reduce_max(tf.abs(equality), axis=1, keepdims=True))
        moving = error > tolerance * scale
        weights = tf.minimum(z / s, 1e30)
        # Predictor (affine scaling) step.
        dx, ds, dz, dnu = newton_step(moving, weights, dual, primal, equality, s * z, s, z)
        alpha = tf.minimum(max_step(s, ds), max_step(z, dz))
        mu_affine = tf.reduce_sum((s + alpha * ds) * (z + alpha * dz), axis=1,
                                  keepdims=True) / num_inequalities
        centering = (mu_affine / tf.maximum(mu, 1e-300)) ** 3
        # Corrector step.
        complementarity = s * z + ds * dz - centering * mu
        dx, ds, dz, dnu = newton_step(moving, weights, dual, primal, equality,
                                       complementarity, s, z)
        alpha = STEP_FRACTION * tf.minimum(max_step(s, ds), max_step(z, dz))
        new = [x + alpha * dx, s + alpha * ds, z + alpha * dz]
        if has_equalities:
            new.append(nu + alpha * dnu)
        finite = tf.reduce_all(
            tf.math.is_finite(tf.concat(new, axis=1)), axis=1, keepdims=True)
        # A row stops once converged, or when the Newton system of a row that
        # is converged to rounding becomes singular.
        step = tf.logical_and(moving, finite)
        x = tf.where(step, new[0], x)
        s = tf.where(step, new[1], s)
        z = tf.where(step, new[2], z)
        if has_equalities:
            nu = tf.where(step, new[3], nu)
        return iteration + 1, tf.reduce_any(step), x, s, z, nu

    if not has_equalities:
        nu = tf.zeros([tf.shape(target)[0], 0], tf.float64)
    # Stops early once every row has stopped moving.
    _, _, x, _, _, _ = tf.while_loop(
        lambda iteration, running, *_: tf.logical_and(iteration < num_iterations, running),
        iterate, (tf.constant(0), tf.constant(True), x, s, z, nu))
    return x
