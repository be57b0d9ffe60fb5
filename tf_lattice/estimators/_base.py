"""The scikit-learn plumbing shared by every calibrated estimator: fitting.

A fit runs in four steps: validate the parameters and the data, learn the
column encoding (keypoints at quantiles, vocabularies), resolve the
column-named constraints, then build and train the Keras model. Subclasses
provide only ``_build_network`` (which model) and the task mixin (regression
or classification). This module holds the parameters, their validation, the
data checks and encoding and the settings of a fit; the inspection of a
fitted estimator (certificates, calibrator curves, figures) is in
:mod:`tf_lattice.estimators._inspection`, saving, loading, export and
pickling in :mod:`tf_lattice.estimators._persistence`.
"""

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    check_array, check_is_fitted, check_random_state, validate_data)

from tf_lattice.estimators import _defaults, _limits
from tf_lattice.estimators._categorical import categorical_columns
from tf_lattice.estimators._columns import (
    NUMERIC, as_dataframe, check_exact_in_model_dtype,
    duplicate_columns, encode, fit_feature_specs, to_frame)
from tf_lattice.estimators._constraints import resolve_constraints
from tf_lattice.estimators._inspection import InspectionMixin
from tf_lattice.estimators._persistence import PersistenceMixin
from tf_lattice.estimators._training import TrainingSettings, predict_scores

INTERPOLATIONS = ("auto", "hypercube", "simplex")
IMPLEMENTATIONS = ("kernel", "portable")

_REGULARIZATION_PARAMS = ("calibration_laplacian", "calibration_hessian", "calibration_wrinkle",
                          "lattice_laplacian", "lattice_torsion", "l2")


def _check_number(name, value, low, high=None, integer=False, low_inclusive=True, allow_none=False):
    if value is None and allow_none:
        return value
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")
    too_low = value < low if low_inclusive else value <= low
    if too_low or (high is not None and value > high) or not np.isfinite(value):
        bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def _normalized_weights(sample_weight, num_rows):
    """Sample weights scaled to mean 1, in float32.

    The scaling runs in float64 and first divides by the largest weight, so
    weights up to the float64 maximum (1e300) neither overflow nor lose their
    ratios; weights below float32 resolution relative to the largest become 0.
    """
    if sample_weight is None:
        return np.ones(num_rows, dtype=np.float32)
    try:
        weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must hold numbers") from None
    if weights.shape[0] != num_rows:
        raise ValueError(f"sample_weight has {weights.shape[0]} entries but X has {num_rows} rows")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    largest = weights.max()
    if largest <= 0:
        raise ValueError("sample_weight has only zero weights; at least one must be positive")
    weights = weights / largest
    return (weights * (num_rows / weights.sum())).astype(np.float32)


class CalibratedEstimatorBase(InspectionMixin, PersistenceMixin, BaseEstimator):
    """Parameters, validation, encoding, training, certificates and saving.

    Certificates and calibrator curves come from
    :class:`~tf_lattice.estimators._inspection.InspectionMixin`; saving,
    loading, export and pickling from
    :class:`~tf_lattice.estimators._persistence.PersistenceMixin`.

    Subclasses set ``_supports_unimodality`` and implement
    ``_build_network(specs, constraints, units, encoded, target, seed,
    initial_output)`` returning a zero-argument function that builds the Keras model.
    """

    _supports_unimodality = False
    #: The model kind `_defaults.resolve_defaults` resolves for.
    _model_kind = "linear"

    def __init__(self, *, monotonicity=None, convexity=None, unimodality=None, trust=None,
                 dominance=None, category_order=None, num_keypoints=None, lattice_size=2,
                 interpolation="auto", calibration_laplacian=None, calibration_hessian=None,
                 calibration_wrinkle=None, lattice_laplacian=None, lattice_torsion=None, l2=None,
                 epochs=None, batch_size=None, learning_rate=0.01, validation_fraction=0.1,
                 early_stopping="auto", random_state=None, verbose=1, distribute_strategy=None,
                 implementation="kernel", categorical_features=None):
        self.monotonicity = monotonicity
        self.convexity = convexity
        self.unimodality = unimodality
        self.trust = trust
        self.dominance = dominance
        self.category_order = category_order
        self.num_keypoints = num_keypoints
        self.lattice_size = lattice_size
        self.interpolation = interpolation
        self.calibration_laplacian = calibration_laplacian
        self.calibration_hessian = calibration_hessian
        self.calibration_wrinkle = calibration_wrinkle
        self.lattice_laplacian = lattice_laplacian
        self.lattice_torsion = lattice_torsion
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.verbose = verbose
        self.distribute_strategy = distribute_strategy
        self.implementation = implementation
        self.categorical_features = categorical_features

    # -- scikit-learn metadata ------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        return tags

    # -- validation -----------------------------------------------------------

    def _check_params(self):
        """Validates every plain parameter; raises ValueError naming it."""
        if isinstance(self.num_keypoints, dict):
            for column, count in self.num_keypoints.items():
                _check_number(f"num_keypoints[{column!r}]", count, 2, integer=True)
        else:
            _check_number("num_keypoints", self.num_keypoints, 2, integer=True, allow_none=True)
        _check_number("lattice_size", self.lattice_size, 2, integer=True)
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {self.implementation!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        for name in _REGULARIZATION_PARAMS:
            _check_number(name, getattr(self, name), 0.0, allow_none=True)
        _check_number("epochs", self.epochs, 1, integer=True, allow_none=True)
        _check_number("batch_size", self.batch_size, 1, integer=True, allow_none=True)
        _check_number("learning_rate", self.learning_rate, 0.0, low_inclusive=False)
        _check_number("validation_fraction", self.validation_fraction, 0.0, 1.0, low_inclusive=False)
        if self.validation_fraction >= 1.0:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction!r}")
        if not (isinstance(self.early_stopping, (bool, np.bool_)) or
                (isinstance(self.early_stopping, str) and self.early_stopping == _defaults.AUTO)):
            raise ValueError(f"early_stopping must be True, False or 'auto', got "
                             f"{self.early_stopping!r}")
        _check_number("verbose", self.verbose, 0, integer=True)
        if self.distribute_strategy is not None and not hasattr(self.distribute_strategy, "scope"):
            raise ValueError("distribute_strategy must be a tf.distribute.Strategy or None, "
                             f"got {self.distribute_strategy!r}")

    def _validate_features(self, X, reset):
        """Checks ``X`` and returns it as a DataFrame with the fitted names.

        Data frames other than pandas (polars, ...) are converted first, with
        their column names. At predict time a DataFrame's columns are matched
        by name: any order is accepted, missing and unexpected columns are
        refused naming them. Data given without names where fit had names (or
        the reverse) is matched by position, with scikit-learn's warning.
        """
        X = as_dataframe(X)
        if isinstance(X, pd.DataFrame):
            duplicates = duplicate_columns(X)
            if duplicates:
                raise ValueError(f"X has duplicate column names {duplicates}; every column needs "
                                 "its own name")
        if reset:
            for name in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, name):
                    delattr(self, name)
        elif isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            X = self._match_columns_by_name(X)
        if not isinstance(X, pd.DataFrame):
            # Arrays get scikit-learn's checks: 2-D, dense, real, non-empty, no inf.
            X = check_array(X, dtype=None, accept_sparse=False, ensure_all_finite="allow-nan",
                            ensure_min_samples=1, ensure_min_features=1)
        validate_data(self, X, reset=reset, skip_check_array=True)
        if reset:
            frame = to_frame(X)
            if len(frame) == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={frame.shape}) while a "
                                 "minimum of 1 is required.")
            if frame.shape[1] == 0:
                raise ValueError(f"Found array with 0 feature(s) (shape={frame.shape}) while a "
                                 "minimum of 1 is required.")
            if len(set(frame.columns)) != frame.shape[1]:
                raise ValueError(f"X has duplicate column names: {list(frame.columns)}")
            return frame
        names = [spec.name for spec in self.feature_specs_]
        if isinstance(X, pd.DataFrame):
            frame = to_frame(X)
            if not hasattr(self, "feature_names_in_"):
                # Fitted without names: columns count by position, as in scikit-learn.
                frame.columns = names
        else:
            frame = to_frame(X, feature_names=names)
        return frame

    def _match_columns_by_name(self, X):
        """``X``'s training columns in training order; refuses missing and extra ones."""
        fitted = [str(name) for name in self.feature_names_in_]
        given = [str(name) for name in X.columns]
        missing = [name for name in fitted if name not in given]
        unexpected = [name for name in given if name not in fitted]
        if missing or unexpected:
            # scikit-learn's wording, so the message reads as theirs does.
            message = "The feature names should match those that were passed during fit.\n"
            if unexpected:
                message += "Feature names unseen at fit time:\n" + "".join(
                    f"- {name}\n" for name in unexpected)
            if missing:
                message += "Feature names seen at fit time, yet now missing:\n" + "".join(
                    f"- {name}\n" for name in missing)
            raise ValueError(message + "(columns are matched by name; their order does not "
                                       "matter)")
        if given == fitted:
            return X
        positions = [given.index(name) for name in fitted]
        return X.iloc[:, positions]

    # -- fitting ---------------------------------------------------------------

    def _resolve_settings(self, num_rows, columns, streamed=False):
        """Resolves the automatic settings for ``num_rows`` rows of ``columns``.

        Sets ``resolved_params_`` (see `_defaults.resolve_defaults`) and returns
        the `_defaults.ResolvedSettings` every later step of the fit reads.
        """
        from sklearn.base import is_classifier

        settings = _defaults.resolve_defaults(
            num_rows, len(columns), "classification" if is_classifier(self) else "regression",
            self.get_params(deep=False), model=self._model_kind,
            columns=[str(c) for c in columns], streamed=streamed)
        self._settings = settings
        self.resolved_params_ = _defaults.describe(settings)
        return settings

    def _model_settings(self, units, initial_output):
        """The keyword arguments of `_model_configs.model_config` of this fit:
        sizes, interpolation, implementation, initial output and the resolved
        regularization amounts."""
        settings = self._settings
        return dict(
            units=units, lattice_size=int(settings.lattice_size),
            interpolation=settings.interpolation or "hypercube",
            implementation=self.implementation,
            initial_output=tuple(float(v) for v in initial_output),
            **{name: float(getattr(settings, name)) for name in _REGULARIZATION_PARAMS})

    def _training_settings(self, seed):
        settings = self._settings
        return TrainingSettings(
            epochs=settings.epochs, batch_size=settings.batch_size,
            learning_rate=float(settings.learning_rate),
            validation_fraction=float(settings.validation_fraction),
            early_stopping=bool(settings.early_stopping), seed=seed, verbose=int(self.verbose),
            strategy=self.distribute_strategy)

    def _prepare_fit(self, X, sample_weight):
        """Validates and encodes the training data.

        Returns:
          ``(frame, encoded, sample_weight, seed)``.
        """
        self._check_params()
        frame = self._validate_features(X, reset=True)
        settings = self._resolve_settings(len(frame), list(frame.columns))
        specs = fit_feature_specs(frame, settings.num_keypoints, categorical_columns(
            self.categorical_features, list(frame.columns)))
        if isinstance(self.num_keypoints, dict):
            for column in self.num_keypoints:
                if str(column) not in frame.columns:
                    raise ValueError(f"num_keypoints names column {column!r}, which is not in X")
        constraints = resolve_constraints(
            specs, monotonicity=self.monotonicity, convexity=self.convexity,
            unimodality=self.unimodality, category_order=self.category_order, trust=self.trust,
            dominance=self.dominance, allow_unimodality=self._supports_unimodality)
        for spec, feature in zip(specs, constraints.features):
            if spec.kind == NUMERIC and feature.shaped:
                check_exact_in_model_dtype(frame[spec.name])
        encoded = encode(frame, specs)
        weights = _normalized_weights(sample_weight, len(frame))
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self.feature_specs_ = specs
        self.constraints_ = constraints
        return frame, encoded, weights, seed

    def _check_model_size(self, units):
        """Refuses, before allocation, lattices too large to train (see `_limits`).

        Reads the structure ``_build_network`` chose: ``lattices_`` of
        ensembles, or one lattice over every column (deep lattice networks
        check their blocks themselves).
        """
        size = int(self.lattice_size)
        lattices = [([size] * len(subset), 1) for subset in getattr(self, "lattices_", None) or ()]
        if not lattices and self._supports_unimodality:  # one lattice over every column
            lattices = [([size] * len(self.feature_specs_), units)]
        _limits.check_lattices(lattices, f"this {type(self).__name__}")

    def _encode_for_predict(self, X):
        check_is_fitted(self, "model_")
        frame = self._validate_features(X, reset=False)
        return encode(frame, self.feature_specs_)

    def _raw_scores(self, X):
        """The model's `(n, units)` outputs on ``X``."""
        encoded = self._encode_for_predict(X)
        if len(encoded) == 0:
            return np.zeros((0, self.model_.output_shape[-1]), dtype=np.float64)
        return predict_scores(self.model_, encoded)

    def transform_features(self, X):
        """The float32 matrix the Keras model reads (NaN marks missing values)."""
        return self._encode_for_predict(X)
