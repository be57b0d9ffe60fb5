"""The fused assembly of calibrated models: a few wide layers, not one per feature.

The assembled layers read a `(batch, d)` matrix of encoded columns, described
by one :class:`CalibratedColumn` each:

- a numeric column holds floats, NaN where missing;
- a categorical column of ``n`` categories holds ids ``0 .. n - 1``, and id
  ``n`` (its default bucket) for missing and unseen categories.

:func:`calibrated_features` calibrates every column with a few fused layers
(see :func:`calibrator_layout`): numeric columns sharing output bounds go
through one :class:`~tf_lattice.layers.PWLCalibration` with one unit per
column, categorical columns sharing output bounds through one
:class:`~tf_lattice.layers.CategoricalCalibration`.
:func:`lattice_ensemble` evaluates lattices over column subsets, one
multi-unit :class:`~tf_lattice.layers.Lattice` layer per group of lattices
with the same sizes (blocks of units with constraints of their own where
their constraint patterns differ).

How declared shapes reach the output: each column's calibrator carries the
column's own shape (increasing/decreasing, convex/concave, the partial order
of categories), and the lattices are increasing in each calibrated value of
a shaped column (:func:`lattice_directions`). An increasing function of a
monotone (or unimodal) calibrator keeps that shape.
"""

import dataclasses
from typing import Optional

import keras
import numpy as np

from tf_lattice import layers as tfl_layers
from tf_lattice.layers import lattice_initializers
from tf_lattice.models._inputs import FeatureColumns, GatherFeatures, ReorderFeatures
from tf_lattice.models._select import SelectColumns
from tf_lattice.models.configs import FeatureConfig
from tf_lattice.models.keypoints import refine_keypoints

NUMERIC_CALIBRATION = "numeric_calibration"
CATEGORICAL_CALIBRATION = "categorical_calibration"


@dataclasses.dataclass(frozen=True)
class CalibratedColumn:
    """One column of the input matrix and the calibrator it gets.

    Attributes:
      feature: the column's :class:`~tf_lattice.models.configs.FeatureConfig`:
        a numeric feature's keypoints (``K >= 2``, strictly increasing) are
        its calibrator's keypoint inputs; a categorical feature's
        ``num_buckets`` is its number ``n >= 0`` of known categories (ids
        ``0 .. n - 1``; id ``n`` is the default bucket); its shape fields
        are the calibrator's constraints.
      output_min, output_max: bounds of the calibrated value (None:
        unbounded).
    """

    feature: FeatureConfig
    output_min: Optional[float] = None
    output_max: Optional[float] = None

    def __post_init__(self):
        if not isinstance(self.feature, FeatureConfig):
            raise TypeError(f"feature must be a FeatureConfig, got {type(self.feature).__name__}")
        if not self.feature.is_categorical and self.feature.keypoints is None:
            raise ValueError(f"numeric column {self.feature.name!r} needs keypoints")

    @property
    def keypoints(self):
        """The numeric column's keypoint inputs (``()`` for a categorical one)."""
        return () if self.is_categorical else self.feature.keypoints

    @property
    def num_categories(self):
        """The categorical column's known categories (None for a numeric one)."""
        return self.feature.num_buckets

    @property
    def is_categorical(self):
        return self.feature.is_categorical

    @property
    def bounds(self):
        return (self.output_min, self.output_max)


@dataclasses.dataclass(frozen=True)
class _Group:
    """One calibration layer: its name, its input layer's name and its columns."""

    name: str
    input_name: str
    categorical: bool
    columns: tuple


def _calibrator_groups(columns):
    """The calibration layers, in the order their outputs are concatenated:
    numeric groups, shared categorical groups, then ordered categorical
    columns. The first group of a kind takes the plain name; another group
    (other bounds) or an ordered column is named by its first column."""
    numeric, shared, ordered = {}, {}, []
    for j, column in enumerate(columns):
        if not column.is_categorical:
            numeric.setdefault(column.bounds, []).append(j)
        elif column.feature.category_order:
            ordered.append(j)
        else:
            shared.setdefault(column.bounds, []).append(j)
    groups = []
    for layer, reader, categorical, by_bounds in (
            (NUMERIC_CALIBRATION, "numeric_inputs", False, numeric),
            (CATEGORICAL_CALIBRATION, "categorical_inputs", True, shared)):
        for g, members in enumerate(by_bounds.values()):
            suffix = "" if g == 0 else f"_{members[0]}"
            groups.append(_Group(layer + suffix, reader + suffix, categorical, tuple(members)))
    groups += [_Group(f"{CATEGORICAL_CALIBRATION}_{j}", f"categorical_inputs_{j}", True, (j,))
               for j in ordered]
    return groups


def calibrator_layout(columns):
    """Which calibration layer and unit calibrates each column.

    Numeric columns with the same output bounds share one PWLCalibration
    layer (one unit per column, in column order); categorical columns
    without a category order and with the same bounds share one
    CategoricalCalibration layer; a categorical column with a category order
    has a layer of its own (the order is a constraint of the whole layer).

    Args:
      columns: one :class:`CalibratedColumn` per input column.

    Returns:
      A list with one ``(layer_name, unit)`` per column.
    """
    layout = [None] * len(columns)
    for group in _calibrator_groups(columns):
        for unit, j in enumerate(group.columns):
            layout[j] = (group.name, unit)
    return layout


def _calibrator_monotonicity(feature):
    """A unimodal feature gets an increasing calibrator (the lattice makes the shape)."""
    return "increasing" if feature.unimodality != "none" else feature.monotonicity


def calibrated_features(inputs, columns, **options):
    """Every column calibrated by a few fused layers; returns `(batch, d)` in
    column order: the outputs of :func:`calibrated_groups`, reordered (one
    matrix product) unless they already are in column order.

    Args:
      inputs: the `(batch, d)` encoded matrix.
      columns: ``d`` :class:`CalibratedColumn`.
      **options: the keyword arguments of :func:`calibrated_groups`.
    """
    calibrated, positions = calibrated_groups(inputs, columns, **options)
    if positions == list(range(len(positions))):
        return calibrated
    return ReorderFeatures(positions, name="calibrated")(calibrated)


def calibrated_groups(inputs, columns, *, implementation="kernel", calibration_regularizer=None,
                      categorical_regularizer=None, linear_tails=True):
    """Every column calibrated by a few fused layers, in the layers' order.

    Numeric columns go through a PWLCalibration with one unit per column:
    their keypoints are refined to a common count ``K`` (see
    :func:`tf_lattice.models.refine_keypoints`, keypoints `[units, K]`) and
    each unit learns its missing output (NaN inputs, read by
    :class:`FeatureColumns`). Categorical columns go through a
    CategoricalCalibration whose units read the columns' ids; its
    ``num_buckets`` is the largest ``num_categories`` plus one, so a
    column's default bucket (id ``num_categories``) is the bucket right after
    its categories. See :func:`calibrator_layout` for the layer of each
    column. The layers' outputs are concatenated in the order of the layers
    (numeric groups, shared categorical groups, ordered categorical
    columns); a reader of a few columns (a lattice) picks them there, with no
    reordering of every column first.

    Args:
      inputs: the `(batch, d)` encoded matrix.
      columns: ``d`` :class:`CalibratedColumn`.
      implementation: ``"kernel"`` or ``"portable"``.
      calibration_regularizer: ``kernel_regularizer`` of the PWL calibrators.
      categorical_regularizer: ``kernel_regularizer`` of the categorical
        calibrators.
      linear_tails: whether convex and concave numeric columns with
        unbounded calibrators continue their end segments beyond their
        keypoints (a flat tail breaks the shape on the whole real line);
        every other column is flat there.

    Returns:
      ``(calibrated, positions)``: the `(batch, d)` calibrated values, and
      for each column ``j`` the position ``positions[j]`` of its value in
      them.
    """
    columns = list(columns)
    if not columns:
        raise ValueError("columns must not be empty")
    outputs, order = [], []
    for group in _calibrator_groups(columns):
        members = list(group.columns)
        first = columns[members[0]]
        features = [columns[j].feature for j in members]
        if not group.categorical:
            count = max(len(columns[j].keypoints) for j in members)
            keypoints = np.stack([refine_keypoints(columns[j].keypoints, count) for j in members])
            values, is_missing = FeatureColumns(members, keypoints[:, 0], name=group.input_name)(inputs)
            unbounded = first.output_min is None and first.output_max is None
            calibrator = tfl_layers.PWLCalibration(
                implementation=implementation, input_keypoints=keypoints.tolist(),
                units=len(members), monotonicity=[_calibrator_monotonicity(f) for f in features],
                convexity=[f.convexity for f in features],
                extrapolation=["linear" if linear_tails and unbounded and f.convexity != "none"
                               else "constant" for f in features],
                output_min=first.output_min, output_max=first.output_max, impute_missing=True,
                kernel_initializer="equal_heights", kernel_regularizer=calibration_regularizer,
                name=group.name)
            outputs.append(calibrator([values, is_missing]))
        else:
            ids = SelectColumns(members, name=group.input_name)(inputs)
            extra = ({"category_order": list(first.feature.category_order)}
                     if first.feature.category_order else {"units": len(members)})
            calibrator = tfl_layers.CategoricalCalibration(
                implementation=implementation,
                num_buckets=max(columns[j].num_categories for j in members) + 1,
                output_min=first.output_min, output_max=first.output_max,
                kernel_initializer="constant", kernel_regularizer=categorical_regularizer,
                name=group.name, **extra)
            outputs.append(calibrator(ids))
        order += members
    calibrated = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(
        axis=-1, name="calibrated_columns")(outputs)
    position = {column: k for k, column in enumerate(order)}
    return calibrated, [position[j] for j in range(len(columns))]


def lattice_directions(constraints):
    """Per column: the lattice monotonicity and unimodality of its dimension.

    A shaped column (see :attr:`FeatureConfig.shaped`) that is not
    unimodal is ``"increasing"`` (its calibrator applies the direction); a
    unimodal column keeps its unimodality (its calibrator is increasing).

    Args:
      constraints: a :class:`ModelConstraints`.

    Returns:
      ``(monotonicities, unimodalities)``, two lists with one entry per column.
    """
    monotonicities, unimodalities = [], []
    for feature in constraints.features:
        unimodalities.append(feature.unimodality)
        monotonicities.append("increasing" if feature.shaped and feature.unimodality == "none"
                              else "none")
    return monotonicities, unimodalities


def calibrated_trusts(entries, constraints):
    """Trust triples ``(main, conditional, direction)`` in calibrated space: a
    decreasing conditional column flips the direction."""
    flipped = {"increasing": "decreasing", "decreasing": "increasing"}
    return [(main, cond, flipped[d] if constraints.features[cond].monotonicity == "decreasing" else d)
            for main, cond, d in entries]


def local_constraints(subset, constraints):
    """The Lattice constraint arguments of a lattice reading columns ``subset``
    (in order): directions, trusts and dominances among those columns, with
    column positions replaced by lattice dimensions."""
    monotonicities, unimodalities = lattice_directions(constraints)
    position = {feature: k for k, feature in enumerate(subset)}

    def local(entries):
        return tuple((position[e[0]], position[e[1]]) + tuple(e[2:]) for e in entries
                     if e[0] in position and e[1] in position)

    return dict(
        monotonicities=tuple(monotonicities[f] for f in subset),
        unimodalities=tuple(unimodalities[f] for f in subset),
        edgeworth_trusts=local(calibrated_trusts(constraints.edgeworth_trusts, constraints)),
        trapezoid_trusts=local(calibrated_trusts(constraints.trapezoid_trusts, constraints)),
        monotonic_dominances=local(constraints.monotonic_dominances))


def dimension_order(subset, constraints):
    """The columns of ``subset``, shaped ones first, so that more lattices
    share one constraint pattern."""
    monotonicities, unimodalities = lattice_directions(constraints)
    return sorted(subset, key=lambda f: (monotonicities[f] == "none", unimodalities[f], f))


def lattice_ensemble(calibrated, subsets, constraints, lattice_sizes, name, *, units=1,
                     interpolation="hypercube", output_min=None, output_max=None,
                     kernel_initializer=None, kernel_regularizer=None, implementation="kernel",
                     positions=None):
    """Lattices over column subsets; returns `(batch, len(subsets) * units)`.

    Each subset's columns are ordered by :func:`dimension_order`. Lattices
    with the same sizes form a group, evaluated by one Lattice layer
    ``{name}_{g}`` with ``members * units`` units that reads `(batch,
    members * units, rank)` gathered inputs (:class:`GatherFeatures`), so
    that one op call interpolates them and one projects them. Within a
    group, lattices with the same constraint pattern
    (:func:`local_constraints`) form a block of units (the Lattice's
    ``unit_constraints`` when the group has more than one pattern). The
    output holds the groups in order of first appearance, within a group
    the blocks in order of first appearance, within a block lattice ``m``'s
    ``units`` outputs at ``m * units .. (m + 1) * units - 1``.

    Args:
      calibrated: `(batch, d)` calibrated columns.
      subsets: lists of column indices, one per lattice.
      constraints: the :class:`ModelConstraints` of the ``d`` columns.
      lattice_sizes: vertices per dimension: one int, or one per column.
      name: prefix of the layer names.
      units: outputs of each lattice.
      interpolation: ``"hypercube"`` or ``"simplex"``.
      output_min, output_max: bounds of the lattice outputs.
      kernel_initializer: of each Lattice layer; None: a linear function
        spanning ``[-1/2, 1/2]`` when unbounded, ``"linear_initializer"``
        when bounded.
      kernel_regularizer: of each Lattice layer.
      implementation: ``"kernel"`` or ``"portable"``.
      positions: where column ``j``'s value sits in ``calibrated``
        (``positions[j]``, as :func:`calibrated_groups` returns them); None:
        at ``j``.
    """
    width = len(constraints.features)
    if positions is None:
        positions = list(range(width))
    if len(positions) != width:
        raise ValueError(f"positions has {len(positions)} entries for {width} columns")
    sizes = ([int(lattice_sizes)] * width if np.ndim(lattice_sizes) == 0
             else [int(s) for s in lattice_sizes])
    if len(sizes) != width:
        raise ValueError(f"lattice_sizes has {len(sizes)} entries for {width} columns")
    groups = {}  # lattice shape -> pattern key -> (local constraints, members)
    for subset in subsets:
        ordered = dimension_order(subset, constraints)
        local = local_constraints(ordered, constraints)
        lattice_shape = tuple(sizes[f] for f in ordered)
        key = tuple(sorted((k, repr(v)) for k, v in local.items()))
        groups.setdefault(lattice_shape, {}).setdefault(key, (local, []))[1].append(ordered)
    outputs = []
    for g, (lattice_shape, blocks) in enumerate(groups.items()):
        blocks = list(blocks.values())
        read = [[positions[f] for f in subset]
                for _, members in blocks for subset in members for _ in range(units)]
        gathered = GatherFeatures(read, name=f"{name}_inputs_{g}")(calibrated)
        initializer = kernel_initializer
        if initializer is None and output_min is None and output_max is None:
            linear = [lattice_initializers.LinearInitializer(
                list(lattice_shape), list(local["monotonicities"]), list(local["unimodalities"]),
                -0.5, 0.5) for local, _ in blocks]
            initializer = linear[0] if len(blocks) == 1 else lattice_initializers.UnitBlocks(
                linear, [len(members) * units for _, members in blocks])
        elif initializer is None:
            initializer = "linear_initializer"
        if len(blocks) == 1:
            constraint_arguments = {k: list(v) for k, v in blocks[0][0].items()}
        else:
            constraint_arguments = {"unit_constraints": [
                dict(units=len(members) * units, **{k: list(v) for k, v in local.items()})
                for local, members in blocks]}
        lattice = tfl_layers.Lattice(
            kernel_initializer=initializer, implementation=implementation,
            lattice_sizes=list(lattice_shape), units=len(read), interpolation=interpolation,
            output_min=output_min, output_max=output_max, kernel_regularizer=kernel_regularizer,
            name=f"{name}_{g}", **constraint_arguments)
        outputs.append(lattice(gathered))
    if len(outputs) == 1:
        return outputs[0]
    return keras.layers.Concatenate(axis=-1, name=f"{name}_outputs")(outputs)
