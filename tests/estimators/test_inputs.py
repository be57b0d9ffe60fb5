"""Input kinds and bad input: DataFrames, arrays, missing values, clear errors."""

import numpy as np
import pandas as pd
import pytest

from tests.estimators._data import FAST, mixed_frame
from tf_lattice.estimators import CalibratedLatticeClassifier, CalibratedLinearRegressor
from tf_lattice.estimators._columns import encode, fit_feature_specs


def test_encoding_maps_missing_and_unseen_categories_to_the_default_bucket():
    frame, _ = mixed_frame()
    specs = {s.name: s for s in fit_feature_specs(frame, 5)}
    assert specs["color"].kind == "categorical" and specs["flag"].kind == "numeric"
    test = frame.head(3).copy()
    test["color"] = pd.Categorical(["purple", None, "red"])
    encoded = encode(test, list(specs.values()))
    column = list(specs).index("color")
    default = specs["color"].default_bucket
    assert encoded[0, column] == default and encoded[1, column] == default
    assert encoded[2, column] == specs["color"].vocabulary.index("red")


def test_dataframe_with_every_column_kind_and_missing_values():
    frame, y = mixed_frame()
    model = CalibratedLinearRegressor(monotonicity={"x": "increasing"}, **FAST).fit(frame, y)
    assert list(model.feature_names_in_) == list(frame.columns)
    assert model.n_features_in_ == frame.shape[1]
    test = frame.head(4).copy()
    test.loc[test.index[0], "x"] = np.nan
    test["color"] = pd.Categorical(["never-seen", "red", None, "blue"])
    predictions = model.predict(test)
    assert predictions.shape == (4,) and np.all(np.isfinite(predictions))
    # The learned missing output is used: a missing x predicts differently from x=0.
    with_zero = test.copy()
    with_zero.loc[with_zero.index[0], "x"] = 0.0
    assert model.predict(with_zero)[0] != predictions[0]


def test_numpy_arrays_get_positional_names():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    model = CalibratedLatticeClassifier(monotonicity={"x0": "increasing"}, **FAST).fit(X, y)
    assert not hasattr(model, "feature_names_in_")
    assert [s.name for s in model.feature_specs_] == ["x0", "x1", "x2"]
    assert model.predict_proba(X).shape == (120, 2)
    with pytest.raises(ValueError, match="3 features"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("params, pattern", [
    (dict(monotonicity={"nope": "increasing"}), "monotonicity names column 'nope'"),
    (dict(monotonicity={"x": "upwards"}), r"monotonicity\['x'\] must be one of"),
    (dict(convexity={"color": "convex"}), "convexity cannot apply to categorical column 'color'"),
    (dict(unimodality={"x": "peak"}), "unimodality.*lattice model"),
    (dict(trust=[("x", "flag", "increasing")]), "needs column 'x' to have a monotonicity"),
    (dict(category_order={"color": [("red", "violet")]}), "category 'violet'"),
    (dict(num_keypoints=1), "num_keypoints must be >= 2"),
    (dict(learning_rate=-1.0), "learning_rate"),
])
def test_bad_parameters_name_the_argument(params, pattern):
    frame, y = mixed_frame(40)
    with pytest.raises(ValueError, match=pattern):
        CalibratedLinearRegressor(**{**FAST, **params}).fit(frame, y)


def test_bad_data_names_the_column():
    frame, y = mixed_frame(40)
    with pytest.raises(ValueError, match="y has NaN"):
        CalibratedLinearRegressor(**FAST).fit(frame, np.r_[np.nan, y[1:]])
    with pytest.raises(ValueError, match="missing values"):
        CalibratedLatticeClassifier(**FAST).fit(frame, np.r_[[None], (y[1:] > 3)].astype(object))
    infinite = frame.copy()
    infinite.loc[3, "x"] = np.inf
    with pytest.raises(ValueError, match="column 'x' has an infinite value at row 3"):
        CalibratedLinearRegressor(**FAST).fit(infinite, y)
    with pytest.raises(ValueError, match="infinity"):
        CalibratedLinearRegressor(**FAST).fit(np.array([[1.0], [np.inf]]), [1.0, 2.0])


def test_predict_time_frame_must_have_the_training_columns():
    frame, y = mixed_frame(60)
    model = CalibratedLinearRegressor(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match=r"feature names.*\n.*yet now missing:\n- color"):
        model.predict(frame.drop(columns=["color"]))
    with pytest.raises(ValueError, match=r"unseen at fit time:\n- x_renamed\n.*missing:\n- x\n"):
        model.predict(frame.rename(columns={"x": "x_renamed"}))
    # Columns are matched by name: any order predicts the same.
    np.testing.assert_allclose(model.predict(frame[list(reversed(frame.columns))]),
                               model.predict(frame))


def test_a_lattice_over_too_many_features_is_refused_before_training():
    X = np.random.default_rng(0).uniform(size=(20, 30))
    y = np.arange(20) % 2
    model = CalibratedLatticeClassifier(**FAST)
    with pytest.raises(ValueError, match=r"30 features .* 1,073,741,824 vertices .*Ensemble"):
        model.fit(X, y)
    assert not hasattr(model, "model_")


def test_encoding_in_column_groups_matches_one_group_and_names_the_bad_column(monkeypatch):
    """Numeric columns are converted a few at a time (bounded float64 memory):
    the result does not depend on the group size, and an error names the
    column even when it is in a later group."""
    from tf_lattice.estimators import _columns

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=50) for i in range(7)})
    frame["x3"] = frame["x3"].where(rng.uniform(size=50) > 0.2)  # some missing
    frame["kind"] = rng.choice(["a", "b"], 50)
    specs = fit_feature_specs(frame, 5)
    whole = encode(frame, specs)
    monkeypatch.setattr(_columns, "ENCODE_CHUNK_BYTES", 8 * 50 * 2)  # two columns per group
    np.testing.assert_array_equal(encode(frame, specs), whole)
    bad = frame.copy()
    bad.loc[7, "x6"] = np.inf
    with pytest.raises(ValueError, match=r"column 'x6' has an infinite value at row 7"):
        encode(bad, specs)
    bad.loc[7, "x6"] = 1e39
    with pytest.raises(ValueError, match=r"column 'x6' has the value 1e\+39 at row 7"):
        encode(bad, specs)
