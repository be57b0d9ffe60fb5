"""Checks every layer test runs: training, constraints, saving, twins."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_lattice import _native


def kernels_built():
    return _native.library_path() is not None


requires_kernels = pytest.mark.skipif(not kernels_built(), reason="tf_lattice kernels are not built")


def make_model(layer, input_shape, head=False):
    """A functional model around ``layer`` (plus a Dense head if asked)."""
    inputs = keras.Input(input_shape)
    outputs = layer(inputs)
    if head:
        outputs = keras.layers.Dense(1)(outputs)
    return keras.Model(inputs, outputs)


def train_lowers_loss(model, x, y, epochs=5, learning_rate=0.05):
    """Fits a few epochs; asserts the loss fell; returns the history."""
    model.compile(keras.optimizers.Adam(learning_rate), "mse")
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before, (before, after)
    return history


def assert_save_load_round_trip(model, x, tmp_path):
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    return loaded


def assert_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def assert_eager_matches_function(layer, x):
    eager = layer(x)
    traced = tf.function(lambda t: layer(t))(x)
    np.testing.assert_allclose(eager.numpy(), traced.numpy(), rtol=1e-6, atol=1e-6)
    return eager


def assert_implementations_agree(layer_cls, config, x, atol=1e-5):
    """Kernel and portable versions with the same weights: same outputs and
    gradients with respect to the inputs and every weight."""
    results = []
    weights = None
    for implementation in ("kernel", "portable"):
        layer = layer_cls.from_config(dict(config, implementation=implementation))
        layer(x)
        if weights is None:
            weights = layer.get_weights()
        else:
            layer.set_weights(weights)
        x_tensor = tf.convert_to_tensor(x)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x_tensor)
            y = layer(x_tensor)
            loss = tf.reduce_sum(y * tf.cast(tf.range(1, y.shape[-1] + 1), y.dtype))
        grads = [tape.gradient(loss, x_tensor)] + tape.gradient(loss, layer.trainable_weights)
        results.append((y.numpy(), [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]))
    (y_kernel, g_kernel), (y_portable, g_portable) = results
    np.testing.assert_allclose(y_kernel, y_portable, atol=atol, rtol=1e-5)
    for a, b in zip(g_kernel, g_portable):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(a, b, atol=atol, rtol=1e-4)


def assert_jit_disabled_with_kernels(layer_factory, input_shape):
    """With kernels the model refuses XLA; the portable twin accepts it."""
    kernel_model = make_model(layer_factory("kernel"), input_shape)
    kernel_model.compile("adam", "mse", jit_compile=True)
    assert kernel_model.jit_compile is False
    kernel_model.compile("adam", "mse", jit_compile="auto")
    assert kernel_model.jit_compile is False
    portable_model = make_model(layer_factory("portable"), input_shape)
    portable_model.compile("adam", "mse", jit_compile=True)
    assert portable_model.jit_compile is True
