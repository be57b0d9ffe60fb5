"""Linear layer: shapes, training, constraints, saving."""

import keras
import numpy as np
import pytest

from tests.layers import _checks
from tf_lattice.layers import Linear


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 3)).astype("float32")
    y = (2 * x[:, :1] - x[:, 1:2] + 0.5 * x[:, 2:]).astype("float32")
    return x, y


def test_shapes_and_values():
    layer = Linear(3, units=2, kernel_initializer=keras.initializers.Constant(0.5), bias_initializer="ones")
    x = np.ones((4, 3), "float32")
    y = _checks.assert_eager_matches_function(layer, x)
    np.testing.assert_allclose(y.numpy(), np.full((4, 2), 2.5))


@pytest.mark.parametrize("kwargs", [
    dict(monotonicities=["increasing", "decreasing", "none"]),
    dict(monotonicities=["increasing", "increasing", "none"], monotonic_dominances=[(0, 1)]),
    dict(monotonicities=["increasing", "increasing", "none"], range_dominances=[(0, 1)],
         input_min=[0, 0, 0], input_max=[1, 2, 1]),
    dict(monotonicities="increasing", normalization_order=1, use_bias=False),
    dict(monotonicities=["increasing", "none", "none"], normalization_order=1, use_bias=False),
    dict(normalization_order=1, use_bias=False),
    dict(monotonicities=["increasing", "increasing", "none"], monotonic_dominances=[(0, 1)],
         normalization_order=1, use_bias=False),
])
def test_training_keeps_constraints(kwargs):
    x, y = _data()
    y = -y if kwargs.get("monotonicities") == "increasing" else y
    layer = Linear(3, units=2, **kwargs)
    model = _checks.make_model(layer, (3,))
    _checks.train_lowers_loss(model, x, np.abs(y), epochs=3)
    certificate = layer.certify()
    assert certificate.holds, str(certificate)
    weights = layer.kernel.numpy()
    if kwargs.get("normalization_order") == 1:
        np.testing.assert_allclose(np.abs(weights).sum(axis=0), 1.0, rtol=1e-6)
    monotonicities = kwargs.get("monotonicities")
    if isinstance(monotonicities, list):
        assert np.all(weights[0] >= 0)
        if monotonicities[1] == "decreasing":
            assert np.all(weights[1] <= 0)


def test_save_load_and_config_round_trip(tmp_path):
    x, y = _data()
    layer = Linear(3, monotonicities=["increasing", "none", "none"])
    model = _checks.make_model(layer, (3,))
    _checks.train_lowers_loss(model, x, y, epochs=2)
    _checks.assert_save_load_round_trip(model, x, tmp_path)
    _checks.assert_config_round_trip(layer)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_input_dims=2, monotonicities=["increasing"]), "one entry per dimension"),
    (dict(num_input_dims=2, monotonic_dominances=[(0, 1)]), "monotonic"),
    (dict(num_input_dims=2, monotonicities="increasing", range_dominances=[(0, 1)]), "input_min"),
    (dict(num_input_dims=2, normalization_order=3), "normalization_order"),
    (dict(num_input_dims=2, normalization_order=2), "normalization_order"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Linear(**kwargs)


def test_portable_linear_compiles_with_xla():
    model = _checks.make_model(Linear(3), (3,))
    model.compile("adam", "mse", jit_compile=True)
    assert model.jit_compile is True
