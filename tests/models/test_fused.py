"""The fused assembly: the layer and unit of each column, the column records."""

import keras
import numpy as np
import pytest

from tf_lattice.models import fused
from tf_lattice.models._constraints import FeatureConstraints, ModelConstraints


def _numeric(low=0.0, high=1.0):
    return fused.CalibratedColumn(keypoints=(0.0, 1.0), output_min=low, output_max=high)


def _categorical(order=(), low=0.0, high=1.0):
    return fused.CalibratedColumn(num_categories=3, output_min=low, output_max=high,
                                  constraints=FeatureConstraints(category_order=order))


def test_layout_shares_a_layer_per_kind_and_bounds_and_gives_ordered_columns_their_own():
    columns = [_numeric(), _categorical(), _numeric(0.0, 2.0), _categorical(((0, 1),)),
               _numeric(), _categorical()]
    assert fused.calibrator_layout(columns) == [
        ("numeric_calibration", 0), ("categorical_calibration", 0), ("numeric_calibration_2", 0),
        ("categorical_calibration_3", 0), ("numeric_calibration", 1), ("categorical_calibration", 1)]


def test_calibrated_features_returns_the_columns_in_order():
    columns = [_categorical(), _numeric(0.0, 1.0), _numeric(0.0, 2.0)]
    inputs = keras.Input((3,))
    model = keras.Model(inputs, fused.calibrated_features(inputs, columns))
    for layer in model.layers:
        if type(layer).__name__ == "PWLCalibration":
            layer.kernel.assign(np.full(layer.kernel.shape, layer.output_max, np.float32))
        if type(layer).__name__ == "CategoricalCalibration":
            layer.kernel.assign(np.full(layer.kernel.shape, 0.25, np.float32))
    outputs = model.predict(np.asarray([[1.0, 0.5, 0.5]], np.float32), verbose=0)
    np.testing.assert_allclose(outputs, [[0.25, 1.0, 2.0]])


@pytest.mark.parametrize("arguments,match", [
    (dict(keypoints=(0.0,)), "at least 2 keypoints"),
    (dict(num_categories=-1), "num_categories"),
    (dict(num_categories=2, keypoints=(0.0, 1.0)), "no keypoints"),
])
def test_bad_columns_are_refused(arguments, match):
    with pytest.raises(ValueError, match=match):
        fused.CalibratedColumn(**arguments)


def test_lattice_sizes_must_match_the_columns():
    calibrated = keras.Input((2,))
    with pytest.raises(ValueError, match="lattice_sizes has 3 entries for 2 columns"):
        fused.lattice_ensemble(calibrated, [[0, 1]], ModelConstraints((FeatureConstraints(),) * 2),
                               [2, 2, 2], "lattice")
