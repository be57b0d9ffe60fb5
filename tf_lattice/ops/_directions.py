"""Parsing of the public direction strings into the integers used internally.

Public arguments name directions with strings; every op converts them once,
here, into small integers:

* monotonicity: ``"increasing" -> 1``, ``"decreasing" -> -1``, ``"none" -> 0``;
* convexity: ``"convex" -> 1``, ``"concave" -> -1``, ``"none" -> 0``;
* unimodality: ``"valley" -> 1``, ``"peak" -> -1``, ``"none" -> 0``.

``None`` is accepted wherever ``"none"`` is. Integers are rejected so that a
mistyped direction can never be silently read as another one.
"""

MONOTONICITIES = {"increasing": 1, "decreasing": -1, "none": 0}
CONVEXITIES = {"convex": 1, "concave": -1, "none": 0}
UNIMODALITIES = {"valley": 1, "peak": -1, "none": 0}


def _canonical(value, table, argument):
    if value is None:
        return 0
    if isinstance(value, str) and value.lower() in table:
        return table[value.lower()]
    raise ValueError(
        f"{argument} must be one of {sorted(table)} (or None for 'none'), got {value!r}"
    )


def canonical_monotonicity(value, argument="monotonicity"):
    """Returns 1, -1 or 0 for "increasing", "decreasing" or "none".

    Args:
      value: a monotonicity string (case-insensitive) or None.
      argument: the argument name used in error messages.

    Raises:
      ValueError: ``value`` is not a known monotonicity.
    """
    return _canonical(value, MONOTONICITIES, argument)


def canonical_convexity(value, argument="convexity"):
    """Returns 1, -1 or 0 for "convex", "concave" or "none".

    Raises:
      ValueError: ``value`` is not a known convexity.
    """
    return _canonical(value, CONVEXITIES, argument)


def per_unit(value, units, parse, argument):
    """Parses one direction or a sequence of one direction per unit.

    Args:
      value: a direction string (or None), applied to every unit, or a
        sequence of ``units`` of them.
      units: the number of units.
      parse: one of the ``canonical_*`` functions of this module.
      argument: the argument name used in error messages.

    Returns:
      A tuple of ``units`` integers.

    Raises:
      ValueError: a direction is unknown or the sequence has the wrong length.
    """
    if value is None or isinstance(value, str):
        return (parse(value, argument),) * units
    values = tuple(value)
    if len(values) != units:
        raise ValueError(
            f"{argument} must be one direction or one per unit ({units}), got "
            f"{len(values)} directions"
        )
    return tuple(parse(v, f"{argument}[{i}]") for i, v in enumerate(values))
