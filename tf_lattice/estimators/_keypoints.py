"""Calibration keypoints placed at quantiles of the training data."""

import numpy as np


def quantile_keypoints(values, num_keypoints):
    r"""Strictly increasing keypoints at evenly spaced quantiles of ``values``.

    With ``n`` distinct finite values and ``K = num_keypoints``:
    if ``n <= K`` the keypoints are the distinct values themselves, otherwise
    they are the ``q_i = i / (K - 1)`` quantiles (``i = 0..K-1``) with
    duplicates removed, so the first is the minimum and the last the maximum.
    A column with a single value ``v`` (or none) gets ``[v, v + 1]`` (``[0, 1]``)
    so every calibrator has at least one segment.

    Args:
      values: array-like of shape `(n,)`; NaN entries are ignored.
      num_keypoints: int >= 2, the most keypoints to return.

    Returns:
      float64 array of shape `(k,)`, `2 <= k <= num_keypoints`, strictly
      increasing.

    Raises:
      ValueError: if `num_keypoints < 2`.
    """
    if int(num_keypoints) < 2:
        raise ValueError(f"num_keypoints must be at least 2, got {num_keypoints!r}")
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    distinct = np.unique(values)
    if distinct.size == 0:
        return np.array([0.0, 1.0])
    if distinct.size == 1:
        return np.array([distinct[0], distinct[0] + 1.0])
    if distinct.size <= num_keypoints:
        return distinct
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, int(num_keypoints)), method="linear")
    keypoints = np.unique(quantiles)
    if keypoints.size < 2:
        return np.array([distinct[0], distinct[-1]])
    return keypoints
