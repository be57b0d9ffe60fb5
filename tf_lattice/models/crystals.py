"""Crystals: lattices over features that interact, found by a short pre-fit.

The pre-fit model calibrates every feature to ``[0, 1]`` and feeds each pair
of features to its own 2x2 lattice; the outputs are averaged. After a few
epochs, the torsion of pair ``(i, j)``'s lattice, ``|θ_00 + θ_11 - θ_01 -
θ_10|``, measures how much the effect of ``i`` depends on ``j``. Lattices are
then filled greedily: each lattice starts with the strongest pair not yet
placed together, and grows by the feature whose summed interaction with the
lattice's features is largest. Unused features come first, both when
choosing the starting pair and when growing a lattice, so every feature is
used when ``num_lattices * lattice_rank`` allows.
"""

import itertools

import keras
import numpy as np

from tf_lattice import layers
from tf_lattice.models import _calibration
from tf_lattice.models._select import SelectColumns


def pairwise_interactions(features, x, y, epochs=5, batch_size=64, seed=0, implementation="kernel"):
    """Pre-fits one 2x2 lattice per feature pair; returns the torsion matrix.

    Args:
      features: FeatureConfigs.
      x: dict from feature name to array ``[n]`` or ``[n, 1]``.
      y: targets ``[n]`` or ``[n, units]``.
      epochs, batch_size: of the pre-fit.
      seed: seeds the pre-fit initialization.
      implementation: of the pre-fit layers.

    Returns:
      Symmetric array ``[d, d]`` of non-negative interaction strengths.
    """
    keras.utils.set_random_seed(seed)
    dims = len(features)
    pairs = list(itertools.combinations(range(dims), 2))
    inputs = _calibration.feature_inputs(features)
    calibrated = _calibration.calibrated(features, inputs, (0.0, 1.0), implementation)
    lattice = layers.Lattice([2, 2], units=len(pairs), kernel_initializer="random_monotonic_initializer",
                             implementation=implementation)
    gathered = keras.layers.Reshape((len(pairs), 2))(SelectColumns(np.reshape(pairs, -1))(calibrated))
    outputs = keras.layers.Dense(np.shape(np.reshape(y, (len(y), -1)))[1])(lattice(gathered))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.05), "mse")
    x = {name: np.reshape(np.asarray(value, np.float32), (-1, 1)) for name, value in x.items()}
    model.fit(x, np.reshape(np.asarray(y, np.float32), (len(y), -1)), epochs=epochs,
              batch_size=batch_size, verbose=0)
    corners = lattice.kernel.numpy()  # [pairs, 4] in order 00, 01, 10, 11
    torsion = np.abs(corners[:, 0] + corners[:, 3] - corners[:, 1] - corners[:, 2])
    weights = np.abs(model.layers[-1].get_weights()[0]).sum(axis=1)
    strengths = np.zeros((dims, dims))
    for (i, j), value in zip(pairs, torsion * weights):
        strengths[i, j] = strengths[j, i] = value
    return strengths


def crystals_structure(interactions, num_lattices, lattice_rank):
    """Groups features into lattices by pairwise interaction strength.

    Args:
      interactions: symmetric ``[d, d]`` array (see
        :func:`pairwise_interactions`).
      num_lattices: number of lattices.
      lattice_rank: features per lattice (at most ``d``).

    Returns:
      List of ``num_lattices`` sorted tuples of feature indices.
    """
    interactions = np.asarray(interactions, np.float64)
    dims = interactions.shape[0]
    if lattice_rank > dims:
        raise ValueError(f"lattice_rank ({lattice_rank}) exceeds the number of features ({dims})")
    uses = np.zeros(dims)
    together = np.zeros((dims, dims))
    order = sorted(itertools.combinations(range(dims), 2), key=lambda p: -interactions[p])
    lattices = []
    for _ in range(num_lattices):
        if lattice_rank == 1:
            lattice = [int(np.argmin(uses))]
        else:
            # Strongest pair not yet together, preferring unused features.
            first = min(order, key=lambda p: (together[p] > 0, int(uses[p[0]] > 0) + int(uses[p[1]] > 0),
                                              -interactions[p]))
            lattice = list(first)
        while len(lattice) < lattice_rank:
            candidates = [f for f in range(dims) if f not in lattice]
            lattice.append(max(candidates, key=lambda f: (-uses[f], interactions[f, lattice].sum())))
        for a, b in itertools.combinations(lattice, 2):
            together[a, b] = together[b, a] = together[a, b] + 1
        uses[lattice] += 1
        lattices.append(tuple(sorted(int(f) for f in lattice)))
    return lattices
