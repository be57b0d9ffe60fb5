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
same sizes and constraint pattern are one multi-unit Lattice layer. A
categorical id outside ``[0, num_buckets)`` (NaN included) reads the
feature's default bucket; a NaN numeric input (or one equal to the feature's
``missing_input_value``) reads the calibrator's learned missing output.
"""

import keras
import numpy as np

from tf_lattice import layers
from tf_lattice.layers.rtl import random_lattice_structure
from tf_lattice.models import _calibration
from tf_lattice.models import crystals
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


def _calibrated(config, matrix, bounds):
    """Every feature calibrated, with the config's calibrator regularizers."""
    terms = [(name, 0.0, getattr(config, f"calibration_{name}"))
             for name in ("laplacian", "hessian", "wrinkle")]
    return _calibration.calibrated(
        config.features, matrix, bounds, config.implementation,
        calibration_regularizer=[t for t in terms if t[2] > 0] or None,
        categorical_regularizer=_l2(config))


def _lattice_regularizer(config):
    terms = [("laplacian", 0.0, config.lattice_laplacian), ("torsion", 0.0, config.lattice_torsion)]
    return [t for t in terms if t[2] > 0] or None


def _constraints(config):
    return _calibration.model_constraints(config.features, config.edgeworth_trusts,
                                          config.trapezoid_trusts, config.monotonic_dominances)


def _initial_bias(config):
    """The bias initializer: ``initial_output`` broadcast to ``units``."""
    if config.initial_output is None:
        return "zeros"
    values = np.broadcast_to(np.asarray(config.initial_output, np.float64), (config.units,))
    return keras.initializers.Constant([float(v) for v in values])


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
        bias_initializer=_initial_bias(config), kernel_regularizer=_l2(config),
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
        kernel_regularizer=_lattice_regularizer(config),
        implementation=config.implementation, name="lattice")
    return keras.Model(inputs, lattice(calibrated), name="calibrated_lattice")


def ensemble_structure(config, x=None, y=None, prefit_epochs=5):
    """The feature indices of each lattice of an ensemble config.

    Args:
      config: a :class:`CalibratedLatticeEnsembleConfig`.
      x, y: training data (dict of feature arrays, targets); needed for
        ``ensemble="crystals"``.
      prefit_epochs: epochs of the crystals pre-fit.

    Returns:
      A list of sorted tuples of feature indices.

    Raises:
      ValueError: crystals without data.
    """
    if config.lattices is not None:
        index = {f.name: i for i, f in enumerate(config.features)}
        return [tuple(sorted(index[name] for name in lattice)) for lattice in config.lattices]
    if config.ensemble == "crystals":
        if x is None or y is None:
            raise ValueError('ensemble="crystals" needs training data: pass x and y to the builder')
        interactions = crystals.pairwise_interactions(
            config.features, x, y, epochs=prefit_epochs, seed=config.seed,
            implementation=config.implementation)
        return crystals.crystals_structure(interactions, config.num_lattices, config.lattice_rank)
    return random_lattice_structure(len(config.features), config.num_lattices, config.lattice_rank, config.seed)


def combine(lattice_outputs, num_lattices, config):
    """The increasing linear layer ``"combine"`` mapping ``num_lattices``
    lattice outputs to the ``config.units`` scores, its bias starting at
    ``config.initial_output``."""
    return layers.Linear(
        num_lattices, units=config.units, monotonicities="increasing",
        bias_initializer=_initial_bias(config), kernel_regularizer=_l2(config),
        implementation=config.implementation, name="combine")(lattice_outputs)


def calibrated_lattice_ensemble(config, x=None, y=None, prefit_epochs=5, encoded=False):
    """Calibrators, then several small lattices, averaged or linearly combined.

    Every feature has one calibrator unit to ``[0, lattice_size - 1]``,
    shared by the lattices that read it. With ``ensemble="random"`` /
    ``"crystals"`` (or explicit ``lattices``) the lattices of equal sizes and
    constraint pattern are one multi-unit Lattice layer
    (:func:`tf_lattice.models.fused.lattice_ensemble`). With
    ``combination="average"`` each lattice has ``units`` outputs and the
    model returns the mean over the lattices of each unit; with
    ``combination="linear"`` each lattice has one output and the increasing
    linear layer of :func:`combine` maps them to the `(batch, units)`
    scores. With ``ensemble="rtl"`` the calibrated features feed one
    :class:`tf_lattice.layers.RTL` layer.

    Args:
      config: a :class:`CalibratedLatticeEnsembleConfig`.
      x, y: training data for the crystals pre-fit (ignored otherwise).
      prefit_epochs: epochs of the crystals pre-fit.
      encoded: read the encoded `(batch, d)` matrix instead of a dict.

    Returns:
      A ``keras.Model``.
    """
    inputs, matrix = _inputs(config, encoded)
    if config.ensemble == "rtl" and config.lattices is None:
        return _rtl_ensemble(config, inputs, matrix)
    structure = [list(lattice) for lattice in ensemble_structure(config, x, y, prefit_epochs)]
    calibrated = _calibrated(config, matrix, _lattice_bounds(config.features))
    linear = config.combination == "linear"
    output = fused.lattice_ensemble(
        calibrated, structure, _constraints(config),
        [f.lattice_size for f in config.features], "lattice", units=1 if linear else config.units,
        interpolation=config.interpolation, output_min=config.output_min, output_max=config.output_max,
        kernel_initializer=("random_monotonic_initializer"
                            if config.lattice_initializer == "random_monotonic" else None),
        kernel_regularizer=_lattice_regularizer(config), implementation=config.implementation)
    if linear:
        output = combine(output, len(structure), config)
    elif len(structure) > 1:
        # [batch, lattices * units], lattice-major -> the mean over lattices.
        by_lattice = keras.layers.Reshape((len(structure), config.units), name="lattice_grid")(output)
        output = keras.layers.GlobalAveragePooling1D(name="average")(by_lattice)
    return keras.Model(inputs, output, name="calibrated_lattice_ensemble")


def _rtl_ensemble(config, inputs, matrix):
    sizes = {f.lattice_size for f in config.features}
    if len(sizes) != 1:
        raise ValueError(f'ensemble="rtl" needs one lattice_size for every feature, got {sorted(sizes)}')
    size = sizes.pop()
    calibrated = _calibrated(config, matrix, (0.0, size - 1.0))
    monotonicities, _ = fused.lattice_directions(_constraints(config))
    rtl = layers.RTL(
        config.num_lattices, config.lattice_rank, lattice_size=size, monotonicities=monotonicities,
        output_min=config.output_min, output_max=config.output_max, interpolation=config.interpolation,
        random_seed=config.seed, average_outputs=config.units == 1, implementation=config.implementation,
        name="rtl")
    output = rtl(calibrated)
    if config.units > 1:
        # One score per unit: a monotone average-like combination of the lattices.
        rtl_outputs = [m for m in _rtl_output_monotonicities(rtl, len(config.features), size)]
        output = layers.Linear(config.num_lattices, units=config.units, monotonicities=rtl_outputs,
                               implementation=config.implementation, name="combination")(output)
    return keras.Model(inputs, output, name="calibrated_lattice_ensemble")


def _rtl_output_monotonicities(rtl, num_inputs, size):
    if not rtl.built:
        rtl.build((None, num_inputs))
    return rtl.output_monotonicities


def feature_arrays(x):
    """Turns a dict of feature columns into the ``[n, 1]`` float32 arrays the
    models take."""
    return {name: np.reshape(np.asarray(value, np.float32), (-1, 1)) for name, value in x.items()}
