"""Deep lattice networks (You, Ding, Canini, Pfeifer, Gupta; NIPS 2017).

After the input calibrators, each block is

1. a linear embedding split in two: ``monotone_dims`` outputs read every
   input with non-negative weights on the monotone ones, ``free_dims``
   outputs read only the unconstrained inputs;
2. a calibrator per embedding output to ``[0, lattice_size - 1]``,
   increasing for the monotone outputs;
3. random tiny lattices (:class:`tf_lattice.layers.RTL`), increasing in
   their monotone inputs, whose outputs are marked monotone when any of their
   inputs is.

A final linear layer with non-negative weights on the monotone signals gives
``[batch, units]``. Every step is increasing in the signals carrying the
monotone features, so the network is monotone in each of them, layer by layer.
Embedding weights are L1-normalized without bias, so an embedding of inputs in
``[0, s - 1]`` lies in ``[-(s - 1), s - 1]``, the range of the next
calibrators' keypoints.
"""

import keras
import numpy as np

from tf_lattice import layers
from tf_lattice.models import _calibration
from tf_lattice.models._select import SelectColumns


def _split_embedding(signals, monotone, block, index, implementation, input_range):
    """Returns ``(embedded, monotone flags)`` of one block's linear step."""
    outputs, flags = [], []
    width = len(monotone)
    free_inputs = [k for k, m in enumerate(monotone) if not m]
    if block.monotone_dims and any(monotone):
        linear = layers.Linear(
            width, units=block.monotone_dims,
            monotonicities=["increasing" if m else "none" for m in monotone],
            normalization_order=1, use_bias=False, implementation=implementation,
            kernel_initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=index),
            name=f"block_{index}_monotone_embedding")
        outputs.append(linear(signals))
        flags += [True] * block.monotone_dims
    if block.free_dims and free_inputs:
        free = SelectColumns(free_inputs, name=f"block_{index}_free_inputs")(signals)
        linear = layers.Linear(
            len(free_inputs), units=block.free_dims, normalization_order=1, use_bias=False,
            implementation=implementation, kernel_initializer=keras.initializers.RandomUniform(
                -1.0, 1.0, seed=index + 1000), name=f"block_{index}_free_embedding")
        outputs.append(linear(free))
        flags += [False] * block.free_dims
    if not outputs:
        raise ValueError(f"block {index} has no embedding outputs for its inputs")
    calibrated = []
    keypoints = np.linspace(-input_range, input_range, block.num_keypoints)
    for group in outputs:
        group_monotone = group is outputs[0] and flags[0]
        calibrator = layers.PWLCalibration(
            keypoints, units=group.shape[-1], monotonicity="increasing" if group_monotone else "none",
            output_min=0.0, output_max=block.lattice_size - 1.0, implementation=implementation,
            name=f"block_{index}_{'monotone' if group_monotone else 'free'}_calibration")
        calibrated.append(calibrator(group))
    embedded = calibrated[0] if len(calibrated) == 1 else keras.layers.Concatenate()(calibrated)
    return embedded, flags


def deep_lattice_network(config):
    """Builds a deep lattice network with ``len(config.layers)`` blocks.

    Args:
      config: a :class:`DeepLatticeNetworkConfig`.

    Returns:
      A ``keras.Model`` from a dict of ``[batch, 1]`` features to ``[batch, units]``.
    """
    inputs = _calibration.feature_inputs(config.features)
    signals = keras.layers.Concatenate()([
        _calibration.calibrator(f, 1, 0.0, 1.0, config.implementation)(inputs[f.name])
        for f in config.features])
    monotone = [f.is_monotone for f in config.features]
    input_range = 1.0
    for index, block in enumerate(config.layers):
        embedded, flags = _split_embedding(signals, monotone, block, index, config.implementation, input_range)
        rank = min(block.lattice_rank, len(flags))
        rtl = layers.RTL(
            block.num_lattices, rank, lattice_size=block.lattice_size,
            monotonicities=["increasing" if f else "none" for f in flags],
            output_min=0.0, output_max=block.lattice_size - 1.0, random_seed=config.seed + index,
            implementation=config.implementation, name=f"block_{index}_lattices")
        signals = rtl(embedded)
        monotone = [m == "increasing" for m in rtl.output_monotonicities]
        input_range = block.lattice_size - 1.0
    output = layers.Linear(
        len(monotone), units=config.units, monotonicities=["increasing" if m else "none" for m in monotone],
        implementation=config.implementation, name="output_linear")(signals)
    return keras.Model(inputs, output, name="deep_lattice_network")
