"""Checks that the running TensorFlow can host the canned Estimators.

``tf.estimator`` lives in the ``tensorflow-estimator`` package, which exists
for TensorFlow <= 2.15 only. Its heads build their losses and metrics with
``tf.keras`` and need the Keras 2 of ``tf-keras`` there, while tf_lattice's
layers are Keras 3 layers (``import keras``); with ``TF_USE_LEGACY_KERAS=1``
the two live in one process. :func:`check_environment` sets that variable
(unless the user set it) before ``tf.keras`` is first touched; TensorFlow
reads it then, not at import.
"""

import os
import re

import tensorflow as tf

#: The newest TensorFlow release that ships ``tf.estimator``.
LAST_ESTIMATOR_RELEASE = (2, 15)
#: How to create an environment that has it.
LANE_COMMAND = "make test-tf-estimator"
PINS = ("tensorflow-cpu==2.15.1 tensorflow-estimator==2.15.0 'numpy<2' keras==3.10.0, "
        "then tf-keras==2.15.1 with --no-deps")


class EstimatorEnvironmentError(ImportError):
    """TensorFlow here cannot host ``tf.estimator`` with Keras 3 layers."""


def _release(version):
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def check_environment():
    """Raises EstimatorEnvironmentError naming what is missing, else returns.

    Sets ``TF_USE_LEGACY_KERAS=1`` (unless set) once TensorFlow is known to
    be old enough.

    Raises:
      EstimatorEnvironmentError: TensorFlow newer than 2.15, no
        ``tensorflow-estimator``, or ``tf.keras`` resolving to Keras 3.
    """
    if _release(tf.__version__) > LAST_ESTIMATOR_RELEASE:
        raise EstimatorEnvironmentError(
            f"tf_lattice.tf_estimator needs TensorFlow <= 2.15 (tf.estimator was removed in "
            f"TensorFlow 2.16) but TensorFlow {tf.__version__} is running. `{LANE_COMMAND}` "
            f"creates .venv-tf215 with {PINS}; use the scikit-learn estimators in "
            "tf_lattice.estimators with newer TensorFlow.")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        import tensorflow_estimator  # noqa: F401
    except ImportError as error:
        raise EstimatorEnvironmentError(
            f"tf_lattice.tf_estimator needs tensorflow-estimator=={tf.__version__.rsplit('.', 1)[0]}.0 "
            f"({error}); install it, or create the environment with `{LANE_COMMAND}`.") from error
    name = getattr(tf.keras, "__name__", "")
    if not name.startswith("tf_keras"):
        raise EstimatorEnvironmentError(
            "tf.estimator's heads need tf.keras to be Keras 2 (tf-keras), but tf.keras is "
            f"{name or 'Keras 3'} here. Install tf-keras==2.15.1 (pip install --no-deps "
            "tf-keras==2.15.1) and set TF_USE_LEGACY_KERAS=1 before tf.keras is first used "
            "(e.g. in the environment); tf_lattice's own layers keep using Keras 3 through `import keras`.")
