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


def refine_keypoints(keypoints, count, dtype=np.float32):
    """Adds keypoints inside the widest gaps until there are ``count``.

    A piecewise-linear function on the refined keypoints can take every
    shape the original keypoints allow (and a little more), so calibrators of
    features with different keypoint counts can share one ``[units, count]``
    layer. Each new keypoint is the midpoint of the currently widest gap
    whose midpoint is distinct from both ends in ``dtype``.

    Args:
      keypoints: strictly increasing, ``K <= count`` values.
      count: the number of keypoints wanted.
      dtype: the dtype the keypoints must stay strictly increasing in.

    Returns:
      float64 array of ``count`` strictly increasing keypoints, containing
      every original keypoint.

    Raises:
      ValueError: ``count < K``, or no gap can be split in ``dtype``.
    """
    refined = [float(k) for k in np.asarray(keypoints, np.float64).reshape(-1)]
    if count < len(refined):
        raise ValueError(f"count ({count}) is below the number of keypoints ({len(refined)})")
    while len(refined) < count:
        gaps = np.diff(refined)
        for index in np.argsort(-gaps, kind="stable"):
            middle = (refined[index] + refined[index + 1]) / 2
            cast = dtype(middle)
            if dtype(refined[index]) < cast < dtype(refined[index + 1]):
                refined.insert(index + 1, float(cast))
                break
        else:
            raise ValueError(f"keypoints {refined} cannot be refined to {count} distinct "
                             f"{np.dtype(dtype).name} values")
    return np.asarray(refined)
