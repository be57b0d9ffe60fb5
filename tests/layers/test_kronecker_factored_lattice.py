"""KroneckerFactoredLattice: values, training, constraints, saving."""

import numpy as np
import pytest

from tests.layers import _checks
from tf_lattice.layers import KroneckerFactoredLattice


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, (n, 3)).astype("float32")
    y = (x[:, :1] * (1 + x[:, 1:2]) / 6 - 0.1 * x[:, 2:]).astype("float32")
    return x, y


def test_matches_definition():
    layer = KroneckerFactoredLattice(3, units=2, num_terms=2, seed=1)
    x = np.random.default_rng(0).uniform(-0.5, 2.5, (6, 3)).astype("float32")
    y = _checks.assert_eager_matches_function(layer, x).numpy()
    kernel = layer.kernel.numpy()
    scale, bias = layer.scale_and_bias.numpy()[:, :-1], layer.scale_and_bias.numpy()[:, -1]
    expected = np.zeros((6, 2))
    for b in range(6):
        for u in range(2):
            terms = [np.prod([np.interp(np.clip(x[b, k], 0, 2), [0, 1, 2], kernel[u, k, :, t])
                              for k in range(3)]) for t in range(2)]
            expected[b, u] = bias[u] + np.mean(scale[u] * terms)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(monotonicities=["increasing", "increasing", "decreasing"]),
    dict(monotonicities=["increasing", "none", "none"], output_min=-0.5, output_max=1.0),
])
def test_training_keeps_constraints_and_is_monotone_on_a_grid(kwargs):
    x, y = _data()
    layer = KroneckerFactoredLattice(3, units=1, num_terms=3, **kwargs)
    model = _checks.make_model(layer, (3,))
    _checks.train_lowers_loss(model, x, y, epochs=4)
    certificate = layer.certify()
    assert certificate.holds, str(certificate)
    grid = np.stack(np.meshgrid(*[np.linspace(0, 2, 7)] * 3, indexing="ij"), -1).reshape(-1, 3)
    values = model.predict(grid.astype("float32"), verbose=0).reshape(7, 7, 7)
    for k, direction in enumerate(kwargs["monotonicities"]):
        steps = np.diff(values, axis=k)
        if direction == "increasing":
            assert steps.min() >= -1e-5
        if direction == "decreasing":
            assert steps.max() <= 1e-5
    if "output_min" in kwargs:
        assert values.min() >= kwargs["output_min"] - 1e-5 and values.max() <= kwargs["output_max"] + 1e-5


def test_save_load_and_config_round_trip(tmp_path):
    x, y = _data()
    layer = KroneckerFactoredLattice(2, num_terms=2, monotonicities=["increasing", "none", "none"])
    model = _checks.make_model(layer, (3,))
    _checks.train_lowers_loss(model, x, y, epochs=2)
    _checks.assert_save_load_round_trip(model, x, tmp_path)
    _checks.assert_config_round_trip(layer)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="lattice_size"):
        KroneckerFactoredLattice(1)
    with pytest.raises(ValueError, match="num_dims=2"):
        KroneckerFactoredLattice(2, num_dims=2)(np.zeros((2, 3), "float32"))
