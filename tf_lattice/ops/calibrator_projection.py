"""Euclidean projection of piecewise-linear calibrator outputs onto their shape constraints.

A calibrator with keypoints ``k_0 < ... < k_{K-1}`` has outputs ``o`` of
shape ``[units, K]``. With slopes ``s_i = (o_{i+1} - o_i) / (k_{i+1} - k_i)``
the constraints are

* monotonicity: ``s_i >= 0`` ("increasing") or ``s_i <= 0`` ("decreasing");
* convexity: ``s_{i-1} <= s_i`` ("convex") or ``s_{i-1} >= s_i`` ("concave"),
  convex in ``x`` also when keypoints are unevenly spaced;
* bounds: ``output_min <= o_i <= output_max``.

The projection minimises ``||o' - o||^2`` over the constrained set, per unit:

* monotonicity and/or bounds: exact and closed form, bounded isotonic
  regression (:func:`tf_lattice.ops.isotonic_projection`); bounds alone: clip;
* with convexity: a batched interior-point solve of the quadratic program
  (:mod:`tf_lattice.ops._quadratic_program`: the compiled op, or the portable
  solver XLA-compiled inside graphs), then a finalize step that makes the
  result satisfy every constraint exactly in floating point: slopes made
  non-decreasing (average of their running maximum and reverse running
  minimum), clipped to the monotone sign, the curve shifted or affinely
  squeezed into the bounds, and the slopes given a strictly increasing margin
  of a few ulps so that rounding cannot break convexity. The convex path
  computes in float64.

``exact=True`` solves the quadratic program with cvxpy instead (eager only,
NumPy in and out through TensorFlow tensors; for small models and tests).
Everything else is TensorFlow graph compatible, so Keras constraints can call
it inside a compiled train step.
"""

import functools

import numpy as np
import tensorflow as tf

from tf_lattice.ops import _bounds
from tf_lattice.ops import _common
from tf_lattice.ops import _compiled
from tf_lattice.ops import _exact_solve
from tf_lattice.ops import _quadratic_program
from tf_lattice.ops.isotonic_projection import isotonic_projection
from tf_lattice.ops.selection import select
from tf_lattice.specs import CalibratorSpec
from tf_lattice.specs import _vocabulary

DEFAULT_NUM_ITERATIONS = 40


def calibrator_projection(outputs, keypoints, *, monotonicity="none", convexity="none",
                          output_min=None, output_max=None,
                          num_iterations=DEFAULT_NUM_ITERATIONS, exact=False,
                          implementation="kernel", spec=None):
    """Projects calibrator outputs onto their monotonicity, convexity and bounds.

    Args:
      outputs: float32 or float64 tensor ``[units, K]``, the keypoint outputs.
      keypoints: strictly increasing keypoint inputs, ``[K]`` shared by every
        unit or ``[units, K]``.
      monotonicity: "increasing", "decreasing" or "none", or one per unit.
      convexity: "convex", "concave" or "none", or one per unit.
      output_min: scalar lower bound on every output, or None.
      output_max: scalar upper bound on every output, or None.
      num_iterations: interior-point iterations when convexity is
        constrained (ignored otherwise: those projections are exact).
      exact: solve the exact projection with cvxpy (eager only).
      implementation: "kernel" (the compiled isotonic projection and
        interior-point ops) or "portable" (stock TensorFlow ops).
      spec: a :class:`tf_lattice.specs.CalibratorSpec` in place of
        ``monotonicity``, ``convexity`` and the bounds (which then stay
        unset); its ``units`` must match ``outputs``. ``keypoints`` are
        still given (they may be learned).

    Returns:
      Projected outputs, the shape and dtype of ``outputs``, satisfying every
      constraint exactly.

    Raises:
      TypeError: both ``spec`` and direction or bound arguments.
      ValueError: bad shapes, dtypes or directions, keypoints not strictly
        increasing, ``output_min > output_max``, NaN bounds.
      tf.errors.InvalidArgumentError: NaN in ``outputs`` (eager or in graphs).
      RuntimeError: with ``exact=True``, no cvxpy solver found the projection
        to its tolerances (the message names the unit).
    """
    _common.check_implementation(implementation)
    with tf.name_scope("calibrator_projection"):
        outputs = _common.float_matrix("outputs", outputs, ("units", "K"), known_axis=0)
        outputs = _common.assert_no_nan("outputs", outputs, "calibrator_projection")
        units, size = outputs.shape
        keypoints = _check_keypoints(keypoints, outputs)
        monotonicities, convexities, lower, upper = unit_constraints(
            "calibrator_projection", spec, units, monotonicity=monotonicity,
            convexity=convexity, output_min=output_min, output_max=output_max)
        if exact:
            return tf.constant(
                exact_calibrator_projection(outputs.numpy(), keypoints.numpy(),
                                            monotonicities, convexities, lower, upper),
                outputs.dtype)
        lower, upper = _bounds.inward(lower, upper, outputs.dtype.as_numpy_dtype)
        if size < 3 or not any(convexities):
            return _monotone_bounded(outputs, monotonicities, lower, upper, implementation)
        if all(convexities):
            return _convex_projection(outputs, keypoints, monotonicities, convexities,
                                      lower, upper, num_iterations, implementation)
        # Only the units with a convexity constraint go through the
        # interior-point solve; the others keep their closed form.
        convex = [i for i, c in enumerate(convexities) if c]
        shaped = _convex_projection(
            tf.gather(outputs, convex), tf.gather(keypoints, convex),
            [monotonicities[i] for i in convex], [convexities[i] for i in convex],
            lower, upper, num_iterations, implementation)
        closed_form = _monotone_bounded(outputs, monotonicities, lower, upper, implementation)
        return tf.tensor_scatter_nd_update(closed_form, [[i] for i in convex], shaped)


def unit_constraints(function, spec, units, *, monotonicity="none", convexity="none",
                     output_min=None, output_max=None):
    """Per-unit directions and the bounds, from a spec or the raw arguments.

    Args:
      function: the caller's name, for messages.
      spec: None or a :class:`CalibratorSpec` of ``units`` calibrators.
      units: the number of units of the outputs.
      monotonicity, convexity, output_min, output_max: the raw arguments
        (parsed here, once, when there is no spec).

    Returns:
      ``(monotonicities, convexities, output_min, output_max)``: two tuples
      of ``units`` ints in ``{-1, 0, 1}`` and two floats or None.

    Raises:
      TypeError: both a spec and raw arguments.
      ValueError: an unknown direction or a wrong count, bad bounds, or a
        spec of another number of units.
    """
    if spec is None:
        return (_vocabulary.parse_per_item(monotonicity, units, _vocabulary.MONOTONICITIES,
                                           "monotonicity", "unit"),
                _vocabulary.parse_per_item(convexity, units, _vocabulary.CONVEXITIES,
                                           "convexity", "unit"),
                *_vocabulary.parse_bounds(output_min, output_max))
    if not isinstance(spec, CalibratorSpec):
        raise TypeError(f"{function} spec must be a CalibratorSpec, got {type(spec).__name__}")
    given = [name for name, value in (("monotonicity", monotonicity), ("convexity", convexity),
                                      ("output_min", output_min), ("output_max", output_max))
             if not _vocabulary.is_unset(value)]
    if given:
        raise TypeError(f"{function} takes either spec or {given}, not both")
    if spec.units != units:
        raise ValueError(f"{function}: the spec declares {spec.units} units, the outputs have "
                         f"{units}")
    return spec.unit_monotonicities, spec.unit_convexities, spec.output_min, spec.output_max


def _check_keypoints(keypoints, outputs):
    """Returns keypoints as a ``[units, K]`` tensor of the outputs' dtype.

    Known keypoints (eager, or constants in a graph, as a layer's fixed
    keypoints are) are checked here once and returned as a constant; others
    get a check in the graph.
    """
    keypoints = tf.convert_to_tensor(keypoints, dtype_hint=outputs.dtype, name="keypoints")
    if keypoints.dtype != outputs.dtype:
        keypoints = tf.cast(keypoints, outputs.dtype)
    units, size = outputs.shape
    if keypoints.shape.rank not in (1, 2) or keypoints.shape[-1] != size or (
            keypoints.shape.rank == 2 and keypoints.shape[0] != units):
        raise ValueError(
            f"keypoints must have shape [K] or [units, K] = [{units}, {size}] to match "
            f"outputs, got {keypoints.shape}")
    values = tf.get_static_value(keypoints)
    if values is None:
        if keypoints.shape.rank == 1:
            keypoints = tf.broadcast_to(keypoints[tf.newaxis], [units, size])
        tf.debugging.assert_positive(
            keypoints[:, 1:] - keypoints[:, :-1],
            message="calibrator_projection: keypoints must be strictly increasing")
        return keypoints
    values = np.broadcast_to(values, (units, size))
    bad = np.argwhere(~(np.diff(values, axis=1) > 0))
    if bad.size:
        unit, index = bad[0]
        raise ValueError(
            "keypoints must be strictly increasing; unit "
            f"{unit} has keypoints[{index}]={values[unit, index]} >= "
            f"keypoints[{index + 1}]={values[unit, index + 1]}")
    return tf.constant(values, outputs.dtype)


def _monotone_bounded(outputs, monotonicities, lower, upper, implementation):
    """Exact projection onto monotonicity and bounds (convexity ignored)."""
    if not any(monotonicities):
        return _bounds.clip(outputs, lower, upper)
    monotone = isotonic_projection(
        outputs, increasing=[m >= 0 for m in monotonicities], lower=lower, upper=upper,
        implementation=implementation)
    if all(monotonicities):
        return monotone
    return select(tf.constant([m != 0 for m in monotonicities]), monotone,
                  _bounds.clip(outputs, lower, upper))


def calibrator_inequalities(keypoints, monotonicities, convexities, lower, upper):
    """The constraints of each unit as ``G o <= h`` (rows scaled to unit norm).

    Rows: ``K-2`` convexity rows ``-c (1/h_{i-1}, -(1/h_{i-1} + 1/h_i), 1/h_i)
    . (o_{i-1}, o_i, o_{i+1}) <= 0`` with ``h_i = k_{i+1} - k_i``; ``K-1``
    monotonicity rows ``m (o_i - o_{i+1}) <= 0``; then ``o_i <= upper`` and
    ``-o_i <= -lower`` when given. Constraints a unit does not have are the
    inert row ``0 <= 1``.

    Args:
      keypoints: float64 ``[units, K]``.
      monotonicities, convexities: per-unit ints.
      lower, upper: bounds or None.

    Returns:
      ``(G, h)``: float64 ``[units, M, K]`` and ``[units, M]``.
    """
    units, size = keypoints.shape
    inverse_gap = 1.0 / (keypoints[:, 1:] - keypoints[:, :-1])
    convexity = tf.constant(convexities, tf.float64)[:, tf.newaxis]
    left = -convexity * inverse_gap[:, :-1]
    right = -convexity * inverse_gap[:, 1:]
    middle = -(left + right)
    norm = tf.sqrt(left ** 2 + middle ** 2 + right ** 2)
    norm = tf.where(norm > 0, norm, tf.ones_like(norm))
    eye = np.eye(size)
    convex_rows = sum(
        (coefficient / norm)[:, :, tf.newaxis] * tf.constant(eye[offset:offset + size - 2])
        for offset, coefficient in enumerate((left, middle, right)))
    monotonicity = np.array(monotonicities, np.float64)[:, np.newaxis, np.newaxis]
    monotone_rows = monotonicity * (eye[:-1] - eye[1:]) / np.sqrt(2.0)
    rows = [convex_rows, tf.constant(np.broadcast_to(monotone_rows, (units, size - 1, size)))]
    bounds = [tf.constant(np.array([[0.0 if c else 1.0] * (size - 2) for c in convexities])),
              tf.constant(np.array([[0.0 if m else 1.0] * (size - 1) for m in monotonicities]))]
    if upper is not None:
        rows.append(tf.constant(np.broadcast_to(eye, (units, size, size))))
        bounds.append(tf.fill([units, size], tf.constant(upper, tf.float64)))
    if lower is not None:
        rows.append(tf.constant(np.broadcast_to(-eye, (units, size, size))))
        bounds.append(tf.fill([units, size], tf.constant(-lower, tf.float64)))
    return tf.concat(rows, axis=1), tf.concat(bounds, axis=1)


def _convex_projection(outputs, keypoints, monotonicities, convexities, lower, upper,
                       num_iterations, implementation):
    """Interior-point projection with convexity, then the finalize step (float64).

    Inside graphs it is one graph function per configuration, XLA-compiled
    for the portable solver (see :mod:`tf_lattice.ops._compiled`).
    """
    epsilon = np.finfo(outputs.dtype.as_numpy_dtype).eps

    def project(values, knots):
        matrix, bound = calibrator_inequalities(
            knots, monotonicities, convexities, lower, upper)
        approximate = _quadratic_program.project_onto_polyhedron(
            values, matrix, bound, num_iterations=num_iterations,
            implementation=implementation)
        return finalize_calibrator(approximate, knots, monotonicities, convexities,
                                   lower, upper, epsilon)

    key = ("calibrator_projection", implementation, tuple(monotonicities),
           tuple(convexities), lower, upper, num_iterations, float(epsilon))
    call = (_compiled.call_traced_in_graphs if implementation == "kernel"
            else _compiled.call_compiled_in_graphs)
    outputs_64 = tf.cast(
        _quadratic_program.check_target("outputs", outputs, "calibrator_projection"),
        tf.float64)
    known = tf.get_static_value(keypoints)
    if known is None:
        final = call(key, project, outputs_64, tf.cast(keypoints, tf.float64))
    else:
        # Fixed keypoints are constants of the function (its key holds their
        # values), so the constraint rows are computed once, not every step.
        known = np.asarray(known, np.float64)
        final = call(key + (known.shape, known.tobytes()),
                     lambda values: project(values, tf.constant(known)), outputs_64)
    # The outputs held no NaN; outputs near the float64 limit overflow the
    # interior-point solve, and its NaN is refused by name, never returned.
    final = _common.assert_no_nan(
        "the projected outputs", final, "calibrator_projection",
        reason="the convexity solve overflowed float64: outputs (or slopes between "
               "keypoints) too large in magnitude")
    return tf.cast(final, outputs.dtype)


def finalize_calibrator(outputs, keypoints, monotonicities, convexities, lower, upper,
                        output_epsilon):
    """Makes nearly feasible float64 outputs satisfy every constraint exactly.

    Works in the convex orientation (concave units are negated, which flips
    their monotonicity and bounds). Slopes ``s`` are made non-decreasing by
    ``(cummax(s) + reverse_cummin(s)) / 2``, clipped to the monotone sign, the
    curve is rebuilt with the outputs' mean, then shifted (or affinely squeezed
    when too tall) into the bounds shrunk by a small margin; finally a ramp of
    ``delta * i`` is added to the slopes, with ``delta`` a few ulps of the
    output scale, so that rounding to ``output_epsilon`` precision cannot
    create a convexity violation.

    Args:
      outputs: float64 ``[units, K]``.
      keypoints: float64 ``[units, K]``, strictly increasing.
      monotonicities: per-unit ints (1, -1, 0).
      convexities: per-unit ints (1, -1, 0; 0 is treated as convex).
      lower: lower bound or None.
      upper: upper bound or None.
      output_epsilon: machine epsilon of the dtype the result will be cast to.

    Returns:
      float64 ``[units, K]`` outputs satisfying every constraint.
    """
    size = outputs.shape[1]
    orientation = np.array([1.0 if c >= 0 else -1.0 for c in convexities])
    sign = tf.constant(orientation, tf.float64)[:, tf.newaxis]
    direction = tf.constant(
        orientation * np.array(monotonicities, np.float64), tf.float64)[:, tf.newaxis]
    infinity = np.inf
    lo = np.where(orientation > 0, -infinity if lower is None else lower,
                  -infinity if upper is None else -upper)
    hi = np.where(orientation > 0, infinity if upper is None else upper,
                  infinity if lower is None else -lower)
    lo = tf.constant(lo, tf.float64)[:, tf.newaxis]
    hi = tf.constant(hi, tf.float64)[:, tf.newaxis]

    oriented = sign * outputs
    gaps = keypoints[:, 1:] - keypoints[:, :-1]
    slopes = (oriented[:, 1:] - oriented[:, :-1]) / gaps
    running_max = _running_extreme(tf.maximum, slopes, -np.inf)
    reverse_min = _running_extreme(tf.minimum, slopes, np.inf, reverse=True)
    slopes = (running_max + reverse_min) / 2
    slopes = tf.where(direction > 0, tf.nn.relu(slopes),
                      tf.where(direction < 0, -tf.nn.relu(-slopes), slopes))
    mean = tf.reduce_mean(oriented, axis=1, keepdims=True)

    first_pass = _fit_into_bounds(slopes, gaps, mean, lo, hi, tf.zeros_like(mean))
    scale = tf.reduce_max(tf.abs(first_pass), axis=1, keepdims=True)
    scale = tf.maximum(scale, tf.reduce_max(tf.abs(oriented), axis=1, keepdims=True))
    for bound in (lo, hi):
        scale = tf.maximum(scale, tf.where(tf.math.is_finite(bound), tf.abs(bound),
                                           tf.zeros_like(bound)))
    scale = tf.maximum(scale, np.finfo(np.float64).tiny)
    float64_epsilon = np.finfo(np.float64).eps
    delta = ((4 * output_epsilon + 16 * (size + 2) * float64_epsilon) * scale
             / tf.reduce_min(gaps, axis=1, keepdims=True))
    ramp = tf.range(size - 1, dtype=tf.float64)[tf.newaxis]
    ramp = tf.where(direction < 0, ramp - (size - 2), ramp)
    drift = delta * (size - 2) * tf.reduce_sum(gaps, axis=1, keepdims=True)
    room = drift + 4 * output_epsilon * scale
    degenerate = hi - lo <= 2 * room

    shaped = _fit_into_bounds(slopes, gaps, mean, lo, hi, room, delta * ramp)
    middle = tf.where(tf.math.is_finite(lo) & tf.math.is_finite(hi), (lo + hi) / 2,
                      tf.zeros_like(lo))
    shaped = tf.where(degenerate, middle * tf.ones_like(shaped), shaped)
    shaped = tf.minimum(tf.maximum(shaped, lo), hi)
    return sign * shaped


def _running_extreme(extreme, values, identity, reverse=False):
    """Running maximum or minimum along axis 1 of a ``[units, n]`` tensor, n static.

    Doubling steps, ``x_i <- extreme(x_i, x_{i - 2^j})`` (``x_{i + 2^j}`` when
    reversed): ``ceil(log2 n)`` elementwise ops and no loop in the graph; the
    values are those of a sequential scan (the extremes are exact).
    """
    size = values.shape[1]
    shift = 1
    while shift < size:
        if reverse:
            shifted = tf.pad(values[:, shift:], [[0, 0], [0, shift]], constant_values=identity)
        else:
            shifted = tf.pad(values[:, :-shift], [[0, 0], [shift, 0]], constant_values=identity)
        values = extreme(values, shifted)
        shift *= 2
    return values


def _fit_into_bounds(slopes, gaps, mean, lo, hi, room, margin=None):
    """Rebuilds a curve from slopes and moves it inside ``[lo + room, hi - room]``.

    The curve ``o_0 + cumsum(slopes * gaps)`` takes the given mean; it is then
    shifted into the shrunk bounds, or, when taller than them, mapped affinely
    onto them (a positive affine map keeps monotonicity and convexity). The
    optional ``margin`` (added to the slopes afterwards) perturbs the values by
    at most ``room``.
    """
    zero = tf.zeros_like(mean)
    rise = tf.concat([zero, tf.cumsum(slopes * gaps, axis=1)], axis=1)
    curve = rise - tf.reduce_mean(rise, axis=1, keepdims=True) + mean
    low, high = lo + room, hi - room
    bottom = tf.reduce_min(curve, axis=1, keepdims=True)
    top = tf.reduce_max(curve, axis=1, keepdims=True)
    width = high - low
    too_tall = top - bottom > width
    one = tf.ones_like(top)
    factor = tf.where(too_tall, width / tf.where(too_tall, top - bottom, one), one)
    squeezed = low + (rise - tf.reduce_min(rise, axis=1, keepdims=True)) * factor
    zero = tf.zeros_like(top)
    shift = (tf.where(tf.math.is_finite(low), tf.nn.relu(low - bottom), zero)
             - tf.where(tf.math.is_finite(high), tf.nn.relu(top - high), zero))
    shifted = curve + shift
    anchor = tf.where(too_tall, squeezed, shifted)[:, :1]
    scaled_slopes = slopes * factor
    if margin is not None:
        scaled_slopes = scaled_slopes + margin
    return anchor + tf.concat([zero, tf.cumsum(scaled_slopes * gaps, axis=1)], axis=1)


def exact_calibrator_projection(outputs, keypoints, monotonicities, convexities, lower,
                                upper):
    """The exact Euclidean projection, unit by unit, solved with cvxpy (NumPy).

    Args:
      outputs: ``[units, K]`` array.
      keypoints: ``[units, K]`` array.
      monotonicities, convexities: per-unit ints.
      lower, upper: bounds or None.

    Returns:
      float64 ``[units, K]`` array.
    """
    import cvxpy as cp

    def feasible(variable, knots, monotonicity, convexity):
        slopes = cp.multiply(cp.diff(variable), 1.0 / np.diff(knots))
        constraints = []
        if monotonicity and knots.shape[0] > 1:
            constraints.append(monotonicity * slopes >= 0)
        if convexity and knots.shape[0] > 2:
            constraints.append(convexity * cp.diff(slopes) >= 0)
        if lower is not None:
            constraints.append(variable >= lower)
        if upper is not None:
            constraints.append(variable <= upper)
        return constraints

    result = np.empty(outputs.shape, np.float64)
    for unit, (target, knots) in enumerate(zip(outputs.astype(np.float64),
                                               keypoints.astype(np.float64))):
        result[unit] = _exact_solve.projection(
            target,
            functools.partial(feasible, knots=knots, monotonicity=monotonicities[unit],
                              convexity=convexities[unit]),
            f"calibrator_projection, unit {unit}")
    return result
