"""Validation of the estimators' column-named shape constraints.

Users name constraints by column (``monotonicity={"age": "increasing"}``);
this module checks them against the training columns once, in ``fit``, and
resolves them into a :class:`~tf_lattice.models.FeatureConfig` per column
(its shape fields; keypoints and lattice size are placed later) plus
index-based pairwise constraints for the lattice and linear layers, one
:class:`~tf_lattice.models._constraints.ModelConstraints`.

Every per-column argument also takes the signed and positional forms that
scikit-learn users know:

- a list with one entry per column, in column order, such as scikit-learn's
  ``monotonic_cst``: ``monotonicity=[1, 0, -1]``;
- signed integers as values: ``{"age": 1}``; 1 / -1 / 0 mean
  increasing / decreasing / none for ``monotonicity``, convex / concave /
  none for ``convexity`` and valley / peak / none for ``unimodality``;
- integer column positions as keys: ``{0: "increasing"}``, and in the
  ``trust`` and ``dominance`` tuples and ``category_order`` keys.

An integer always means a position. When the columns are themselves named by
numbers (``"0"``, ``"1"``, ...) and position ``k`` is not the column named
``"k"``, an integer ``k`` is ambiguous and refused; name the column by its
string then.
"""

import numbers

import numpy as np

from tf_lattice.estimators._columns import CATEGORICAL
from tf_lattice.models._constraints import ModelConstraints
from tf_lattice.models.configs import FeatureConfig
from tf_lattice.specs import _vocabulary as vocabulary

#: The signed forms: +1, -1 and 0 stand for the first, second and third choice.
_SIGNS = {1: 0, -1: 1, 0: 2}


def _by_sign(table):
    """The names of a `tf_lattice.specs` vocabulary table ordered as `_SIGNS`."""
    return tuple(sorted(table, key=lambda name: _SIGNS[table[name]]))


MONOTONICITIES = _by_sign(vocabulary.MONOTONICITIES)
CONVEXITIES = _by_sign(vocabulary.CONVEXITIES)
UNIMODALITIES = _by_sign(vocabulary.UNIMODALITIES)
TRUST_DIRECTIONS = _by_sign(vocabulary.TRUST_DIRECTIONS)
TRUST_KINDS = ("edgeworth", "trapezoid")


def _is_integer(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def column_name(argument, key, columns):
    """The column a constraint argument refers to by name or by position.

    Args:
      argument: the argument's name, for messages (``"monotonicity"``).
      key: a column name, or an int position in ``columns``.
      columns: the training column names (strings), in order.

    Returns:
      the column name.

    Raises:
      ValueError: naming ``argument`` and ``key``: an unknown name, a
        position out of range, or an ambiguous position.
    """
    if isinstance(key, (bool, np.bool_)):
        raise ValueError(f"{argument} names column {key!r}: a boolean is neither a column name "
                         "nor a position")
    if _is_integer(key):
        position = int(key)
        if not 0 <= position < len(columns):
            raise ValueError(f"{argument} refers to column position {position}, but X has "
                             f"{len(columns)} columns (positions 0 to {len(columns) - 1})")
        name = columns[position]
        if str(position) in columns and name != str(position):
            raise ValueError(f"{argument} refers to column {position}, which is ambiguous: position "
                             f"{position} is column {name!r} but another column is named "
                             f"{str(position)!r}; use the column name as a string")
        return name
    name = str(key)
    if name not in columns:
        raise ValueError(f"{argument} names column {name!r}, which is not in X "
                         f"(columns: {list(columns)})")
    return name


def _choice(argument, entry, value, choices):
    """A direction from its name or its signed form (1, -1, 0)."""
    if _is_integer(value) and int(value) in _SIGNS:
        return choices[_SIGNS[int(value)]]
    if isinstance(value, str) and value in choices:
        return value
    signed = ", ".join(f"{sign} = {choices[index]!r}" for sign, index in _SIGNS.items())
    raise ValueError(f"{argument}[{entry!r}] must be one of {choices} or a signed int "
                     f"({signed}), got {value!r}")


def _check_mapping(argument, mapping, columns, choices):
    """Resolves a per-column argument into ``{column name: choice}``.

    Accepts None, a dict keyed by column name or position, or a sequence of
    one entry per column (``monotonic_cst`` style).
    """
    if mapping is None:
        return {}
    if isinstance(mapping, np.ndarray):
        if mapping.ndim != 1:
            raise ValueError(f"{argument} as an array must be 1-D (one entry per column), "
                             f"got shape {mapping.shape}")
        mapping = mapping.tolist()
    if isinstance(mapping, (list, tuple)):
        if len(mapping) != len(columns):
            raise ValueError(f"{argument} as a list must have one entry per column of X "
                             f"({len(columns)}: {list(columns)}), got {len(mapping)} entries")
        mapping = dict(zip(range(len(columns)), mapping))
    if not isinstance(mapping, dict):
        raise ValueError(f"{argument} must be a dict of column -> one of {choices[:-1]} (or 1 / -1), "
                         f"or a list with one entry per column, got {type(mapping).__name__}")
    resolved = {}
    for key, value in mapping.items():
        column = column_name(argument, key, columns)
        shape = _choice(argument, key, value, choices)
        if column in resolved and resolved[column] != shape:
            raise ValueError(f"{argument} gives column {column!r} two values: {resolved[column]!r} "
                             f"and {shape!r}")
        resolved[column] = shape
    return resolved


def _check_column(argument, column, columns):
    return columns.index(column_name(argument, column, columns))


def _category_pairs(column, pairs, spec):
    if not isinstance(pairs, (list, tuple)):
        raise ValueError(f"category_order[{column!r}] must be a list of (lower, higher) category "
                         f"pairs, got {pairs!r}")
    index = {value: i for i, value in enumerate(spec.vocabulary)}
    resolved = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"category_order[{column!r}] entries must be (lower, higher) pairs, "
                             f"got {pair!r}")
        for category in pair:
            if category not in index:
                raise ValueError(f"category_order[{column!r}] names category {category!r}, which "
                                 f"is not among the training categories {list(spec.vocabulary)}")
        resolved.append((index[pair[0]], index[pair[1]]))
    return tuple(resolved)


def resolve_constraints(specs, *, monotonicity=None, convexity=None, unimodality=None,
                        category_order=None, trust=None, dominance=None,
                        allow_unimodality=True):
    """Checks the column-named constraints and resolves them by position.

    Args:
      specs: the FeatureSpec of every column.
      monotonicity: dict column -> ``"increasing" | "decreasing" | "none"``
        (or 1 / -1 / 0), or a list of one such entry per column.
      convexity: dict column -> ``"convex" | "concave" | "none"`` (or 1 / -1
        / 0), or a list of one entry per column.
      unimodality: dict column -> ``"valley" | "peak" | "none"`` (or 1 / -1
        / 0), or a list of one entry per column.
      category_order: dict column -> list of ``(lower, higher)`` categories.
      trust: list of ``(main, conditional, direction)`` or ``(main,
        conditional, direction, kind)``: the effect of the monotone ``main``
        column grows (``"increasing"`` or 1) or shrinks (``"decreasing"`` or
        -1) with ``conditional``; kind ``"edgeworth"`` (default) or
        ``"trapezoid"``.
      dominance: list of ``(dominant, weak)`` monotone columns: the effect of
        ``dominant`` is at least that of ``weak``.

      Columns are named by name or by int position (see the module
      docstring).
      allow_unimodality: False for models that cannot express it.

    Returns:
      ModelConstraints: one FeatureConfig per column, in column order, named
      by the column, that records its shape and encoding kind but is not
      placed (``keypoints=None`` for numeric columns, ``num_buckets`` the
      vocabulary size for categorical ones, ``lattice_size=None``), plus the
      trusts and dominances by column position.

    Raises:
      ValueError: naming the argument and the offending column or value.
    """
    columns = [spec.name for spec in specs]
    by_name = {spec.name: spec for spec in specs}
    mono = _check_mapping("monotonicity", monotonicity, columns, MONOTONICITIES)
    convex = _check_mapping("convexity", convexity, columns, CONVEXITIES)
    unimodal = _check_mapping("unimodality", unimodality, columns, UNIMODALITIES)
    if category_order is not None and not isinstance(category_order, dict):
        raise ValueError("category_order must be a dict of column name -> list of (lower, higher) "
                         f"category pairs, got {type(category_order).__name__}")
    orders = {}
    for key, pairs in (category_order or {}).items():
        column = column_name("category_order", key, columns)
        if by_name[column].kind != CATEGORICAL:
            raise ValueError(f"category_order names column {column!r}, which is numeric; "
                             "use monotonicity for numeric columns")
        orders[column] = _category_pairs(column, pairs, by_name[column])
    for column, spec in by_name.items():
        if spec.kind != CATEGORICAL:
            continue
        for argument, mapping in (("monotonicity", mono), ("convexity", convex),
                                  ("unimodality", unimodal)):
            if mapping.get(column, "none") != "none":
                hint = ("; order its categories with category_order" if argument == "monotonicity"
                        else "")
                raise ValueError(f"{argument} cannot apply to categorical column {column!r}{hint}")
    for column, shape in unimodal.items():
        if shape == "none":
            continue
        if not allow_unimodality:
            raise ValueError(f"unimodality[{column!r}] needs a lattice model (a calibrated linear "
                             "model cannot be unimodal without being convex or concave: use convexity)")
        if mono.get(column, "none") != "none":
            raise ValueError(f"column {column!r} cannot be both monotonic (monotonicity) and "
                             "unimodal (unimodality)")
        if convex.get(column, "none") != "none":
            raise ValueError(f"column {column!r} cannot have both a convexity and a unimodality")
    features = tuple(
        FeatureConfig(name, lattice_size=None, num_buckets=len(by_name[name].vocabulary),
                      category_order=orders.get(name, ()))
        if by_name[name].kind == CATEGORICAL else
        FeatureConfig(name, lattice_size=None, monotonicity=mono.get(name, "none"),
                      convexity=convex.get(name, "none"), unimodality=unimodal.get(name, "none"))
        for name in columns)
    edgeworth, trapezoid = _resolve_trust(trust, columns, features)
    dominances = _resolve_dominance(dominance, columns, features)
    return ModelConstraints(features, edgeworth, trapezoid, dominances)


def _resolve_trust(trust, columns, features):
    edgeworth, trapezoid = [], []
    if trust is None:
        return (), ()
    if not isinstance(trust, (list, tuple)):
        raise ValueError("trust must be a list of (main, conditional, direction[, kind]) tuples, "
                         f"got {type(trust).__name__}")
    for entry in trust:
        if not isinstance(entry, (list, tuple)) or len(entry) not in (3, 4):
            raise ValueError(f"trust entries must be (main, conditional, direction[, kind]), got {entry!r}")
        main = _check_column("trust", entry[0], columns)
        conditional = _check_column("trust", entry[1], columns)
        direction = entry[2]
        if _is_integer(direction) and int(direction) in (1, -1):
            direction = TRUST_DIRECTIONS[_SIGNS[int(direction)]]
        kind = entry[3] if len(entry) == 4 else "edgeworth"
        if not isinstance(direction, str) or direction not in TRUST_DIRECTIONS:
            raise ValueError(f"trust entry {entry!r}: the direction must be one of "
                             f"{TRUST_DIRECTIONS} (or 1 / -1), got {direction!r}")
        if not isinstance(kind, str) or kind not in TRUST_KINDS:
            raise ValueError(f"trust entry {entry!r}: the kind must be one of {TRUST_KINDS}, "
                             f"got {kind!r}")
        if main == conditional:
            raise ValueError(f"trust entry {entry!r} names the same column twice")
        if features[main].monotonicity == "none":
            raise ValueError(f"trust entry {entry!r} needs column {columns[main]!r} to have a "
                             "monotonicity")
        (edgeworth if kind == "edgeworth" else trapezoid).append((main, conditional, direction))
    return tuple(edgeworth), tuple(trapezoid)


def _resolve_dominance(dominance, columns, features):
    if dominance is None:
        return ()
    if not isinstance(dominance, (list, tuple)):
        raise ValueError("dominance must be a list of (dominant, weak) column pairs, "
                         f"got {type(dominance).__name__}")
    pairs = []
    for entry in dominance:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ValueError(f"dominance entries must be (dominant, weak) pairs, got {entry!r}")
        dominant = _check_column("dominance", entry[0], columns)
        weak = _check_column("dominance", entry[1], columns)
        if dominant == weak:
            raise ValueError(f"dominance entry {entry!r} names the same column twice")
        for position in (dominant, weak):
            if features[position].monotonicity == "none":
                raise ValueError(f"dominance entry {entry!r} needs column {columns[position]!r} "
                                 "to have a monotonicity")
        pairs.append((dominant, weak))
    return tuple(pairs)
