"""Deep lattice networks (You, Ding, Canini, Pfeifer, Gupta; NIPS 2017).

The estimators build the network of
:mod:`tf_lattice.models.deep_lattice_network` on their fused calibrators:
each column is calibrated onto ``[0, 1]`` (with its declared direction,
convexity or category order, and a learned output for missing values), then
``num_layers`` blocks of

1. a linear embedding: ``monotone_dims`` outputs with weights ``>= 0`` on
   the shaped columns (and of either sign on the others), ``free_dims``
   outputs reading only the unconstrained columns;
2. a calibrator per embedding output onto ``[0, lattice_size - 1]``
   (increasing for the monotone outputs);
3. ``num_lattices`` random tiny lattices of ``lattice_rank`` embedding
   outputs each, increasing in their monotone inputs;

then a linear layer with weights ``>= 0`` on the monotone signals. Every step
after a shaped column's calibrator is increasing in the signals that carry it,
so monotonicity, convexity (of the calibrator) and category orders reach every
output. Trust, dominance and unimodality constraints are not kept by the
embedding (which mixes columns with weights of its own) and are refused.
"""

from tf_lattice.estimators import _model_configs
from tf_lattice.estimators._base import CalibratedEstimatorBase, _check_number
from tf_lattice.estimators._limits import check_lattices
from tf_lattice.estimators._tasks import CalibratedClassifierBase, CalibratedRegressorBase
from tf_lattice.models.configs import DeepLatticeLayerConfig
from tf_lattice.models.deep_lattice_network import network_structure
from tf_lattice.models.fused import lattice_directions

#: Keypoints of the calibrators between an embedding and its lattices.
EMBEDDING_KEYPOINTS = 10


class _DeepLatticeNetwork(CalibratedEstimatorBase):
    """Adds ``num_layers``, ``monotone_dims``, ``free_dims``, ``num_lattices``
    and ``lattice_rank`` to the shared parameters."""

    _supports_unimodality = False
    _model_kind = "dln"

    def __init__(self, *, num_layers=None, monotone_dims=None, free_dims=None, num_lattices=None,
                 lattice_rank=None, monotonicity=None, convexity=None, unimodality=None,
                 trust=None, dominance=None, category_order=None, num_keypoints=None,
                 lattice_size=2, interpolation="auto", calibration_laplacian=None,
                 calibration_hessian=None, calibration_wrinkle=None, lattice_laplacian=None,
                 lattice_torsion=None, l2=None, epochs=None, batch_size=None,
                 learning_rate=0.01, validation_fraction=0.1, early_stopping="auto",
                 random_state=None, verbose=1, distribute_strategy=None, implementation="kernel",
                 categorical_features=None):
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
        self.num_layers = num_layers
        self.monotone_dims = monotone_dims
        self.free_dims = free_dims
        self.num_lattices = num_lattices
        self.lattice_rank = lattice_rank

    def _check_params(self):
        super()._check_params()
        _check_number("num_layers", self.num_layers, 1, integer=True, allow_none=True)
        _check_number("monotone_dims", self.monotone_dims, 0, integer=True, allow_none=True)
        _check_number("free_dims", self.free_dims, 0, integer=True, allow_none=True)
        _check_number("num_lattices", self.num_lattices, 1, integer=True, allow_none=True)
        _check_number("lattice_rank", self.lattice_rank, 1, integer=True, allow_none=True)
        if self.monotone_dims == 0 and self.free_dims == 0:
            raise ValueError("monotone_dims and free_dims are both 0: the embedding needs at "
                             "least one output")
        # The embedding mixes columns with weights of its own, so a pair
        # constraint that holds in one calibrator or lattice does not reach
        # the output.
        for argument in ("trust", "dominance"):
            if getattr(self, argument):
                raise ValueError(
                    f"{type(self).__name__} cannot keep a {argument} constraint ({argument}="
                    f"{getattr(self, argument)!r}): its linear embedding mixes the columns; "
                    "use CalibratedLattice or CalibratedLatticeEnsemble")

    def _blocks(self, constraints):
        """The DeepLatticeLayerConfig of every block, from the resolved settings."""
        settings = self._settings
        shaped = sum(feature.shaped for feature in constraints.features)
        free = len(constraints.features) - shaped
        monotone_dims = int(settings.monotone_dims) if shaped else 0
        free_dims = int(settings.free_dims) if free else 0
        if shaped and not monotone_dims:
            raise ValueError("monotone_dims=0 leaves the columns with declared shapes out of the "
                             "model: give the embedding at least one monotone output")
        if not (monotone_dims + free_dims):
            raise ValueError("free_dims=0 and no column has a declared shape: the embedding "
                             "would have no outputs")
        rank = min(int(settings.lattice_rank), monotone_dims + free_dims)
        block = DeepLatticeLayerConfig(
            monotone_dims=monotone_dims, free_dims=free_dims,
            num_lattices=int(settings.num_lattices), lattice_rank=rank,
            lattice_size=int(settings.lattice_size), num_keypoints=EMBEDDING_KEYPOINTS)
        # Later blocks read the lattices of the block before: those reading a
        # monotone output are monotone, the others free (a part with nothing
        # to read is left out by the builder).
        return [block] * int(settings.num_layers)

    def _build_network(self, specs, constraints, units, encoded, target, seed,
                       initial_output):
        blocks = self._blocks(constraints)
        monotonicities, _ = lattice_directions(constraints)
        structure = network_structure([m == "increasing" for m in monotonicities], blocks, seed)
        self.layers_ = [{"monotone_dims": sum(flags), "free_dims": len(flags) - sum(flags),
                         "num_lattices": len(subsets), "lattice_rank": len(subsets[0]),
                         "lattices": [[int(k) for k in subset] for subset in subsets]}
                        for flags, subsets in structure]
        config = _model_configs.model_config(
            "dln", specs, constraints, blocks=blocks, seed=seed,
            **self._model_settings(units, initial_output))
        return lambda: _model_configs.build(config)

    def _check_model_size(self, units):
        size = int(self.lattice_size)
        check_lattices([([size] * block["lattice_rank"], block["num_lattices"])
                        for block in self.layers_], f"this {type(self).__name__}")

    def _fitted_payload(self):
        payload = super()._fitted_payload()
        payload["layers_"] = self.layers_
        return payload

    @classmethod
    def _saved_problem(cls, params, fitted):
        if "second_lattices_" in fitted:
            return ("it holds a deep lattice network of the earlier design (two lattice "
                    "ensembles with a recalibration between them), which this version of "
                    "tf_lattice no longer builds; fit the estimator again with this version and "
                    "save it")
        return None

    def _restore_payload(self, payload):
        super()._restore_payload(payload)
        self.layers_ = payload["layers_"]


class DeepLatticeNetworkRegressor(_DeepLatticeNetwork, CalibratedRegressorBase):
    """Deep lattice network regression on DataFrames.

    Calibrators, ``num_layers`` blocks of linear embedding -> calibrators ->
    random tiny lattices, then a monotone linear layer (see
    :mod:`tf_lattice.estimators.deep_lattice_network`).

    Args:
      num_layers: blocks (None: 1).
      monotone_dims: embedding outputs monotone in the shaped columns, per
        block (None: see :mod:`tf_lattice.estimators._defaults`).
      free_dims: embedding outputs of the unconstrained columns, per block
        (None: automatic).
      num_lattices: lattices per block (None: automatic, each embedding
        output in about 3 lattices, 6 from 5,000 rows on).
      lattice_rank: embedding outputs per lattice (None: automatic).
      lattice_size: vertices per lattice dimension.
      Other parameters: as :class:`~tf_lattice.estimators.CalibratedLinearRegressor`
      (unimodality, trust and dominance are not available).

    Attributes:
      layers_: per block, a dict of its ``monotone_dims`` and ``free_dims``
        (a part with nothing to read has 0), ``num_lattices``,
        ``lattice_rank`` and ``lattices`` (the embedding outputs each lattice
        reads; outputs ``0 .. monotone_dims - 1`` are the monotone part).
      model_, feature_specs_, constraints_, history_, target_mean_,
      target_scale_, n_features_in_, feature_names_in_.
    """


class DeepLatticeNetworkClassifier(_DeepLatticeNetwork, CalibratedClassifierBase):
    """Deep lattice network classification (binary and multiclass).

    Takes the parameters of :class:`DeepLatticeNetworkRegressor`; every
    constraint holds on every class score.

    Attributes:
      classes_, layers_, model_, feature_specs_, constraints_, history_,
      n_features_in_, feature_names_in_.
    """
