"""Shared pytest configuration: devices, seeds and hypothesis profiles."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A kernel missing on the GPU must fail, not silently run on the CPU.
tf.config.set_soft_device_placement(False)


def _has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def device(request):
    """Runs the test body on each device; the GPU case skips without a GPU."""
    if request.param == "gpu" and not _has_gpu():
        pytest.skip("no GPU visible to TensorFlow")
    with tf.device(f"/{request.param}:0"):
        yield request.param


@pytest.fixture(autouse=True)
def _seed():
    # Seeds Python, NumPy, TensorFlow and Keras' own initializer seeds.
    keras.utils.set_random_seed(0)
    yield
