"""Exact certificate of a monotonic linear layer's weight constraints."""

import math

import numpy as np

from tf_lattice.constraints import _exact
from tf_lattice.constraints.certificate import Certificate, ConstraintCheck
from tf_lattice.specs import LinearSpec
from tf_lattice.specs._vocabulary import is_unset
from tf_lattice.specs.linear import parse_inequalities


def certify_linear(weights, *, monotonicities=None, monotonic_dominances=(),
                   range_dominances=(), input_ranges=None, normalization_order=None,
                   tolerance=0.0, subject="linear", spec=None):
    """Checks a linear layer's declared weight constraints exactly.

    For weights ``w`` of shape ``[d, units]`` (input ``i``, unit ``u``):

    * monotonicity: ``w_i >= 0`` ("increasing") or ``w_i <= 0``
      ("decreasing"), located at ``(i, unit)``;
    * monotonic dominance ``(i, j)``: ``w_i >= w_j``, at ``(unit, (i, j))``;
    * range dominance ``(i, j)``: ``w_i r_i >= w_j r_j`` with ``r = max - min``
      of each input range, decided exactly, at ``(unit, (i, j))``;
    * normalization (``normalization_order=1``): ``sum_i |w_i| = 1`` over
      every input, per unit, computed with an exactly rounded sum; an equality holds only
      to rounding, so this check's tolerance is ``d`` epsilons of the
      weights' dtype.

    Args:
      weights: ``[d, units]`` (or ``[d]``, one unit).
      monotonicities: None or a sequence of ``d`` directions.
      monotonic_dominances: ``(dominant, weak)`` input pairs.
      range_dominances: ``(dominant, weak)`` input pairs.
      input_ranges: ``d`` pairs ``(min, max)``; required with range dominances.
      normalization_order: None or 1.
      tolerance: violations up to this size count as holding.
      subject: the name reported in the certificate.
      spec: a :class:`tf_lattice.specs.LinearSpec` in place of the
        constraint arguments (which are parsed into one otherwise).

    Returns:
      A :class:`Certificate`, one check per declared constraint family.

    Raises:
      TypeError: both ``spec`` and constraint arguments.
      ValueError: bad shapes, directions, pairs or ranges (see
        :meth:`tf_lattice.specs.LinearSpec.parse`).
    """
    weights = np.asarray(weights)
    epsilon = np.finfo(weights.dtype if weights.dtype == np.float32 else np.float64).eps
    weights = weights.astype(np.float64)
    if weights.ndim == 1:
        weights = weights[:, None]
    if weights.ndim != 2:
        raise ValueError(f"weights must have shape [d, units], got shape {weights.shape}")
    size = weights.shape[0]
    if spec is None:
        # Any declared inequalities are checked, also those that the
        # projection refuses (a cycle of dominances, a dominance over an input
        # that is not increasing).
        signs, dominances, ranges, input_ranges = parse_inequalities(
            size, monotonicities, monotonic_dominances, range_dominances, input_ranges)
        if normalization_order not in (None, 1) or isinstance(normalization_order, bool):
            raise ValueError(
                f"normalization_order must be None or 1, got {normalization_order!r}")
    else:
        _check_spec(spec, size, monotonicities, monotonic_dominances, range_dominances,
                    input_ranges, normalization_order)
        signs, dominances, ranges = (spec.monotonicities, spec.monotonic_dominances,
                                     spec.range_dominances)
        input_ranges, normalization_order = spec.input_ranges, spec.normalization_order
    signs = np.array(signs)
    checks = []
    if signs.any():
        violation = -signs[:, None] * weights
        checks.append(_check("monotonicity", violation, tolerance, lambda index: index))
    dominances = list(dominances)
    if dominances:
        strong = weights[[i for i, _ in dominances]].T
        weak = weights[[j for _, j in dominances]].T
        checks.append(_check("monotonic_dominance", weak - strong, tolerance,
                             lambda index: (index[1], dominances[index[0]])))
    ranges = list(ranges)
    if ranges:
        widths = [_exact.rational(high) - _exact.rational(low) for low, high in input_ranges]
        checks.append(_check("range_dominance", _range_violation(weights, ranges, widths),
                             tolerance, lambda index: (index[1], ranges[index[0]])))
    if normalization_order is not None:
        checks.append(_normalization_check(weights, normalization_order, epsilon))
    return Certificate(subject, tuple(checks))


def _check_spec(spec, size, *arguments):
    if not isinstance(spec, LinearSpec):
        raise TypeError(f"certify_linear spec must be a LinearSpec, got {type(spec).__name__}")
    if not all(is_unset(value) for value in arguments):
        raise TypeError("certify_linear takes either spec or constraint arguments, not both")
    if spec.num_inputs != size:
        raise ValueError(f"certify_linear: the spec declares {spec.num_inputs} inputs, the "
                         f"weights have {size}")


def _range_violation(weights, pairs, widths):
    """``w_j r_j - w_i r_i`` for each pair and unit, ``[pairs, units]``, sign exact."""
    width = np.array([float(w) for w in widths])
    strong = np.stack([weights[i] * width[i] for i, _ in pairs])
    weak = np.stack([weights[j] * width[j] for _, j in pairs])

    def exact(index):
        p, unit = index
        i, j = pairs[p]
        return (_exact.rational(weights[j, unit]) * widths[j]
                - _exact.rational(weights[i, unit]) * widths[i])

    return _exact.settle(weak - strong, _exact.product_error_bound(strong, weak), exact)


def _normalization_check(weights, order, epsilon):
    tolerance = weights.shape[0] * epsilon
    deviation = np.array([abs(math.fsum(np.abs(weights[:, u])) - 1.0)
                          for u in range(weights.shape[1])])
    deviation = np.where(np.isnan(deviation), np.inf, deviation)
    value, location = _exact.worst(deviation, lambda index: (index[0],))
    return ConstraintCheck("normalization_order=1", value, location, tolerance)


def _check(name, violation, tolerance, locate):
    violation = np.where(np.isnan(violation), np.inf, violation)
    value, location = _exact.worst(violation, locate)
    return ConstraintCheck(name, value, location, tolerance)
