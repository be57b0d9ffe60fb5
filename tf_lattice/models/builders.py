"""Builders of calibrated linear, lattice and lattice-ensemble models.

Every builder returns a ``keras.Model`` taking a dict ``{feature name:
[batch, 1]}`` and returning ``[batch, units]`` (one score per class for a
multi-class classifier). Monotone features get monotone calibrators, and
every later layer is increasing in its monotone inputs, so the model is
monotone in each such feature in the declared direction.

The builders concatenate the inputs and assemble the model with
:mod:`tf_lattice.models.fused`: the numeric features share one
PWLCalibration per set of output bounds (one unit per feature), the
categorical ones one CategoricalCalibration (a feature with category pairs
has its own), and the lattices of an ensemble with the same sizes and
constraint pattern are one multi-unit Lattice layer. A categorical id
outside ``[0, num_buckets)`` (NaN included) reads the feature's default
bucket; a NaN numeric input (or one equal to the feature's
``missing_input_value``) reads the calibrator's learned missing output.
"""

import keras
import numpy as np

from tf_lattice import layers
from tf_lattice.models import _calibration
from tf_lattice.models import ensembles
from tf_lattice.models import fused


def _lattice_bounds(features):
    """Each feature's calibrator range ``[0, lattice_size - 1]``."""
    return [(0.0, f.lattice_size - 1.0) for f in features]


def calibrated_linear(config):
    """Calibrators, then a linear combination (a weighted average when bounded).

    Args:
      config: a :class:`CalibratedLinearConfig`.

    Returns:
      A ``keras.Model``.
    """
    bounded = config.output_min is not None and config.output_max is not None
    inputs = _calibration.feature_inputs(config.features)
    calibrated = _calibration.calibrated(config.features, inputs, (config.output_min, config.output_max),
                                         config.implementation)
    monotonicities = ["increasing" if bounded or f.is_monotone else "none" for f in config.features]
    linear = layers.Linear(
        len(config.features), units=config.units, monotonicities=monotonicities,
        normalization_order=1 if bounded else None, use_bias=config.use_bias and not bounded,
        implementation=config.implementation, name="linear")
    return keras.Model(inputs, linear(calibrated), name="calibrated_linear")


def calibrated_lattice(config):
    """Calibrators to ``[0, lattice_size - 1]``, then one lattice.

    Args:
      config: a :class:`CalibratedLatticeConfig`.

    Returns:
      A ``keras.Model``.
    """
    inputs = _calibration.feature_inputs(config.features)
    calibrated = _calibration.calibrated(config.features, inputs, _lattice_bounds(config.features),
                                         config.implementation)
    monotonicities, _ = fused.lattice_directions(_calibration.lattice_constraints(config.features))
    lattice = layers.Lattice(
        [f.lattice_size for f in config.features], units=config.units, interpolation=config.interpolation,
        monotonicities=monotonicities,
        output_min=config.output_min, output_max=config.output_max,
        implementation=config.implementation, name="lattice")
    return keras.Model(inputs, lattice(calibrated), name="calibrated_lattice")


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


def calibrated_lattice_ensemble(config, x=None, y=None):
    """Calibrators, then the mean of several small lattices.

    Every feature has one calibrator unit to ``[0, lattice_size - 1]``,
    shared by the lattices that read it. The lattices (chosen by
    :func:`ensemble_structure`) of equal sizes and constraint pattern are one
    multi-unit Lattice layer (:func:`tf_lattice.models.fused.lattice_ensemble`),
    and the output is the mean of the ``num_lattices`` lattices'
    `(batch, units)` outputs, whatever the ``ensemble`` strategy.

    Args:
      config: a :class:`CalibratedLatticeEnsembleConfig`.
      x, y: training data for ``ensemble="crystals"`` (ignored otherwise).

    Returns:
      A ``keras.Model``.
    """
    inputs = _calibration.feature_inputs(config.features)
    structure = [list(lattice) for lattice in ensemble_structure(config, x, y)]
    calibrated = _calibration.calibrated(config.features, inputs, _lattice_bounds(config.features),
                                         config.implementation)
    output = fused.lattice_ensemble(
        calibrated, structure, _calibration.lattice_constraints(config.features),
        [f.lattice_size for f in config.features], "lattice", units=config.units,
        interpolation=config.interpolation, output_min=config.output_min, output_max=config.output_max,
        kernel_initializer="random_monotonic_initializer", implementation=config.implementation)
    if len(structure) > 1:
        # [batch, lattices * units], lattice-major -> the mean over lattices.
        by_lattice = keras.layers.Reshape((len(structure), config.units), name="lattice_grid")(output)
        output = keras.layers.GlobalAveragePooling1D(name="average")(by_lattice)
    return keras.Model(inputs, output, name="calibrated_lattice_ensemble")


def feature_arrays(x):
    """Turns a dict of feature columns into the ``[n, 1]`` float32 arrays the
    models take."""
    return {name: np.reshape(np.asarray(value, np.float32), (-1, 1)) for name, value in x.items()}
