"""Aggregation: mean of a model over set elements (padded or ragged)."""

import keras
import numpy as np
import tensorflow as tf

from tests.layers import _checks
from tf_lattice.layers import Aggregation, Lattice, PWLCalibration


def _element_model():
    inputs = keras.Input((2,))
    calibrated = PWLCalibration(np.linspace(0, 1, 4), units=2, monotonicity="increasing",
                                output_min=0, output_max=1)(inputs)
    outputs = Lattice([2, 2], monotonicities=["increasing", "increasing"])(calibrated)
    return keras.Model(inputs, outputs)


def test_masked_mean_equals_ragged_mean_and_manual_mean():
    model = _element_model()
    layer = Aggregation(model)
    rng = np.random.default_rng(0)
    lengths = [3, 1, 2]
    padded = rng.uniform(0, 1, (3, 3, 2)).astype("float32")
    mask = np.arange(3)[None, :] < np.array(lengths)[:, None]
    masked = layer(padded, mask=mask).numpy()
    ragged = tf.RaggedTensor.from_tensor(padded, lengths=lengths)
    np.testing.assert_allclose(layer(ragged).numpy(), masked, rtol=1e-6)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(masked[b], model(padded[b, :n]).numpy().mean(axis=0), rtol=1e-5)


def test_trains_and_certifies(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (128, 4, 2)).astype("float32")
    y = x.sum(axis=-1).mean(axis=-1, keepdims=True).astype("float32")
    layer = Aggregation(_element_model())
    model = _checks.make_model(layer, (4, 2))
    _checks.train_lowers_loss(model, x, y, epochs=3)
    assert layer.certify().holds
    assert len(layer.certify().checks) > 0
    _checks.assert_save_load_round_trip(model, x, tmp_path)
