"""Keypoints stay strictly increasing in the float32 precision the model reads."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tf_lattice.estimators import CalibratedLinearClassifier
from tf_lattice.estimators._keypoints import quantile_keypoints


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
    keypoints = quantile_keypoints(X.iloc[train]["trestbps"].to_numpy(np.float64))
    assert _strictly_increasing_in_float32(keypoints), keypoints
    model = CalibratedLinearClassifier(epochs=1, verbose=0, random_state=0)
    model.fit(X.iloc[train], y.iloc[train])
    assert all(_strictly_increasing_in_float32(spec.keypoints)
               for spec in model.feature_specs_ if spec.kind == "numeric")


@pytest.mark.parametrize("values", [
    # Distinct in float64, one value in float32.
    np.r_[np.full(50, 1.0), np.full(50, 1.0 + 1e-12), np.linspace(2.0, 3.0, 30)],
    # Values one float32 step apart around a point mass.
    np.r_[np.full(400, 130.0), np.nextafter(np.float32(130.0), np.float32(200.0)) * np.ones(3),
          np.arange(94.0, 200.0, 7.0)],
    # Large magnitudes where float32 steps are wide.
    np.r_[np.full(100, 3e38), 3e38 * (1 + 1e-9), np.linspace(1e38, 3.2e38, 40)],
    # A single value near float32's maximum: v + 1 rounds to v.
    np.full(20, float(np.finfo(np.float32).max)),
    np.full(20, 1e30),
])
def test_adversarial_near_ties(values):
    for count in (None, 3, 10, 40):
        keypoints = quantile_keypoints(values, count)
        assert len(keypoints) >= 2
        assert _strictly_increasing_in_float32(keypoints), (count, keypoints)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.integers(2, 20))
def test_any_sample_gives_float32_increasing_keypoints(values, count):
    # Near-ties: each value and its neighbour 1e-10 away.
    values = np.r_[values, np.asarray(values) + 1e-10]
    keypoints = quantile_keypoints(values, count)
    assert 2 <= len(keypoints) <= max(count, 2)
    assert _strictly_increasing_in_float32(keypoints)


def test_values_beyond_float32_are_refused():
    with pytest.raises(ValueError, match="beyond the float32 range"):
        quantile_keypoints([1.0, 1e39, 2.0])
