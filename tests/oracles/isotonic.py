"""NumPy oracle of weighted, bounded isotonic regression (brute-force max-min formula)."""

import numpy as np


def isotonic_oracle(values, weights, increasing, lower, upper):
    """``y_i = max_{j <= i} min_{k >= i} mean_w(v[j..k])``, clipped; O(K^3) per row."""
    sign = 1.0 if increasing else -1.0
    v = sign * np.asarray(values, np.float64)
    w = np.asarray(weights, np.float64)
    size = v.shape[0]
    fit = np.empty(size)
    for i in range(size):
        fit[i] = max(min(np.dot(w[j:k + 1], v[j:k + 1]) / w[j:k + 1].sum()
                         for k in range(i, size)) for j in range(i + 1))
    fit = sign * fit
    return np.clip(fit, -np.inf if lower is None else lower, np.inf if upper is None else upper)
