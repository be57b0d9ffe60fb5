"""keypoints_from_quantiles (the one keypoint placement rule), refine_keypoints
and the default keypoint count."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tf_lattice.models import default_num_keypoints, keypoints_from_quantiles, refine_keypoints


def _strictly_increasing_in_float32(keypoints):
    as_float32 = np.asarray(keypoints, np.float64).astype(np.float32)
    return bool(np.all(np.diff(as_float32) > 0)) and np.array_equal(as_float32, keypoints)


def test_quantiles_are_increasing_values_of_the_data_with_extremes():
    # float32 data, the precision the model reads: the keypoints are values of
    # the data (10 quantiles of 1000 values fall on order statistics).
    values = np.random.default_rng(0).exponential(size=1000).astype(np.float32)
    keypoints = keypoints_from_quantiles(values, 10)
    assert len(keypoints) == 10 and np.all(np.diff(keypoints) > 0)
    assert keypoints[0] == values.min() and keypoints[-1] == values.max()
    assert np.all(np.isin(keypoints, values))
    # Quantiles follow the data's density: the median sits near keypoint 4.5.
    assert keypoints[4] <= np.median(values) <= keypoints[5]


def test_few_unique_values_constant_column_and_nan():
    np.testing.assert_array_equal(keypoints_from_quantiles([3, 1, 3, 2, np.nan], 10), [1, 2, 3])
    # A constant column c gets one segment [c, c + 1].
    np.testing.assert_array_equal(keypoints_from_quantiles([5.0] * 7, 4), [5.0, 6.0])
    heavy = np.concatenate([np.zeros(900), np.arange(1, 101)])
    keypoints = keypoints_from_quantiles(heavy, 5)
    assert np.all(np.diff(keypoints) > 0) and keypoints[0] == 0 and keypoints[-1] == 100
    # No finite value: one segment [0, 1], so a calibrator can still be built.
    np.testing.assert_array_equal(keypoints_from_quantiles([np.nan, np.inf], 3), [0.0, 1.0])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_keypoints"):
        keypoints_from_quantiles([1, 2], 1)
    with pytest.raises(ValueError, match="beyond the float32 range"):
        keypoints_from_quantiles([1.0, 1e39, 2.0])


def test_keypoints_are_strictly_increasing_and_span_the_data():
    values = np.r_[np.random.default_rng(0).exponential(size=500), np.nan]
    keypoints = keypoints_from_quantiles(values, 10)
    # The ends are the extremes as the model reads them (float32).
    assert keypoints[0] == np.float32(np.nanmin(values))
    assert keypoints[-1] == np.float32(np.nanmax(values))
    assert np.all(np.diff(keypoints) > 0) and len(keypoints) <= 10
    np.testing.assert_array_equal(keypoints_from_quantiles([1, 2, 2, 1], 10), [1, 2])
    np.testing.assert_array_equal(keypoints_from_quantiles([4.0, 4.0], 5), [4, 5])


def test_keypoints_spread_over_the_rows_off_a_point_mass():
    rng = np.random.default_rng(1)
    # 90% zeros: plain quantiles would give only [0, max].
    values = np.r_[np.zeros(900), rng.uniform(1000.0, 5000.0, size=100)]
    keypoints = keypoints_from_quantiles(values, 10)
    assert len(keypoints) == 10 and np.all(np.diff(keypoints) > 0)
    assert keypoints[0] == 0.0 and keypoints[-1] == np.float32(values.max())
    # The nine non-zero keypoints split the non-zero rows into even shares.
    nonzero = np.sort(values[values > 0])
    shares = np.diff(np.searchsorted(nonzero, keypoints[1:], side="right"))
    assert shares.max() - shares.min() <= 3, shares
    # Two point masses and a sparse rest: every keypoint is still distinct and
    # the count stops at the number of distinct values available.
    masses = np.r_[np.full(500, 40.0), np.full(300, 50.0), np.arange(12.0)]
    keypoints = keypoints_from_quantiles(masses, 8)
    assert len(keypoints) == 8 and {40.0, 50.0} <= set(keypoints.tolist())
    assert np.all(np.diff(keypoints) > 0)


def test_default_keypoint_count_grows_with_the_rows_within_bounds():
    counts = [default_num_keypoints(n) for n in (0, 50, 200, 1000, 8000, 10**6)]
    assert counts[0] == counts[1] == 10 and counts[-2] == counts[-1] == 40
    assert counts == sorted(counts) and 10 < counts[2] < counts[3] < 40
    values = np.r_[np.random.default_rng(2).normal(size=1000), [np.nan] * 5000]
    # The count follows the non-missing values: 2 * 1000^(1/3) = 20.
    assert len(keypoints_from_quantiles(values)) == default_num_keypoints(1000) == 20


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
        keypoints = keypoints_from_quantiles(values, count)
        assert len(keypoints) >= 2
        assert _strictly_increasing_in_float32(keypoints), (count, keypoints)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.integers(2, 20))
def test_any_sample_gives_float32_increasing_keypoints(values, count):
    # Near-ties: each value and its neighbour 1e-10 away.
    values = np.r_[values, np.asarray(values) + 1e-10]
    keypoints = keypoints_from_quantiles(values, count)
    assert 2 <= len(keypoints) <= max(count, 2)
    assert _strictly_increasing_in_float32(keypoints)


def test_refine_keypoints_keeps_the_originals_and_splits_the_widest_gaps():
    refined = refine_keypoints([0.0, 1.0, 5.0], 5)
    np.testing.assert_array_equal(refined, [0.0, 1.0, 2.0, 3.0, 5.0])
    assert np.all(np.isin([0.0, 1.0, 5.0], refined))
    np.testing.assert_array_equal(refine_keypoints([2.0, 3.0], 2), [2.0, 3.0])


def test_refine_keypoints_stays_strictly_increasing_in_float32():
    # 1 and 1 + 2^-23 are neighbours in float32: nothing lies between them.
    with pytest.raises(ValueError, match="cannot be refined"):
        refine_keypoints([1.0, 1.0 + 2**-23], 3, dtype=np.float32)
    refined = refine_keypoints([0.0, 1.0, 1.0 + 2**-22], 8)
    assert len(refined) == 8 and np.all(np.diff(refined.astype(np.float32)) > 0)
    with pytest.raises(ValueError, match="below"):
        refine_keypoints([0.0, 1.0, 2.0], 2)
