"""Deep lattice networks: two layers of lattice ensembles."""

import math

from tf_lattice.estimators import _model_configs
from tf_lattice.estimators._tasks import CalibratedClassifierBase, CalibratedRegressorBase
from tf_lattice.estimators.calibrated_lattice_ensemble import _EnsembleParams, structure_seed
from tf_lattice.models import _stacked_ensembles
from tf_lattice.models.ensembles import rtl_structure


class _DeepLatticeNetwork(_EnsembleParams):
    """Calibrators -> lattice ensemble -> increasing calibrators -> a second
    ensemble of ``ceil(num_lattices / lattice_rank)`` increasing lattices ->
    increasing linear combination. Every stage after the calibrators is
    increasing in each shaped feature, so monotonicity reaches the output."""

    _supports_unimodality = False
    _model_kind = "dln"

    def _check_params(self):
        super()._check_params()
        # A second lattice layer mixes the first layer's outputs, whose
        # partial derivatives in two columns it weighs differently: a trust
        # or dominance pair that holds in every first-layer lattice does not
        # reach the output.
        for argument in ("trust", "dominance"):
            if getattr(self, argument):
                raise ValueError(
                    f"{type(self).__name__} cannot keep a {argument} constraint ({argument}="
                    f"{getattr(self, argument)!r}): its second lattice layer mixes the first "
                    "layer's lattices; use CalibratedLattice or CalibratedLatticeEnsemble")

    def _build_network(self, specs, constraints, units, encoded, target, seed,
                       initial_output):
        subsets, rank = self._subsets(len(specs), encoded, target, seed)
        width = len(subsets)
        second_rank = min(rank, width)
        second_count = max(1, math.ceil(width / max(1, second_rank)))
        second = [list(subset) for subset in
                  rtl_structure(width, second_count, second_rank, structure_seed(seed + 1))]
        self.second_lattices_ = second
        config = _model_configs.model_config(
            "ensemble", specs, constraints, lattices=subsets,
            **self._model_settings(units, rank, initial_output))
        return lambda: _stacked_ensembles.deep_lattice_network(config, second)

    def _fitted_payload(self):
        payload = super()._fitted_payload()
        payload["second_lattices_"] = self.second_lattices_
        return payload

    def _restore_payload(self, payload):
        super()._restore_payload(payload)
        self.second_lattices_ = payload["second_lattices_"]


class DeepLatticeNetworkRegressor(_DeepLatticeNetwork, CalibratedRegressorBase):
    """Deep lattice network regression on DataFrames.

    Takes the parameters of
    :class:`~tf_lattice.estimators.CalibratedLatticeEnsembleRegressor`;
    ``ensemble`` picks the first layer's subsets (the second layer is
    balanced).

    Attributes:
      lattices_: columns of each first-layer lattice.
      second_lattices_: first-layer lattice indices read by each second-layer
        lattice.
      model_, feature_specs_, constraints_, history_, target_mean_,
      target_scale_, n_features_in_, feature_names_in_.
    """


class DeepLatticeNetworkClassifier(_DeepLatticeNetwork, CalibratedClassifierBase):
    """Deep lattice network classification (binary and multiclass).

    Takes the parameters of :class:`DeepLatticeNetworkRegressor`; every
    constraint holds on every class score.

    Attributes:
      classes_, lattices_, second_lattices_, model_, feature_specs_,
      constraints_, history_, n_features_in_, feature_names_in_.
    """
