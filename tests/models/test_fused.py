"""The fused assembly: the layer and unit of each column, the column records."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_lattice.models import FeatureConfig, fused
from tf_lattice.models._constraints import ModelConstraints
from tf_lattice.models._select import select_columns


def _numeric(low=0.0, high=1.0):
    return fused.CalibratedColumn(FeatureConfig("x", (0.0, 1.0)), output_min=low, output_max=high)


def _categorical(order=(), low=0.0, high=1.0):
    return fused.CalibratedColumn(FeatureConfig("c", num_buckets=3, category_order=order),
                                  output_min=low, output_max=high)


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


def _set_calibrators(model, rng):
    """Gives every calibrator of ``model`` random kernels (the same ones for
    models with the same layer names)."""
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        if type(layer).__name__ in ("PWLCalibration", "CategoricalCalibration"):
            layer.kernel.assign(rng.uniform(0.1, 0.9, layer.kernel.shape).astype(np.float32))


def test_calibrated_groups_give_each_columns_position():
    columns = [_categorical(), _numeric(0.0, 1.0), _numeric(0.0, 2.0), _categorical(), _numeric()]
    inputs = keras.Input((5,))
    grouped, positions = fused.calibrated_groups(inputs, columns)
    assert positions == [3, 0, 2, 4, 1]  # numeric [0, 1], numeric [0, 2], categorical
    in_order = keras.Model(inputs, fused.calibrated_features(inputs, columns))
    by_group = keras.Model(inputs, grouped)
    _set_calibrators(in_order, np.random.default_rng(0))
    _set_calibrators(by_group, np.random.default_rng(0))
    x = np.asarray([[1.0, 0.25, 0.5, 2.0, np.nan], [0.0, 0.75, 1.5, 1.0, 0.5]], np.float32)
    np.testing.assert_array_equal(by_group.predict(x, verbose=0)[:, positions],
                                  in_order.predict(x, verbose=0))


def test_lattices_read_grouped_columns_at_their_positions():
    """A lattice ensemble over the grouped calibrations (no reordering of the
    columns) computes what it computes over the columns in order."""
    columns = [_categorical(), _numeric(0.0, 1.0), _numeric(0.0, 1.0), _categorical()]
    constraints = ModelConstraints(tuple(
        FeatureConfig(f"f{j}", monotonicity="increasing" if j == 1 else "none")
        for j in range(4)))
    subsets = [[0, 1], [1, 3], [2, 3, 0]]
    inputs = keras.Input((4,))
    grouped, positions = fused.calibrated_groups(inputs, columns)
    by_group = keras.Model(inputs, fused.lattice_ensemble(grouped, subsets, constraints, 2,
                                                          "lattice", positions=positions))
    in_order = keras.Model(inputs, fused.lattice_ensemble(
        fused.calibrated_features(inputs, columns), subsets, constraints, 2, "lattice"))
    assert "ReorderFeatures" not in [type(layer).__name__ for layer in by_group.layers]
    for model in (by_group, in_order):
        _set_calibrators(model, np.random.default_rng(1))
        for layer in model.layers:
            if type(layer).__name__ == "Lattice":
                layer.kernel.assign(np.random.default_rng(2).normal(size=layer.kernel.shape))
    x = np.random.default_rng(3).uniform(0, 1, (16, 4)).astype(np.float32)
    x[:, [0, 3]] = np.round(2 * x[:, [0, 3]])
    np.testing.assert_array_equal(by_group.predict(x, verbose=0), in_order.predict(x, verbose=0))
    with pytest.raises(ValueError, match="positions has 3 entries for 4 columns"):
        fused.lattice_ensemble(grouped, subsets, constraints, 2, "lattice", positions=[0, 1, 2])


def test_a_column_reads_its_feature_config():
    numeric, categorical = _numeric(), _categorical(((0, 2),))
    assert numeric.keypoints == (0.0, 1.0) and numeric.num_categories is None
    assert not numeric.is_categorical and numeric.bounds == (0.0, 1.0)
    assert categorical.keypoints == () and categorical.num_categories == 3
    assert categorical.is_categorical and categorical.feature.category_order == ((0, 2),)


def test_bad_columns_are_refused():
    with pytest.raises(ValueError, match="numeric column 'x' needs keypoints"):
        fused.CalibratedColumn(FeatureConfig("x", monotonicity="increasing"))
    with pytest.raises(TypeError, match="feature must be a FeatureConfig"):
        fused.CalibratedColumn((0.0, 1.0))


def test_lattice_sizes_must_match_the_columns():
    calibrated = keras.Input((2,))
    with pytest.raises(ValueError, match="lattice_sizes has 3 entries for 2 columns"):
        fused.lattice_ensemble(calibrated, [[0, 1]], ModelConstraints((FeatureConfig("a"), FeatureConfig("b"))),
                               [2, 2, 2], "lattice")


@pytest.mark.parametrize("columns,op", [
    ([0, 1, 2, 3], None), ([1, 2], "StridedSlice"), ([2], "StridedSlice"),
    ([2, 0], "GatherV2"), ([0, 2], "GatherV2")])
def test_select_columns_slices_consecutive_columns_and_gathers_others(columns, op):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(select_columns(tf.constant(values), columns), values[:, columns])
    graph = tf.function(lambda x: select_columns(x, columns)).get_concrete_function(
        tf.TensorSpec((None, 4), tf.float32)).graph
    kinds = {node.type for node in graph.get_operations()}
    assert ("GatherV2" in kinds) == (op == "GatherV2")
    assert ("StridedSlice" in kinds) == (op == "StridedSlice")
