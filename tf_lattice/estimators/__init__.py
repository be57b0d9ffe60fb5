"""scikit-learn estimators of calibrated linear, lattice, ensemble and deep
lattice models on pandas DataFrames (and NumPy arrays)."""

from tf_lattice.estimators.calibrated_lattice import (
    CalibratedLatticeClassifier, CalibratedLatticeRegressor)
from tf_lattice.estimators.calibrated_lattice_ensemble import (
    CalibratedLatticeEnsembleClassifier, CalibratedLatticeEnsembleRegressor)
from tf_lattice.estimators.calibrated_linear import (
    CalibratedLinearClassifier, CalibratedLinearRegressor)
from tf_lattice.estimators.deep_lattice_network import (
    DeepLatticeNetworkClassifier, DeepLatticeNetworkRegressor)

__all__ = [
    "CalibratedLinearRegressor", "CalibratedLinearClassifier",
    "CalibratedLatticeRegressor", "CalibratedLatticeClassifier",
    "CalibratedLatticeEnsembleRegressor", "CalibratedLatticeEnsembleClassifier",
    "DeepLatticeNetworkRegressor", "DeepLatticeNetworkClassifier",
]
