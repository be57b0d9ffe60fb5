"""``CategoricalSpec``: the validated declaration of a categorical calibrator.

A categorical calibrator unit has one output ``o_c`` per category ``c`` in
``[0, num_buckets)`` (plus a default bucket for unknown ids). Its declared
constraints are

* ``category_order``: pairs ``(i, j)``, each meaning ``o_i <= o_j``; together
  a partial order, so the pairs must not form a cycle;
* ``output_min <= o_c <= output_max`` for every bucket.
"""

import dataclasses

from tf_lattice.specs import _vocabulary as vocabulary


@dataclasses.dataclass(frozen=True)
class CategoricalSpec:
    """Validated categorical constraints.

    Attributes:
      num_buckets: number of known categories (``>= 1``).
      units: number of calibrators.
      category_order: tuple of ``(i, j)`` category pairs, acyclic.
      output_min, output_max: float or None.
    """

    num_buckets: int
    units: int = 1
    category_order: tuple = ()
    output_min: float = None
    output_max: float = None

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        size = vocabulary.parse_count(self.num_buckets, "num_buckets")
        set_("num_buckets", size)
        set_("units", vocabulary.parse_count(self.units, "units"))
        pairs = vocabulary.parse_pairs(self.category_order, size, "category_order", "category")
        cycle = vocabulary.find_cycle(size, pairs)
        if cycle is not None:
            raise ValueError(
                f"category_order {[list(p) for p in pairs]} contains a cycle "
                f"({' <= '.join(str(c) for c in cycle)}): a partial order has none")
        set_("category_order", pairs)
        low, high = vocabulary.parse_bounds(self.output_min, self.output_max)
        set_("output_min", low)
        set_("output_max", high)

    @classmethod
    def parse(cls, num_buckets, *, units=1, category_order=None, output_min=None,
              output_max=None):
        """Parses the user arguments (as ``CategoricalCalibration`` takes them).

        Raises:
          ValueError: naming the argument: a count below 1, a pair out of
            range or naming one category twice, a cycle, infeasible bounds.
        """
        return cls(num_buckets, units, category_order, output_min, output_max)

    @property
    def has_constraints(self):
        """Whether the order or a bound restricts the outputs."""
        return bool(self.category_order) or self.output_min is not None \
            or self.output_max is not None

    def to_config(self):
        """A JSON-able dict; ``from_config`` inverts it."""
        return dict(num_buckets=self.num_buckets, units=self.units,
                    category_order=[list(p) for p in self.category_order],
                    output_min=self.output_min, output_max=self.output_max)

    @classmethod
    def from_config(cls, config):
        """The spec of a :meth:`to_config` dict (or of the same arguments)."""
        config = dict(config)
        vocabulary.check_keys(config, [f.name for f in dataclasses.fields(cls)], cls.__name__)
        return cls.parse(config.pop("num_buckets"), **config)
