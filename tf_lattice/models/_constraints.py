"""The shape constraints of a model's input columns, by column position.

A column's own shape (monotonicity, convexity, unimodality, category order)
is its :class:`~tf_lattice.models.configs.FeatureConfig`, the one record of a
feature. :class:`ModelConstraints` holds the FeatureConfig of every column
plus the pairwise constraints between columns by position (the model configs
name them by feature name). The fused assembly
(:mod:`tf_lattice.models.fused`) reads it to configure its lattices; the
estimators resolve their column-named arguments into it.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelConstraints:
    """Every resolved constraint of a model, by column position.

    Attributes:
      features: one :class:`~tf_lattice.models.configs.FeatureConfig` per
        column, in column order (possibly not placed yet: only its shape
        fields are read here).
      edgeworth_trusts, trapezoid_trusts: ``(main, conditional, direction)``
        with column positions.
      monotonic_dominances: ``(dominant, weak)`` column positions.
    """

    features: tuple
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()
