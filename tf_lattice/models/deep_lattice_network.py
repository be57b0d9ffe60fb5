"""Deep lattice networks (You, Ding, Canini, Pfeifer, Gupta; NIPS 2017).

After the input calibrators (each feature calibrated to ``[0, 1]``, the
calibrator carrying the feature's direction), each block (layer) is

1. a linear embedding split in two: ``monotone_dims`` outputs read every
   signal with weights ``>= 0`` on the monotone ones, ``free_dims`` outputs
   read only the unconstrained signals (either part is left out when it has
   no signals to read);
2. a calibrator per embedding output onto ``[0, lattice_size - 1]``,
   increasing for the monotone outputs;
3. random tiny lattices: ``num_lattices`` lattices of ``lattice_rank``
   embedding outputs each, drawn by
   :func:`tf_lattice.layers.rtl.random_lattice_structure` (balanced: each
   lattice takes the least used outputs so far), increasing in their
   monotone inputs, bounded to ``[0, lattice_size - 1]``. A lattice's output
   is monotone when any of its inputs is.

A final linear layer with weights ``>= 0`` on the monotone signals gives
``(batch, units)``. Every step is increasing in the signals that carry the
monotone features, so the network is monotone in each of them in its declared
direction, and a convex (concave) calibrator keeps its shape through the
increasing steps after it in the same way. Embedding weights are
L1-normalized (``sum_k |w_k| = 1`` per output) without bias, so an embedding
of signals in ``[0, r]`` lies in ``[-r, r]``, the span of the next
calibrators' keypoints.

:func:`deep_lattice_core` builds the blocks and the output layer on any
`(batch, d)` calibrated matrix; :func:`deep_lattice_network` builds the
model of a :class:`~tf_lattice.models.DeepLatticeNetworkConfig` from a dict of
features, and the estimators (``DeepLatticeNetworkClassifier`` and
``DeepLatticeNetworkRegressor``) call the core on their fused calibrators
(:func:`tf_lattice.models.fused.calibrated_features`).
"""

import keras
import numpy as np

from tf_lattice import layers
from tf_lattice.layers.rtl import random_lattice_structure
from tf_lattice.models import _calibration
from tf_lattice.models import fused
from tf_lattice.models._constraints import ModelConstraints
from tf_lattice.models._inputs import ReorderFeatures
from tf_lattice.models.configs import FeatureConfig


def _embedding(signals, monotone, block, index, seed, implementation):
    """One block's linear step: the monotone part's outputs, then the free part's
    (a part is left out when it has no signals to read)."""
    parts = []
    free_inputs = [k for k, m in enumerate(monotone) if not m]
    if block.monotone_dims and any(monotone):
        linear = layers.Linear(
            len(monotone), units=block.monotone_dims,
            monotonicities=["increasing" if m else "none" for m in monotone],
            normalization_order=1, use_bias=False, implementation=implementation,
            kernel_initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=seed),
            name=f"block_{index}_monotone_embedding")
        parts.append(linear(signals))
    if block.free_dims and free_inputs:
        free = (signals if len(free_inputs) == len(monotone)
                else ReorderFeatures(free_inputs, name=f"block_{index}_free_inputs")(signals))
        linear = layers.Linear(
            len(free_inputs), units=block.free_dims, normalization_order=1, use_bias=False,
            implementation=implementation,
            kernel_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=seed + 1),
            name=f"block_{index}_free_embedding")
        parts.append(linear(free))
    return parts


def _embedding_flags(monotone, block):
    """Per embedding output of a block reading signals ``monotone``: whether it
    is monotone (the monotone part first, as :func:`_embedding` builds them)."""
    monotone_dims = block.monotone_dims if any(monotone) else 0
    free_dims = block.free_dims if not all(monotone) else 0
    return [True] * monotone_dims + [False] * free_dims


def network_structure(monotone, blocks, seed=0):
    """The embedding outputs and lattices of every block.

    Args:
      monotone: per calibrated input signal, whether it is monotone.
      blocks: DeepLatticeLayerConfig per block.
      seed: the network's seed (block ``b`` draws its lattices with ``seed + b``).

    Returns:
      Per block, ``(flags, subsets)``: whether each embedding output is
      monotone, and the embedding outputs each lattice reads. The lattices
      are drawn by :func:`tf_lattice.layers.rtl.random_lattice_structure`
      (``min(lattice_rank, outputs)`` each), then ordered by their number of
      monotone inputs (the order of the fused ensemble's outputs, which
      puts lattices of one constraint pattern in one block of units, blocks
      in order of first appearance).
      A lattice output is monotone when any of its inputs is.
    """
    structure = []
    monotone = [bool(m) for m in monotone]
    for index, block in enumerate(blocks):
        flags = _embedding_flags(monotone, block)
        if not flags:
            raise ValueError(
                f"block {index} has no embedding outputs: monotone_dims={block.monotone_dims} "
                f"for {sum(monotone)} monotone signals and free_dims={block.free_dims} for "
                f"{len(monotone) - sum(monotone)} unconstrained ones")
        rank = min(block.lattice_rank, len(flags))
        subsets = random_lattice_structure(len(flags), block.num_lattices, rank, seed + index)
        subsets = sorted((list(s) for s in subsets), key=lambda s: sum(flags[k] for k in s))
        structure.append((flags, subsets))
        monotone = [any(flags[k] for k in subset) for subset in subsets]
    return structure


def deep_lattice_core(signals, monotone, blocks, *, units=1, seed=0, input_range=1.0,
                      interpolation="hypercube", calibration_regularizer=None,
                      lattice_regularizer=None, output_regularizer=None,
                      bias_initializer="zeros", implementation="kernel"):
    """The blocks and the output layer of a deep lattice network.

    Args:
      signals: `(batch, d)` calibrated features in ``[0, input_range]``, each
        increasing in its feature's declared direction (a calibrator with the
        feature's monotonicity, convexity or category order).
      monotone: ``d`` booleans: whether the output must keep the signal's
        direction (the feature carries a constraint).
      blocks: :class:`~tf_lattice.models.DeepLatticeLayerConfig` per block.
      units: outputs of the network.
      seed: seed of the embedding initializers and lattice structures
        (block ``b`` draws with ``seed + b``).
      input_range: ``r``, the upper bound of ``signals``.
      interpolation: of the lattices, ``"hypercube"`` or ``"simplex"``.
      calibration_regularizer: ``kernel_regularizer`` of the block calibrators.
      lattice_regularizer: ``kernel_regularizer`` of the lattices.
      output_regularizer: ``kernel_regularizer`` of the output layer.
      bias_initializer: of the output layer (`(units,)`).
      implementation: ``"kernel"`` or ``"portable"``.

    Returns:
      The `(batch, units)` output tensor.

    Raises:
      ValueError: a block without embedding outputs (e.g. ``monotone_dims=0``
        when every signal is monotone), or ``len(monotone) != d``.
    """
    monotone = [bool(m) for m in monotone]
    if len(monotone) != signals.shape[-1]:
        raise ValueError(f"monotone has {len(monotone)} entries for {signals.shape[-1]} signals")
    structure = network_structure(monotone, blocks, seed)
    for index, (block, (flags, subsets)) in enumerate(zip(blocks, structure)):
        top = block.lattice_size - 1.0
        keypoints = np.linspace(-input_range, input_range, block.num_keypoints).tolist()
        parts = _embedding(signals, monotone, block, index, seed + 1000 * index, implementation)
        embedded = parts[0] if len(parts) == 1 else keras.layers.Concatenate(
            axis=-1, name=f"block_{index}_embedding")(parts)
        embedded = layers.PWLCalibration(
            keypoints, units=len(flags), monotonicity=["increasing" if f else "none" for f in flags],
            output_min=0.0, output_max=top, kernel_regularizer=calibration_regularizer,
            implementation=implementation, name=f"block_{index}_calibration")(embedded)
        # The embedding outputs as features of the block's lattices: only
        # their direction is read (the calibrator above placed them).
        constraints = ModelConstraints(tuple(
            FeatureConfig(f"block_{index}_embedding_{k}", monotonicity="increasing" if f else "none")
            for k, f in enumerate(flags)))
        signals = fused.lattice_ensemble(
            embedded, subsets, constraints, block.lattice_size, f"block_{index}_lattices",
            interpolation=interpolation, output_min=0.0, output_max=top,
            kernel_regularizer=lattice_regularizer, implementation=implementation)
        monotone = [any(flags[k] for k in subset) for subset in subsets]
        input_range = top
    return layers.Linear(
        len(monotone), units=units, monotonicities=["increasing" if m else "none" for m in monotone],
        bias_initializer=bias_initializer, kernel_regularizer=output_regularizer,
        implementation=implementation, name="output_linear")(signals)


def _regularizer(terms):
    terms = [term for term in terms if term[2] > 0]
    return terms or None


def deep_lattice_network(config, encoded=False):
    """Builds a deep lattice network with ``len(config.layers)`` blocks.

    The features are calibrated onto ``[0, 1]``, then the blocks and output
    layer of :func:`deep_lattice_core` follow; the network is increasing in
    the calibrated value of every shaped feature
    (:attr:`~tf_lattice.models.FeatureConfig.shaped`).

    The model reads a dict ``{name: [batch, 1]}`` or, with ``encoded=True``,
    the encoded `(batch, d)` matrix (one input ``"features"``, see
    :mod:`tf_lattice.models.builders`); either way every feature goes
    through the fused calibrators of
    :func:`tf_lattice.models.fused.calibrated_features` (a learned output
    for a missing value, NaN included; categorical features with their
    category order), as in the other builders.

    The feature calibrators take the config's calibrator regularizers (and
    the categorical ones its l2), the lattices its lattice regularizers, the
    output layer its l2 and ``initial_output`` as bias; the embedding
    (L1-normalized) and its calibrators (on a fixed grid) take none.

    Args:
      config: a :class:`DeepLatticeNetworkConfig`.
      encoded: read the encoded matrix instead of a dict.

    Returns:
      A ``keras.Model`` to ``[batch, units]``.
    """
    l2 = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    inputs = (_calibration.matrix_input(config.features) if encoded
              else _calibration.feature_inputs(config.features))
    signals = _calibration.calibrated(
        config.features, inputs, (0.0, 1.0), config.implementation,
        calibration_regularizer=_regularizer(
            [(name, 0.0, getattr(config, f"calibration_{name}"))
             for name in ("laplacian", "hessian", "wrinkle")]),
        categorical_regularizer=l2)
    output = deep_lattice_core(
        signals, [f.shaped for f in config.features], config.layers, units=config.units,
        seed=config.seed, interpolation=config.interpolation,
        lattice_regularizer=_regularizer([("laplacian", 0.0, config.lattice_laplacian),
                                          ("torsion", 0.0, config.lattice_torsion)]),
        output_regularizer=l2, bias_initializer=_calibration.initial_bias(config),
        implementation=config.implementation)
    return keras.Model(inputs, output, name="deep_lattice_network")
