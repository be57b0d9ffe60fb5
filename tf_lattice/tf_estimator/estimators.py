"""Canned Estimators of calibrated linear, lattice and lattice-ensemble models."""

from tf_lattice.estimators import _model_configs
from tf_lattice.estimators.calibrated_lattice_ensemble import structure_seed
from tf_lattice.models.ensembles import ENSEMBLES, close_under_dominance, lattice_structure
from tf_lattice.estimators.calibrated_lattice import check_lattice_vertices
from tf_lattice.estimators._defaults import default_num_lattices
from tf_lattice.estimators._base import _check_number
from tf_lattice.tf_estimator._base import CalibratedEstimator


class CalibratedLinearEstimator(CalibratedEstimator):
    """A calibrated linear model as a ``tf.estimator.Estimator``.

    ``f(x) = b + sum_j w_j c_j(x_j)``: a piecewise-linear (numeric) or
    categorical calibrator per feature, then a linear combination with
    ``w_j >= 0`` on every shaped feature, so the declared shapes hold on the
    output. The network is the one of
    :class:`tf_lattice.estimators.CalibratedLinearClassifier`.

    Args:
      feature_columns: the features, each a name (a key of the dict the
        input_fns yield; string tensors make categorical features, numbers
        numeric ones), a ``tf.feature_column.numeric_column`` or a
        ``categorical_column_with_vocabulary_list`` / ``_file``.
      feature_analysis_input_fn: an input_fn read once, at construction, for
        the keypoints (quantiles of each numeric feature), the vocabularies of
        string features and the label statistics (initial output); its
        dataset must end. Not needed when ``model_dir`` holds a model trained
        before (its plan, ``tf_lattice_model.json``, is read instead).
      head: ``"binary"``, ``"multiclass"`` (with ``n_classes``) or
        ``"regression"``.
      n_classes: number of classes of a multiclass head.
      label_vocabulary: string labels of a classification head, in class
        order.
      weight_column: the feature key holding example weights.
      monotonicity, convexity, unimodality, trust, dominance, category_order,
        num_keypoints, lattice_size, interpolation, calibration_laplacian,
        calibration_hessian, calibration_wrinkle, lattice_laplacian,
        lattice_torsion, l2, learning_rate, random_state, implementation: as
        in :class:`tf_lattice.estimators.CalibratedLinearRegressor`, with the
        same defaults, named by feature.
      model_dir, config, warm_start_from: as ``tf.estimator.Estimator``.

    Raises:
      ValueError: at construction, before any training, for an unknown
        feature or direction in a constraint, a bad parameter, or labels and
        features that do not fit the declaration.

    Example::

      est = CalibratedLinearEstimator(
          ["age", "income"], train_input_fn, monotonicity={"income": "increasing"})
      est.train(train_input_fn)
      est.evaluate(test_input_fn)
      est.finalize()                  # the exact final projection
      assert est.certify().holds      # every constraint, on the checkpoint
      est.export("exports")           # tf.Example in, stock TensorFlow ops only
    """

    def _tfl_network(self, plan, settings):
        return _model_configs.build(_model_configs.model_config(
            "linear", list(plan.specs), self._tfl_constraints, **settings))


class CalibratedLatticeEstimator(CalibratedEstimator):
    """A calibrated lattice model as a ``tf.estimator.Estimator``.

    Calibrators onto ``[0, lattice_size - 1]``, then one lattice over every
    feature (simplex interpolation beyond six features with
    ``interpolation="auto"``). Every constraint is available, unimodality
    included. Takes the arguments of :class:`CalibratedLinearEstimator`; the
    lattice has ``lattice_size ** d`` vertices per output, so use it with up
    to about a dozen features.
    """

    _supports_unimodality = True

    def _tfl_model_params(self, num_features, lattice_size, **model_params):
        check_lattice_vertices(lattice_size, num_features)
        return super()._tfl_model_params(num_features, lattice_size, **model_params)

    def _tfl_network(self, plan, settings):
        return _model_configs.build(_model_configs.model_config(
            "lattice", list(plan.specs), self._tfl_constraints, **settings))


class CalibratedLatticeEnsembleEstimator(CalibratedEstimator):
    """A calibrated lattice ensemble as a ``tf.estimator.Estimator``.

    Shared calibrators, ``num_lattices`` lattices over ``lattice_rank``
    features each, combined by an increasing linear layer. Takes the
    arguments of :class:`CalibratedLinearEstimator` (unimodality is not
    available) and:

    Args:
      num_lattices: lattices in the ensemble (None: ``max(4, ceil(k d /
        lattice_rank))``, ``k = 3`` below 5,000 analysis rows and 6 from
        there, as the scikit-learn ensembles choose).
      lattice_rank: features per lattice.
      ensemble: ``"random"``, ``"rtl"`` (balanced random tiny lattices) or
        ``"crystals"`` (strongly interacting features together, measured on
        the analysis pass, which then needs labels).
    """

    def __init__(self, feature_columns, feature_analysis_input_fn=None, *, num_lattices=None,
                 lattice_rank=3, ensemble="rtl", **kwargs):
        super().__init__(feature_columns, feature_analysis_input_fn, num_lattices=num_lattices,
                         lattice_rank=lattice_rank, ensemble=ensemble, **kwargs)

    def _tfl_model_params(self, num_features, lattice_size, *, num_lattices, lattice_rank,
                          ensemble, **model_params):
        _check_number("num_lattices", num_lattices, 1, integer=True, allow_none=True)
        _check_number("lattice_rank", lattice_rank, 1, integer=True)
        if ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
        params = super()._tfl_model_params(num_features, lattice_size, **model_params)
        params.update(num_lattices=num_lattices, lattice_rank=lattice_rank, ensemble=ensemble)
        return params

    def _tfl_structure(self, specs, encoded, target, seed):
        params = self._tfl_params
        rank = min(int(params["lattice_rank"]), len(specs))
        count = params["num_lattices"] or default_num_lattices(len(encoded), len(specs), rank)
        if params["ensemble"] == "crystals" and target is None and rank >= 2:
            raise ValueError('ensemble="crystals" measures feature interactions against the labels: '
                             "the feature_analysis_input_fn must yield (features, labels)")
        subsets = lattice_structure(params["ensemble"], len(specs), int(count), rank,
                                    seed=structure_seed(seed), x=encoded, y=target)
        subsets = close_under_dominance(subsets, self._tfl_resolve(specs).monotonic_dominances)
        return [[specs[f].name for f in subset] for subset in subsets]

    def _tfl_lattice_dims(self, plan):
        return len(plan.lattices[0])

    @property
    def lattices(self):
        """The features each lattice reads, by name."""
        return [list(lattice) for lattice in self._tfl_plan.lattices]

    def _tfl_network(self, plan, settings):
        index = {spec.name: j for j, spec in enumerate(plan.specs)}
        subsets = [[index[name] for name in lattice] for lattice in plan.lattices]
        return _model_configs.build(_model_configs.model_config(
            "ensemble", list(plan.specs), self._tfl_constraints, lattices=subsets, **settings))
