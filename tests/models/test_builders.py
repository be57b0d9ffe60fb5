"""Calibrated linear, lattice and ensemble builders."""

import os

import keras
import numpy as np
import pytest

from tests.models import _data
from tf_lattice import models


def _fit(model, x, y, epochs=4):
    model.compile(keras.optimizers.Adam(0.05), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before
    return model


@pytest.mark.parametrize("builder,config", [
    (models.calibrated_linear, lambda f: models.CalibratedLinearConfig(f)),
    (models.calibrated_linear, lambda f: models.CalibratedLinearConfig(f, output_min=-1.0, output_max=2.5)),
    (models.calibrated_lattice, lambda f: models.CalibratedLatticeConfig(f)),
    (models.calibrated_lattice_ensemble,
     lambda f: models.CalibratedLatticeEnsembleConfig(f, num_lattices=3, lattice_rank=2)),
    (models.calibrated_lattice_ensemble,
     lambda f: models.CalibratedLatticeEnsembleConfig(f, num_lattices=3, lattice_rank=2, ensemble="rtl")),
])
def test_models_train_certify_and_are_monotone(builder, config, tmp_path):
    x, y = _data.monotone_data()
    model = _fit(builder(config(_data.features())), x, y)
    _data.certificates_hold(model)
    _data.assert_monotone_on_grid(model)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bounded_linear_model_stays_in_bounds():
    x, y = _data.monotone_data()
    model = _fit(models.calibrated_linear(
        models.CalibratedLinearConfig(_data.features(), output_min=-1.0, output_max=2.5)), x, y)
    extreme = {k: np.asarray([[-5.0], [5.0]], np.float32) for k in x}
    outputs = model.predict(extreme, verbose=0)
    assert outputs.min() >= -1 - 1e-5 and outputs.max() <= 2.5 + 1e-5


def test_multi_output_lattice_classifier():
    x, y = _data.monotone_data()
    labels = np.digitize(y[:, 0], np.quantile(y, [1 / 3, 2 / 3]))
    model = models.calibrated_lattice(models.CalibratedLatticeConfig(_data.features(), units=3))
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, labels, epochs=6, batch_size=64, verbose=0)
    assert model.predict(x, verbose=0).shape == (len(labels), 3)
    assert model.evaluate(x, labels, verbose=0)[1] > 0.5
    _data.certificates_hold(model)


def test_crystals_groups_interacting_features():
    rng = np.random.default_rng(0)
    raw = {name: rng.uniform(0, 1, 512) for name in "pqrs"}
    y = (4 * raw["p"] * raw["q"] + raw["r"] + raw["s"]).astype("float32")
    features = tuple(models.FeatureConfig(n, keypoints=np.linspace(0, 1, 5), monotonicity="increasing")
                     for n in "pqrs")
    interactions = models.pairwise_interactions(features, raw, y, epochs=8)
    assert interactions[0, 1] == interactions.max()
    config = models.CalibratedLatticeEnsembleConfig(features, num_lattices=2, lattice_rank=2, ensemble="crystals")
    structure = models.ensemble_structure(config, raw, y, prefit_epochs=8)
    assert structure[0] == (0, 1)
    assert set().union(*structure) == {0, 1, 2, 3}
    model = models.calibrated_lattice_ensemble(config, raw, y, prefit_epochs=2)
    assert model.predict(models.feature_arrays(raw), verbose=0).shape == (512, 1)


def test_explicit_lattices_and_config_errors():
    features = _data.features()
    config = models.CalibratedLatticeEnsembleConfig(features, lattices=(("a", "b"), ("c", "d")))
    assert models.ensemble_structure(config) == [(0, 1), (2, 3)]
    with pytest.raises(ValueError, match="unknown features"):
        models.CalibratedLatticeEnsembleConfig(features, lattices=(("a", "zz"),))
    with pytest.raises(ValueError, match="crystals"):
        models.ensemble_structure(models.CalibratedLatticeEnsembleConfig(features, ensemble="crystals"))
    with pytest.raises(ValueError, match="keypoints"):
        models.FeatureConfig("x")
    with pytest.raises(ValueError, match="monotonicity"):
        models.FeatureConfig("x", keypoints=(0, 1), monotonicity="up")
    with pytest.raises(ValueError, match="unique"):
        models.CalibratedLatticeConfig((features[0], features[0]))
