"""Validation of the estimators' column-named shape constraints.

Users name constraints by column (``monotonicity={"age": "increasing"}``);
this module checks them against the training columns once, in ``fit``, and
resolves them into :class:`FeatureConstraints` per column plus index-based
pairwise constraints for the lattice and linear layers.
"""

import dataclasses

from tf_lattice.estimators._columns import CATEGORICAL

MONOTONICITIES = ("increasing", "decreasing", "none")
CONVEXITIES = ("convex", "concave", "none")
UNIMODALITIES = ("valley", "peak", "none")
TRUST_DIRECTIONS = ("increasing", "decreasing")
TRUST_KINDS = ("edgeworth", "trapezoid")


@dataclasses.dataclass(frozen=True)
class FeatureConstraints:
    """The resolved constraints of one column.

    Attributes:
      monotonicity: ``"increasing"``, ``"decreasing"`` or ``"none"``.
      convexity: ``"convex"``, ``"concave"`` or ``"none"``.
      unimodality: ``"valley"``, ``"peak"`` or ``"none"``.
      category_order: categorical only: ``(i, j)`` vocabulary index pairs,
        output of category ``i`` <= output of category ``j``.
    """

    monotonicity: str = "none"
    convexity: str = "none"
    unimodality: str = "none"
    category_order: tuple = ()

    @property
    def shaped(self):
        """Whether any constraint applies (the model then keeps the calibrated
        value's direction, so the calibrator's shape carries to the output)."""
        return (self.monotonicity != "none" or self.convexity != "none"
                or self.unimodality != "none" or bool(self.category_order))


@dataclasses.dataclass(frozen=True)
class ModelConstraints:
    """Every resolved constraint of a model, by column position.

    Attributes:
      features: one FeatureConstraints per column.
      edgeworth_trusts, trapezoid_trusts: ``(main, conditional, direction)``
        with column positions.
      monotonic_dominances: ``(dominant, weak)`` column positions.
    """

    features: tuple
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()


def _check_mapping(argument, mapping, columns, choices):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise ValueError(f"{argument} must be a dict of column name -> one of {choices[:-1]}, "
                         f"got {type(mapping).__name__}")
    resolved = {}
    for column, value in mapping.items():
        column = str(column)
        if column not in columns:
            raise ValueError(f"{argument} names column {column!r}, which is not in X "
                             f"(columns: {list(columns)})")
        if value not in choices:
            raise ValueError(f"{argument}[{column!r}] must be one of {choices}, got {value!r}")
        resolved[column] = value
    return resolved


def _check_column(argument, column, columns):
    column = str(column)
    if column not in columns:
        raise ValueError(f"{argument} names column {column!r}, which is not in X "
                         f"(columns: {list(columns)})")
    return columns.index(column)


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
      monotonicity: dict column -> ``"increasing" | "decreasing" | "none"``.
      convexity: dict column -> ``"convex" | "concave" | "none"``.
      unimodality: dict column -> ``"valley" | "peak" | "none"``.
      category_order: dict column -> list of ``(lower, higher)`` categories.
      trust: list of ``(main, conditional, direction)`` or ``(main,
        conditional, direction, kind)``: the effect of the monotone ``main``
        column grows (``"increasing"``) or shrinks (``"decreasing"``) with
        ``conditional``; kind ``"edgeworth"`` (default) or ``"trapezoid"``.
      dominance: list of ``(dominant, weak)`` monotone columns: the effect of
        ``dominant`` is at least that of ``weak``.
      allow_unimodality: False for models that cannot express it.

    Returns:
      ModelConstraints.

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
    for column, pairs in (category_order or {}).items():
        column = str(column)
        _check_column("category_order", column, columns)
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
        FeatureConstraints(mono.get(name, "none"), convex.get(name, "none"),
                           unimodal.get(name, "none"), orders.get(name, ()))
        for name in columns)
    edgeworth, trapezoid = _resolve_trust(trust, columns, features)
    dominances = _resolve_dominance(dominance, columns, features)
    return ModelConstraints(features, edgeworth, trapezoid, dominances)


def _is_monotone(constraints):
    return constraints.monotonicity != "none" or bool(constraints.category_order)


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
        kind = entry[3] if len(entry) == 4 else "edgeworth"
        if direction not in TRUST_DIRECTIONS:
            raise ValueError(f"trust direction must be one of {TRUST_DIRECTIONS}, got {direction!r}")
        if kind not in TRUST_KINDS:
            raise ValueError(f"trust kind must be one of {TRUST_KINDS}, got {kind!r}")
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
