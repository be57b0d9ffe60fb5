"""Exact evaluation of the sign of small polynomial expressions of floats.

Certificates must never say a constraint holds when it does not. Most checks
compare two floats (exact) or the sign of a float difference (exact: rounding
preserves the sign of ``a - b``). Checks that multiply (convexity on uneven
keypoints, range dominance) are evaluated in float64 with an error bound, and
the entries whose sign the bound cannot settle are evaluated again in exact
rational arithmetic (:class:`fractions.Fraction`: every float is a rational).
"""

import fractions

import numpy as np

_EPSILON = np.finfo(np.float64).eps
_SMALLEST = np.nextafter(0.0, 1.0)


def settle(approximate, error_bound, exact_value):
    """Returns violations whose sign is exact.

    Args:
      approximate: float64 array of approximate values (positive = violated).
      error_bound: float64 array bounding ``|approximate - exact|``.
      exact_value: function of an index tuple returning the exact value as a
        Fraction.

    Returns:
      float64 array like ``approximate``: where the bound cannot settle the
      sign, the exact value rounded to float64, with any positive exact value
      kept strictly positive (at least the smallest subnormal).
    """
    result = np.array(approximate, np.float64, copy=True)
    for index in zip(*np.nonzero(np.abs(result) <= error_bound)):
        value = exact_value(tuple(int(i) for i in index))
        result[index] = max(float(value), _SMALLEST) if value > 0 else min(float(value), 0.0)
    return result


def rational(value):
    """The exact rational value of a float."""
    return fractions.Fraction(float(value))


def product_error_bound(*terms):
    """A bound on the float64 error of a sum of products of float differences."""
    return 8 * _EPSILON * sum(np.abs(t) for t in terms) + 4 * _SMALLEST


def worst(violations, locate):
    """Returns ``(worst_violation, location)`` of an array of violations.

    ``locate`` maps the index tuple of the largest violation to the reported
    location; both are ``(0.0, None)`` when no entry is positive.
    """
    if violations.size == 0:
        return 0.0, None
    index = np.unravel_index(np.argmax(violations), violations.shape)
    value = float(violations[index])
    if not value > 0:
        return 0.0, None
    return value, locate(tuple(int(i) for i in index))
