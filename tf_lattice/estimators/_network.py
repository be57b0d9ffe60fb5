"""Keras models of the estimators, assembled from tf_lattice layers.

Every model reads the encoded `(batch, n_features)` matrix (see
``_columns.encode``) and returns `(batch, units)` scores: one per class for
multiclass classifiers, one logit for binary classifiers, one standardized
value for regressors.

How declared shapes reach the output: each feature's calibrator carries the
feature's own shape (increasing/decreasing, convex/concave, the partial order
of categories), and every layer after the calibrators is increasing in each
calibrated value of a shaped feature (lattice dimensions marked
``"increasing"``, linear weights >= 0). An increasing function of a monotone
(or unimodal) calibrator keeps that shape, so monotonicity holds on the model
output and on every class score. Convexity holds on the whole real line on
the output of calibrated linear models (whose unbounded calibrators continue
their end segments beyond the keypoints), and on the calibrators of lattice
models between their first and last keypoint (bounded calibrators are flat
beyond them). Unimodality is a lattice
constraint: the calibrator is increasing and the (single) lattice is
valley- or peak-shaped along that feature.
"""

import dataclasses

import keras
import numpy as np

from tf_lattice import layers as tfl_layers
from tf_lattice.layers import lattice_initializers
from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.estimators._constraints import FeatureConstraints, ModelConstraints
from tf_lattice.estimators._inputs import FeatureColumns, GatherFeatures, ReorderFeatures
from tf_lattice.models._select import SelectColumns
from tf_lattice.models.keypoints import refine_keypoints


@dataclasses.dataclass(frozen=True)
class NetworkSettings:
    """Sizes and regularization shared by every model kind.

    Attributes:
      units: outputs of the model.
      lattice_size: vertices per lattice dimension.
      interpolation: ``"hypercube"`` or ``"simplex"``.
      calibration_laplacian, calibration_hessian, calibration_wrinkle: l2
        amounts of the calibrator regularizers (first, second and third
        differences of keypoint outputs).
      lattice_laplacian, lattice_torsion: l2 amounts of the lattice
        regularizers.
      l2: l2 amount on linear weights and categorical calibrator outputs.
      implementation: ``"kernel"`` (compiled ops) or ``"portable"`` (stock
        TensorFlow ops, e.g. under XLA).
      initial_output: the model's initial scores, one per unit (or one for
        all): the best constant fit (class log-odds, standardized mean 0), so
        training starts from the prior instead of spending steps on the bias.
    """

    units: int = 1
    lattice_size: int = 2
    interpolation: str = "hypercube"
    calibration_laplacian: float = 0.0
    calibration_hessian: float = 0.0
    calibration_wrinkle: float = 0.0
    lattice_laplacian: float = 0.0
    lattice_torsion: float = 0.0
    l2: float = 0.0
    implementation: str = "kernel"
    initial_output: tuple = (0.0,)

    def initial_bias(self):
        """The initial output as a `(units,)` bias initializer."""
        values = np.broadcast_to(np.asarray(self.initial_output, np.float64), (self.units,))
        return keras.initializers.Constant([float(v) for v in values])

    def centred_lattice_initializer(self, lattice_sizes, monotonicities, unimodalities, center):
        """A linear lattice initializer spanning ``[center - 1/2, center + 1/2]``."""
        return lattice_initializers.LinearInitializer(
            lattice_sizes, list(monotonicities), list(unimodalities), center - 0.5, center + 0.5)


def _calibrator_regularizers(settings):
    terms = [("laplacian", 0.0, settings.calibration_laplacian),
             ("hessian", 0.0, settings.calibration_hessian),
             ("wrinkle", 0.0, settings.calibration_wrinkle)]
    return [term for term in terms if term[2] > 0] or None


def _lattice_regularizers(settings):
    terms = [("laplacian", 0.0, settings.lattice_laplacian),
             ("torsion", 0.0, settings.lattice_torsion)]
    return [term for term in terms if term[2] > 0] or None


def _l2(settings):
    return keras.regularizers.L2(settings.l2) if settings.l2 > 0 else None


NUMERIC_CALIBRATION = "numeric_calibration"
CATEGORICAL_CALIBRATION = "categorical_calibration"


def calibrator_layout(specs, constraints):
    """Which calibration layer and unit calibrates each column.

    Numeric columns share one PWLCalibration layer (one unit per column, in
    column order); categorical columns without a category order share one
    CategoricalCalibration layer; a categorical column with a category order
    has a layer of its own (the order is a constraint of the whole layer).

    Returns:
      A list with one ``(layer_name, unit)`` per column.
    """
    layout, numeric, shared = [], 0, 0
    for j, (spec, feature) in enumerate(zip(specs, constraints.features)):
        if spec.kind == NUMERIC:
            layout.append((NUMERIC_CALIBRATION, numeric))
            numeric += 1
        elif feature.category_order:
            layout.append((f"{CATEGORICAL_CALIBRATION}_{j}", 0))
        else:
            layout.append((CATEGORICAL_CALIBRATION, shared))
            shared += 1
    return layout


def _calibrator_monotonicity(feature):
    """A unimodal feature gets an increasing calibrator (the lattice makes the shape)."""
    return "increasing" if feature.unimodality != "none" else feature.monotonicity


def _calibrator_extrapolation(feature, bounded):
    """Convex and concave columns of unbounded calibrators continue their end
    segments (a flat tail would break the shape); every other column is flat
    beyond its keypoints."""
    return "linear" if feature.convexity != "none" and not bounded else "constant"


def calibrated_features(inputs, specs, constraints, settings, output_min, output_max):
    """Every column calibrated by a few fused layers; returns `(batch, d)`.

    Numeric columns go through one PWLCalibration with one unit per column:
    their keypoints are refined to a common count (see
    :func:`tf_lattice.models.refine_keypoints`) and each unit learns its
    missing output. Categorical columns go through one CategoricalCalibration
    whose units read the columns' bucket ids; its ``num_buckets`` is the
    largest vocabulary plus one, so a column's default bucket (missing and
    unseen categories, id ``len(vocabulary)``) is the bucket right after its
    vocabulary (a column with a category order gets such a layer of its
    own). See
    :func:`calibrator_layout` for the layer of each column.
    """
    layout = calibrator_layout(specs, constraints)
    bounded = output_min is not None or output_max is not None
    numeric = [j for j, (name, _) in enumerate(layout) if name == NUMERIC_CALIBRATION]
    shared = [j for j, (name, _) in enumerate(layout) if name == CATEGORICAL_CALIBRATION]
    ordered = [j for j, (name, _) in enumerate(layout)
               if name not in (NUMERIC_CALIBRATION, CATEGORICAL_CALIBRATION)]
    outputs, columns = [], []
    if numeric:
        count = max(len(specs[j].keypoints) for j in numeric)
        keypoints = np.stack([refine_keypoints(specs[j].keypoints, count) for j in numeric])
        values, is_missing = FeatureColumns(numeric, keypoints[:, 0], name="numeric_inputs")(inputs)
        calibrator = tfl_layers.PWLCalibration(
            implementation=settings.implementation, input_keypoints=keypoints.tolist(),
            units=len(numeric),
            monotonicity=[_calibrator_monotonicity(constraints.features[j]) for j in numeric],
            convexity=[constraints.features[j].convexity for j in numeric],
            extrapolation=[_calibrator_extrapolation(constraints.features[j], bounded)
                           for j in numeric],
            output_min=output_min, output_max=output_max, impute_missing=True,
            kernel_initializer="equal_heights",
            kernel_regularizer=_calibrator_regularizers(settings), name=NUMERIC_CALIBRATION)
        outputs.append(calibrator([values, is_missing]))
        columns += numeric
    if shared:
        ids = SelectColumns(shared, name="categorical_inputs")(inputs)
        calibrator = tfl_layers.CategoricalCalibration(
            implementation=settings.implementation,
            num_buckets=max(len(specs[j].vocabulary) for j in shared) + 1, units=len(shared),
            output_min=output_min, output_max=output_max, kernel_initializer="constant",
            kernel_regularizer=_l2(settings), name=CATEGORICAL_CALIBRATION)
        outputs.append(calibrator(ids))
        columns += shared
    for j in ordered:
        ids = SelectColumns([j], name=f"categorical_inputs_{j}")(inputs)
        calibrator = tfl_layers.CategoricalCalibration(
            implementation=settings.implementation, num_buckets=len(specs[j].vocabulary) + 1,
            output_min=output_min, output_max=output_max,
            monotonicities=list(constraints.features[j].category_order),
            kernel_initializer="constant", kernel_regularizer=_l2(settings),
            name=layout[j][0])
        outputs.append(calibrator(ids))
        columns.append(j)
    calibrated = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(
        axis=-1, name="calibrated_columns")(outputs)
    if columns == list(range(len(specs))):
        return calibrated
    position = {column: k for k, column in enumerate(columns)}
    return ReorderFeatures([position[j] for j in range(len(specs))], name="calibrated")(calibrated)


def lattice_directions(constraints):
    """Per feature: the lattice monotonicity and unimodality of its dimension."""
    monotonicities, unimodalities = [], []
    for feature in constraints.features:
        unimodalities.append(feature.unimodality)
        monotonicities.append("increasing" if feature.shaped and feature.unimodality == "none"
                              else "none")
    return monotonicities, unimodalities


def _trusts(entries, constraints):
    """Trust triples in calibrated space (a decreasing conditional flips them)."""
    flipped = {"increasing": "decreasing", "decreasing": "increasing"}
    return [(main, cond, flipped[d] if constraints.features[cond].monotonicity == "decreasing" else d)
            for main, cond, d in entries]


def _local_constraints(subset, constraints):
    """Per-lattice constraints for a lattice reading ``subset`` (in order)."""
    monotonicities, unimodalities = lattice_directions(constraints)
    position = {feature: k for k, feature in enumerate(subset)}

    def local(entries):
        return tuple((position[e[0]], position[e[1]]) + tuple(e[2:]) for e in entries
                     if e[0] in position and e[1] in position)

    return dict(
        monotonicities=tuple(monotonicities[f] for f in subset),
        unimodalities=tuple(unimodalities[f] for f in subset),
        edgeworth_trusts=local(_trusts(constraints.edgeworth_trusts, constraints)),
        trapezoid_trusts=local(_trusts(constraints.trapezoid_trusts, constraints)),
        monotonic_dominances=local(constraints.monotonic_dominances))


def _dimension_order(subset, constraints):
    """Shaped dimensions first, so more lattices share one constraint pattern."""
    monotonicities, unimodalities = lattice_directions(constraints)
    return sorted(subset, key=lambda f: (monotonicities[f] == "none", unimodalities[f], f))


def lattice_ensemble(calibrated, subsets, constraints, settings, name, output_min=None,
                     output_max=None):
    """Lattices over feature subsets; returns `(batch, len(subsets))`.

    Lattices with the same constraint pattern are evaluated by one Lattice
    layer with several units.
    """
    groups = {}
    for subset in subsets:
        ordered = _dimension_order(subset, constraints)
        local = _local_constraints(ordered, constraints)
        key = tuple(sorted((k, repr(v)) for k, v in local.items()))
        groups.setdefault(key, (local, []))[1].append(ordered)
    outputs = []
    for g, (local, members) in enumerate(groups.values()):
        gathered = GatherFeatures(members, name=f"{name}_inputs_{g}")(calibrated)
        sizes = [settings.lattice_size] * len(members[0])
        if output_min is None and output_max is None:
            initializer = settings.centred_lattice_initializer(
                sizes, local["monotonicities"], local["unimodalities"], 0.0)
        else:
            initializer = "linear_initializer"
        lattice = tfl_layers.Lattice(
            kernel_initializer=initializer,
            implementation=settings.implementation,
            lattice_sizes=[settings.lattice_size] * len(members[0]), units=len(members),
            interpolation=settings.interpolation, output_min=output_min, output_max=output_max,
            kernel_regularizer=_lattice_regularizers(settings), name=f"{name}_{g}",
            **{k: list(v) for k, v in local.items()})
        outputs.append(lattice(gathered))
    if len(outputs) == 1:
        return outputs[0]
    return keras.layers.Concatenate(axis=-1, name=f"{name}_outputs")(outputs)


def _inputs(specs):
    return keras.Input(shape=(len(specs),), dtype="float32", name="features")


def calibrated_linear(specs, constraints, settings):
    """Calibrators (unbounded) then a linear layer, weights >= 0 on shaped features."""
    inputs = _inputs(specs)
    calibrated = calibrated_features(inputs, specs, constraints, settings, None, None)
    monotonicities, _ = lattice_directions(constraints)
    outputs = tfl_layers.Linear(
        implementation=settings.implementation,
        num_input_dims=len(specs), units=settings.units, monotonicities=monotonicities,
        monotonic_dominances=list(constraints.monotonic_dominances) or None,
        bias_initializer=settings.initial_bias(),
        kernel_regularizer=_l2(settings), name="linear")(calibrated)
    return keras.Model(inputs, outputs, name="calibrated_linear")


def calibrated_lattice(specs, constraints, settings):
    """Calibrators onto `[0, lattice_size - 1]` then one lattice over all features."""
    inputs = _inputs(specs)
    top = settings.lattice_size - 1.0
    calibrated = calibrated_features(inputs, specs, constraints, settings, 0.0, top)
    monotonicities, unimodalities = lattice_directions(constraints)
    sizes = [settings.lattice_size] * len(specs)
    outputs = tfl_layers.Lattice(
        implementation=settings.implementation,
        lattice_sizes=sizes, units=settings.units,
        interpolation=settings.interpolation, monotonicities=monotonicities,
        unimodalities=unimodalities,
        edgeworth_trusts=_trusts(constraints.edgeworth_trusts, constraints) or None,
        trapezoid_trusts=_trusts(constraints.trapezoid_trusts, constraints) or None,
        monotonic_dominances=list(constraints.monotonic_dominances) or None,
        kernel_regularizer=_lattice_regularizers(settings), name="lattice")(calibrated)
    return keras.Model(inputs, outputs, name="calibrated_lattice")


def _combine(lattice_outputs, num_lattices, settings):
    """The increasing linear layer that sums an ensemble's lattices into the scores."""
    return tfl_layers.Linear(
        implementation=settings.implementation,
        num_input_dims=num_lattices, units=settings.units, monotonicities="increasing",
        bias_initializer=settings.initial_bias(),
        kernel_regularizer=_l2(settings), name="combine")(lattice_outputs)


def calibrated_lattice_ensemble(specs, constraints, settings, subsets):
    """Shared calibrators, lattices over ``subsets``, then an increasing linear layer."""
    inputs = _inputs(specs)
    top = settings.lattice_size - 1.0
    calibrated = calibrated_features(inputs, specs, constraints, settings, 0.0, top)
    lattices = lattice_ensemble(calibrated, subsets, constraints, settings, "lattice")
    outputs = _combine(lattices, len(subsets), settings)
    return keras.Model(inputs, outputs, name="calibrated_lattice_ensemble")


def deep_lattice_network(specs, constraints, settings, subsets, second_subsets):
    """Two lattice layers with a calibration between them, then a linear layer.

    Calibrators -> lattices over ``subsets`` (outputs in [0, 1]) -> an
    increasing PWL calibration of each lattice output onto
    `[0, lattice_size - 1]` -> lattices over ``second_subsets`` of those
    (increasing in every input) -> increasing linear combination.
    """
    inputs = _inputs(specs)
    top = settings.lattice_size - 1.0
    calibrated = calibrated_features(inputs, specs, constraints, settings, 0.0, top)
    first = lattice_ensemble(calibrated, subsets, constraints, settings, "lattice_1", 0.0, 1.0)
    width = len(subsets)
    recalibrated = tfl_layers.PWLCalibration(
        implementation=settings.implementation,
        input_keypoints=np.linspace(0.0, 1.0, 5).tolist(), units=width, monotonicity="increasing",
        output_min=0.0, output_max=top, name="recalibration")(first)
    increasing = ModelConstraints(tuple(FeatureConstraints("increasing") for _ in range(width)))
    second = lattice_ensemble(recalibrated, second_subsets, increasing, settings, "lattice_2")
    outputs = _combine(second, len(second_subsets), settings)
    return keras.Model(inputs, outputs, name="deep_lattice_network")
