"""tf_lattice: monotonic calibrated lattice models for TensorFlow and Keras 3.

Importing the package is cheap: the compiled kernels load on the first op call
and the heavier submodules (layers, estimators) import on first access.
TensorFlow's start-up log lines are kept out of the output unless
``TF_CPP_MIN_LOG_LEVEL`` is set (see :mod:`tf_lattice._quiet`).
"""

import importlib

from tf_lattice import _quiet

_quiet.install()

__version__ = "0.1.0"

_SUBMODULES = (
    "specs", "ops", "regularizers", "constraints", "layers", "models", "estimators",
    "datasets", "plotting", "distribute", "saved_model",
)


def __getattr__(name):
    if name == "export":  # the function of tf_lattice.saved_model
        function = importlib.import_module(f"{__name__}.saved_model").export
        globals()["export"] = function
        return function
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + ["export"])
