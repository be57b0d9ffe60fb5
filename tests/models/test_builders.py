"""Calibrated linear, lattice and ensemble builders."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models import _data
from tf_lattice import models
from tf_lattice.layers import lattice_initializers


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


def test_single_lattice_starts_from_its_initial_output():
    features = _data.features()
    start = (-1.5, 0.25, 2.0)
    model = models.calibrated_lattice(models.CalibratedLatticeConfig(features, units=3,
                                                                     initial_output=start))
    kernel = model.get_layer("lattice").kernel.numpy()
    np.testing.assert_allclose(kernel.min(axis=1), np.subtract(start, 0.5), atol=1e-6)
    np.testing.assert_allclose(kernel.max(axis=1), np.add(start, 0.5), atol=1e-6)
    # The initial function is linear and symmetric about its center: its
    # vertex mean is the initial score.
    np.testing.assert_allclose(kernel.mean(axis=1), start, atol=1e-6)
    default = models.calibrated_lattice(models.CalibratedLatticeConfig(features, units=3))
    np.testing.assert_allclose(default.get_layer("lattice").kernel.numpy().min(axis=1), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="initial_output of CalibratedLatticeConfig sets the initial "
                                         "scores of an unbounded lattice"):
        models.CalibratedLatticeConfig(features, output_min=0.0, output_max=1.0, initial_output=(0.5,))


def test_crystals_groups_interacting_features():
    rng = np.random.default_rng(0)
    raw = {name: rng.uniform(0, 1, 512) for name in "pqrs"}
    y = (4 * raw["p"] * raw["q"] + raw["r"] + raw["s"]).astype("float32")
    features = tuple(models.FeatureConfig(n, keypoints=np.linspace(0, 1, 5), monotonicity="increasing")
                     for n in "pqrs")
    interactions = models.interaction_strengths(np.column_stack([raw[n] for n in "pqrs"]), y)
    assert interactions[0, 1] == interactions.max()
    config = models.CalibratedLatticeEnsembleConfig(features, num_lattices=2, lattice_rank=2, ensemble="crystals")
    structure = models.ensemble_structure(config, raw, y)
    assert structure[0] == (0, 1)
    assert set().union(*structure) == {0, 1, 2, 3}
    model = models.calibrated_lattice_ensemble(config, raw, y)
    assert model.predict(models.feature_arrays(raw), verbose=0).shape == (512, 1)


def test_crystals_have_no_pre_fit_to_configure():
    features = _data.features()
    config = models.CalibratedLatticeEnsembleConfig(features, ensemble="crystals")
    x, y = _data.monotone_data()
    with pytest.raises(TypeError, match="prefit_epochs"):
        models.ensemble_structure(config, x, y, prefit_epochs=8)
    with pytest.raises(TypeError, match="prefit_epochs"):
        models.calibrated_lattice_ensemble(config, x, y, prefit_epochs=2)
    with pytest.raises(ValueError, match="no values for the features"):
        models.ensemble_structure(config, {"a": x["a"]}, y)


def test_explicit_lattices_and_config_errors():
    features = _data.features()
    config = models.CalibratedLatticeEnsembleConfig(features, lattices=(("a", "b"), ("c", "d")))
    assert models.ensemble_structure(config) == [(0, 1), (2, 3)]
    with pytest.raises(ValueError, match="unknown features"):
        models.CalibratedLatticeEnsembleConfig(features, lattices=(("a", "zz"),))
    with pytest.raises(ValueError, match="crystals"):
        models.ensemble_structure(models.CalibratedLatticeEnsembleConfig(features, ensemble="crystals"))
    with pytest.raises(ValueError, match="numeric feature 'x' needs keypoints"):
        models.CalibratedLatticeConfig((models.FeatureConfig("x"),))  # declared, not placed
    with pytest.raises(ValueError, match="monotonicity"):
        models.FeatureConfig("x", keypoints=(0, 1), monotonicity="up")
    with pytest.raises(ValueError, match="unique"):
        models.CalibratedLatticeConfig((features[0], features[0]))


def _layers_of(model, kind):
    return [layer for layer in model.layers if type(layer).__name__ == kind]


def test_ensemble_fuses_calibrators_and_lattices_and_averages_every_lattice():
    """Numeric features of each lattice size share a PWLCalibration, lattices
    of equal sizes share a Lattice layer, and every unit of the output is the
    mean of that unit over all lattices."""
    x, _ = _data.monotone_data()
    small, large = _data.features(2), _data.features(3)
    features = (small[0], small[1], large[2], small[3])
    lattices = (("a", "c"), ("b", "c"), ("a", "b"), ("a", "d"), ("b", "d"))
    units = 2
    model = models.calibrated_lattice_ensemble(
        models.CalibratedLatticeEnsembleConfig(features, lattices=lattices, units=units))
    pwl = _layers_of(model, "PWLCalibration")
    assert sorted(layer.units for layer in pwl) == [1, 2]  # a, b to [0, 1]; c to [0, 2]
    assert len(_layers_of(model, "CategoricalCalibration")) == 1
    fused_lattices = _layers_of(model, "Lattice")
    # (a, c) and (b, c) are [2, 3] lattices increasing in their first dimension;
    # (a, b), (a, d) and (b, d) are [2, 2] lattices increasing in both.
    assert sorted(layer.units for layer in fused_lattices) == [2 * units, 3 * units]
    # Unit u of every lattice outputs (u + 1) * (the sum of its inputs), so
    # output unit u is (u + 1) * the mean over lattices of their input sums.
    for layer in fused_lattices:
        vertex_sums = lattice_initializers.vertex_coordinates(layer.lattice_sizes).sum(axis=1)
        scales = np.arange(layer.units) % units + 1.0
        layer.kernel.assign((scales[:, None] * vertex_sums[None, :]).astype(np.float32))
    calibrated = keras.Model(model.inputs, model.get_layer("lattice_inputs_0").input).predict(x, verbose=0)
    index = {f.name: i for i, f in enumerate(features)}
    sums = np.mean([calibrated[:, [index[name] for name in lattice]].sum(axis=1)
                    for lattice in lattices], axis=0)
    expected = sums[:, None] * (np.arange(units) + 1.0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def _lattice_projection_ops(model):
    """The lattice projection op calls of one traced projection of every
    constrained variable (what each training step runs)."""
    variables = [v for v in model.trainable_variables if v.constraint is not None]
    project = tf.function(lambda: [v.constraint(v) for v in variables])
    graph = project.get_concrete_function().graph
    return [op.type for op in graph.get_operations() if op.type.startswith("TfLattice>LatticeProj")]


def test_ensemble_lattices_of_one_size_are_one_layer_with_a_block_per_constraint_pattern():
    """(a, c), (a, b), (b, c) and (c, d) are increasing in 1, 2, 1 and 1 (d is
    ordered) dimensions: one [2, 2] Lattice, one projection op."""
    x, y = _data.monotone_data()
    lattices = (("a", "c"), ("a", "b"), ("b", "c"), ("c", "d"))
    model = models.calibrated_lattice_ensemble(
        models.CalibratedLatticeEnsembleConfig(_data.features(), lattices=lattices))
    [lattice] = _layers_of(model, "Lattice")
    assert [(spec.units, spec.monotonicity_names) for spec in lattice.unit_specs] == [
        (3, ["increasing", "none"]), (1, ["increasing", "increasing"])]
    assert _lattice_projection_ops(model) == ["TfLattice>LatticeProjectionSets"]
    assert lattice.certify().holds
    initial = lattice.kernel.numpy()
    model = _fit(model, x, y)
    assert not np.array_equal(lattice.kernel.numpy(), initial)
    _data.certificates_hold(model)
    _data.assert_monotone_on_grid(model)


def test_categorical_ids_outside_the_buckets_and_missing_sentinels_read_the_missing_outputs():
    features = (models.FeatureConfig("n", keypoints=(0.0, 1.0, 2.0), missing_input_value=-1.0),
                models.FeatureConfig("k", num_buckets=3))
    model = models.calibrated_linear(models.CalibratedLinearConfig(features))
    numeric, = _layers_of(model, "PWLCalibration")
    categorical, = _layers_of(model, "CategoricalCalibration")
    numeric.missing_output.assign([7.0])
    categorical.kernel.assign(np.arange(categorical.kernel.shape[1], dtype=np.float32)[None] * 10)

    def predict(n, k):
        x = {"n": np.asarray([[n]], np.float32), "k": np.asarray([[k]], np.float32)}
        return float(model.predict(x, verbose=0)[0, 0])

    known = [predict(1.0, k) for k in range(3)]
    assert len(set(known)) == 3
    default = predict(1.0, 3.0)
    assert default not in known
    for unknown in (-2.0, 7.0, float("nan")):
        assert predict(1.0, unknown) == default
    assert predict(-1.0, 0.0) == predict(float("nan"), 0.0) != predict(0.0, 0.0)
