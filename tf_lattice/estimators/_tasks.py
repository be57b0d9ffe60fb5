"""Regression and classification on top of the shared estimator base."""

import functools
import inspect
import numbers

import keras
import numpy as np
import pandas as pd
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from tf_lattice.estimators import _source_fit
from tf_lattice.estimators._base import CalibratedEstimatorBase, _normalized_weights
from tf_lattice.estimators._importance import importance_inputs
from tf_lattice.estimators._serialization import decode_array, encode_array
from tf_lattice.estimators._training import train_model


def target_standardization(y, weights):
    """``(mean, scale, standardized)`` of regression targets, without overflow.

    Targets are first divided by their largest magnitude ``m``, so the
    weighted mean and standard deviation are computed on values in
    ``[-1, 1]`` (no square or difference overflows, even for targets near the
    float64 maximum); ``mean`` and ``scale`` are these times ``m``, both at
    most ``m`` in magnitude. A constant target gets scale 1.

    Raises:
      ValueError: if the scale is not a positive finite number (it cannot
        be for finite targets; a guard against silent NaN predictions).
    """
    unit = float(np.max(np.abs(y))) if len(y) else 0.0
    if unit == 0.0:
        unit = 1.0
    unit_y = y / unit
    unit_mean = float(np.average(unit_y, weights=weights))
    unit_scale = float(np.sqrt(np.average((unit_y - unit_mean) ** 2, weights=weights)))
    mean = unit_mean * unit
    if unit_scale <= 0.0:
        return mean, 1.0, np.zeros((len(y), 1), np.float32)
    scale = unit_scale * unit
    if not (np.isfinite(mean) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"cannot standardize y: its mean ({mean!r}) or spread ({scale!r}) is not a "
                         "positive finite number; rescale the target")
    standardized = ((unit_y - unit_mean) / unit_scale).astype(np.float32).reshape(-1, 1)
    return mean, scale, standardized


def unstandardize(scores, mean, scale):
    """``scores * scale + mean`` without overflow where the result is finite.

    The product alone overflows when ``scale`` is near the float64 maximum
    (targets near +-1.8e308) although the sum is finite; ``scale * (scores +
    mean / scale)`` does not. The results are clipped to the float64 range.
    """
    limit = np.finfo(np.float64).max
    scores = np.asarray(scores, np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        direct = scores * scale + mean
        factored = scale * (scores + mean / scale)
    return np.clip(np.where(np.isfinite(direct), direct, factored), -limit, limit)


def _check_target_rows(y, num_rows):
    if len(y) != num_rows:
        raise ValueError(f"y has {len(y)} entries but X has {num_rows} rows")


def prior_scores(one_hot, sample_weight):
    """The constant scores that fit the (weighted) class frequencies.

    With class frequencies ``p_k`` (each clipped to ``[1e-3, 1 - 1e-3]``):
    binary problems get the log-odds ``log(p_1 / p_0)`` of ``classes_[1]``,
    multiclass ones the centred log-frequencies ``log p_k - mean_j log p_j``.
    A model whose scores start there starts at the best constant prediction.

    Args:
      one_hot: `(n, k)` class indicators.
      sample_weight: `(n,)` non-negative weights.

    Returns:
      tuple of 1 (binary) or ``k`` floats.
    """
    frequencies = np.average(one_hot, axis=0, weights=sample_weight)
    logs = np.log(np.clip(frequencies, 1e-3, 1.0 - 1e-3))
    if len(frequencies) == 2:
        return (float(logs[1] - logs[0]),)
    return tuple(float(v) for v in logs - logs.mean())


def class_sample_weights(class_weight, y, classes):
    """Per-row weights of ``class_weight`` (scikit-learn's meaning), `(n,)`.

    Args:
      class_weight: None (ones), ``"balanced"`` (``n / (k * count(class))``)
        or a dict class label -> non-negative weight (absent classes: 1).
      y: the labels `(n,)`.
      classes: the sorted distinct labels.

    Raises:
      ValueError: naming ``class_weight`` and the bad entry.
    """
    if class_weight is None:
        return np.ones(len(y))
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict of class label -> "
                             f"weight, got {class_weight!r}")
    elif isinstance(class_weight, dict):
        known = set(classes.tolist())
        for label, weight in class_weight.items():
            if label not in known:
                raise ValueError(f"class_weight names the class {label!r}, which is not among "
                                 f"the labels of y {list(classes)}")
            if (isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real)
                    or not np.isfinite(weight) or weight < 0):
                raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, "
                                 f"got {weight!r}")
    else:
        raise ValueError(f"class_weight must be None, 'balanced' or a dict of class label -> "
                         f"weight, got {type(class_weight).__name__}")
    return compute_sample_weight(class_weight, y)


def _with_class_weight(init):
    """``init`` with one more keyword parameter, ``class_weight=None``,
    stored as ``self.class_weight`` (and in the signature scikit-learn reads)."""

    @functools.wraps(init)
    def __init__(self, *args, class_weight=None, **params):
        init(self, *args, **params)
        self.class_weight = class_weight

    signature = inspect.signature(init)
    extra = inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None)
    __init__.__signature__ = signature.replace(
        parameters=list(signature.parameters.values()) + [extra])
    return __init__


class CalibratedRegressorBase(RegressorMixin, CalibratedEstimatorBase):
    """Least-squares regression on a standardized target.

    The network predicts ``(y - target_mean_) / target_scale_``; ``predict``
    undoes the scaling.
    """

    def fit(self, X, y=None, sample_weight=None, *, checkpoint_dir=None):
        """Fits the model.

        Args:
          X: DataFrame or 2-D array `(n_samples, n_features)`; or data read
            as a stream: a :class:`~tf_lattice.estimators.FileSource`, files
            (a glob pattern or list, with ``y`` and ``sample_weight`` naming
            columns) or a ``tf.data.Dataset`` of ``(features, y[, weight])``.
          y: numeric targets `(n_samples,)`, finite.
          sample_weight: optional non-negative weights `(n_samples,)`.
          checkpoint_dir: a directory for checkpoints; a fit started on it
            again resumes where the last one stopped (a checkpointed fit
            streams its data, even a DataFrame).

        Returns:
          self.

        Raises:
          ValueError: on bad parameters, columns, constraints or targets,
            before any training.
        """
        if _source_fit.wanted(X, self.distribute_strategy, checkpoint_dir):
            return _source_fit.fit(self, X, y, sample_weight, checkpoint_dir)
        frame, encoded, weights, seed = self._prepare_fit(X, sample_weight)
        y = column_or_1d(np.asarray(y), warn=True)
        _check_target_rows(y, len(frame))
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("y must hold numbers for a regressor") from None
        if not np.all(np.isfinite(y)):
            raise ValueError("y has NaN or infinite values; regression targets must be finite")
        self.target_mean_, self.target_scale_, target = target_standardization(y, weights)
        build = self._build_network(self.feature_specs_, self.constraints_, 1, encoded, target, seed,
                                    initial_output=(0.0,))
        self._check_model_size(1)
        self.model_, self.history_ = train_model(
            build, encoded, target, weights, keras.losses.MeanSquaredError(),
            self._training_settings(seed), description=type(self).__name__)
        self._keep_importance_inputs(importance_inputs(encoded, self.feature_specs_, seed))
        return self

    def predict(self, X):
        """Predictions `(n_samples,)`, finite (clipped to the float64 range)."""
        scores = self._raw_scores(X)[:, 0]
        return unstandardize(scores, self.target_mean_, self.target_scale_)

    def _serving_prediction(self, scores):
        """``predict`` in TensorFlow ops, from the model's `(batch, 1)` scores."""
        from tf_lattice.estimators._serving import unstandardized
        return {"predictions": unstandardized(scores, self.target_mean_, self.target_scale_)}

    def _serving_outputs(self):
        return {"predictions": {"dtype": "float64", "shape": [None]}}

    def _score_unit(self):
        return float(self.target_scale_)

    def _fitted_payload(self):
        payload = super()._fitted_payload()
        payload.update(target_mean_=self.target_mean_, target_scale_=self.target_scale_)
        return payload

    def _restore_payload(self, payload):
        super()._restore_payload(payload)
        self.target_mean_ = payload["target_mean_"]
        self.target_scale_ = payload["target_scale_"]


class CalibratedClassifierBase(ClassifierMixin, CalibratedEstimatorBase):
    """Binary (one logit) and multiclass (one score per class) classification.

    With more than two classes the network has one output per class (softmax
    cross-entropy) and every declared constraint holds on every class score:
    e.g. ``monotonicity={"x": "increasing"}`` makes each class's score
    non-decreasing in ``x``. (Class probabilities are a softmax of the scores
    and so are not individually monotone.)

    Every classifier takes, besides the shared parameters, ``class_weight``:
    None, ``"balanced"`` or a dict class label -> weight, multiplied into
    ``sample_weight`` as scikit-learn does (see :func:`class_sample_weights`).
    Subclasses get it added to their ``__init__`` (``__init_subclass__``), so
    the shared parameters are listed in one place.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "class_weight" not in inspect.signature(cls.__init__).parameters:
            cls.__init__ = _with_class_weight(cls.__init__)

    def fit(self, X, y=None, sample_weight=None, *, checkpoint_dir=None):
        """Fits the model.

        Args:
          X: DataFrame or 2-D array `(n_samples, n_features)`, or data read
            as a stream (see the regressors' ``fit``).
          y: class labels `(n_samples,)` of any type, no missing values.
          sample_weight: optional non-negative weights `(n_samples,)`.
          checkpoint_dir: a directory for checkpoints; a fit started on it
            again resumes where the last one stopped (a checkpointed fit
            streams its data, even a DataFrame).

        Returns:
          self.

        Raises:
          ValueError: on bad parameters, columns, constraints or labels,
            before any training.
        """
        if _source_fit.wanted(X, self.distribute_strategy, checkpoint_dir):
            return _source_fit.fit(self, X, y, sample_weight, checkpoint_dir)
        frame, encoded, weights, seed = self._prepare_fit(X, sample_weight)
        y = column_or_1d(y, warn=True)
        _check_target_rows(y, len(frame))
        if np.any(pd.isna(y)):
            raise ValueError("y has missing values (NaN/None); every row needs a class label")
        check_classification_targets(y)
        self.classes_, indices = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has only one class ({self.classes_[0]!r}); a classifier needs "
                             "at least 2 classes")
        if self.class_weight is not None:
            weights = _normalized_weights(
                weights * class_sample_weights(self.class_weight, y, self.classes_), len(y))
        binary = len(self.classes_) == 2
        units = 1 if binary else len(self.classes_)
        target = indices.astype(np.float32 if binary else np.int32).reshape(-1, 1)
        loss = (keras.losses.BinaryCrossentropy(from_logits=True) if binary
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        one_hot = np.eye(len(self.classes_))[indices]
        build = self._build_network(self.feature_specs_, self.constraints_, units, encoded,
                                    one_hot, seed, initial_output=prior_scores(one_hot, weights))
        self._check_model_size(units)
        self.model_, self.history_ = train_model(
            build, encoded, target, weights, loss, self._training_settings(seed),
            strata=indices, description=type(self).__name__)
        self._keep_importance_inputs(importance_inputs(encoded, self.feature_specs_, seed))
        return self

    def decision_function(self, X):
        """Scores: `(n_samples,)` logits of ``classes_[1]`` for binary
        problems, else `(n_samples, n_classes)` per-class scores."""
        scores = self._raw_scores(X)
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_proba(self, X):
        """Class probabilities `(n_samples, n_classes)`."""
        scores = self._raw_scores(X)
        if len(self.classes_) == 2:
            positive = expit(scores[:, 0])
            return np.stack([1.0 - positive, positive], axis=1)
        return softmax(scores, axis=1)

    def predict(self, X):
        """Predicted labels `(n_samples,)` (the most probable class)."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def _serving_prediction(self, scores):
        """``predict_proba`` in TensorFlow ops, from the model's scores."""
        from tf_lattice.estimators._serving import probabilities
        return {"probabilities": probabilities(scores)}

    def _serving_outputs(self):
        return {"probabilities": {"dtype": "float64", "shape": [None, len(self.classes_)],
                                  "classes": [str(c) for c in self.classes_]}}

    def _fitted_payload(self):
        payload = super()._fitted_payload()
        payload["classes_"] = encode_array(self.classes_)
        return payload

    def _restore_payload(self, payload):
        super()._restore_payload(payload)
        self.classes_ = decode_array(payload["classes_"])
