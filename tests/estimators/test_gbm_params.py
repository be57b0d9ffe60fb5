"""categorical_features, class_weight and feature_importances_."""

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.class_weight import compute_sample_weight

from tests.estimators._data import FAST
from tf_lattice import estimators
from tf_lattice.estimators import FileSource

ONE_EPOCH = dict(FAST, epochs=1)
DATA = os.path.join(os.path.dirname(__file__), "data")


def _coded(n=200, seed=0):
    """``code`` holds integer category codes; the target depends on the code, not its size."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.uniform(0, 1, n), "code": rng.integers(0, 4, n),
                          "noise": rng.uniform(0, 1, n)})
    effect = np.array([0.0, 2.0, -1.0, 1.0])[frame["code"]]
    y = 2.0 * frame["x"].to_numpy() + effect + rng.normal(0, 0.1, n)
    return frame, y


def _assert_refused_before_training(model, frame, y, message):
    """``fit`` raises ValueError matching ``message`` and leaves no trained ``model_``."""
    with pytest.raises(ValueError, match=message):
        model.fit(frame, y)
    assert not hasattr(model, "model_")


# -- categorical_features ------------------------------------------------------------------


@pytest.mark.parametrize("form", [["code"], [1], np.array([False, True, False]),
                                  [False, True, False], ("code",)])
def test_categorical_features_forms(form):
    frame, y = _coded()
    model = estimators.CalibratedLinearRegressor(categorical_features=form, **ONE_EPOCH)
    specs = model.fit(frame, y).feature_specs_
    assert [spec.kind for spec in specs] == ["numeric", "categorical", "numeric"]
    assert specs[1].vocabulary == (0, 1, 2, 3) and not specs[1].has_missing


def test_without_categorical_features_integer_codes_are_numeric():
    frame, y = _coded()
    for value in (None, "from_dtype"):
        model = estimators.CalibratedLinearRegressor(categorical_features=value, **ONE_EPOCH)
        assert model.fit(frame, y).feature_specs_[1].kind == "numeric"


@pytest.mark.parametrize("value, message", [
    (["nope"], "categorical_features names column 'nope'"),
    ([5], "categorical_features refers to column position 5"),
    ([True, False], "boolean mask must have one entry per column"),
    ("code", "categorical_features must be None, 'from_dtype'"),
    ([True, "code"], "mixes booleans"),
])
def test_bad_categorical_features_are_refused_before_training(value, message):
    frame, y = _coded()
    model = estimators.CalibratedLinearRegressor(categorical_features=value, **ONE_EPOCH)
    _assert_refused_before_training(model, frame, y, message)


def test_integer_codes_calibrate_as_categories_with_an_order():
    frame, y = _coded()
    model = estimators.CalibratedLatticeRegressor(
        categorical_features=["code"], category_order={"code": [(0, 3), (3, 1)]},
        **dict(FAST, epochs=20)).fit(frame, y)
    assert model.certify().holds
    encoded = model.transform_features(pd.DataFrame({"x": [0.5] * 5, "code": [0, 1, 2, 3, 9],
                                                     "noise": [0.5] * 5}))
    np.testing.assert_array_equal(encoded[:, 1], [0, 1, 2, 3, 4])  # 9 is unseen: default bucket
    outputs = {c["name"]: c for c in model.calibrator_curves()}["code"]["outputs"]
    assert outputs[0] <= outputs[3] <= outputs[1]
    # A numeric calibrator could not fit the non-monotone code effect; categories do.
    assert model.score(frame, y) > 0.9


def test_categorical_features_positions_on_arrays():
    frame, y = _coded()
    model = estimators.CalibratedLinearRegressor(categorical_features=[1], **ONE_EPOCH)
    specs = model.fit(frame.to_numpy(), y).feature_specs_
    assert specs[1].kind == "categorical" and specs[1].vocabulary == (0.0, 1.0, 2.0, 3.0)
    assert model.predict(frame.to_numpy()).shape == (len(frame),)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_categorical_features_of_a_file_source(tmp_path, suffix):
    frame, y = _coded(120)
    path = str(tmp_path / f"data.{suffix}")
    data = frame.assign(y=y)
    data.to_csv(path, index=False) if suffix == "csv" else data.to_parquet(path)
    model = estimators.CalibratedLinearRegressor(categorical_features=["code"], **ONE_EPOCH)
    model.fit(FileSource(path, target="y"))
    spec = model.feature_specs_[1]
    assert spec.kind == "categorical" and list(spec.vocabulary) == [0, 1, 2, 3]
    np.testing.assert_array_equal(model.transform_features(frame)[:, 1], frame["code"])


# -- class_weight --------------------------------------------------------------------------


def _imbalanced(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.uniform(0, 1, n), "kind": rng.choice(["a", "b"], n)})
    y = (frame["x"] + rng.normal(0, 0.3, n) > 0.85).astype(int).to_numpy()
    return frame, y


def test_balanced_class_weight_is_the_balanced_sample_weight():
    frame, y = _imbalanced()
    weighted = estimators.CalibratedLinearClassifier(class_weight="balanced", **FAST).fit(frame, y)
    manual = estimators.CalibratedLinearClassifier(**FAST).fit(
        frame, y, sample_weight=compute_sample_weight("balanced", y))
    plain = estimators.CalibratedLinearClassifier(**FAST).fit(frame, y)
    np.testing.assert_allclose(weighted.predict_proba(frame), manual.predict_proba(frame),
                               rtol=1e-5, atol=1e-6)
    # Up-weighting the rare class raises its predicted share.
    assert weighted.predict_proba(frame)[:, 1].mean() > plain.predict_proba(frame)[:, 1].mean() + 0.05


def test_dict_class_weight_multiplies_sample_weight():
    frame, y = _imbalanced()
    sample_weight = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    model = estimators.CalibratedLatticeEnsembleClassifier(
        num_lattices=2, class_weight={1: 3.0}, **FAST).fit(frame, y, sample_weight=sample_weight)
    manual = estimators.CalibratedLatticeEnsembleClassifier(num_lattices=2, **FAST).fit(
        frame, y, sample_weight=sample_weight * np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(model.predict_proba(frame), manual.predict_proba(frame),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("value, message", [
    ("even", "class_weight must be None, 'balanced'"),
    ({2: 1.0}, "class_weight names the class 2"),
    ({1: -1.0}, r"class_weight\[1\] must be a finite number >= 0"),
    ([1.0, 2.0], "class_weight must be None, 'balanced' or a dict"),
])
def test_bad_class_weight_is_refused_before_training(value, message):
    frame, y = _imbalanced()
    model = estimators.CalibratedLatticeClassifier(class_weight=value, **ONE_EPOCH)
    _assert_refused_before_training(model, frame, y, message)


def test_class_weight_is_a_parameter_of_every_classifier_only():
    for name in estimators.__all__:
        cls = getattr(estimators, name)
        if not name.endswith(("Classifier", "Regressor")):
            continue
        params = cls().get_params()
        assert ("class_weight" in params) == name.endswith("Classifier"), name
        assert "categorical_features" in params, name
    assert estimators.DeepLatticeNetworkClassifier(class_weight="balanced",
                                                   lattice_rank=2).get_params()["lattice_rank"] == 2
    with pytest.raises(TypeError):
        estimators.CalibratedLinearRegressor(class_weight="balanced")


def test_class_weight_is_refused_for_streamed_fits(tmp_path):
    frame, y = _imbalanced(60)
    frame.assign(y=y).to_csv(tmp_path / "data.csv", index=False)
    model = estimators.CalibratedLinearClassifier(class_weight="balanced", **ONE_EPOCH)
    with pytest.raises(ValueError, match="class_weight applies to fits on in-memory data"):
        model.fit(FileSource(str(tmp_path / "data.csv"), target="y"))


# -- feature_importances_ ------------------------------------------------------------------


def test_feature_importances_follow_their_definition():
    frame, y = _coded()
    frame.loc[::10, "x"] = np.nan
    model = estimators.CalibratedLinearRegressor(categorical_features=["code"],
                                                 **FAST).fit(frame, y)
    importances = model.feature_importances_
    assert importances.shape == (3,) and np.all(importances >= 0)
    np.testing.assert_allclose(importances.sum(), 1.0)
    base = model.predict(frame)
    changes = []
    for column, reference in (("x", frame["x"].median()),
                              ("code", frame["code"].mode()[0]),
                              ("noise", frame["noise"].median())):
        moved = frame.copy()
        moved[column] = reference
        changes.append(np.abs(model.predict(moved) - base).mean() / model.target_scale_)
    np.testing.assert_allclose(importances, np.array(changes) / sum(changes), rtol=2e-3,
                               atol=1e-5)
    assert importances[2] < importances[0] and importances[2] < importances[1]


def test_feature_importances_of_a_classifier_and_of_a_streamed_fit(tmp_path):
    frame, y = _imbalanced()
    frame["noise"] = np.random.default_rng(3).uniform(0, 1, len(frame))
    model = estimators.CalibratedLatticeEnsembleClassifier(num_lattices=3, **FAST).fit(frame, y)
    assert model.feature_importances_.shape == (3,)
    np.testing.assert_allclose(model.feature_importances_.sum(), 1.0)
    assert model.feature_importances_[0] == model.feature_importances_.max()
    frame.assign(y=y).to_csv(tmp_path / "data.csv", index=False)
    for shuffle_rows in (10_000, 50):  # in memory, then streamed (importances on the sample)
        streamed = estimators.CalibratedLinearClassifier(**ONE_EPOCH).fit(
            FileSource(str(tmp_path / "data.csv"), target="y", shuffle_rows=shuffle_rows))
        assert streamed.feature_importances_.shape == (3,)
        np.testing.assert_allclose(streamed.feature_importances_.sum(), 1.0)


def test_feature_importances_belong_to_the_latest_fit_and_survive_saving(tmp_path):
    frame, y = _coded()
    model = estimators.CalibratedLinearRegressor(**FAST)
    assert not hasattr(model, "feature_importances_")
    first = model.fit(frame, y).feature_importances_.copy()
    assert first[0] > first[2]
    # A refit on data where only "noise" matters replaces the importances.
    model.fit(frame, frame["noise"] * 10.0)
    second = model.feature_importances_
    assert second[2] > second[0] and not np.allclose(first, second)
    model.save(tmp_path / "model.keras")
    loaded = estimators.CalibratedLinearRegressor.load(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.feature_importances_, second)


# -- saving ---------------------------------------------------------------------------------


def test_new_parameters_and_importances_survive_save_and_load(tmp_path):
    frame, y = _coded()
    labels = (y > 1).astype(int)
    model = estimators.CalibratedLinearClassifier(
        categorical_features=[1], class_weight={0: 1.0, 1: 2.5}, **FAST).fit(frame, labels)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = estimators.CalibratedLinearClassifier.load(path)
    assert loaded.get_params()["categorical_features"] == [1]
    assert loaded.get_params()["class_weight"] == {0: 1.0, 1: 2.5}
    assert loaded.feature_specs_ == model.feature_specs_
    np.testing.assert_allclose(loaded.feature_importances_, model.feature_importances_)
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame), rtol=1e-6)


def test_a_model_saved_before_these_attributes_loads():
    model = estimators.CalibratedLatticeEnsembleClassifier.load(
        os.path.join(DATA, "ensemble_saved_by_0_1.keras"))
    assert model.categorical_features is None and model.class_weight is None
    assert not hasattr(model, "feature_importances_")
    assert not any(spec.has_other for spec in model.feature_specs_)
