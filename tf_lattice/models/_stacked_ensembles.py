"""Two lattice ensembles with a calibration between them, over the encoded matrix.

The network of :class:`tf_lattice.estimators.DeepLatticeNetworkClassifier`
and ``Regressor``: calibrators -> lattices over ``config.lattices`` (outputs
in `[0, 1]`) -> an increasing PWL calibration of each lattice output onto
`[0, lattice_size - 1]` -> lattices over ``second_subsets`` of those
(increasing in every input) -> the increasing linear layer of
:func:`tf_lattice.models.builders.combine`. Every stage after the
calibrators is increasing in each shaped feature, so monotonicity reaches
the output.
"""

import keras
import numpy as np

from tf_lattice import layers as tfl_layers
from tf_lattice.models import builders, fused
from tf_lattice.models._constraints import FeatureConstraints, ModelConstraints


def deep_lattice_network(config, second_subsets):
    """The two-layer lattice network; returns a ``keras.Model`` reading the
    encoded `(batch, d)` matrix (input ``"features"``) and returning
    `(batch, config.units)`.

    Args:
      config: a CalibratedLatticeEnsembleConfig with explicit ``lattices``
        (the first layer), one ``lattice_size`` for every feature and
        ``combination="linear"``.
      second_subsets: first-layer lattice indices read by each second-layer
        lattice.
    """
    inputs, matrix = builders._inputs(config, encoded=True)
    size = config.features[0].lattice_size
    top = size - 1.0
    calibrated = builders._calibrated(config, matrix, builders._lattice_bounds(config.features))
    structure = [list(lattice) for lattice in builders.ensemble_structure(config)]
    regularizer = builders._lattice_regularizer(config)
    first = fused.lattice_ensemble(
        calibrated, structure, builders._constraints(config), size, "lattice_1",
        interpolation=config.interpolation, output_min=0.0, output_max=1.0,
        kernel_regularizer=regularizer, implementation=config.implementation)
    width = len(structure)
    recalibrated = tfl_layers.PWLCalibration(
        implementation=config.implementation,
        input_keypoints=np.linspace(0.0, 1.0, 5).tolist(), units=width, monotonicity="increasing",
        output_min=0.0, output_max=top, name="recalibration")(first)
    increasing = ModelConstraints(tuple(FeatureConstraints("increasing") for _ in range(width)))
    second = fused.lattice_ensemble(
        recalibrated, second_subsets, increasing, size, "lattice_2",
        interpolation=config.interpolation, kernel_regularizer=regularizer,
        implementation=config.implementation)
    outputs = builders.combine(second, len(second_subsets), config)
    return keras.Model(inputs, outputs, name="deep_lattice_network")
