"""The check that a fit draws every random choice from its own ``random_state``."""

import random

import keras
import numpy as np
import tensorflow as tf


def assert_fit_ignores_global_seeds(fit, monkeypatch):
    """Runs ``fit()`` (which fits a model and returns its predictions) after
    two different global seeds.

    Asserts that each run never sets TensorFlow's global seed (that clears
    TensorFlow's instantiated functions, which a repeated fit would build
    again), leaves NumPy's and Python's global generators where they were, and
    that both runs predict the same.
    """
    predictions = []
    for global_seed in (0, 1):
        keras.utils.set_random_seed(global_seed)
        tf_seeds = []
        monkeypatch.setattr(tf.random, "set_seed", tf_seeds.append)
        numpy_state, python_state = np.random.get_state(), random.getstate()
        predictions.append(fit())
        monkeypatch.undo()
        assert tf_seeds == []
        assert random.getstate() == python_state
        after = np.random.get_state()
        assert after[0] == numpy_state[0] and after[2:] == numpy_state[2:]
        np.testing.assert_array_equal(after[1], numpy_state[1])
    np.testing.assert_array_equal(predictions[0], predictions[1])
