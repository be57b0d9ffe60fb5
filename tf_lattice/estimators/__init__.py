"""scikit-learn estimators of calibrated linear, lattice, ensemble and deep
lattice models on pandas DataFrames (and NumPy arrays), Parquet and CSV files
and tf.data datasets."""

from tf_lattice.estimators.calibrated_lattice import (
    CalibratedLatticeClassifier, CalibratedLatticeRegressor)
from tf_lattice.estimators.calibrated_lattice_ensemble import (
    CalibratedLatticeEnsembleClassifier, CalibratedLatticeEnsembleRegressor)
from tf_lattice.estimators.calibrated_linear import (
    CalibratedLinearClassifier, CalibratedLinearRegressor)
from tf_lattice.estimators.deep_lattice_network import (
    DeepLatticeNetworkClassifier, DeepLatticeNetworkRegressor)
from tf_lattice.estimators._sources import DataError, DatasetSource, FileSource

__all__ = [
    "CalibratedLinearRegressor", "CalibratedLinearClassifier",
    "CalibratedLatticeRegressor", "CalibratedLatticeClassifier",
    "CalibratedLatticeEnsembleRegressor", "CalibratedLatticeEnsembleClassifier",
    "DeepLatticeNetworkRegressor", "DeepLatticeNetworkClassifier",
    "FileSource", "DatasetSource", "DataError",
]
