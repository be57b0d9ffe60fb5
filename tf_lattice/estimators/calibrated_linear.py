"""Calibrated linear models: a calibrator per feature, then a weighted sum."""

from tf_lattice.estimators import _model_configs
from tf_lattice.estimators._tasks import CalibratedClassifierBase, CalibratedRegressorBase


class _CalibratedLinear:
    """``f(x) = b + sum_j w_j c_j(x_j)`` with PWL or categorical calibrators
    ``c_j`` and ``w_j >= 0`` for every shaped feature (so a monotone or
    convex ``c_j`` makes ``f`` monotone or convex in ``x_j``)."""

    _supports_unimodality = False

    def _build_network(self, specs, constraints, units, encoded, target, seed,
                       initial_output):
        config = _model_configs.model_config(
            "linear", specs, constraints, **self._model_settings(units, initial_output))
        return lambda: _model_configs.build(config)


class CalibratedLinearRegressor(_CalibratedLinear, CalibratedRegressorBase):
    """Calibrated linear regression on DataFrames.

    Args (keyword-only, shared by every tf_lattice estimator):
      monotonicity: dict column -> ``"increasing"`` | ``"decreasing"``.
      convexity: dict column -> ``"convex"`` | ``"concave"`` (numeric columns).
      unimodality: dict column -> ``"valley"`` | ``"peak"`` (lattice models).
      trust: list of ``(main, conditional, direction[, kind])``: the effect of
        monotone ``main`` grows (``"increasing"``) or shrinks with the
        calibrated ``conditional``; kind ``"edgeworth"`` or ``"trapezoid"``
        (lattice models).
      dominance: list of ``(dominant, weak)`` monotone columns.
      category_order: dict column -> list of ``(lower, higher)`` categories.
      num_keypoints: the most keypoints per numeric calibrator (int, or dict
        per column), placed at quantiles of the training data (all distinct
        values when there are fewer; quantiles merged by a value many rows
        share are spent on the other rows). None (the default, and columns a
        dict omits): ``clip(round(2 n^(1/3)), 10, 40)`` for ``n`` training
        rows, e.g. 12 for 200 rows and 40 from 8,000 rows on; calibrated
        linear models take at most ``1 + floor(n / (10 d))`` of them for
        ``d`` columns (ten rows per calibrator slope), at least 2.
      lattice_size: vertices per lattice dimension.
      interpolation: ``"auto"``, ``"hypercube"`` or ``"simplex"``.
      calibration_laplacian, calibration_hessian, calibration_wrinkle,
        lattice_laplacian, lattice_torsion, l2: regularization amounts (l2
        penalties on the first, second and third differences of calibrator
        outputs, on lattice differences and torsion, on linear weights). None
        (the default): chosen from the number of rows ``n``: l2 ``1.5 / n``
        (0 for calibrated linear models whose calibrators are affine),
        hessian ``1e-4``, for models with lattices below 1,000 rows wrinkle
        ``150 / n``, the others 0.
      epochs, batch_size: None picks them from the data size.
      learning_rate: Adam step size.
      validation_fraction, early_stopping: hold out rows and stop when their
        loss stops improving. ``early_stopping="auto"`` (the default) turns it
        on from 10,000 rows (fits held in memory) for the calibrated lattice
        and the deep lattice network; calibrated linear models and ensembles
        train on every row without it.
      random_state: seed (int), RandomState or None.
      verbose: 0 quiet, 1 progress bar on a terminal or in a notebook, 2 always.
      distribute_strategy: a `tf.distribute.Strategy` to train under.
      implementation: ``"kernel"`` (tf_lattice's compiled ops) or
        ``"portable"`` (stock TensorFlow ops only).
      categorical_features: columns to calibrate as categories whatever
        their dtype (integer codes): names, int positions or a boolean mask
        (as in ``HistGradientBoosting*``); None: kinds follow dtypes.
      class_weight (classifiers only): None, ``"balanced"`` or a dict class
        label -> weight, multiplied into ``sample_weight``.

    Every automatic choice is made by
    :func:`tf_lattice.estimators._defaults.resolve_defaults` (its module
    docstring states the rules) and reported in ``resolved_params_``:
    ``type(est)(**est.get_params() | est.resolved_params_)`` fits the same
    model.

    Attributes:
      resolved_params_: dict, the settings the fit used, automatic ones
        resolved (keypoints, lattices, regularization amounts, epochs, batch
        size, early stopping).
      model_: the fitted Keras model.
      feature_specs_: encoding of each column (keypoints, vocabulary).
      constraints_: the resolved constraints, a ``ModelConstraints``: ``features``
        holds one :class:`~tf_lattice.models.FeatureConfig` per column, named by
        it, with its declared shape (not placed: ``keypoints`` and
        ``lattice_size`` are None); ``edgeworth_trusts``, ``trapezoid_trusts``
        and ``monotonic_dominances`` hold the pairwise constraints by column
        position.
      history_: per-epoch losses.
      feature_importances_: `(n_features,)`, summing to 1: each column's
        mean absolute change of the scores when it is set to its median (or
        most frequent category), on up to 1,000 training rows (see
        :mod:`tf_lattice.estimators._importance`).
      target_mean_, target_scale_: the target standardization.
      n_features_in_, feature_names_in_: as in scikit-learn.

    Example:
      >>> import pandas as pd
      >>> X = pd.DataFrame({"size": [1.0, 2, 3, 4], "kind": ["a", "b", "a", "b"]})
      >>> reg = CalibratedLinearRegressor(monotonicity={"size": "increasing"},
      ...                                 epochs=2, verbose=0).fit(X, [1.0, 2, 3, 4])
      >>> reg.predict(X).shape
      (4,)
    """


class CalibratedLinearClassifier(_CalibratedLinear, CalibratedClassifierBase):
    """Calibrated linear classification on DataFrames (binary and multiclass).

    Takes the parameters of :class:`CalibratedLinearRegressor`. With more than
    two classes each class has its own linear score over shared calibrators and
    every constraint holds on every class score.

    Attributes:
      classes_: the class labels.
      model_, feature_specs_, constraints_, history_, feature_importances_,
      n_features_in_, feature_names_in_: as for the regressor.
    """
