"""Calibrated lattice ensembles: shared calibrators, many small lattices."""

import numpy as np

from tf_lattice.estimators import _model_configs
from tf_lattice.estimators._base import CalibratedEstimatorBase, _check_number
from tf_lattice.estimators._tasks import CalibratedClassifierBase, CalibratedRegressorBase
from tf_lattice.models.ensembles import ENSEMBLES, close_under_dominance, lattice_structure


def structure_seed(seed):
    """The seed of an ensemble's structure: the first draw of the fit's
    generator ``numpy.random.default_rng(seed)``."""
    return int(np.random.default_rng(seed).integers(0, 2**31 - 1))


class _EnsembleParams(CalibratedEstimatorBase):
    """Adds ``num_lattices``, ``lattice_rank`` and ``ensemble`` to the shared
    parameters."""

    def __init__(self, *, num_lattices=None, lattice_rank=None, ensemble="rtl", monotonicity=None,
                 convexity=None, unimodality=None, trust=None, dominance=None,
                 category_order=None, num_keypoints=None, lattice_size=2, interpolation="auto",
                 calibration_laplacian=None, calibration_hessian=None, calibration_wrinkle=None,
                 lattice_laplacian=None, lattice_torsion=None, l2=None, epochs=None,
                 batch_size=None, learning_rate=0.01, validation_fraction=0.1,
                 early_stopping="auto", random_state=None, verbose=1, distribute_strategy=None,
                 implementation="kernel", categorical_features=None):
        super().__init__(
            monotonicity=monotonicity, convexity=convexity, unimodality=unimodality, trust=trust,
            dominance=dominance, category_order=category_order, num_keypoints=num_keypoints,
            lattice_size=lattice_size, interpolation=interpolation,
            calibration_laplacian=calibration_laplacian, calibration_hessian=calibration_hessian,
            calibration_wrinkle=calibration_wrinkle, lattice_laplacian=lattice_laplacian,
            lattice_torsion=lattice_torsion, l2=l2, epochs=epochs, batch_size=batch_size,
            learning_rate=learning_rate, validation_fraction=validation_fraction,
            early_stopping=early_stopping, random_state=random_state, verbose=verbose,
            distribute_strategy=distribute_strategy, implementation=implementation,
            categorical_features=categorical_features)
        self.num_lattices = num_lattices
        self.lattice_rank = lattice_rank
        self.ensemble = ensemble

    def _check_params(self):
        super()._check_params()
        _check_number("num_lattices", self.num_lattices, 1, integer=True, allow_none=True)
        _check_number("lattice_rank", self.lattice_rank, 1, integer=True, allow_none=True)
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {self.ensemble!r}")

    def _subsets(self, num_features, encoded, target, seed):
        rank = min(int(self._settings.lattice_rank), num_features)
        count = self._settings.num_lattices
        subsets = lattice_structure(self.ensemble, num_features, int(count), rank,
                                    seed=structure_seed(seed), x=encoded, y=target)
        subsets = [list(subset) for subset in
                   close_under_dominance(subsets, self.constraints_.monotonic_dominances)]
        self.lattices_ = [[self.feature_specs_[f].name for f in subset] for subset in subsets]
        return subsets, rank

    def _fitted_payload(self):
        payload = super()._fitted_payload()
        payload["lattices_"] = self.lattices_
        return payload

    def _restore_payload(self, payload):
        super()._restore_payload(payload)
        self.lattices_ = payload["lattices_"]


class _CalibratedLatticeEnsemble(_EnsembleParams):
    """``f(x) = b + sum_l w_l L_l(c(x)_{S_l})`` with ``w_l >= 0``: lattices
    ``L_l`` over feature subsets ``S_l`` of shared calibrators ``c``."""

    _supports_unimodality = False
    _model_kind = "ensemble"

    def _build_network(self, specs, constraints, units, encoded, target, seed,
                       initial_output):
        subsets, rank = self._subsets(len(specs), encoded, target, seed)
        config = _model_configs.model_config(
            "ensemble", specs, constraints, lattices=subsets,
            **self._model_settings(units, initial_output))
        return lambda: _model_configs.build(config)


class CalibratedLatticeEnsembleRegressor(_CalibratedLatticeEnsemble, CalibratedRegressorBase):
    """Calibrated lattice ensemble regression on DataFrames.

    Args:
      num_lattices: lattices in the ensemble (None: chosen from the data,
        see :mod:`tf_lattice.estimators._defaults`: each column in about 3
        lattices below 5,000 rows, 6 from there on).
      lattice_rank: features per lattice (None: ``min(3, d)``).
      ensemble: how lattices pick features (one meaning each, see
        :mod:`tf_lattice.models.ensembles`): ``"random"`` (every column
        once, the other slots uniform), ``"rtl"`` (balanced random tiny
        lattices) or ``"crystals"`` (strongly interacting columns together,
        measured by binned target means).
      Other parameters: as :class:`~tf_lattice.estimators.CalibratedLinearRegressor`
      (unimodality is not available: use convexity).

    Attributes:
      lattices_: the columns each lattice reads.
      model_, feature_specs_, constraints_, history_, target_mean_,
      target_scale_, n_features_in_, feature_names_in_.
    """


class CalibratedLatticeEnsembleClassifier(_CalibratedLatticeEnsemble, CalibratedClassifierBase):
    """Calibrated lattice ensemble classification (binary and multiclass).

    Takes the parameters of :class:`CalibratedLatticeEnsembleRegressor`; with
    more than two classes the combining linear layer has one output per class
    and every constraint holds on each class score.

    Attributes:
      classes_, lattices_, model_, feature_specs_, constraints_, history_,
      n_features_in_, feature_names_in_.
    """
