"""The user vocabulary of constraint declarations, parsed in one place.

Every public argument names a direction with a string; the specs convert it
once, here, into a small integer:

* monotonicity: ``"increasing" -> 1``, ``"decreasing" -> -1``, ``"none" -> 0``;
* convexity: ``"convex" -> 1``, ``"concave" -> -1``, ``"none" -> 0``;
* unimodality: ``"valley" -> 1``, ``"peak" -> -1``, ``"none" -> 0``;
* the direction of a trust: ``"increasing" -> 1``, ``"decreasing" -> -1``.

``None`` is accepted wherever ``"none"`` is. Integers are rejected so that a
mistyped direction can never be silently read as another one. This module
also checks the other shared pieces of a declaration: index pairs, sizes and
output bounds. Every error is a ``ValueError`` naming the argument, except
`renamed_argument`'s ``TypeError`` for an argument given by an earlier name.
"""

import math
import numbers

MONOTONICITIES = {"none": 0, "increasing": 1, "decreasing": -1}
CONVEXITIES = {"none": 0, "convex": 1, "concave": -1}
UNIMODALITIES = {"none": 0, "valley": 1, "peak": -1}
TRUST_DIRECTIONS = {"increasing": 1, "decreasing": -1}


def direction_name(value, table):
    """The string of a canonical integer ``value`` in ``table``."""
    for name, number in table.items():
        if number == value:
            return name
    raise ValueError(f"{value!r} is not one of {sorted(table.values())}")


def parse_direction(value, table, argument):
    """Returns the integer of one direction string (case-insensitive) or None.

    Raises:
      ValueError: ``value`` is not a string of ``table`` (nor None when the
        table has ``"none"``), naming ``argument``.
    """
    if value is None and "none" in table:
        return 0
    if isinstance(value, str) and value.lower() in table:
        return table[value.lower()]
    accepted = f"one of {tuple(table)}" + (" (or None for 'none')" if "none" in table else "")
    raise ValueError(f"{argument} must be {accepted}, got {value!r}")


def parse_per_item(values, count, table, argument, item, allow_one=True):
    """Parses one direction for every item, or a sequence of ``count`` of them.

    Args:
      values: None (every item ``"none"``), one string (every item, when
        ``allow_one``), or a sequence of ``count`` strings.
      count: the number of items.
      table: the vocabulary table (``MONOTONICITIES``, ...).
      argument: the argument's name, for messages.
      item: what one entry belongs to (``"lattice dimension"``, ``"input"``,
        ``"unit"``), for messages.
      allow_one: whether one string stands for every item.

    Returns:
      A tuple of ``count`` integers.

    Raises:
      ValueError: an unknown direction, or a sequence of another length.
    """
    if values is None:
        return (0,) * count
    if isinstance(values, str):
        if not allow_one:
            raise ValueError(
                f"{argument} must be a list of {count} strings (one per {item}), got the "
                f"string {values!r}")
        return (parse_direction(values, table, argument),) * count
    values = list(values)
    if len(values) != count:
        phrase = {"unit": f"be one direction or one per unit ({count})",
                  "input": f"have one direction per input: one entry per dimension ({count})"}
        raise ValueError(
            f"{argument} must {phrase.get(item, f'have one entry per dimension ({count})')}, "
            f"got {len(values)}: {values!r}")
    return tuple(parse_direction(v, table, f"{argument}[{i}]") for i, v in enumerate(values))


def parse_index(value, argument, noun, size):
    """An int index in ``[0, size)``; ``argument`` and ``noun`` name it in errors."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{argument} must name {noun}s by int, got {value!r}")
    if not 0 <= int(value) < size:
        raise ValueError(
            f"{argument} names {noun} {value}, out of range: outside [0, {size})")
    return int(value)


def parse_pairs(values, size, argument, noun, extra=None):
    """Validates ``(a, b)`` index pairs (``(a, b, direction)`` with ``extra``).

    Args:
      values: None or a sequence of pairs (or triples).
      size: indices lie in ``[0, size)``.
      argument: the argument's name, for messages (entries are
        ``argument[i]``).
      noun: what an index names (``"dimension"``, ``"input"``,
        ``"category"``).
      extra: None, or the vocabulary table of a third entry (a direction).

    Returns:
      A tuple of int pairs (triples with the parsed direction), without
      repeats, in order: a constraint declared twice is one constraint.

    Raises:
      ValueError: a malformed entry, an index out of range, an index paired
        with itself, or an unknown direction.
    """
    width = 2 if extra is None else 3
    shape = "(a, b)" if extra is None else "(main, conditional, direction)"
    parsed = []
    for index, entry in enumerate(values or ()):
        name = f"{argument}[{index}]"
        if isinstance(entry, (str, bytes)) or not hasattr(entry, "__len__") or len(entry) != width:
            raise ValueError(f"{name} must be {shape}, got {entry!r}")
        first, second = (parse_index(i, name, noun, size) for i in tuple(entry)[:2])
        if first == second:
            raise ValueError(
                f"{name} = {tuple(entry)!r} names {noun} {first} twice (pairs it with itself)")
        pair = (first, second)
        if extra is not None:
            pair += (parse_direction(entry[2], extra, f"{name} direction"),)
        parsed.append(pair)
    return tuple(dict.fromkeys(parsed))


def find_cycle(num_nodes, edges):
    """A cycle of the directed graph ``edges`` (``a -> b``) as a list of nodes, or None."""
    successors = [[] for _ in range(num_nodes)]
    for a, b in edges:
        successors[a].append(b)
    state = [0] * num_nodes  # 0 unvisited, 1 on the stack, 2 done
    for root in range(num_nodes):
        if state[root]:
            continue
        path, iterators = [root], [iter(successors[root])]
        state[root] = 1
        while iterators:
            nxt = next(iterators[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                iterators.append(iter(successors[nxt]))
    return None


def parse_count(value, argument, minimum=1):
    """An int ``>= minimum`` (bools and non-integral numbers are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{argument} must be an int, at least {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{argument} must be at least {minimum}, got {value!r}")
    return int(value)


def parse_sizes(values, argument="lattice_sizes"):
    """A non-empty tuple of ints ``>= 2`` (one lattice size per dimension)."""
    if isinstance(values, (numbers.Number, str)):
        raise ValueError(f"{argument} must be a list of ints, got {values!r}")
    sizes = tuple(values)
    if not sizes:
        raise ValueError(f"{argument} must name at least one dimension, got []")
    return tuple(parse_count(s, f"{argument}[{k}]", 2) for k, s in enumerate(sizes))


def parse_bound(value, argument, finite=False):
    """A float or None; NaN is refused (and infinities with ``finite``)."""
    if value is None:
        return None
    try:
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{argument} must be a number or None, got {value!r}") from None
    if math.isnan(value):
        raise ValueError(f"{argument} must be a number or None, got NaN")
    if finite and math.isinf(value):
        raise ValueError(f"{argument} must be finite or None, got {value}")
    return value


def parse_bounds(output_min, output_max, finite=False, names=("output_min", "output_max")):
    """Both output bounds, as floats or None.

    Raises:
      ValueError: a bound is NaN (or infinite with ``finite``), or
        ``output_min > output_max``: no output satisfies both.
    """
    low = parse_bound(output_min, names[0], finite)
    high = parse_bound(output_max, names[1], finite)
    if low is not None and high is not None and low > high:
        raise ValueError(
            f"infeasible bounds: {names[0]}={low} > {names[1]}={high}, no output can satisfy "
            "both")
    return low, high


def is_unset(value):
    """Whether an optional constraint argument was left out (None, "none" or empty)."""
    if value is None or (isinstance(value, str) and value == "none"):
        return True
    return isinstance(value, (tuple, list)) and len(value) == 0


def check_keys(config, known, spec):
    """Raises ValueError for a config key that ``spec`` does not know."""
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(f"{spec} config has unknown keys {unknown}; known: {sorted(known)}")


def renamed_argument(owner, earlier, current, usage):
    """The ``TypeError`` for an argument given by the name of earlier versions.

    Args:
      owner: the class that takes the argument, e.g. ``"FeatureConfig"``.
      earlier: the earlier name, e.g. ``"category_pairs"``.
      current: the current name, e.g. ``"category_order"``.
      usage: what the argument holds and how it is written, e.g. ``"the
        partial order of categories as category_order=[(i, j), ...]"``.

    Returns:
      A ``TypeError`` (to raise) whose message reads ``"{owner} takes
      {usage} (formerly {earlier})"`` and names ``current``.
    """
    if current not in usage:
        raise ValueError(f"the usage of {owner}'s {current} must name it, got {usage!r}")
    return TypeError(f"{owner} takes {usage} (formerly {earlier})")
