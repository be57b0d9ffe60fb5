"""Model configs: every constraint family is validated once and reaches the
built model and its certificates."""

import dataclasses

import keras
import numpy as np
import pytest

from tf_lattice import models
from tf_lattice.estimators import _structure
from tf_lattice.estimators._columns import CATEGORICAL, NUMERIC, FeatureSpec
from tf_lattice.estimators._constraints import resolve_constraints

KEYPOINTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _numeric(name, **kwargs):
    return models.FeatureConfig(name, keypoints=KEYPOINTS, **kwargs)


def _features():
    """a increasing, b decreasing, c valley-shaped, d categorical with
    category 0 <= category 2, e convex, g increasing."""
    return (_numeric("a", monotonicity="increasing"), _numeric("b", monotonicity="decreasing"),
            _numeric("c", unimodality="valley", lattice_size=3),
            models.FeatureConfig("d", num_buckets=3, category_order=((0, 2),)),
            _numeric("e", convexity="convex"), _numeric("g", monotonicity="increasing"))


# -- contradictions are refused, naming the feature and the argument --------------------------


@pytest.mark.parametrize("arguments,message", [
    (dict(keypoints=KEYPOINTS, monotonicity="increasing", unimodality="valley", lattice_size=3),
     "feature 'x' cannot have both unimodality='valley' and monotonicity='increasing'"),
    (dict(keypoints=KEYPOINTS, convexity="convex", unimodality="peak", lattice_size=3),
     "feature 'x' cannot have both unimodality='peak' and convexity='convex'"),
    (dict(keypoints=KEYPOINTS, unimodality="valley"), "unimodality of 'x' needs lattice_size >= 3"),
    (dict(keypoints=KEYPOINTS, unimodality="up"), "unimodality of 'x' must be one of"),
    (dict(num_buckets=3, monotonicity="increasing"),
     "categorical feature 'x' takes category_order, not monotonicity='increasing'"),
    (dict(num_buckets=3, unimodality="valley", lattice_size=3),
     "categorical feature 'x' takes category_order, not unimodality='valley'"),
    (dict(keypoints=KEYPOINTS, category_order=((0, 1),)), "category_order of 'x' needs a categorical"),
    (dict(num_buckets=3, category_order=((0, 3),)), r"category_order of 'x': \(0, 3\)"),
    (dict(num_buckets=3, category_order=((1, 1),)), r"category_order of 'x': \(1, 1\)"),
    (dict(keypoints=(0.0, 0.0, 1.0)), "keypoints of 'x' must be at least 2 finite, strictly increasing"),
    (dict(keypoints=(0.0,)), "keypoints of 'x' must be at least 2"),
])
def test_feature_config_refuses_contradictions(arguments, message):
    with pytest.raises(ValueError, match=message):
        models.FeatureConfig("x", **arguments)


def test_category_order_is_the_one_name_of_the_categorical_order():
    feature = models.FeatureConfig("d", num_buckets=3, category_order=[[0, 2], (1, 2)])
    assert feature.category_order == ((0, 2), (1, 2))
    assert feature.is_monotone and feature.shaped
    with pytest.raises(TypeError) as raised:
        models.FeatureConfig("d", num_buckets=3, category_pairs=((0, 2),))
    assert str(raised.value) == (
        "FeatureConfig takes the partial order of a categorical feature's categories as "
        "category_order=((i, j), ...) (formerly category_pairs)")
    # dataclasses.replace and positional construction are unaffected.
    assert dataclasses.replace(feature, category_order=((2, 0),)).category_order == ((2, 0),)
    assert models.FeatureConfig("x", (0.0, 1.0)).keypoints == (0.0, 1.0)


def test_a_feature_not_placed_yet_records_its_shape_and_is_completed_by_replace():
    declared = models.FeatureConfig("u", unimodality="valley", lattice_size=None)
    assert declared.keypoints is None and not declared.is_placed and declared.shaped
    with pytest.raises(ValueError, match="feature 'u' has no lattice_size yet"):
        models.CalibratedLatticeConfig((declared,))
    sized = dataclasses.replace(declared, lattice_size=3)
    with pytest.raises(ValueError, match="numeric feature 'u' needs keypoints"):
        models.CalibratedLatticeConfig((sized,))
    placed = dataclasses.replace(sized, keypoints=KEYPOINTS)
    assert placed.is_placed and models.CalibratedLatticeConfig((placed,)).features == (placed,)
    # The size rules still hold once a size is given.
    with pytest.raises(ValueError, match="unimodality of 'u' needs lattice_size >= 3"):
        dataclasses.replace(declared, lattice_size=2)
    with pytest.raises(ValueError, match="keypoints of 'u' must be at least 2"):
        dataclasses.replace(sized, keypoints=(0.0,))


def test_renamed_arguments_are_worded_as_the_layers_word_them():
    """Configs and layers refuse an earlier name with one wording: 'X takes ... as
    current=... (formerly earlier)'."""
    from tf_lattice import layers
    cases = [(lambda: models.FeatureConfig("d", num_buckets=2, category_pairs=()),
              "FeatureConfig", "category_pairs", "category_order"),
             (lambda: layers.CategoricalCalibration(3, monotonicities=[(0, 1)]),
              "CategoricalCalibration", "monotonicities", "category_order"),
             (lambda: layers.KroneckerFactoredLattice(lattice_sizes=3),
              "KroneckerFactoredLattice", "lattice_sizes", "lattice_size")]
    for build, owner, earlier, current in cases:
        with pytest.raises(TypeError,
                           match=rf"^{owner} takes .* as {current}=.* \(formerly {earlier}\)$"):
            build()


@pytest.mark.parametrize("config,arguments,message", [
    (models.CalibratedLatticeConfig, dict(edgeworth_trusts=(("a", "zz", "increasing"),)),
     "edgeworth_trusts entry .* names unknown feature 'zz'"),
    (models.CalibratedLatticeConfig, dict(trapezoid_trusts=(("e", "a", "increasing"),)),
     "trapezoid_trusts entry .* needs feature 'e' to have a monotonicity"),
    (models.CalibratedLatticeConfig, dict(edgeworth_trusts=(("a", "a", "increasing"),)),
     "edgeworth_trusts entry .* names feature 'a' twice"),
    (models.CalibratedLatticeConfig, dict(edgeworth_trusts=(("a", "e", "up"),)),
     "the direction of edgeworth_trusts entry"),
    (models.CalibratedLatticeConfig, dict(monotonic_dominances=(("a", "e"),)),
     "monotonic_dominances entry .* needs feature 'e' to have a monotonicity"),
    (models.CalibratedLatticeConfig, dict(lattice_torsion=-1.0),
     "lattice_torsion of CalibratedLatticeConfig must be a finite amount >= 0"),
    (models.CalibratedLatticeConfig, dict(interpolation="cubic"),
     "interpolation of CalibratedLatticeConfig must be one of"),
    (models.CalibratedLinearConfig, dict(l2=float("nan")),
     "l2 of CalibratedLinearConfig must be a finite amount"),
    (models.CalibratedLinearConfig, dict(initial_output=(0.0, 1.0, 2.0), units=2),
     "initial_output of CalibratedLinearConfig must be finite, one value or one per unit"),
    (models.CalibratedLinearConfig, dict(output_min=0.0, output_max=1.0, initial_output=(0.5,)),
     "initial_output of CalibratedLinearConfig sets the bias"),
    (models.CalibratedLatticeEnsembleConfig, dict(initial_output=(0.5,)),
     'initial_output of CalibratedLatticeEnsembleConfig sets the bias of combination="linear"'),
    (models.CalibratedLatticeEnsembleConfig, dict(monotonic_dominances=(("a", "g"),)),
     "monotonic_dominances .* need explicit lattices"),
    (models.CalibratedLatticeEnsembleConfig, dict(combination="sum"), "combination must be one of"),
    (models.DeepLatticeNetworkConfig, dict(edgeworth_trusts=(("a", "e", "increasing"),)),
     "DeepLatticeNetworkConfig cannot keep edgeworth_trusts"),
    (models.DeepLatticeNetworkConfig, dict(l2=-1.0), "l2 of DeepLatticeNetworkConfig must be"),
    (models.DeepLatticeNetworkConfig, dict(layers=()), "layers must contain at least one"),
])
def test_model_configs_refuse_contradictions(config, arguments, message):
    features = tuple(f for f in _features() if f.unimodality == "none")
    with pytest.raises(ValueError, match=message):
        config(features, **arguments)


@pytest.mark.parametrize("config", [models.CalibratedLinearConfig,
                                    models.CalibratedLatticeEnsembleConfig])
def test_unimodality_needs_the_single_lattice(config):
    with pytest.raises(ValueError, match=f"{config.__name__} cannot keep unimodality='valley' of "
                                         "feature 'c'"):
        config(_features())


# -- every family reaches the built model and its certificates --------------------------------


def _specs(features):
    return [FeatureSpec(f.name, CATEGORICAL, vocabulary=tuple(f"v{i}" for i in range(f.num_buckets)))
            if f.is_categorical else FeatureSpec(f.name, NUMERIC, keypoints=f.keypoints)
            for f in features]


def _declared(specs, **arguments):
    """The declarations of :func:`_features` as the estimators resolve them."""
    return resolve_constraints(
        specs, monotonicity={"a": "increasing", "b": "decreasing", "g": "increasing"},
        convexity={"e": "convex"}, category_order={"d": [("v0", "v2")]}, **arguments)


def _train(model, features, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.stack([rng.integers(0, f.num_buckets + 1, 256).astype(np.float32) if f.is_categorical
                  else rng.uniform(-0.2, 1.2, 256).astype(np.float32) for f in features], axis=1)
    x[rng.uniform(size=x.shape) < 0.05] = np.nan  # missing values read the learned outputs
    x[:, 3] = np.where(np.isnan(x[:, 3]), 3.0, x[:, 3])
    filled = np.nan_to_num(x, nan=0.5)
    y = (filled[:, 0] + (filled[:, 2] - 0.5) ** 2 + rng.normal(0, 0.1, 256))[:, None]
    model.compile(keras.optimizers.Adam(0.1), "mse")
    model.fit(x, y, epochs=steps, batch_size=64, verbose=0)
    assert np.all(np.isfinite(model.predict(x, verbose=0)))
    return x


def _layer_checks(model):
    checks = [check for layer in model.layers if hasattr(layer, "certify")
              for check in layer.certify().checks]
    failing = [str(c) for c in checks if not c.holds]
    assert not failing, failing
    return " ".join(c.name for c in checks)


def _assert_declared_hold(model, specs, declared):
    checks = _structure.declared_checks(model, specs, declared)
    failing = [(c.name, c.location) for c in checks if not c.holds]
    assert not failing, failing
    return [c.name for c in checks]


def test_every_family_reaches_a_calibrated_lattice_and_its_certificate():
    features = _features()
    config = models.CalibratedLatticeConfig(
        features, edgeworth_trusts=(("a", "e", "increasing"),),
        trapezoid_trusts=(("b", "g", "decreasing"),), monotonic_dominances=(("a", "g"),))
    model = models.calibrated_lattice(config, encoded=True)
    lattice = model.get_layer("lattice")
    # a, b, d, e, g are shaped (their calibrators apply the shape): increasing
    # lattice dimensions; c keeps its valley in the lattice.
    assert list(lattice.monotonicities) == ["increasing", "increasing", "none", "increasing",
                                            "increasing", "increasing"]
    assert list(lattice.unimodalities)[2] == "valley"
    assert [tuple(t) for t in lattice.edgeworth_trusts] == [(0, 4, "increasing")]
    # b's calibrator is decreasing, so the trust flips in calibrated space
    # only if the conditional column decreases: g increases, direction kept.
    assert [tuple(t) for t in lattice.trapezoid_trusts] == [(1, 5, "decreasing")]
    assert [tuple(t) for t in lattice.monotonic_dominances] == [(0, 5)]
    _train(model, features)
    names = _layer_checks(model)
    for family in ("trust", "dominance", "unimodal", "convex"):
        assert family in names.lower(), (family, names)
    specs = _specs(features)
    declared = _declared(specs, unimodality={"c": "valley"},
                         trust=[("a", "e", "increasing"), ("b", "g", "decreasing", "trapezoid")],
                         dominance=[("a", "g")])
    checks = _assert_declared_hold(model, specs, declared)
    # 3 monotone, 1 valley, 2 convex (calibrator, later layers), 2 order, 2 trusts, 1 dominance.
    assert len(checks) == 11, checks


def test_every_family_reaches_a_calibrated_linear_model():
    features = tuple(f for f in _features() if f.unimodality == "none")
    config = models.CalibratedLinearConfig(features, monotonic_dominances=(("a", "g"),),
                                           initial_output=(0.25,), l2=1e-3)
    model = models.calibrated_linear(config, encoded=True)
    linear = model.get_layer("linear")
    assert list(linear.monotonicities) == ["increasing"] * 5
    assert [tuple(d) for d in linear.monotonic_dominances] == [(0, 4)]
    np.testing.assert_allclose(linear.bias.numpy(), [0.25])
    pwl = model.get_layer("numeric_calibration")
    # The unbounded convex calibrator continues its end segments.
    assert list(pwl.unit_extrapolations) == ["constant", "constant", "linear", "constant"]
    _train(model, features)
    assert "dominance" in _layer_checks(model).lower()
    specs = _specs(features)
    _assert_declared_hold(model, specs, _declared(specs, dominance=[("a", "g")]))


def test_every_family_reaches_a_linearly_combined_ensemble():
    features = tuple(f for f in _features() if f.unimodality == "none")
    lattices = (("a", "e", "g"), ("b", "d", "g"), ("a", "b", "g"))
    config = models.CalibratedLatticeEnsembleConfig(
        features, lattices=lattices, combination="linear", lattice_initializer="linear",
        edgeworth_trusts=(("a", "e", "increasing"),), trapezoid_trusts=(("b", "g", "decreasing"),),
        monotonic_dominances=(("g", "a"),), initial_output=(0.5,), units=1)
    model = models.calibrated_lattice_ensemble(config, encoded=True)
    assert model.inputs[0].name == "features" and model.inputs[0].shape[-1] == len(features)
    np.testing.assert_allclose(model.get_layer("combine").bias.numpy(), [0.5])
    _train(model, features)
    names = _layer_checks(model).lower()
    assert "trust" in names and "dominance" in names
    specs = _specs(features)
    _assert_declared_hold(model, specs, _declared(
        specs, trust=[("a", "e", "increasing"), ("b", "g", "decreasing", "trapezoid")],
        dominance=[("g", "a")]))


def test_the_dict_and_the_matrix_models_compute_the_same_function():
    features = (_numeric("a", monotonicity="increasing", missing_input_value=-1.0),
                models.FeatureConfig("d", num_buckets=3, category_order=((0, 2),)))
    config = models.CalibratedLatticeConfig(features)
    keras.utils.set_random_seed(3)
    by_name = models.calibrated_lattice(config)
    keras.utils.set_random_seed(3)
    encoded = models.calibrated_lattice(config, encoded=True)
    encoded.set_weights(by_name.get_weights())
    raw = np.array([[0.3, 0.0], [-1.0, 2.0], [0.9, 7.0]], np.float32)
    matrix = raw.copy()
    matrix[1, 0] = np.nan  # the sentinel, encoded
    matrix[2, 1] = 3.0  # an unknown id, encoded as the default bucket
    np.testing.assert_allclose(
        by_name.predict({"a": raw[:, :1], "d": raw[:, 1:]}, verbose=0),
        encoded.predict(matrix, verbose=0), rtol=1e-6)


def test_num_buckets_none_is_numeric_and_zero_buckets_is_a_categorical_default_bucket():
    assert not models.FeatureConfig("x", keypoints=KEYPOINTS).is_categorical
    # The former spelling of a numeric feature still reads as one.
    assert not models.FeatureConfig("x", keypoints=KEYPOINTS, num_buckets=0).is_categorical
    with pytest.raises(ValueError, match="categorical feature 'x' .* takes no keypoints"):
        models.FeatureConfig("x", keypoints=KEYPOINTS, num_buckets=2)
    with pytest.raises(ValueError, match="num_buckets of 'x' must be an int >= 0"):
        models.FeatureConfig("x", num_buckets=-1)
    # A column of no known category (all missing in training) reads its default bucket.
    features = (_numeric("a"), models.FeatureConfig("k", num_buckets=0))
    model = models.calibrated_linear(models.CalibratedLinearConfig(features), encoded=True)
    assert model.get_layer("categorical_calibration").num_buckets == 1
    assert model.predict(np.array([[0.5, 0.0]], np.float32), verbose=0).shape == (1, 1)
    with pytest.raises(ValueError, match="categorical feature 'k' has num_buckets=0"):
        models.calibrated_linear(models.CalibratedLinearConfig(features))
