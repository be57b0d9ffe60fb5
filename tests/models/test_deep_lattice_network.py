"""Deep lattice networks: monotone layer by layer."""

import os

import keras
import numpy as np
import pytest

from tests.models import _data
from tf_lattice import layers, models
from tf_lattice.layers.rtl import random_lattice_structure
from tf_lattice.models.deep_lattice_network import network_structure


def test_deep_lattice_network_is_certified_and_monotone(tmp_path):
    x, y = _data.monotone_data()
    config = models.DeepLatticeNetworkConfig(
        _data.features(),
        layers=(models.DeepLatticeLayerConfig(monotone_dims=4, free_dims=2, num_lattices=6, lattice_rank=3),
                models.DeepLatticeLayerConfig(monotone_dims=3, free_dims=1, num_lattices=3, lattice_rank=2)))
    model = models.deep_lattice_network(config)
    lattice_layers = [layer for layer in model.layers if isinstance(layer, (layers.RTL, layers.Linear,
                                                                            layers.PWLCalibration))]
    assert len(lattice_layers) >= 4
    model.compile(keras.optimizers.Adam(0.02), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    _data.certificates_hold(model)
    _data.assert_monotone_on_grid(model)
    path = os.path.join(tmp_path, "dln.keras")
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_blocks_are_embedding_calibration_and_random_tiny_lattices():
    config = models.DeepLatticeNetworkConfig(
        _data.features(),
        layers=(models.DeepLatticeLayerConfig(monotone_dims=4, free_dims=2, num_lattices=6, lattice_rank=3),
                models.DeepLatticeLayerConfig(monotone_dims=3, free_dims=1, num_lattices=3, lattice_rank=2)))
    model = models.deep_lattice_network(config)
    by_name = {layer.name: layer for layer in model.layers}
    # a, b and d carry constraints; c is free.
    assert by_name["block_0_monotone_embedding"].monotonicities == ["increasing", "increasing", "none",
                                                                    "increasing"]
    assert by_name["block_0_free_inputs"].columns == [2]
    assert by_name["block_0_calibration"].unit_monotonicities == ["increasing"] * 4 + ["none"] * 2
    structure = network_structure([True, True, False, True], config.layers)
    (flags, subsets), (second_flags, second_subsets) = structure
    assert flags == [True] * 4 + [False] * 2 and len(subsets) == 6
    assert sorted(map(sorted, subsets)) == sorted(map(sorted, random_lattice_structure(6, 6, 3, 0)))
    gathered = [s for layer in model.layers if layer.name.startswith("block_0_lattices_inputs")
                for s in layer.subsets]
    assert [sorted(s) for s in gathered] == [sorted(s) for s in subsets]
    monotone = [any(flags[k] for k in s) for s in subsets]
    assert second_flags == [True] * 3 + ([False] if not all(monotone) else [])
    assert by_name["output_linear"].monotonicities == [
        "increasing" if any(second_flags[k] for k in s) else "none" for s in second_subsets]
    with pytest.raises(ValueError, match="block 0 has no embedding outputs"):
        network_structure([True, True], (models.DeepLatticeLayerConfig(monotone_dims=0),))


def test_dict_and_encoded_inputs_build_the_same_network():
    """Both input forms go through the fused calibrators: the same weights
    give the same scores, a NaN input reads its feature's learned missing
    output, and the config's calibrator regularizers apply to both."""
    x, _ = _data.monotone_data(n=64)
    config = models.DeepLatticeNetworkConfig(_data.features(), calibration_hessian=0.5)
    by_dict = models.deep_lattice_network(config)
    by_matrix = models.deep_lattice_network(config, encoded=True)
    assert len(by_dict.losses) == len(by_matrix.losses) > 0
    by_matrix.set_weights(by_dict.get_weights())
    x["a"][::4] = np.nan
    matrix = np.concatenate([x[f.name] for f in config.features], axis=1)
    scores = by_dict.predict(x, verbose=0)
    np.testing.assert_array_equal(scores, by_matrix.predict(matrix, verbose=0))
    assert np.all(np.isfinite(scores))
    # Moving the learned missing outputs moves the rows with a NaN only.
    calibration = next(layer for layer in by_dict.layers
                       if isinstance(layer, layers.PWLCalibration) and layer.units == 3)
    calibration.missing_output.assign([0.0, 1.0, 0.25])
    moved = by_dict.predict(x, verbose=0) != scores
    missing = np.isnan(x["a"][:, 0])
    assert moved[missing].any() and not moved[~missing].any()
