"""Synthetic restaurant click-through data with a known click-through rate."""

import numpy as np
import pandas as pd

from tf_lattice.datasets._validation import (
    check_count, check_non_negative, make_rng)

DOLLAR_RATINGS = ("D", "DD", "DDD", "DDDD")
# Share of restaurants in each price band, and its effect on the CTR (peak at DD).
_DOLLAR_SHARES = (0.35, 0.35, 0.2, 0.1)
_DOLLAR_FACTORS = {"D": 0.7, "DD": 1.0, "DDD": 0.8, "DDDD": 0.5}
MAX_REVIEWS = 200
_REVIEW_SCALE = 40.0


def restaurant_ctr(X):
    """The true click-through rate of the restaurant data.

    ``ctr = rating(avg_rating) * reviews(num_reviews) * price(dollar_rating)``
    with

    * ``rating(r) = 0.1 + 0.5 (r - 1) / 4``: increasing, linear on [1, 5];
    * ``reviews(n) = 0.4 + 0.6 (1 - exp(-n / 40))``: increasing and concave
      (diminishing returns), 0.4 at no reviews, close to 1 at 200;
    * ``price``: D 0.7, DD 1.0, DDD 0.8, DDDD 0.5 (not monotone: peaks at DD).

    All factors are positive, so the CTR is increasing in ``avg_rating`` and
    increasing and concave in ``num_reviews`` for every other input; it lies
    in (0.014, 0.6].

    Args:
      X: DataFrame with columns ``avg_rating``, ``num_reviews`` and
        ``dollar_rating`` (values in "D", "DD", "DDD", "DDDD").

    Returns:
      float64 array ``[len(X)]``.

    Raises:
      ValueError: if a column is missing or ``dollar_rating`` has another value.
    """
    missing = {"avg_rating", "num_reviews", "dollar_rating"} - set(X.columns)
    if missing:
        raise ValueError(f"X is missing columns {sorted(missing)}")
    rating = 0.1 + 0.5 * (np.asarray(X["avg_rating"], dtype=np.float64) - 1.0) / 4.0
    reviews = np.asarray(X["num_reviews"], dtype=np.float64)
    review_factor = 0.4 + 0.6 * -np.expm1(-reviews / _REVIEW_SCALE)
    dollars = pd.Series(np.asarray(X["dollar_rating"], dtype=object))
    price_factor = dollars.map(_DOLLAR_FACTORS)
    if price_factor.isna().any():
        bad = sorted(set(dollars[price_factor.isna()].astype(str)))
        raise ValueError(f"dollar_rating must be one of {DOLLAR_RATINGS}, got {bad}")
    return rating * review_factor * price_factor.to_numpy(dtype=np.float64)


def make_restaurant_ctr(n_samples=10_000, *, noise=0.0, random_state=None):
    """Generates restaurant impressions and whether each was clicked.

    Each row is one restaurant shown to a user. Features:

    * ``avg_rating``: float64, uniform on [1, 5];
    * ``num_reviews``: int64 in [0, 200], right-skewed (exponential with mean
      40, rounded and capped at 200);
    * ``dollar_rating``: category "D", "DD", "DDD", "DDDD" (shares 35%, 35%,
      20%, 10%).

    The label is ``clicked ~ Bernoulli(clip(ctr + noise * N(0, 1), 0, 1))``
    where ``ctr`` is `restaurant_ctr`: increasing in ``avg_rating``,
    increasing with diminishing returns in ``num_reviews``, and peaking at
    ``"DD"`` for ``dollar_rating``.

    Args:
      n_samples: number of rows, an integer >= 1.
      noise: standard deviation (>= 0) of Gaussian noise added to the true
        CTR before drawing the click; 0 draws from the true CTR.
      random_state: None, an int seed or a numpy Generator.

    Returns:
      ``(X, y)``: DataFrame ``[n_samples, 3]`` and int64 Series ``clicked``
      (1 = clicked). The noise-free probabilities are ``restaurant_ctr(X)``.

    Raises:
      ValueError: if an argument is out of range (the message names it).
    """
    n_samples = check_count("n_samples", n_samples)
    noise = check_non_negative("noise", noise)
    rng = make_rng(random_state)
    avg_rating = rng.uniform(1.0, 5.0, size=n_samples)
    num_reviews = np.minimum(
        np.rint(rng.exponential(_REVIEW_SCALE, size=n_samples)), MAX_REVIEWS).astype(np.int64)
    dollar_codes = rng.choice(len(DOLLAR_RATINGS), size=n_samples, p=_DOLLAR_SHARES)
    X = pd.DataFrame({
        "avg_rating": avg_rating,
        "num_reviews": num_reviews,
        "dollar_rating": pd.Categorical.from_codes(dollar_codes, categories=DOLLAR_RATINGS),
    })
    probability = restaurant_ctr(X)
    if noise:
        probability = np.clip(probability + noise * rng.standard_normal(n_samples), 0.0, 1.0)
    clicked = (rng.uniform(size=n_samples) < probability).astype(np.int64)
    return X, pd.Series(clicked, name="clicked")
