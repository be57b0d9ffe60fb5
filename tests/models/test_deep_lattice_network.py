"""Deep lattice networks: monotone layer by layer."""

import os

import keras
import numpy as np

from tests.models import _data
from tf_lattice import layers, models


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
