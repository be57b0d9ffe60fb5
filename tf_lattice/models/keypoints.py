"""Keypoints of piecewise-linear calibrators from data."""

import numpy as np


def keypoints_from_quantiles(values, num_keypoints):
    """Strictly increasing keypoints at the quantiles of ``values``.

    Takes ``num_keypoints`` quantiles of the finite values (the ``"nearest"``
    method, so every keypoint is a value that occurs), always including the
    minimum and maximum, and drops repeats. A column with fewer distinct values
    than ``num_keypoints`` gets its distinct values; a constant column ``c``
    gets ``[c - 0.5, c + 0.5]`` (a calibrator needs two keypoints).

    Args:
      values: array-like of numbers (NaN and infinities are ignored).
      num_keypoints: the most keypoints to return, at least 2.

    Returns:
      float64 array of between 2 and ``num_keypoints`` strictly increasing
      keypoints.

    Raises:
      ValueError: ``num_keypoints < 2`` or no finite value.
    """
    if int(num_keypoints) < 2:
        raise ValueError(f"num_keypoints must be at least 2, got {num_keypoints}")
    values = np.asarray(values, np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("values must contain at least one finite number")
    distinct = np.unique(values)
    if distinct.size == 1:
        return np.array([distinct[0] - 0.5, distinct[0] + 0.5])
    if distinct.size <= num_keypoints:
        return distinct
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, int(num_keypoints)), method="nearest")
    return np.unique(np.concatenate([[distinct[0]], quantiles, [distinct[-1]]]))
