"""The scikit-learn plumbing shared by every calibrated estimator.

A fit runs in four steps: validate the parameters and the data, learn the
column encoding (keypoints at quantiles, vocabularies), resolve the
column-named constraints, then build and train the Keras model. Subclasses
provide only ``_build_network`` (which model) and the task mixin (regression
or classification).
"""

import copy
import dataclasses
import numbers
import os

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    check_array, check_is_fitted, check_random_state, validate_data)

from tf_lattice.constraints import Certificate, ConstraintCheck
from tf_lattice.estimators import _defaults, _limits, _serialization, _structure
from tf_lattice.estimators._categorical import categorical_columns
from tf_lattice.estimators._columns import (
    NUMERIC, FeatureSpec, as_dataframe, check_exact_in_model_dtype,
    duplicate_columns, encode, fit_feature_specs, to_frame)
from tf_lattice.estimators._constraints import resolve_constraints
from tf_lattice.estimators._network import NetworkSettings
from tf_lattice.estimators._training import TrainingSettings, predict_scores

INTERPOLATIONS = ("auto", "hypercube", "simplex")
IMPLEMENTATIONS = ("kernel", "portable")
#: With ``interpolation="auto"``, lattices of more dimensions than this use
#: simplex interpolation (O(d log d) per example instead of O(2^d d)).
AUTO_HYPERCUBE_MAX_DIMS = 6

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


def certify_network(subject, model, specs, constraints):
    """One certificate of an estimator's network: its layers and its declared constraints.

    Each column's calibrator, found by tracing the model graph
    (:func:`_structure.layers_reading_column`), is certified on its own unit;
    every other constrained layer is certified whole; then
    :func:`_structure.declared_checks` compares the network's structure with
    the declared constraints (a column without a calibrator fails there).

    Args:
      subject: what the certificate is about (the estimator's class name).
      model: the Keras network built by :mod:`tf_lattice.estimators._network`.
      specs: the feature specs, by column position.
      constraints: the resolved constraints the network was built with.

    Returns:
      A :class:`tf_lattice.constraints.Certificate`; each check's name says
      which layer (and for calibrators which column) it concerns.
    """
    checks, calibration_layers = [], set()
    for j, spec in enumerate(specs):
        for layer, unit in _structure.layers_reading_column(model, j):
            calibration_layers.add(id(layer))
            for check in layer.certify(units=[unit]).checks:
                checks.append(ConstraintCheck(f"calibrator {spec.name!r}: {check.name}",
                                              check.worst_violation, check.location,
                                              check.tolerance))
    for layer in model.layers:
        if not hasattr(layer, "certify") or id(layer) in calibration_layers:
            continue
        for check in layer.certify().checks:
            checks.append(ConstraintCheck(f"{layer.name}: {check.name}", check.worst_violation,
                                          check.location, check.tolerance))
    checks += _structure.declared_checks(model, specs, constraints)
    return Certificate(subject, tuple(checks))


_RESAVE = ("re-save it: load it with the tf_lattice version that wrote it and call save(), or "
           "fit the estimator again and save it")


def _missing_field(path, field):
    return ValueError(f"{path!r} lacks the field {field!r} in its "
                      f"{_serialization.ESTIMATOR_MEMBER} (written by another version of "
                      f"tf_lattice, or edited); {_RESAVE}")


def _stored_field(container, field, path, kind=None, prefix=""):
    """``container[field]``, or ValueError naming the missing (or malformed) field."""
    if not isinstance(container, dict) or field not in container:
        raise _missing_field(path, prefix + field)
    value = container[field]
    if kind is not None and not isinstance(value, kind):
        raise ValueError(f"{path!r}: the field {prefix + field!r} of its "
                         f"{_serialization.ESTIMATOR_MEMBER} is a {type(value).__name__}, "
                         f"expected a {kind.__name__}; {_RESAVE}")
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


class CalibratedEstimatorBase(BaseEstimator):
    """Parameters, validation, encoding, training, certificates and saving.

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

    def _network_settings(self, units, num_lattice_dims, initial_output):
        settings = self._settings
        interpolation = self.interpolation
        if interpolation == "auto":
            interpolation = "hypercube" if num_lattice_dims <= AUTO_HYPERCUBE_MAX_DIMS else "simplex"
        return NetworkSettings(
            units=units, lattice_size=int(settings.lattice_size), interpolation=interpolation,
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

        Reads the structure ``_build_network`` chose: ``lattices_`` and
        ``second_lattices_`` of ensembles and deep lattice networks, or one
        lattice over every column.
        """
        size = int(self.lattice_size)
        lattices = [([size] * len(subset), 1) for subset in getattr(self, "lattices_", None) or ()]
        lattices += [([size] * len(subset), 1)
                     for subset in getattr(self, "second_lattices_", None) or ()]
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

    # -- inspection ---------------------------------------------------------------

    def certify(self):
        """Checks every declared constraint exactly on the fitted model.

        Two kinds of checks:

        - every constrained layer's certificate: its weights satisfy its own
          settings (each column's calibrator unit, then lattices and linear
          layers; check names say which column or layer);
        - per constraint the user declared (``monotonicity``, ``convexity``,
          ``unimodality``, ``category_order``, ``trust``, ``dominance``), a
          structural check that the model carries it: the calibrator reading
          the column has the declared shape (direction included) and every
          later layer keeps it (see :mod:`tf_lattice.estimators._structure`).
          A model whose layers do not carry a declared constraint fails here
          even when each layer meets its own settings.

        Where the shapes hold: monotonicity, unimodality, category orders,
        trust and dominance on the whole input space; a declared convexity on
        the whole real line for calibrated linear models (their convex and
        concave calibrators continue their end segments) and, for lattice
        models, on the column's calibrator between its first and last
        keypoint (the check's name states the domain). The checks are exact
        on the weights; the network computes in float32, whose rounding can
        move a prediction against a declared direction by at most
        :meth:`monotonicity_tolerance`.

        Returns:
          A :class:`tf_lattice.constraints.Certificate` that holds only if every
          check holds.
        """
        check_is_fitted(self, "model_")
        return certify_network(type(self).__name__, self.model_, self.feature_specs_,
                               self.constraints_)

    def monotonicity_tolerance(self, X):
        """The largest move against a declared direction that rounding can cause.

        The constraints hold exactly in real arithmetic; the network computes
        in float32, whose rounding (at most a few units in the last place at
        each interpolation) can make the prediction for a row that is larger
        along an increasing column smaller by up to

            2^-18 * max(1, max_i |s_i|) * c

        where ``s_i`` are the network's scores on the rows of ``X`` and ``c``
        converts scores to the units of the prediction (``target_scale_`` for
        regressors; 1 for classifiers, whose scores are the
        ``decision_function`` logits). That is 32 float32 units in the last
        place of the largest score.

        Args:
          X: the rows whose predictions are compared.

        Returns:
          float, in the units of ``predict`` (regressors) or
          ``decision_function`` (classifiers).
        """
        largest = float(np.max(np.abs(self._raw_scores(X)), initial=0.0))
        return 2.0 ** -18 * max(1.0, largest) * self._score_unit()

    def _score_unit(self):
        """Prediction units per unit of network score."""
        return 1.0

    def _column_calibrators(self):
        """The ``(layer, unit)`` calibrating each column of the fitted model."""
        calibrators = []
        for j, spec in enumerate(self.feature_specs_):
            found = _structure.layers_reading_column(self.model_, j)
            if len(found) != 1:
                raise ValueError(f"the model has {len(found)} calibrators of column {spec.name!r}, "
                                 "expected 1")
            calibrators.append(found[0])
        return calibrators

    def calibrator_curves(self):
        """The learned calibrators, one dict per column.

        Returns:
          list of dicts with ``name``, ``kind`` and, for numeric columns,
          ``keypoints`` `(K,)`, ``outputs`` `(K,)` (the calibrator is linear
          between keypoints and, beyond them, flat or continuing its end
          segments as ``extrapolation`` says) and ``missing_output``; for
          categorical columns ``categories`` (the vocabulary then
          ``"<other>"``) and ``outputs`` `(len(vocabulary) + 1,)`. Every dict
          also has ``has_missing`` and ``has_other`` (whether training rows
          reached the missing output or the default bucket: see
          :class:`~tf_lattice.estimators._columns.FeatureSpec`) and the
          column's declared ``monotonicity``, ``convexity``, ``unimodality``
          and ``category_order`` (vocabulary index pairs).
        """
        check_is_fitted(self, "model_")
        curves = []
        for spec, feature, (layer, unit) in zip(self.feature_specs_, self.constraints_.features,
                                               self._column_calibrators()):
            shared = {"name": spec.name, "kind": spec.kind, "has_missing": spec.has_missing,
                      "has_other": spec.has_other, **dataclasses.asdict(feature)}
            if spec.kind == NUMERIC:
                keypoints = np.broadcast_to(layer.input_keypoints,
                                            (layer.units, layer.num_keypoints))[unit]
                outputs = np.asarray(layer.keypoints_outputs(), np.float64)[unit]
                curves.append({**shared, "keypoints": np.array(keypoints), "outputs": outputs,
                               "missing_output": float(np.asarray(layer.missing_output)[unit]),
                               "extrapolation": layer.unit_extrapolations[unit]})
            else:
                outputs = np.asarray(layer.kernel, np.float64)[unit, :spec.num_buckets]
                curves.append({**shared, "outputs": outputs,
                               "categories": [str(c) for c in spec.vocabulary] + ["<other>"]})
        return curves

    def plot_calibrators(self, columns=None):
        """A matplotlib figure with one panel per calibrator.

        Args:
          columns: the columns to draw (names or positions; default: all).

        See :class:`tf_lattice.plotting.CalibratorDisplay`, which this draws
        (its ``figure_``).
        """
        from tf_lattice.plotting import CalibratorDisplay
        return CalibratorDisplay.from_estimator(self, columns=columns).figure_

    def plot_feature(self, column):
        """A matplotlib figure of one column's learned calibrator."""
        from tf_lattice.plotting import CalibratorDisplay
        return CalibratorDisplay.from_estimator(self, columns=[column]).figure_

    # -- persistence ---------------------------------------------------------------

    def _fitted_payload(self):
        """JSON form of the fitted attributes (subclasses add theirs)."""
        payload = {
            "feature_specs_": [spec.to_json() for spec in self.feature_specs_],
            "n_features_in_": int(self.n_features_in_),
            "history_": self.history_,
            "resolved_params_": getattr(self, "resolved_params_", None),
        }
        if hasattr(self, "feature_names_in_"):
            payload["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        if hasattr(self, "feature_importances_"):
            payload["feature_importances_"] = [float(v) for v in self.feature_importances_]
        return payload

    def _restore_payload(self, payload):
        self.feature_specs_ = [FeatureSpec.from_json(s) for s in payload["feature_specs_"]]
        self.n_features_in_ = payload["n_features_in_"]
        self.history_ = payload["history_"]
        if payload.get("resolved_params_") is not None:
            self.resolved_params_ = payload["resolved_params_"]
        if "feature_names_in_" in payload:
            self.feature_names_in_ = np.asarray(payload["feature_names_in_"], dtype=object)
        if "feature_importances_" in payload:  # absent from files of earlier versions
            self.feature_importances_ = np.asarray(payload["feature_importances_"], np.float64)

    def _json_params(self):
        params = self.get_params(deep=False)
        params["distribute_strategy"] = None
        return {name: _serialization.encode_param(value) for name, value in params.items()}

    def save(self, path):
        """Saves the fitted estimator to one ``.keras`` file.

        The file is a Keras archive of the model with one extra member, a JSON
        of the estimator's class, parameters and fitted attributes.

        Args:
          path: destination ending in ``.keras``.

        Prefer this to pickling for exchanging models: :meth:`load` checks
        the file before reading it, while unpickling runs arbitrary code.
        """
        check_is_fitted(self, "model_")
        payload = {"class": type(self).__name__, "params": self._json_params(),
                   "fitted": self._fitted_payload()}
        _serialization.write(path, self.model_, payload)

    @classmethod
    def load(cls, path):
        """Loads an estimator written by :meth:`save`.

        The estimator description is checked before the model is read: its
        class, its fields, its parameters; the model archive is checked for
        code and oversized lattices (see
        :mod:`tf_lattice.estimators._serialization`); then the stored encoding
        (keypoints, vocabularies) must match the model's calibrators.

        Raises:
          ValueError: naming the file and the problem: another estimator
            class, a missing field (with how to re-save), an unsafe archive,
            an encoding that does not match the model.
        """
        path = os.fspath(path)
        payload = _serialization.read_payload(path)
        name = _stored_field(payload, "class", path)
        if name != cls.__name__:
            raise ValueError(f"{path!r} holds a {name}, not a {cls.__name__}")
        params = _serialization.decode_param(_stored_field(payload, "params", path, dict))
        fitted = _stored_field(payload, "fitted", path, dict)
        for name in ("trust", "dominance"):
            if params.get(name) is not None:
                params[name] = [tuple(entry) for entry in params[name]]
        if isinstance(params.get("category_order"), dict):
            params["category_order"] = {k: [tuple(p) for p in v]
                                        for k, v in params["category_order"].items()}
        try:
            estimator = cls(**params)
        except TypeError as error:
            raise ValueError(f"{path!r}: the stored parameters do not fit {cls.__name__} "
                             f"({error}); {_RESAVE}") from None
        specs = _stored_field(fitted, "feature_specs_", path, list, "fitted.")
        for j, spec in enumerate(specs):
            for field in ("name", "kind", "keypoints", "vocabulary", "has_missing"):
                _stored_field(spec, field, path, None, f"fitted.feature_specs_[{j}].")
        try:
            estimator._restore_payload(fitted)
        except KeyError as error:
            raise _missing_field(path, f"fitted.{error.args[0]}") from None
        try:
            estimator.constraints_ = resolve_constraints(
                estimator.feature_specs_, monotonicity=params.get("monotonicity"),
                convexity=params.get("convexity"), unimodality=params.get("unimodality"),
                category_order=params.get("category_order"), trust=params.get("trust"),
                dominance=params.get("dominance"), allow_unimodality=cls._supports_unimodality)
        except ValueError as error:
            raise ValueError(f"{path!r}: the stored constraints do not fit the stored columns "
                             f"({error})") from None
        model = _serialization.read_model(path)
        problem = _structure.check_encoding(model, estimator.feature_specs_)
        if problem:
            raise ValueError(f"{path!r}: {problem}: the stored encoding does not match the model "
                             "(the file was edited or assembled from two models); fit and save "
                             "the estimator again")
        estimator.model_ = model
        return estimator

    def export(self, path, portable=True):
        """Writes the model as a TensorFlow SavedModel that reads raw columns.

        Its ``serving_default`` signature takes one `(batch,)` tensor per
        training column (float64 numbers with NaN for missing values, strings
        for categorical columns; input names from :meth:`serving_inputs`),
        encodes them in the graph as :meth:`transform_features` does and
        returns ``predict``'s values: ``probabilities`` `(batch, n_classes)`
        for classifiers, ``predictions`` `(batch,)` for regressors. The
        ``serve`` signature takes the encoded float32 matrix
        `(batch, n_features)` and returns the raw `(batch, units)` scores.
        See :mod:`tf_lattice.estimators._serving` for the details.

        With ``portable=True`` the graph uses only stock TensorFlow ops, so it
        serves without tf_lattice installed (TensorFlow Serving, any
        TensorFlow process, ONNX converters).

        Args:
          path: the output directory.
          portable: replace the compiled kernels by their pure-TensorFlow
            twins (True) or keep them (False; loading then needs tf_lattice's
            library).

        Returns:
          ``path``.

        Raises:
          ValueError: a categorical column with two categories of the same
            text (``3`` and ``"3"``), which a request could not tell apart.
        """
        check_is_fitted(self, "model_")
        from tf_lattice.estimators import _serving
        from tf_lattice.saved_model import check_portable, portable_clone
        model = portable_clone(self.model_) if portable else self.model_
        _serving.write(model, path, self.feature_specs_, self._serving_prediction,
                       self._serving_outputs())
        if portable:
            check_portable(os.fspath(path), type(self).__name__)
        return path

    def serving_inputs(self):
        """The exported signature's input per column: ``{column: (name, dtype)}``.

        ``dtype`` is ``"float64"`` for numeric and boolean columns (NaN for
        missing values) and ``"string"`` for categorical ones; names follow
        :func:`tf_lattice.estimators._serving.input_names`.
        """
        check_is_fitted(self, "model_")
        from tf_lattice.estimators import _serving
        names = _serving.input_names(spec.name for spec in self.feature_specs_)
        return {spec.name: (name, "float64" if spec.kind == NUMERIC else "string")
                for spec, name in zip(self.feature_specs_, names)}

    def transform_features(self, X):
        """The float32 matrix the Keras model reads (NaN marks missing values)."""
        return self._encode_for_predict(X)

    # -- pickling -------------------------------------------------------------------

    def __getstate__(self):
        """Pickling support (the model travels as its ``.keras`` bytes).

        Warning: unpickling runs arbitrary code chosen by whoever wrote the
        pickle. Unpickle only data you trust; to exchange models use
        :meth:`save` and :meth:`load`, which check the file (see the Security
        section of the README).
        """
        state = self.__dict__.copy()
        state["distribute_strategy"] = None
        if "model_" in state:
            state["model_"] = _serialization.model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("model_"), bytes):
            state["model_"] = _serialization.model_from_bytes(state["model_"])
        self.__dict__.update(state)

    def __deepcopy__(self, memo):
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        strategy = state.pop("distribute_strategy", None)
        clone.__dict__.update(copy.deepcopy(state, memo))
        clone.distribute_strategy = strategy
        if model is not None:
            clone.model_ = _serialization.model_from_bytes(_serialization.model_to_bytes(model))
        return clone
