"""Canned TensorFlow Estimators of calibrated models (TensorFlow 2.15 only).

``tf.estimator`` ships in ``tensorflow-estimator``, which exists for
TensorFlow <= 2.15. This package gives Estimator-based pipelines (TFX,
``tf.Example`` serving) the calibrated linear, lattice and lattice-ensemble
models of :mod:`tf_lattice.estimators` as ``tf.estimator.Estimator``
subclasses. It runs in its own environment (``make test-tf-estimator``
creates it as ``.venv-tf215``: TensorFlow 2.15.1, tensorflow-estimator
2.15.0, Keras 3.10 for tf_lattice's layers and tf-keras 2.15.1 for the
Estimator heads, with ``TF_USE_LEGACY_KERAS=1``, which importing this package
sets unless it is set already). Nothing else in tf_lattice imports it.

Example::

    import tensorflow as tf
    from tf_lattice.tf_estimator import CalibratedLatticeEnsembleEstimator

    def train_input_fn():
        return tf.data.Dataset.from_tensor_slices((features, labels)).batch(64)

    est = CalibratedLatticeEnsembleEstimator(
        ["age", "hours", "education"], train_input_fn,
        monotonicity={"hours": "increasing"}, num_lattices=8, lattice_rank=2)
    est.train(train_input_fn)
    est.finalize()
    print(est.certify())
    est.export("exports")    # serving_default (classify) and predict signatures
"""

from tf_lattice.tf_estimator._environment import EstimatorEnvironmentError, check_environment

check_environment()

from tf_lattice.tf_estimator._base import CalibratedEstimator  # noqa: E402
from tf_lattice.tf_estimator.estimators import (  # noqa: E402
    CalibratedLatticeEnsembleEstimator, CalibratedLatticeEstimator, CalibratedLinearEstimator)

__all__ = [
    "CalibratedEstimator", "CalibratedLinearEstimator", "CalibratedLatticeEstimator",
    "CalibratedLatticeEnsembleEstimator", "EstimatorEnvironmentError",
]
