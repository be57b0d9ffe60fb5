"""Bad or surprising input is refused before training, naming the problem."""

import warnings

import numpy as np
import pandas as pd
import pytest

from tf_lattice import estimators
from tf_lattice.estimators._base import _normalized_weights
from tf_lattice.estimators._columns import column_kind
from tf_lattice.estimators._tasks import target_standardization, unstandardize

TINY = dict(epochs=1, verbose=0, random_state=0)


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n),
                         "kind": rng.choice(["x", "y"], n)})


@pytest.fixture(scope="module")
def fitted():
    frame = _frame()
    return estimators.CalibratedLinearRegressor(**TINY).fit(frame, frame["a"].to_numpy()), frame


# -- columns at predict time -------------------------------------------------------------


def test_columns_are_matched_by_name(fitted):
    model, frame = fitted
    np.testing.assert_allclose(model.predict(frame[["kind", "b", "a"]]), model.predict(frame))
    with pytest.raises(ValueError, match=r"seen at fit time, yet now missing:\n- b\n"):
        model.predict(frame.drop(columns=["b"]))
    with pytest.raises(ValueError, match=r"unseen at fit time:\n- extra\n"):
        model.predict(frame.assign(extra=1.0))


def test_duplicate_column_names_are_refused(fitted):
    model, frame = fitted
    twice = pd.concat([frame, frame[["a"]]], axis=1)
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        estimators.CalibratedLinearRegressor(**TINY).fit(twice, np.zeros(len(frame)))
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        model.predict(twice)


def test_numpy_fit_then_dataframe_predict_goes_by_position_with_sklearns_warning():
    frame = _frame().drop(columns=["kind"])
    array_model = estimators.CalibratedLinearRegressor(**TINY).fit(frame.to_numpy(), frame["a"])
    with pytest.warns(UserWarning, match="fitted without feature names"):
        from_frame = array_model.predict(frame.rename(columns={"a": "p", "b": "q"}))
    np.testing.assert_allclose(from_frame, array_model.predict(frame.to_numpy()))
    frame_model = estimators.CalibratedLinearRegressor(**TINY).fit(frame, frame["a"])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = frame_model.predict(frame.to_numpy())
    np.testing.assert_allclose(from_array, frame_model.predict(frame))


def test_missing_values_unseen_in_training_warn(fitted):
    model, frame = fitted
    holes = frame.copy()
    holes.loc[0, "a"] = np.nan
    with pytest.warns(UserWarning, match=r"missing values in columns \['a'\].*none in training") \
            as caught:
        model.predict(holes)
    # The warning points at the user's call, not inside the library.
    assert [w.filename for w in caught] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(frame)


# -- column kinds ------------------------------------------------------------------------


@pytest.mark.parametrize("column", [
    pd.Series(pd.date_range("2020-01-01", periods=20), name="when"),
    pd.Series(pd.date_range("2020-01-01", periods=20, tz="UTC"), name="when"),
    pd.Series(pd.to_timedelta(np.arange(20), unit="D"), name="when"),
    pd.Series(list(pd.date_range("2020-01-01", periods=20).to_pydatetime()), dtype=object,
              name="when"),
    pd.Series(pd.period_range("2020-01", periods=20, freq="M"), name="when"),
])
def test_dates_and_times_are_refused_with_a_conversion_hint(column):
    with pytest.raises(ValueError, match=r"column 'when' holds dates or times.*convert it"):
        column_kind(column)
    frame = pd.DataFrame({"when": column, "a": np.arange(20.0)})
    model = estimators.CalibratedLinearRegressor(**TINY)
    with pytest.raises(ValueError, match="'when' holds dates"):
        model.fit(frame, np.arange(20.0))
    assert not hasattr(model, "model_")


def test_numbers_with_a_few_stray_strings_are_refused():
    values = [str(v) for v in np.linspace(1, 500, 95)] + ["n/a"] * 4 + ["?"]
    column = pd.Series(values, dtype=object, name="price")
    with pytest.raises(ValueError, match=r"column 'price' looks numeric \(95% .* e\.g\. 'n/a'"):
        column_kind(column)
    mixed = pd.Series([1.5, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, "missing"], name="m")
    with pytest.raises(ValueError, match="'m' looks numeric.*'missing'"):
        column_kind(mixed)
    # Text categories, numeric text and half-numeric columns stay categorical.
    assert column_kind(pd.Series(["02139", "10001", "94103"], name="zip")) == "categorical"
    assert column_kind(pd.Series(["1", "2", "a", "b"], name="mix")) == "categorical"
    assert column_kind(pd.Series(values, name="price").astype("category")) == "categorical"
    assert column_kind(pd.Series([1, 2.5, None], dtype=object, name="n")) == "numeric"


def test_values_beyond_float32_are_refused_at_fit_and_predict(fitted):
    model, frame = fitted
    huge = frame.copy()
    huge.loc[3, "b"] = 1e39
    with pytest.raises(ValueError, match=r"column 'b' has the value 1e\+39 at row 3, beyond the "
                                         r"float32 range"):
        estimators.CalibratedLinearRegressor(**TINY).fit(huge, np.zeros(len(frame)))
    with pytest.raises(ValueError, match=r"column 'b' has the value 1e\+39 at row 3"):
        model.predict(huge)


def test_integers_that_collide_in_float32_are_refused_on_shaped_columns():
    ids = np.arange(2**24 - 20, 2**24 + 20, dtype=np.int64)
    frame = pd.DataFrame({"id": ids, "a": np.linspace(0, 1, len(ids))})
    y = np.linspace(0, 1, len(ids))
    model = estimators.CalibratedLinearRegressor(monotonicity={"id": 1}, **TINY)
    with pytest.raises(ValueError, match=r"column 'id' has distinct integers .* e\.g\. 16777216 "
                                         r"and 16777217"):
        model.fit(frame, y)
    assert not hasattr(model, "model_")
    with pytest.raises(ValueError, match="'id' has distinct integers"):
        model.fit(frame.astype({"id": np.float64}), y)
    # Without a shape constraint the column is only read at float32 precision.
    estimators.CalibratedLinearRegressor(**TINY).fit(frame, y)
    # Small integers are exact.
    estimators.CalibratedLinearRegressor(monotonicity={"id": 1}, **TINY).fit(
        frame.assign(id=ids - 2**24), y)


# -- weights and targets ------------------------------------------------------------------


def test_huge_sample_weights_are_normalized_in_float64():
    weights = _normalized_weights(np.array([1e300, 1e300, 5e299, 0.0]), 4)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, [1.6, 1.6, 0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(_normalized_weights(np.full(3, 1.7e308), 3), [1, 1, 1])
    with pytest.raises(ValueError, match="finite and non-negative"):
        _normalized_weights(np.array([1.0, np.inf]), 2)


def test_fit_with_weights_near_the_float64_maximum(fitted):
    model, frame = fitted
    heavy = estimators.CalibratedLinearRegressor(**TINY).fit(
        frame, frame["a"].to_numpy(), sample_weight=np.full(len(frame), 1.7e308))
    np.testing.assert_allclose(heavy.predict(frame), model.predict(frame), rtol=1e-5, atol=1e-6)


def test_target_scaling_cannot_overflow():
    big = np.array([1.7e308, -1.7e308, 1.0e308, 0.0])
    mean, scale, standardized = target_standardization(big, np.ones(4))
    assert np.isfinite(mean) and np.isfinite(scale) and scale > 0
    assert np.all(np.isfinite(standardized))
    restored = unstandardize(standardized[:, 0], mean, scale)
    np.testing.assert_allclose(restored, big, rtol=1e-6, atol=1e302)
    assert target_standardization(np.full(3, 1e-320), np.ones(3))[1] == 1.0
    frame = _frame()
    y = np.where(frame["a"] > 0.5, 1.7e308, -1.7e308)
    model = estimators.CalibratedLinearRegressor(**TINY).fit(frame, y)
    predictions = model.predict(frame)
    assert np.all(np.isfinite(predictions))


# -- model size -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls, params", [
    (estimators.CalibratedLatticeEnsembleRegressor, dict(lattice_size=2000, num_lattices=2)),
    (estimators.DeepLatticeNetworkRegressor, dict(lattice_size=2000, num_lattices=2)),
    (estimators.CalibratedLatticeEnsembleRegressor,
     dict(lattice_size=40, lattice_rank=4, num_lattices=60)),
    (estimators.CalibratedLatticeRegressor, dict(lattice_size=2000)),
])
def test_lattices_too_large_to_allocate_are_refused_before_building(cls, params):
    frame = _frame().assign(c=np.linspace(0, 1, 40), d=np.linspace(1, 0, 40))
    model = cls(**params, **TINY)
    with pytest.raises(ValueError, match=r"(vertices|lattice parameters).* allowed"):
        model.fit(frame, frame["a"].to_numpy())
    assert not hasattr(model, "model_")
