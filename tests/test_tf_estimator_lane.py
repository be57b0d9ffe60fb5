"""tf_lattice.tf_estimator outside its lane: a clear error, not a crash.

The canned Estimators need TensorFlow <= 2.15 (``tf.estimator``); under a
newer TensorFlow importing them names the lane that provides them. Their own
tests live in ``tests/tf_estimator`` and run in that lane.
"""

import os
import re

import pytest
import tensorflow as tf

RELEASE = tuple(int(p) for p in re.match(r"(\d+)\.(\d+)", tf.__version__).groups())


def test_import_names_the_tensorflow_2_15_lane(monkeypatch):
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    if RELEASE <= (2, 15):
        from tf_lattice import tf_estimator
        assert tf_estimator.CalibratedLinearEstimator.__mro__[1].__name__ == "CalibratedEstimator"
        assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
        return
    with pytest.raises(ImportError) as error:
        import tf_lattice.tf_estimator  # noqa: F401
    assert type(error.value).__name__ == "EstimatorEnvironmentError"
    message = str(error.value)
    assert "TensorFlow <= 2.15" in message and tf.__version__ in message
    assert "make test-tf-estimator" in message
    # The check runs before it could change how this process loads tf.keras.
    assert "TF_USE_LEGACY_KERAS" not in os.environ
