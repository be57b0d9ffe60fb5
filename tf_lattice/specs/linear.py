"""``LinearSpec``: the validated declaration of a linear layer's weight constraints.

For weights ``w`` of shape ``[d, units]`` (input ``i``, unit ``u``):

* ``monotonicities[i]``: "increasing": ``w_i >= 0``; "decreasing": ``w_i <= 0``;
* ``monotonic_dominances`` ``(i, j)``, both increasing: ``w_i >= w_j``;
* ``range_dominances`` ``(i, j)``, both increasing: ``w_i r_i >= w_j r_j``
  with ``r = max - min`` of each input's range (``input_ranges``);
* ``normalization_order=1``: ``sum_i |w_i| = 1`` per unit.

Dominances form a directed graph (weak -> dominant) that must be acyclic.
"""

import dataclasses

from tf_lattice.specs import _vocabulary as vocabulary

NORMALIZATION_ORDERS = (None, 1)


@dataclasses.dataclass(frozen=True)
class LinearSpec:
    """Validated linear constraints, directions as integers.

    Build one from the user vocabulary with :meth:`parse` (or
    :meth:`from_config`); the constructor takes the canonical values and
    checks them too.

    Attributes:
      num_inputs: ``d``.
      monotonicities: tuple of ``{-1, 0, 1}`` per input.
      monotonic_dominances: tuple of ``(dominant, weak)`` input pairs.
      range_dominances: tuple of ``(dominant, weak)`` input pairs.
      input_ranges: None or a tuple of ``d`` float pairs ``(min, max)``
        (required, each with ``min < max``, with range dominances).
      normalization_order: None or 1.
      units: the number of outputs, or None (not part of the constraints).
    """

    num_inputs: int
    monotonicities: tuple = None
    monotonic_dominances: tuple = ()
    range_dominances: tuple = ()
    input_ranges: tuple = None
    normalization_order: int = None
    units: int = None

    def __post_init__(self):
        size = vocabulary.parse_count(self.num_inputs, "num_input_dims")
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("num_inputs", size)
        signs = (0,) * size if self.monotonicities is None else tuple(self.monotonicities)
        if len(signs) != size or any(isinstance(s, bool) or s not in (-1, 0, 1) for s in signs):
            raise ValueError(
                f"monotonicities must be {size} values -1, 0 or 1 in a LinearSpec "
                f"(LinearSpec.parse takes the direction strings), got {self.monotonicities!r}")
        set_("monotonicities", tuple(int(s) for s in signs))
        for name in ("monotonic_dominances", "range_dominances"):
            pairs = vocabulary.parse_pairs(getattr(self, name), size, name, "input")
            set_(name, pairs)
            for pair in pairs:
                if any(signs[i] != 1 for i in pair):
                    raise ValueError(
                        f"{name} entry {pair} needs both inputs declared 'increasing'; "
                        f"monotonicities are {signs}")
        set_("input_ranges", _parse_ranges(self.input_ranges, size, bool(self.range_dominances)))
        edges = ([(j, i) for i, j in self.monotonic_dominances]
                 + [(j, i) for i, j in self.range_dominances])
        cycle = vocabulary.find_cycle(size, edges)
        if cycle is not None:
            raise ValueError(
                "monotonic_dominances and range_dominances contain a cycle "
                f"({' <= '.join(str(n) for n in cycle)}; inputs listed weak to dominant)")
        if self.normalization_order not in NORMALIZATION_ORDERS or isinstance(
                self.normalization_order, bool):
            raise ValueError(
                f"normalization_order must be None or 1, got {self.normalization_order!r}")
        if self.units is not None:
            set_("units", vocabulary.parse_count(self.units, "units"))

    @classmethod
    def parse(cls, num_inputs, *, monotonicities=None, monotonic_dominances=None,
              range_dominances=None, input_ranges=None, normalization_order=None, units=None):
        """Parses the user vocabulary into a spec.

        Args:
          num_inputs: ``d >= 1``.
          monotonicities: None, one of "increasing"/"decreasing"/"none" for
            every input, or one per input.
          monotonic_dominances, range_dominances: ``(dominant, weak)`` pairs
            of increasing inputs.
          input_ranges: ``d`` pairs ``(min, max)``; required with range
            dominances.
          normalization_order: None or 1.
          units: None or the number of outputs.

        Raises:
          ValueError: naming the argument: an unknown direction or a wrong
            count, a pair out of range or naming one input twice, a dominance
            over an input that is not increasing, a cycle of dominances,
            missing or empty input ranges, another normalization order.
        """
        size = vocabulary.parse_count(num_inputs, "num_input_dims")
        return cls(size, *parse_inequalities(size, monotonicities, monotonic_dominances,
                                             range_dominances, input_ranges),
                   normalization_order, units)

    @property
    def monotonicity_names(self):
        """The monotonicities as strings, one per input."""
        return [vocabulary.direction_name(m, vocabulary.MONOTONICITIES)
                for m in self.monotonicities]

    @property
    def widths(self):
        """The range widths ``max - min`` per input (ones without ranges)."""
        if self.input_ranges is None:
            return (1.0,) * self.num_inputs
        return tuple(high - low for low, high in self.input_ranges)

    @property
    def has_constraints(self):
        """Whether any constraint restricts the weights."""
        return bool(any(self.monotonicities) or self.monotonic_dominances
                    or self.range_dominances or self.normalization_order is not None)

    def to_config(self):
        """A JSON-able dict in the user vocabulary; ``from_config`` inverts it."""
        config = dict(
            num_inputs=self.num_inputs, monotonicities=self.monotonicity_names,
            monotonic_dominances=[list(p) for p in self.monotonic_dominances],
            range_dominances=[list(p) for p in self.range_dominances],
            input_ranges=None if self.input_ranges is None else [list(r) for r in self.input_ranges],
            normalization_order=self.normalization_order)
        if self.units is not None:
            config["units"] = self.units
        return config

    @classmethod
    def from_config(cls, config):
        """The spec of a :meth:`to_config` dict (or of the same arguments)."""
        config = dict(config)
        vocabulary.check_keys(config, [f.name for f in dataclasses.fields(cls)], cls.__name__)
        return cls.parse(config.pop("num_inputs"), **config)


def parse_inequalities(num_inputs, monotonicities=None, monotonic_dominances=None,
                       range_dominances=None, input_ranges=None):
    """Parses the vocabulary of the sign and dominance inequalities alone.

    What :meth:`LinearSpec.parse` parses before it checks that the
    inequalities can be projected onto (dominances over increasing inputs, no
    cycle); a certificate checks any declared inequalities.

    Returns:
      ``(monotonicities, monotonic_dominances, range_dominances,
      input_ranges)``: ``num_inputs`` ints, two tuples of int pairs, and None
      or ``num_inputs`` float pairs.

    Raises:
      ValueError: naming the argument, for an unknown direction or a wrong
        count, a malformed pair, or missing or empty input ranges.
    """
    signs = vocabulary.parse_per_item(monotonicities, num_inputs, vocabulary.MONOTONICITIES,
                                      "monotonicities", "input")
    dominances = vocabulary.parse_pairs(monotonic_dominances, num_inputs,
                                        "monotonic_dominances", "input")
    ranges = vocabulary.parse_pairs(range_dominances, num_inputs, "range_dominances", "input")
    return signs, dominances, ranges, _parse_ranges(input_ranges, num_inputs, bool(ranges))


def _parse_ranges(input_ranges, size, required):
    """``d`` float pairs (or None); with ``required`` each must have min < max."""
    if input_ranges is None:
        if required:
            raise ValueError("range_dominances need input_ranges: one (min, max) per input")
        return None
    ranges = [tuple(r) for r in input_ranges]
    if len(ranges) != size or any(len(r) != 2 for r in ranges):
        raise ValueError(
            f"input_ranges must hold one (min, max) pair per input ({size}), got {ranges!r}")
    parsed = tuple((vocabulary.parse_bound(low, f"input_ranges[{i}][0]", finite=required),
                    vocabulary.parse_bound(high, f"input_ranges[{i}][1]", finite=required))
                   for i, (low, high) in enumerate(ranges))
    if any(low is None or high is None for low, high in parsed):
        raise ValueError(f"input_ranges must hold numbers, got {ranges!r}")
    if required:
        for i, (low, high) in enumerate(parsed):
            if not high > low:
                raise ValueError(f"input_ranges[{i}] = {ranges[i]!r} must have min < max")
    return parsed
