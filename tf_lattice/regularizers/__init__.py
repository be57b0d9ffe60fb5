"""Regularizers: pure TensorFlow penalties on parameters, plus Keras classes.

The functions import only TensorFlow. The Keras classes (`CalibratorLaplacian`,
`LatticeTorsion`, ...) live in `tf_lattice.regularizers.keras` and are
re-exported here, importing Keras on first access.
"""

from tf_lattice.regularizers.calibrator import calibrator_hessian
from tf_lattice.regularizers.calibrator import calibrator_laplacian
from tf_lattice.regularizers.calibrator import calibrator_wrinkle
from tf_lattice.regularizers.lattice import lattice_laplacian
from tf_lattice.regularizers.lattice import lattice_torsion
from tf_lattice.regularizers.linear import linear_laplacian
from tf_lattice.regularizers.norms import l1_l2

_KERAS_CLASSES = (
    "CalibratorLaplacian", "CalibratorHessian", "CalibratorWrinkle",
    "LatticeLaplacian", "LatticeTorsion", "LinearLaplacian", "RegularizerSum",
)


def __getattr__(name):
    if name in _KERAS_CLASSES:
        from tf_lattice.regularizers import keras as keras_regularizers
        return getattr(keras_regularizers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_KERAS_CLASSES))
