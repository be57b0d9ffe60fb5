"""``LatticeSpec``: the validated declaration of one lattice's shape constraints.

A lattice with sizes ``m = (m_0, ..., m_{d-1})`` has ``V = prod(m)`` vertex
values ``theta`` per unit (row-major). Each declared constraint is a set of
linear inequalities on ``theta`` (their rows are compiled in
:mod:`tf_lattice.ops._lattice_constraints`); with ``D_k theta[v] =
theta[v + e_k] - theta[v]``:

* ``monotonicities[k]``: "increasing": ``D_k theta >= 0`` on every edge along
  ``k``; "decreasing": ``<= 0``.
* ``unimodalities[k]``, center ``c = m_k // 2``: "valley": ``D_k theta <= 0``
  below ``c`` and ``>= 0`` from ``c`` on; "peak": the reverse. Needs
  ``m_k >= 3`` and no monotonicity on ``k``.
* ``edgeworth_trusts`` ``(main, cond, direction)``: ``D_cond D_main theta >= 0``
  ("increasing") or ``<= 0`` in every cell.
* ``trapezoid_trusts`` ``(main, cond, direction)``: the range along the main
  dimension widens (narrows) with ``cond``; ``main`` must be monotone.
* ``monotonic_dominances`` / ``range_dominances`` ``(dominant, weak)``: both
  dimensions increasing; the slope (range) along ``dominant`` is at least
  that along ``weak``.
* ``joint_monotonicities`` ``(a, b)``: non-decreasing along ``e_a + e_b``.
* ``output_min`` / ``output_max``: finite bounds on every vertex.

The constant lattice satisfies every constraint, so any valid spec is
feasible.
"""

import dataclasses
import math

from tf_lattice.specs import _vocabulary as vocabulary

_PAIR_FIELDS = ("monotonic_dominances", "range_dominances", "joint_monotonicities")
_TRUST_FIELDS = ("edgeworth_trusts", "trapezoid_trusts")


@dataclasses.dataclass(frozen=True)
class LatticeSpec:
    """Validated lattice constraints, directions as integers.

    Build one from the user vocabulary with :meth:`parse` (or
    :meth:`from_config`); the constructor takes the canonical values below
    and checks them too, so every ``LatticeSpec`` is valid.

    Attributes:
      lattice_sizes: tuple of ints ``m_k >= 2``.
      monotonicities: tuple of ``{-1, 0, 1}`` per dimension.
      unimodalities: tuple of ``{-1, 0, 1}`` per dimension (1 = valley).
      edgeworth_trusts: tuple of ``(main, cond, +-1)``.
      trapezoid_trusts: tuple of ``(main, cond, +-1)``.
      monotonic_dominances: tuple of ``(dominant, weak)``.
      range_dominances: tuple of ``(dominant, weak)``.
      joint_monotonicities: tuple of ``(a, b)``.
      output_min: float or None.
      output_max: float or None.
      units: the number of lattices sharing these constraints, or None
        (not part of the constraint set).
    """

    lattice_sizes: tuple
    monotonicities: tuple = None
    unimodalities: tuple = None
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()
    range_dominances: tuple = ()
    joint_monotonicities: tuple = ()
    output_min: float = None
    output_max: float = None
    units: int = None

    def __post_init__(self):
        sizes = vocabulary.parse_sizes(self.lattice_sizes)
        rank = len(sizes)
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("lattice_sizes", sizes)
        for name in ("monotonicities", "unimodalities"):
            set_(name, _canonical_directions(getattr(self, name), rank, name))
        for name in _TRUST_FIELDS:
            set_(name, _canonical_pairs(getattr(self, name), rank, name, trust=True))
        for name in _PAIR_FIELDS:
            set_(name, _canonical_pairs(getattr(self, name), rank, name))
        low, high = vocabulary.parse_bounds(self.output_min, self.output_max, finite=True)
        set_("output_min", low)
        set_("output_max", high)
        if self.units is not None:
            set_("units", vocabulary.parse_count(self.units, "units"))
        self._check_contradictions()

    def _check_contradictions(self):
        mono, uni, sizes = self.monotonicities, self.unimodalities, self.lattice_sizes
        for k in range(len(sizes)):
            if uni[k] and mono[k]:
                raise ValueError(
                    f"unimodalities[{k}] is set but dimension {k} is also monotone "
                    f"(monotonicities[{k}]); a dimension can be one or the other")
            if uni[k] and sizes[k] < 3:
                raise ValueError(
                    f"unimodalities[{k}] needs lattice_sizes[{k}] >= 3, got {sizes[k]}")
        for index, (main, _, _) in enumerate(self.trapezoid_trusts):
            if not mono[main]:
                raise ValueError(
                    f"trapezoid_trusts[{index}] needs its main dimension {main} to be monotone "
                    f"(monotonicities[{main}] increasing or decreasing)")
        for name in ("monotonic_dominances", "range_dominances"):
            for index, pair in enumerate(getattr(self, name)):
                for dim in pair:
                    if mono[dim] != 1:
                        direction = vocabulary.direction_name(mono[dim], vocabulary.MONOTONICITIES)
                        raise ValueError(
                            f"{name}[{index}] = {pair!r} needs both dimensions increasing, but "
                            f"monotonicities[{dim}] is {direction!r}")

    @classmethod
    def parse(cls, lattice_sizes, *, monotonicities=None, unimodalities=None,
              edgeworth_trusts=None, trapezoid_trusts=None, monotonic_dominances=None,
              range_dominances=None, joint_monotonicities=None, output_min=None,
              output_max=None, units=None):
        """Parses the user vocabulary into a spec.

        Args:
          lattice_sizes: ``d`` ints, each at least 2.
          monotonicities: None, one of "increasing"/"decreasing"/"none" for
            every dimension, or one per dimension.
          unimodalities: None, one of "valley"/"peak"/"none", or one per
            dimension.
          edgeworth_trusts, trapezoid_trusts: ``(main_dim, conditional_dim,
            "increasing" | "decreasing")`` triples.
          monotonic_dominances, range_dominances: ``(dominant, weak)`` pairs.
          joint_monotonicities: ``(a, b)`` pairs.
          output_min, output_max: None or finite bounds on every vertex.
          units: None or the number of lattices.

        Returns:
          A :class:`LatticeSpec`.

        Raises:
          ValueError: naming the argument, for a size below 2, a wrong number
            of directions, an unknown direction, a dimension out of range or
            named twice, a unimodal dimension that is also monotone or smaller
            than 3, a dominance whose dimensions are not both increasing, a
            trapezoid trust whose main dimension is not monotone, or
            ``output_min > output_max``.
        """
        sizes = vocabulary.parse_sizes(lattice_sizes)
        rank = len(sizes)
        item = "lattice dimension"
        return cls(
            sizes,
            vocabulary.parse_per_item(monotonicities, rank, vocabulary.MONOTONICITIES,
                                      "monotonicities", item),
            vocabulary.parse_per_item(unimodalities, rank, vocabulary.UNIMODALITIES,
                                      "unimodalities", item),
            vocabulary.parse_pairs(edgeworth_trusts, rank, "edgeworth_trusts", "dimension",
                                   vocabulary.TRUST_DIRECTIONS),
            vocabulary.parse_pairs(trapezoid_trusts, rank, "trapezoid_trusts", "dimension",
                                   vocabulary.TRUST_DIRECTIONS),
            vocabulary.parse_pairs(monotonic_dominances, rank, "monotonic_dominances", "dimension"),
            vocabulary.parse_pairs(range_dominances, rank, "range_dominances", "dimension"),
            vocabulary.parse_pairs(joint_monotonicities, rank, "joint_monotonicities", "dimension"),
            output_min, output_max, units)

    @property
    def rank(self):
        """The number of dimensions ``d``."""
        return len(self.lattice_sizes)

    @property
    def num_vertices(self):
        """``V = prod(lattice_sizes)`` (a Python int: no overflow)."""
        return math.prod(self.lattice_sizes)

    @property
    def monotonicity_names(self):
        """The monotonicities as strings, one per dimension."""
        return [vocabulary.direction_name(m, vocabulary.MONOTONICITIES)
                for m in self.monotonicities]

    @property
    def unimodality_names(self):
        """The unimodalities as strings, one per dimension."""
        return [vocabulary.direction_name(u, vocabulary.UNIMODALITIES) for u in self.unimodalities]

    @property
    def has_constraints(self):
        """Whether any constraint (or bound) restricts the vertex values."""
        return bool(any(self.monotonicities) or any(self.unimodalities)
                    or any(getattr(self, name) for name in _TRUST_FIELDS + _PAIR_FIELDS)
                    or self.output_min is not None or self.output_max is not None)

    def to_config(self):
        """A JSON-able dict in the user vocabulary; ``from_config`` inverts it."""
        trust = lambda triples: [  # noqa: E731
            [main, cond, vocabulary.direction_name(d, vocabulary.TRUST_DIRECTIONS)]
            for main, cond, d in triples]
        config = dict(
            lattice_sizes=list(self.lattice_sizes), monotonicities=self.monotonicity_names,
            unimodalities=self.unimodality_names,
            edgeworth_trusts=trust(self.edgeworth_trusts),
            trapezoid_trusts=trust(self.trapezoid_trusts),
            **{name: [list(p) for p in getattr(self, name)] for name in _PAIR_FIELDS},
            output_min=self.output_min, output_max=self.output_max)
        if self.units is not None:
            config["units"] = self.units
        return config

    @classmethod
    def from_config(cls, config):
        """The spec of a :meth:`to_config` dict (or of the same arguments)."""
        config = dict(config)
        vocabulary.check_keys(config, [f.name for f in dataclasses.fields(cls)], cls.__name__)
        return cls.parse(config.pop("lattice_sizes"), **config)


def _canonical_directions(values, rank, name):
    """Checks canonical directions (ints -1, 0, 1; None: all 0)."""
    if values is None:
        return (0,) * rank
    if isinstance(values, str) or len(values) != rank:
        raise ValueError(f"{name} must have one entry per dimension ({rank}), got {values!r}")
    for k, value in enumerate(values):
        if isinstance(value, bool) or value not in (-1, 0, 1):
            raise ValueError(
                f"{name}[{k}] must be -1, 0 or 1 in a LatticeSpec (LatticeSpec.parse takes "
                f"the direction strings), got {value!r}")
    return tuple(int(v) for v in values)


def _canonical_pairs(values, rank, name, trust=False):
    """Checks canonical pairs (triples ``(main, cond, +-1)`` with ``trust``)."""
    values = tuple(tuple(v) for v in values or ())
    if not trust:
        return vocabulary.parse_pairs(values, rank, name, "dimension")
    named = []
    for index, entry in enumerate(values):
        if len(entry) != 3 or isinstance(entry[2], bool) or entry[2] not in (-1, 1):
            raise ValueError(
                f"{name}[{index}] must be (main, cond, +-1) in a LatticeSpec (LatticeSpec.parse "
                f"takes the direction strings), got {entry!r}")
        named.append(entry[:2] + (vocabulary.direction_name(entry[2], vocabulary.TRUST_DIRECTIONS),))
    return vocabulary.parse_pairs(named, rank, name, "dimension", vocabulary.TRUST_DIRECTIONS)
