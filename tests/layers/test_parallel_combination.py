"""ParallelCombination: per-column calibrators concatenated."""

import numpy as np

from tests.layers import _checks
from tf_lattice.layers import CategoricalCalibration, ParallelCombination, PWLCalibration


def _layers():
    return [PWLCalibration(np.linspace(0, 1, 4), monotonicity="increasing", output_min=0, output_max=1),
            PWLCalibration(np.linspace(0, 1, 3), units=2),
            CategoricalCalibration(3)]


def test_applies_each_layer_to_its_column():
    layers = _layers()
    combination = ParallelCombination(layers)
    x = np.array([[0.2, 0.7, 2.0], [0.9, 0.1, 0.0]], "float32")
    y = _checks.assert_eager_matches_function(combination, x).numpy()
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y[:, :1], layers[0](x[:, :1]).numpy())
    np.testing.assert_allclose(y[:, 1:3], layers[1](x[:, 1:2]).numpy())
    np.testing.assert_allclose(y[:, 3:], layers[2](x[:, 2:]).numpy())


def test_trains_certifies_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 1, (128, 2)), rng.integers(0, 3, (128, 1))], axis=1).astype("float32")
    y = (x[:, :1] - x[:, 1:2] + x[:, 2:]).astype("float32")
    combination = ParallelCombination(_layers())
    model = _checks.make_model(combination, (3,), head=True)
    _checks.train_lowers_loss(model, x, y, epochs=3)
    assert combination.certify().holds
    _checks.assert_save_load_round_trip(model, x, tmp_path)
    _checks.assert_config_round_trip(combination)


def test_supports_jit_follows_its_layers():
    assert ParallelCombination([CategoricalCalibration(3)]).supports_jit
    assert not ParallelCombination([PWLCalibration([0.0, 1.0], implementation="kernel")]).supports_jit
