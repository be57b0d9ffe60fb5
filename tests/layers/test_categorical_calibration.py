"""CategoricalCalibration: lookups, default bucket, partial order, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers import _checks
from tf_lattice.layers import CategoricalCalibration


def test_lookup_and_default_bucket():
    kernel = np.array([[0.0, 1.0, 2.0, 9.0]])
    layer = CategoricalCalibration(3, default_input_value=-1,
                                   kernel_initializer=keras.initializers.Constant(kernel))
    ids = np.array([[0], [2], [1], [-1], [7], [-4]])
    y = _checks.assert_eager_matches_function(layer, ids)
    np.testing.assert_array_equal(y.numpy()[:, 0], [0, 2, 1, 9, 9, 9])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_ids_of_every_dtype_find_their_bucket(dtype):
    """Float ids are rounded; NaN, the default value and ids beyond the
    buckets, however large (beyond int32 and int64 too), read the default
    bucket, never a wrapped-around category."""
    kernel = np.array([[0.0, 1.0, 2.0, 9.0]])
    layer = CategoricalCalibration(3, default_input_value=1,
                                   kernel_initializer=keras.initializers.Constant(kernel))
    if dtype.startswith("float"):
        ids = np.array([0.2, 1.0, 1.6, 2.4, 2.6, -0.4, -0.6, np.nan, 2.0 ** 32, 2.0 ** 32 + 2.0,
                        1e30, -1e30])
        expected = [0, 9, 2, 2, 9, 0, 9, 9, 9, 9, 9, 9]
    else:
        big = np.iinfo(dtype).max
        ids = np.array([0, 1, 2, 3, -1, big, np.iinfo(dtype).min])
        expected = [0, 9, 2, 9, 9, 9, 9]
    ids = ids.astype(dtype)[:, None]
    y = _checks.assert_eager_matches_function(layer, ids)
    np.testing.assert_array_equal(y.numpy()[:, 0], expected)


@pytest.mark.parametrize("input_width", [1, 2])
def test_multi_unit_shapes(input_width):
    layer = CategoricalCalibration(4, units=2)
    y = layer(np.random.default_rng(0).integers(0, 4, (5, input_width)))
    assert y.shape == (5, 2)


@pytest.mark.parametrize("input_width", [1, 3])
def test_multi_unit_lookup_and_gradient_match_numpy(input_width):
    """Unit u reads kernel[u, id of its column]; the kernel's gradient counts
    each (unit, bucket) read: a NumPy oracle, and a finite difference."""
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 6))
    layer = CategoricalCalibration(5, units=3, dtype="float64",
                                   kernel_initializer=keras.initializers.Constant(kernel))
    ids = rng.integers(-1, 7, (40, input_width))
    layer(ids)
    bucket = np.where((ids < 0) | (ids >= 5), 5, ids)
    bucket = np.broadcast_to(bucket, (40, 3))
    expected = kernel[np.arange(3), bucket]
    weights = rng.normal(size=(40, 3))
    with tf.GradientTape() as tape:
        outputs = layer(ids)
        objective = tf.reduce_sum(weights * outputs)
    np.testing.assert_allclose(outputs.numpy(), expected)
    gradient = tf.convert_to_tensor(tape.gradient(objective, layer.kernel)).numpy()
    oracle = np.zeros_like(kernel)
    np.add.at(oracle, (np.broadcast_to(np.arange(3), (40, 3)), bucket), weights)
    np.testing.assert_allclose(gradient, oracle, atol=1e-12)
    step = 1e-6
    for unit, column in [(0, int(bucket[0, 0])), (2, 5), (1, 4)]:
        moved = kernel.copy()
        moved[unit, column] += step
        layer.kernel.assign(moved)
        above = float(tf.reduce_sum(weights * layer(ids)))
        moved[unit, column] -= 2 * step
        layer.kernel.assign(moved)
        below = float(tf.reduce_sum(weights * layer(ids)))
        layer.kernel.assign(kernel)
        np.testing.assert_allclose((above - below) / (2 * step), gradient[unit, column], atol=1e-6)


def test_training_keeps_partial_order_and_bounds():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4, (256, 1))
    # The data prefers category 3 below category 0; the constraint says 0 <= ... <= 3.
    y = np.array([2.0, 1.0, 0.5, -1.0])[ids[:, 0]][:, None].astype("float32")
    layer = CategoricalCalibration(4, category_order=[(0, 1), (1, 3), (2, 3)], output_min=-0.5, output_max=1.5)
    model = _checks.make_model(layer, (1,))
    # Full-batch projected gradient descent on a convex loss: with a step below
    # 1 / Lipschitz (the gradient of the mean squared error in one output is
    # 2 * its category's share of the data, at most 2) every step keeps or
    # lowers the loss, whatever the initialization.
    model.compile(keras.optimizers.SGD(0.4), "mse")
    # The first recorded loss is at the initialization, which need not be
    # feasible; from the first projected iterate on the loss must not rise.
    history = model.fit(ids, y, batch_size=256, epochs=40, verbose=0).history["loss"]
    after = model.evaluate(ids, y, batch_size=256, verbose=0)
    assert np.all(np.diff(history[1:]) <= 1e-6) and after <= history[-1] + 1e-6
    # Every constant in the bounds is feasible: the constrained fit must do at
    # least as well as the best one.
    best_constant = np.clip(y.mean(), -0.5, 1.5)
    assert after <= np.mean((y - best_constant) ** 2) + 1e-4
    assert layer.certify().holds, str(layer.certify())
    kernel = layer.kernel.numpy()[0]
    assert kernel[0] <= kernel[1] + 1e-6 and kernel[1] <= kernel[3] + 1e-6 and kernel[2] <= kernel[3] + 1e-6
    assert kernel.min() >= -0.5 - 1e-6 and kernel.max() <= 1.5 + 1e-6


def test_save_load_and_config_round_trip(tmp_path):
    ids = np.random.default_rng(0).integers(0, 3, (64, 1))
    layer = CategoricalCalibration(3, units=2, category_order=[(0, 2)])
    model = _checks.make_model(layer, (1,), head=True)
    _checks.train_lowers_loss(model, ids, ids.astype("float32"), epochs=2)
    _checks.assert_save_load_round_trip(model, ids, tmp_path)
    _checks.assert_config_round_trip(layer)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_buckets=0), "num_buckets"),
    (dict(num_buckets=3, category_order=[(0, 3)]), "outside"),
    (dict(num_buckets=3, category_order=[(0, 1), (1, 2), (2, 0)]), "cycle"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CategoricalCalibration(**kwargs)
