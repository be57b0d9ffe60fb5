"""Synthetic regression data with a known monotone ground truth."""

import numpy as np
import pandas as pd
from scipy import special

from tf_lattice.datasets._validation import (
    check_count, check_non_negative, make_rng)

DIRECTIONS = ("increasing", "decreasing", "none")
INTERACTION = 0.5


def _increasing_shape(j, x):
    """The j-th increasing shape on [0, 1] (cycling through four), values in [0, 1]."""
    kind = j % 4
    if kind == 0:
        return x
    if kind == 1:
        return np.log1p(4.0 * x) / np.log(5.0)  # concave
    if kind == 2:
        return x * x  # convex
    return 0.5 + np.tanh(4.0 * (x - 0.5)) / (2.0 * np.tanh(2.0))  # S-shaped


def _free_shape(j, x):
    """A non-monotone shape for features declared "none"."""
    if j % 2 == 0:
        return np.sin(2.0 * np.pi * x)
    return 4.0 * (x - 0.5) ** 2


def _check_monotonicity(monotonicity, n_features):
    if monotonicity is None:
        return ("increasing",) * n_features
    if isinstance(monotonicity, str):
        raise ValueError(
            f"monotonicity must be a list of {n_features} directions, got {monotonicity!r}")
    directions = tuple(monotonicity)
    if len(directions) != n_features:
        raise ValueError(
            f"monotonicity has {len(directions)} entries but n_features is {n_features}")
    for i, direction in enumerate(directions):
        if direction not in DIRECTIONS:
            raise ValueError(
                f"monotonicity[{i}] must be one of {DIRECTIONS}, got {direction!r}")
    return directions


def monotone_regression_function(X, monotonicity=None):
    """The ground truth of `make_monotone_regression`, for inputs in [0, 1].

    With ``x_j`` the j-th column, ``h_j`` an increasing shape with values in
    [0, 1] (cycling through ``x``, ``log(1 + 4x) / log 5``, ``x^2`` and a
    scaled ``tanh(4 (x - 1/2))``), and ``u_j = x_j`` for "increasing",
    ``u_j = 1 - x_j`` for "decreasing":

    ``f(x) = sum_{monotone j} h_j(u_j) + sum_{free j} g_j(x_j)
             + 0.5 * sum_{consecutive monotone j < k} u_j u_k``

    where ``g_j`` is ``sin(2 pi x)`` or ``4 (x - 1/2)^2`` for features declared
    "none". Each ``u_j u_k`` is a product of non-negative functions increasing
    in the declared direction, so ``f`` is exactly monotone in every declared
    direction, with interactions between the monotone features.

    Args:
      X: DataFrame or array ``[n, d]`` with values in [0, 1].
      monotonicity: list of ``d`` directions ("increasing", "decreasing",
        "none"); None means all increasing.

    Returns:
      float64 array ``[n]``.

    Raises:
      ValueError: if ``monotonicity`` does not match the number of columns.
    """
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"X must be 2-D [n_samples, n_features], got shape {values.shape}")
    directions = _check_monotonicity(monotonicity, values.shape[1])
    result = np.zeros(values.shape[0])
    previous_u = None
    for j, direction in enumerate(directions):
        x = values[:, j]
        if direction == "none":
            result += _free_shape(j, x)
            continue
        u = x if direction == "increasing" else 1.0 - x
        result += _increasing_shape(j, u)
        if previous_u is not None:
            result += INTERACTION * previous_u * u
        previous_u = u
    return result


def make_monotone_regression(n_samples=1000, n_features=4, *, monotonicity=None,
                             correlation=0.0, noise=0.1, random_state=None):
    """Generates regression data whose ground truth is monotone by construction.

    Inputs have uniform marginals on [0, 1] and are tied by a Gaussian copula
    with equal pairwise correlation: ``z ~ N(0, S)``, ``S = (1 - r) I + r 11^T``,
    ``x = Phi(z)``, with ``r = 2 sin(pi * correlation / 6)`` so that the
    correlation between any two columns of ``X`` (Pearson, equal to Spearman
    for uniform marginals) is ``correlation``. The target is
    ``y = monotone_regression_function(X, monotonicity) + noise * N(0, 1)``.
    Everything is vectorized: a million rows take a moment.

    Args:
      n_samples: number of rows, an integer >= 1.
      n_features: number of columns ``x0, x1, ...``, an integer >= 1.
      monotonicity: list of ``n_features`` directions ("increasing",
        "decreasing", "none"); None means all increasing.
      correlation: pairwise correlation of the inputs, in [0, 1).
      noise: standard deviation (>= 0) of the Gaussian noise on the target.
      random_state: None, an int seed or a numpy Generator.

    Returns:
      ``(X, y)``: float64 DataFrame ``[n_samples, n_features]`` with columns
      ``x0 .. x{d-1}`` and float64 Series ``y``.

    Raises:
      ValueError: if an argument is out of range (the message names it).
    """
    n_samples = check_count("n_samples", n_samples)
    n_features = check_count("n_features", n_features)
    directions = _check_monotonicity(monotonicity, n_features)
    correlation = check_non_negative("correlation", correlation)
    if correlation >= 1.0:
        raise ValueError(f"correlation must be in [0, 1), got {correlation!r}")
    noise = check_non_negative("noise", noise)
    rng = make_rng(random_state)
    gaussian_correlation = 2.0 * np.sin(np.pi * correlation / 6.0)
    shared = rng.standard_normal((n_samples, 1))
    own = rng.standard_normal((n_samples, n_features))
    z = np.sqrt(gaussian_correlation) * shared + np.sqrt(1.0 - gaussian_correlation) * own
    values = special.ndtr(z)
    columns = [f"x{j}" for j in range(n_features)]
    X = pd.DataFrame(values, columns=columns)
    y = monotone_regression_function(values, directions)
    if noise:
        y = y + noise * rng.standard_normal(n_samples)
    return X, pd.Series(y, name="y")
