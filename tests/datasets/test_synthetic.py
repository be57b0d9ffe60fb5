"""Synthetic generators: determinism, ground truth shape constraints, arguments."""

import itertools

import numpy as np
import pandas as pd
import pytest

from tf_lattice.datasets import (
    make_monotone_regression, make_restaurant_ctr, monotone_regression_function,
    restaurant_ctr)


def test_restaurant_shapes_and_determinism():
    X, y = make_restaurant_ctr(500, random_state=3)
    X2, y2 = make_restaurant_ctr(500, random_state=3)
    X3, _ = make_restaurant_ctr(500, random_state=4)
    pd.testing.assert_frame_equal(X, X2)
    pd.testing.assert_series_equal(y, y2)
    assert not X.equals(X3)
    assert X.shape == (500, 3)
    assert X["avg_rating"].between(1, 5).all()
    assert X["num_reviews"].between(0, 200).all()
    assert X["num_reviews"].mean() < 100 < X["num_reviews"].max()  # right-skewed
    assert isinstance(X["dollar_rating"].dtype, pd.CategoricalDtype)
    assert list(X["dollar_rating"].cat.categories) == ["D", "DD", "DDD", "DDDD"]
    assert set(y.unique()) <= {0, 1}


def _grid():
    ratings = np.linspace(1, 5, 21)
    reviews = np.arange(0, 201, 10)
    dollars = ["D", "DD", "DDD", "DDDD"]
    rows = list(itertools.product(ratings, reviews, dollars))
    frame = pd.DataFrame(rows, columns=["avg_rating", "num_reviews", "dollar_rating"])
    return frame, ratings, reviews, dollars


def test_restaurant_truth_shape():
    frame, ratings, reviews, dollars = _grid()
    ctr = restaurant_ctr(frame).reshape(len(ratings), len(reviews), len(dollars))
    assert np.all((ctr > 0) & (ctr <= 1))
    assert np.all(np.diff(ctr, axis=0) > 0)             # increasing in rating
    assert np.all(np.diff(ctr, axis=1) > 0)             # increasing in reviews
    assert np.all(np.diff(ctr, n=2, axis=1) < 0)        # diminishing returns
    assert np.all(np.argmax(ctr, axis=2) == 1)          # peaks at DD
    assert np.all(ctr[..., 0] < ctr[..., 1]) and np.all(ctr[..., 3] < ctr[..., 2])


def test_restaurant_clicks_follow_truth():
    X, y = make_restaurant_ctr(200_000, random_state=0)
    ctr = restaurant_ctr(X)
    assert abs(y.mean() - ctr.mean()) < 0.01
    high = ctr > np.quantile(ctr, 0.8)
    low = ctr < np.quantile(ctr, 0.2)
    np.testing.assert_allclose(y[high].mean(), ctr[high].mean(), atol=0.01)
    np.testing.assert_allclose(y[low].mean(), ctr[low].mean(), atol=0.01)
    noisy_X, noisy_y = make_restaurant_ctr(1000, noise=0.3, random_state=0)
    assert set(noisy_y.unique()) <= {0, 1}


@pytest.mark.parametrize("kwargs,name", [
    ({"n_samples": 0}, "n_samples"), ({"n_samples": 2.5}, "n_samples"),
    ({"noise": -0.1}, "noise"), ({"random_state": "seed"}, "random_state")])
def test_restaurant_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_restaurant_ctr(**kwargs)


def test_restaurant_truth_rejects_unknown_price():
    frame = pd.DataFrame({"avg_rating": [3.0], "num_reviews": [5], "dollar_rating": ["DDDDD"]})
    with pytest.raises(ValueError, match="dollar_rating"):
        restaurant_ctr(frame)


def test_monotone_regression_shapes_and_determinism():
    X, y = make_monotone_regression(300, 3, random_state=1)
    X2, y2 = make_monotone_regression(300, 3, random_state=1)
    pd.testing.assert_frame_equal(X, X2)
    pd.testing.assert_series_equal(y, y2)
    assert list(X.columns) == ["x0", "x1", "x2"] and len(y) == 300
    assert ((X >= 0) & (X <= 1)).all().all()
    noise_free = make_monotone_regression(300, 3, noise=0.0, random_state=1)
    np.testing.assert_allclose(noise_free[1], monotone_regression_function(noise_free[0]))
    residual = y - monotone_regression_function(X)
    assert 0.05 < residual.std() < 0.2


DIRECTIONS = ["increasing", "decreasing", "none", "increasing", "decreasing"]


def test_ground_truth_monotone_on_grid():
    d = len(DIRECTIONS)
    axis = np.linspace(0, 1, 6)
    grid = np.array(list(itertools.product(axis, repeat=d)))
    values = monotone_regression_function(grid, DIRECTIONS).reshape((len(axis),) * d)
    for j, direction in enumerate(DIRECTIONS):
        steps = np.diff(values, axis=j)
        if direction == "increasing":
            assert np.all(steps > 0), j
        elif direction == "decreasing":
            assert np.all(steps < 0), j
        else:
            assert np.any(steps > 0) and np.any(steps < 0), j


@pytest.mark.parametrize("correlation", [0.0, 0.3, 0.8])
def test_correlation_as_requested(correlation):
    X, _ = make_monotone_regression(20_000, 3, correlation=correlation, random_state=0)
    corr = X.corr().to_numpy()[np.triu_indices(3, 1)]
    np.testing.assert_allclose(corr, correlation, atol=0.03)
    spearman = X.corr(method="spearman").to_numpy()[np.triu_indices(3, 1)]
    np.testing.assert_allclose(spearman, correlation, atol=0.03)


def test_a_million_rows():
    X, y = make_monotone_regression(1_000_000, 3, correlation=0.5, random_state=0)
    assert X.shape == (1_000_000, 3) and y.shape == (1_000_000,)
    assert np.isfinite(y.to_numpy()).all()


@pytest.mark.parametrize("kwargs,name", [
    ({"n_samples": 0}, "n_samples"), ({"n_features": 0}, "n_features"),
    ({"monotonicity": ["increasing"]}, "monotonicity"),
    ({"monotonicity": ["up"] * 4}, "monotonicity"),
    ({"monotonicity": "increasing"}, "monotonicity"),
    ({"correlation": 1.0}, "correlation"), ({"correlation": -0.2}, "correlation"),
    ({"noise": -1.0}, "noise"), ({"random_state": -3}, "random_state")])
def test_monotone_regression_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_monotone_regression(**{"n_samples": 10, "n_features": 4, **kwargs})
