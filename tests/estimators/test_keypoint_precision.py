"""An estimator's keypoints stay strictly increasing in the float32 precision the
model reads (the placement rule itself: tests/models/test_keypoints.py)."""

import numpy as np

from tf_lattice.estimators import CalibratedLinearClassifier
from tf_lattice.models import keypoints_from_quantiles


def _strictly_increasing_in_float32(keypoints):
    as_float32 = np.asarray(keypoints, np.float64).astype(np.float32)
    return bool(np.all(np.diff(as_float32) > 0)) and np.array_equal(as_float32, keypoints)


def test_heart_half_split_fits():
    # Before: the refill of quantiles added 130.00000000000003 beside 130.0,
    # one keypoint in float32, and the calibration kernel refused the pair.
    from sklearn.model_selection import StratifiedKFold
    from tf_lattice.datasets import load_heart

    X, y = load_heart()
    train, _ = next(StratifiedKFold(2).split(X, y))
    keypoints = keypoints_from_quantiles(X.iloc[train]["trestbps"].to_numpy(np.float64))
    assert _strictly_increasing_in_float32(keypoints), keypoints
    model = CalibratedLinearClassifier(epochs=1, verbose=0, random_state=0)
    model.fit(X.iloc[train], y.iloc[train])
    assert all(_strictly_increasing_in_float32(spec.keypoints)
               for spec in model.feature_specs_ if spec.kind == "numeric")
