"""Bundled real datasets: shapes, dtypes, missing values and natural monotone trends."""

import numpy as np
import pandas as pd
import pytest

from tf_lattice.datasets import load_adult, load_auto_mpg, load_heart


@pytest.fixture(scope="module")
def adult_train():
    return load_adult("train")


@pytest.fixture(scope="module")
def adult_test():
    return load_adult("test")


def _binned_means(x, y, bins):
    groups = pd.Series(np.asarray(y, dtype=float)).groupby(
        pd.cut(pd.Series(np.asarray(x, dtype=float)), bins), observed=True)
    return groups.mean().to_numpy()


def test_heart():
    X, y = load_heart()
    assert X.shape == (303, 13)
    assert "target" not in X.columns and y.name == "target"
    assert isinstance(X["thal"].dtype, pd.CategoricalDtype)
    assert {"normal", "fixed", "reversible"} <= set(X["thal"].cat.categories)
    numeric = X.drop(columns="thal")
    assert all(pd.api.types.is_numeric_dtype(numeric[c]) for c in numeric)
    assert set(y.unique()) == {0, 1}
    assert not X.isna().any().any()
    # ca: clean increasing risk; thalach: decreasing (binned means).
    ca_means = y.groupby(X["ca"]).mean().to_numpy()
    assert np.all(np.diff(ca_means) > 0)
    thalach = _binned_means(X["thalach"], y, [0, 130, 150, 170, 250])
    assert np.all(np.diff(thalach) < 0)


def test_adult_shapes_and_dtypes(adult_train, adult_test):
    (X_train, y_train), (X_test, y_test) = adult_train, adult_test
    assert X_train.shape == (32561, 14) and X_test.shape == (16281, 14)
    assert list(X_train.columns) == [
        "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
        "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
        "hours_per_week", "native_country"]
    for y in (y_train, y_test):
        assert set(y.unique()) == {0, 1}
        assert y.dtype == np.int64
    # About a quarter earn more than 50K in both splits.
    assert 0.2 < y_train.mean() < 0.3 and 0.2 < y_test.mean() < 0.3
    for column in ("age", "education_num", "capital_gain", "hours_per_week"):
        assert pd.api.types.is_integer_dtype(X_train[column])


def test_adult_missing_values_and_categories(adult_train, adult_test):
    (X_train, _), (X_test, _) = adult_train, adult_test
    for X in (X_train, X_test):
        for column in ("workclass", "occupation", "native_country"):
            assert X[column].isna().sum() > 100
        assert not X["education"].isna().any()
        assert not (X.select_dtypes("category") == "?").any().any()
    for column in X_train.select_dtypes("category"):
        assert isinstance(X_test[column].dtype, pd.CategoricalDtype)
        assert list(X_train[column].cat.categories) == list(X_test[column].cat.categories)
        assert " " not in "".join(X_train[column].cat.categories)


def test_adult_all_is_train_then_test(adult_train, adult_test):
    X_all, y_all = load_adult("all")
    assert len(X_all) == 32561 + 16281
    pd.testing.assert_frame_equal(X_all.iloc[32561:].reset_index(drop=True), adult_test[0])
    assert y_all.sum() == adult_train[1].sum() + adult_test[1].sum()


def test_adult_natural_relationships(adult_train):
    X, y = adult_train
    # Grade school (<= 8 years) and the two associate degrees (11, 12) pooled.
    education = _binned_means(X["education_num"], y, [0, 8, 9, 10, 12, 13, 14, 16])
    assert np.all(np.diff(education) > 0)
    assert education[-1] - education[0] > 0.5
    # Large capital gains go with high income (small ones are noisy).
    assert y[X["capital_gain"] > 7000].mean() > 0.8 > 0.3 > y[X["capital_gain"] == 0].mean()
    hours = _binned_means(X["hours_per_week"], y, [0, 20, 30, 40, 45])
    assert np.all(np.diff(hours) > 0)
    age = _binned_means(X["age"], y, [16, 25, 35, 45, 55, 65, 91])
    peak = int(np.argmax(age))
    assert 0 < peak < len(age) - 1
    assert np.all(np.diff(age[:peak + 1]) > 0) and np.all(np.diff(age[peak:]) < 0)


def test_adult_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_adult("validation")


def test_auto_mpg():
    X, y = load_auto_mpg()
    assert len(X) == 398 and len(y) == 398
    assert y.name == "Miles_per_Gallon" and not y.isna().any()
    assert X["Horsepower"].isna().sum() == 6
    assert isinstance(X["Origin"].dtype, pd.CategoricalDtype)
    assert set(X["Origin"].cat.categories) == {"USA", "Europe", "Japan"}
    assert X["Year"].between(1970, 1982).all()
    weight = _binned_means(X["Weight_in_lbs"], y, [0, 2200, 2600, 3000, 3500, 4000, 6000])
    assert np.all(np.diff(weight) < 0)
    displacement = _binned_means(X["Displacement"], y, [0, 100, 150, 250, 350, 500])
    assert np.all(np.diff(displacement) < 0)


def test_attribution_travels_with_the_data():
    from tf_lattice.datasets._files import data_path
    text = data_path("ATTRIBUTION.md").read_text()
    for fact in ("CC BY 4.0", "UCI Machine Learning Repository", "heart.csv",
                 "adult.data.gz", "auto_mpg.csv"):
        assert fact in text
    for loader in (load_heart, load_adult, load_auto_mpg):
        assert "CC BY 4.0" in loader.__doc__ and "UCI" in loader.__doc__
