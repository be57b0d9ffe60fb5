"""Calibrated lattice models: a calibrator per feature, then one lattice."""

from tf_lattice.estimators import _model_configs
from tf_lattice.estimators._tasks import CalibratedClassifierBase, CalibratedRegressorBase


#: The most vertices the one lattice may have (per output): beyond this, the
#: parameters alone take hundreds of megabytes and an ensemble is the model to use.
MAX_LATTICE_VERTICES = 2 ** 22


def check_lattice_vertices(lattice_size, num_features):
    """Raises ValueError when one lattice over every feature would be too large."""
    vertices = lattice_size ** num_features
    if vertices > MAX_LATTICE_VERTICES:
        raise ValueError(
            f"a calibrated lattice over all {num_features} features has lattice_size ** "
            f"{num_features} = {vertices:,} vertices per output, more than the "
            f"{MAX_LATTICE_VERTICES:,} allowed; use a CalibratedLatticeEnsemble estimator "
            "(lattices over small feature subsets), fewer features or a smaller lattice_size")


class _CalibratedLattice:
    """``f(x) = L(c_1(x_1), ..., c_d(x_d))`` with calibrators onto
    `[0, lattice_size - 1]` and one lattice over every feature (with
    ``interpolation="auto"``, simplex interpolation beyond 6 features when
    the rows times the vertices exceed ``2^22``, see
    `_defaults.automatic_interpolation`). Supports every constraint,
    unimodality included."""

    _supports_unimodality = True
    _model_kind = "lattice"

    def _build_network(self, specs, constraints, units, encoded, target, seed,
                       initial_output):
        check_lattice_vertices(self.lattice_size, len(specs))
        config = _model_configs.model_config(
            "lattice", specs, constraints, **self._model_settings(units, initial_output))
        return lambda: _model_configs.build(config)


class CalibratedLatticeRegressor(_CalibratedLattice, CalibratedRegressorBase):
    """Calibrated lattice regression on DataFrames.

    Takes the parameters of
    :class:`~tf_lattice.estimators.CalibratedLinearRegressor`. Use it with up
    to about a dozen features; the lattice has ``lattice_size ** d`` vertices.

    Attributes:
      model_, feature_specs_, constraints_, history_, target_mean_,
      target_scale_, n_features_in_, feature_names_in_.
    """


class CalibratedLatticeClassifier(_CalibratedLattice, CalibratedClassifierBase):
    """Calibrated lattice classification on DataFrames (binary and multiclass).

    Takes the parameters of
    :class:`~tf_lattice.estimators.CalibratedLinearRegressor`; with more than
    two classes the lattice has one output per class and every constraint
    holds on each.

    Attributes:
      classes_, model_, feature_specs_, constraints_, history_,
      n_features_in_, feature_names_in_.

    Example:
      >>> import pandas as pd
      >>> X = pd.DataFrame({"dose": [1.0, 2, 3, 4, 5, 6]})
      >>> clf = CalibratedLatticeClassifier(monotonicity={"dose": "increasing"},
      ...                                   epochs=2, verbose=0).fit(X, [0, 0, 1, 0, 1, 1])
      >>> clf.certify().holds
      True
    """
