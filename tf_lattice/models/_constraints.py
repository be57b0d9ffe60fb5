"""The shape constraints of a model's input columns, by column position.

:class:`FeatureConstraints` holds one column's shape, :class:`ModelConstraints`
every column's plus the pairwise constraints between columns. The fused
assembly (:mod:`tf_lattice.models.fused`) reads them to configure its
calibrators and lattices; the estimators resolve their column-named
arguments into them.
"""

import dataclasses


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
