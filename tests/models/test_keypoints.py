"""keypoints_from_quantiles."""

import numpy as np
import pytest

from tf_lattice.models import keypoints_from_quantiles


def test_quantiles_are_increasing_values_of_the_data_with_extremes():
    values = np.random.default_rng(0).exponential(size=1000)
    keypoints = keypoints_from_quantiles(values, 10)
    assert len(keypoints) == 10 and np.all(np.diff(keypoints) > 0)
    assert keypoints[0] == values.min() and keypoints[-1] == values.max()
    assert np.all(np.isin(keypoints, values))
    # Quantiles follow the data's density: the median sits near keypoint 4.5.
    assert keypoints[4] <= np.median(values) <= keypoints[5]


def test_few_unique_values_constant_column_and_nan():
    np.testing.assert_array_equal(keypoints_from_quantiles([3, 1, 3, 2, np.nan], 10), [1, 2, 3])
    np.testing.assert_array_equal(keypoints_from_quantiles([5.0] * 7, 4), [4.5, 5.5])
    heavy = np.concatenate([np.zeros(900), np.arange(1, 101)])
    keypoints = keypoints_from_quantiles(heavy, 5)
    assert np.all(np.diff(keypoints) > 0) and keypoints[0] == 0 and keypoints[-1] == 100


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_keypoints"):
        keypoints_from_quantiles([1, 2], 1)
    with pytest.raises(ValueError, match="finite"):
        keypoints_from_quantiles([np.nan], 3)


def test_refine_keypoints_keeps_the_originals_and_splits_the_widest_gaps():
    from tf_lattice.models import refine_keypoints

    refined = refine_keypoints([0.0, 1.0, 5.0], 5)
    np.testing.assert_array_equal(refined, [0.0, 1.0, 2.0, 3.0, 5.0])
    assert np.all(np.isin([0.0, 1.0, 5.0], refined))
    np.testing.assert_array_equal(refine_keypoints([2.0, 3.0], 2), [2.0, 3.0])


def test_refine_keypoints_stays_strictly_increasing_in_float32():
    from tf_lattice.models import refine_keypoints

    # 1 and 1 + 2^-23 are neighbours in float32: nothing lies between them.
    with pytest.raises(ValueError, match="cannot be refined"):
        refine_keypoints([1.0, 1.0 + 2**-23], 3, dtype=np.float32)
    refined = refine_keypoints([0.0, 1.0, 1.0 + 2**-22], 8)
    assert len(refined) == 8 and np.all(np.diff(refined.astype(np.float32)) > 0)
    with pytest.raises(ValueError, match="below"):
        refine_keypoints([0.0, 1.0, 2.0], 2)
