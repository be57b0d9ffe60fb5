"""Validation of regularization amounts (the weights of each penalty term)."""

import itertools
import math
import numbers

import numpy as np

from tf_lattice.specs import CalibratorSpec
from tf_lattice.specs import LatticeSpec
from tf_lattice.specs._vocabulary import parse_sizes


def check_amount(name, amount):
    """Returns ``amount`` as a float after checking it is finite and >= 0.

    Args:
      name: argument name used in the error message.
      amount: a real number.

    Returns:
      The amount as a Python float.

    Raises:
      ValueError: if ``amount`` is not a real number, is negative or not finite.
    """
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise ValueError(f"{name} must be a non-negative number, got {amount!r}")
    value = float(amount)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a non-negative finite number, got {amount!r}")
    return value


def per_item_amounts(name, amount, count, what):
    """Expands a scalar amount or checks a list of ``count`` amounts.

    Args:
      name: argument name used in error messages.
      amount: a non-negative number (the same amount for every item) or a
        sequence of ``count`` non-negative numbers (one per item).
      count: how many items there are.
      what: plural noun describing the items, used in error messages
        (for example "lattice dimensions").

    Returns:
      A tuple of ``count`` floats.

    Raises:
      ValueError: if an amount is negative or not finite, or if a sequence
        does not have exactly ``count`` entries.
    """
    if isinstance(amount, numbers.Real) and not isinstance(amount, bool):
        return (check_amount(name, amount),) * count
    try:
        values = list(amount)
    except TypeError:
        raise ValueError(
            f"{name} must be a non-negative number or a sequence of {count} "
            f"of them (one per {what}), got {amount!r}") from None
    if len(values) != count:
        raise ValueError(
            f"{name} has {len(values)} amounts but there are {count} {what}: "
            f"give one amount or exactly {count}, got {amount!r}")
    return tuple(check_amount(f"{name}[{i}]", v) for i, v in enumerate(values))


def dimension_pairs(num_dims):
    """Returns the pairs ``(j, k)`` with ``0 <= j < k < num_dims``, in order.

    The order is lexicographic: (0, 1), (0, 2), ..., (0, d-1), (1, 2), ...
    Per-pair amounts are matched to pairs in this order.
    """
    return tuple(itertools.combinations(range(num_dims), 2))


def check_lattice_sizes(lattice_sizes):
    """Returns ``lattice_sizes`` as a tuple of ints, each at least 2.

    Args:
      lattice_sizes: a sequence of ``d`` ints, or a
        :class:`tf_lattice.specs.LatticeSpec` (already validated: its sizes
        are used as they are).

    Raises:
      ValueError: if ``lattice_sizes`` is empty or has an entry that is not an
        integer >= 2 (the checks of :meth:`LatticeSpec.parse`).
    """
    if isinstance(lattice_sizes, LatticeSpec):
        return lattice_sizes.lattice_sizes
    return parse_sizes(lattice_sizes)


def calibrator_spec(keypoints):
    """The CalibratorSpec of ``keypoints``: a spec as it is, raw keypoints parsed.

    Args:
      keypoints: a :class:`tf_lattice.specs.CalibratorSpec` (already
        validated: used as it is), or keypoints ``[K]`` (shared by every
        unit) or ``[units, K]``, finite and strictly increasing, ``K >= 2``.

    Raises:
      ValueError: from :class:`CalibratorSpec`, naming ``input_keypoints``,
        if the keypoints have a bad shape, are not finite or not strictly
        increasing.
    """
    if isinstance(keypoints, CalibratorSpec):
        return keypoints
    values = np.asarray(keypoints, np.float64)
    return CalibratorSpec(values, units=values.shape[0] if values.ndim == 2 else 1)

