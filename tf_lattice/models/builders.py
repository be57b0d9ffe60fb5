"""Builders of calibrated linear, lattice and lattice-ensemble models.

Every builder returns a ``keras.Model`` returning ``[batch, units]`` (one
score per class for a multi-class classifier). It reads a dict ``{feature
name: [batch, 1]}`` by default, or, with ``encoded=True``, one `(batch, d)`
input named ``"features"`` holding the encoded matrix of
:mod:`tf_lattice.models.fused` (the features in config order, NaN where a
numeric value is missing, categorical ids with the default bucket id
``num_buckets``): the estimators' models read that matrix. Shaped features
(see :attr:`FeatureConfig.shaped`) get shaped calibrators, and every later
layer is increasing in their calibrated values, so the model keeps each
declared shape: monotone in the declared direction, unimodal (lattice
models), convex or concave (on the whole real line for unbounded calibrated
linear models, whose convex and concave calibrators continue their end
segments; between the first and last keypoint otherwise). Lattices carry the
trusts and dominances between the features they read.

The builders assemble the model with :mod:`tf_lattice.models.fused`: the
numeric features share one PWLCalibration per set of output bounds (one unit
per feature), the categorical ones one CategoricalCalibration (a feature
with a category order has its own), and the lattices of an ensemble with the
same sizes are one multi-unit Lattice layer (a block of units per
constraint pattern), projected by one op call. A
categorical id outside ``[0, num_buckets)`` (NaN included) reads the
feature's default bucket; a NaN numeric input (or one equal to the feature's
``missing_input_value``) reads the calibrator's learned missing output.
"""

import keras
import numpy as np

from tf_lattice import layers
from tf_lattice.layers import lattice_initializers
from tf_lattice.models import _calibration
from tf_lattice.models import ensembles
from tf_lattice.models import fused


def _lattice_bounds(features):
    """Each feature's calibrator range ``[0, lattice_size - 1]``."""
    return [(0.0, f.lattice_size - 1.0) for f in features]


def _inputs(config, encoded):
    """``(model inputs, the (batch, d) matrix they give)``."""
    if encoded:
        matrix = _calibration.matrix_input(config.features)
        return matrix, matrix
    inputs = _calibration.feature_inputs(config.features)
    return inputs, _calibration.input_matrix(config.features, inputs)


def _l2(config):
    return keras.regularizers.L2(config.l2) if config.l2 > 0 else None


def _calibrated(config, matrix, bounds, assembly=_calibration.calibrated):
    """Every feature calibrated, with the config's calibrator regularizers, by
    ``assembly`` (``_calibration.calibrated`` or ``calibrated_groups``)."""
    terms = [(name, 0.0, getattr(config, f"calibration_{name}"))
             for name in ("laplacian", "hessian", "wrinkle")]
    return assembly(
        config.features, matrix, bounds, config.implementation,
        calibration_regularizer=[t for t in terms if t[2] > 0] or None,
        categorical_regularizer=_l2(config))


def _lattice_regularizer(config):
    terms = [("laplacian", 0.0, config.lattice_laplacian), ("torsion", 0.0, config.lattice_torsion)]
    return [t for t in terms if t[2] > 0] or None


def _constraints(config):
    return _calibration.model_constraints(config.features, config.edgeworth_trusts,
                                          config.trapezoid_trusts, config.monotonic_dominances)


def calibrated_linear(config, encoded=False):
    """Calibrators, then a linear combination (a weighted average when bounded).

    ``f(x) = b + sum_j w_j c_j(x_j)`` with ``w_j >= 0`` for every shaped
    feature; with both output bounds the calibrators map into them and
    ``w_j >= 0, sum_j w_j = 1, b = 0``.

    Args:
      config: a :class:`CalibratedLinearConfig`.
      encoded: read the encoded `(batch, d)` matrix instead of a dict.

    Returns:
      A ``keras.Model``.
    """
    bounded = config.output_min is not None and config.output_max is not None
    inputs, matrix = _inputs(config, encoded)
    calibrated = _calibrated(config, matrix, (config.output_min, config.output_max))
    constraints = _constraints(config)
    monotonicities, _ = fused.lattice_directions(constraints)
    if bounded:
        monotonicities = ["increasing"] * len(config.features)
    linear = layers.Linear(
        len(config.features), units=config.units, monotonicities=monotonicities,
        monotonic_dominances=list(constraints.monotonic_dominances) or None,
        normalization_order=1 if bounded else None, use_bias=config.use_bias and not bounded,
        bias_initializer=_calibration.initial_bias(config), kernel_regularizer=_l2(config),
        implementation=config.implementation, name="linear")
    return keras.Model(inputs, linear(calibrated), name="calibrated_linear")


def calibrated_lattice(config, encoded=False):
    """Calibrators to ``[0, lattice_size - 1]``, then one lattice.

    Args:
      config: a :class:`CalibratedLatticeConfig`.
      encoded: read the encoded `(batch, d)` matrix instead of a dict.

    Returns:
      A ``keras.Model``.
    """
    inputs, matrix = _inputs(config, encoded)
    calibrated = _calibrated(config, matrix, _lattice_bounds(config.features))
    constraints = _constraints(config)
    monotonicities, unimodalities = fused.lattice_directions(constraints)
    lattice = layers.Lattice(
        [f.lattice_size for f in config.features], units=config.units, interpolation=config.interpolation,
        monotonicities=monotonicities, unimodalities=unimodalities,
        edgeworth_trusts=fused.calibrated_trusts(constraints.edgeworth_trusts, constraints) or None,
        trapezoid_trusts=fused.calibrated_trusts(constraints.trapezoid_trusts, constraints) or None,
        monotonic_dominances=list(constraints.monotonic_dominances) or None,
        output_min=config.output_min, output_max=config.output_max,
        kernel_initializer=_initial_lattice(config, monotonicities, unimodalities),
        kernel_regularizer=_lattice_regularizer(config),
        implementation=config.implementation, name="lattice")
    return keras.Model(inputs, lattice(calibrated), name="calibrated_lattice")


def _initial_lattice(config, monotonicities, unimodalities):
    """The kernel initializer of a single lattice: a linear function per unit
    spanning ``initial_output[u] +- 1/2`` when ``config.initial_output`` is
    set, else the Lattice layer's default."""
    if config.initial_output is None:
        return "linear_initializer"
    start = _calibration.initial_scores(config)
    return lattice_initializers.LinearInitializer(
        [f.lattice_size for f in config.features], monotonicities, unimodalities,
        output_min=[v - 0.5 for v in start], output_max=[v + 0.5 for v in start])


def ensemble_structure(config, x=None, y=None):
    """The feature indices of each lattice of an ensemble config.

    Explicit ``config.lattices`` are used as given; otherwise the strategy
    ``config.ensemble`` (seeded by ``config.seed``) of
    :mod:`tf_lattice.models.ensembles` chooses them.

    Args:
      config: a :class:`CalibratedLatticeEnsembleConfig`.
      x, y: training data (dict of feature arrays ``[n]`` or ``[n, 1]``,
        targets ``[n]`` or ``[n, k]``); needed for ``ensemble="crystals"``,
        which measures feature interactions by binned target means
        (:func:`tf_lattice.models.ensembles.interaction_strengths`).

    Returns:
      A list of sorted tuples of feature indices.

    Raises:
      ValueError: crystals without data, or ``x`` without a feature.
    """
    if config.lattices is not None:
        index = {f.name: i for i, f in enumerate(config.features)}
        return [tuple(sorted(index[name] for name in lattice)) for lattice in config.lattices]
    matrix = None
    if x is not None:
        missing = [f.name for f in config.features if f.name not in x]
        if missing:
            raise ValueError(f"x has no values for the features {missing}")
        matrix = np.column_stack([np.asarray(x[f.name], np.float64).reshape(-1) for f in config.features])
    return ensembles.lattice_structure(config.ensemble, len(config.features), config.num_lattices,
                                       config.lattice_rank, seed=config.seed, x=matrix, y=y)


def combine(lattice_outputs, num_lattices, config):
    """The increasing linear layer ``"combine"`` mapping ``num_lattices``
    lattice outputs to the ``config.units`` scores, its bias starting at
    ``config.initial_output``."""
    return layers.Linear(
        num_lattices, units=config.units, monotonicities="increasing",
        bias_initializer=_calibration.initial_bias(config), kernel_regularizer=_l2(config),
        implementation=config.implementation, name="combine")(lattice_outputs)


def calibrated_lattice_ensemble(config, x=None, y=None, encoded=False):
    """Calibrators, then several small lattices, averaged or linearly combined.

    Every feature has one calibrator unit to ``[0, lattice_size - 1]``,
    shared by the lattices that read it. The lattices (chosen by
    :func:`ensemble_structure`, whatever the ``ensemble`` strategy) of equal
    sizes are one multi-unit Lattice layer, a block of units per constraint
    pattern (:func:`tf_lattice.models.fused.lattice_ensemble`). With
    ``combination="average"`` each lattice has ``units`` outputs and the
    model returns the mean over the lattices of each unit; with
    ``combination="linear"`` each lattice has one output and the increasing
    linear layer of :func:`combine` maps them to the `(batch, units)`
    scores.

    Args:
      config: a :class:`CalibratedLatticeEnsembleConfig`.
      x, y: training data for ``ensemble="crystals"`` (ignored otherwise).
      encoded: read the encoded `(batch, d)` matrix instead of a dict.

    Returns:
      A ``keras.Model``.
    """
    inputs, matrix = _inputs(config, encoded)
    structure = [list(lattice) for lattice in ensemble_structure(config, x, y)]
    # The lattices read the calibrated values where the calibration layers
    # put them: no reordering of every feature first.
    calibrated, positions = _calibrated(config, matrix, _lattice_bounds(config.features),
                                        _calibration.calibrated_groups)
    linear = config.combination == "linear"
    output = fused.lattice_ensemble(
        calibrated, structure, _constraints(config),
        [f.lattice_size for f in config.features], "lattice", units=1 if linear else config.units,
        interpolation=config.interpolation, output_min=config.output_min, output_max=config.output_max,
        kernel_initializer=("random_monotonic_initializer"
                            if config.lattice_initializer == "random_monotonic" else None),
        kernel_regularizer=_lattice_regularizer(config), implementation=config.implementation,
        positions=positions)
    if linear:
        output = combine(output, len(structure), config)
    elif len(structure) > 1:
        # [batch, lattices * units], lattice-major -> the mean over lattices.
        by_lattice = keras.layers.Reshape((len(structure), config.units), name="lattice_grid")(output)
        output = keras.layers.GlobalAveragePooling1D(name="average")(by_lattice)
    return keras.Model(inputs, output, name="calibrated_lattice_ensemble")


def feature_arrays(x):
    """Turns a dict of feature columns into the ``[n, 1]`` float32 arrays the
    models take."""
    return {name: np.reshape(np.asarray(value, np.float32), (-1, 1)) for name, value in x.items()}
