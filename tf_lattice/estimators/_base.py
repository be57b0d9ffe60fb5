"""The scikit-learn plumbing shared by every calibrated estimator.

A fit runs in four steps: validate the parameters and the data, learn the
column encoding (keypoints at quantiles, vocabularies), resolve the
column-named constraints, then build and train the Keras model. Subclasses
provide only ``_build_network`` (which model) and the task mixin (regression
or classification).
"""

import copy
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    check_array, check_is_fitted, check_random_state, validate_data)

from tf_lattice.constraints import Certificate, ConstraintCheck
from tf_lattice.estimators import _serialization
from tf_lattice.estimators._columns import (
    NUMERIC, FeatureSpec, encode, fit_feature_specs, to_frame)
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


def certify_network(subject, model, columns):
    """One certificate of every constrained layer of an estimator's network.

    Args:
      subject: what the certificate is about (the estimator's class).
      model: the Keras network (calibrators named ``calibrator_<j>``).
      columns: the column names, by position.

    Returns:
      A :class:`tf_lattice.constraints.Certificate`; each check's name says
      which layer (and for calibrators which column) it concerns.
    """
    checks = []
    for layer in model.layers:
        if not hasattr(layer, "certify"):
            continue
        prefix = layer.name
        if layer.name.startswith("calibrator_"):
            prefix = f"calibrator {columns[int(layer.name.split('_')[1])]!r}"
        for check in layer.certify().checks:
            checks.append(ConstraintCheck(f"{prefix}: {check.name}", check.worst_violation,
                                          check.location, check.tolerance))
    return Certificate(subject, tuple(checks))


class CalibratedEstimatorBase(BaseEstimator):
    """Parameters, validation, encoding, training, certificates and saving.

    Subclasses set ``_supports_unimodality`` and implement
    ``_build_network(specs, constraints, units, encoded, target, seed,
    initial_output)`` returning a zero-argument function that builds the Keras model.
    """

    _supports_unimodality = False

    def __init__(self, *, monotonicity=None, convexity=None, unimodality=None, trust=None,
                 dominance=None, category_order=None, num_keypoints=None, lattice_size=2,
                 interpolation="auto", calibration_laplacian=0.0, calibration_hessian=1e-4,
                 calibration_wrinkle=0.0, lattice_laplacian=0.0, lattice_torsion=0.0, l2=0.0,
                 epochs=None, batch_size=None, learning_rate=0.01, validation_fraction=0.1,
                 early_stopping=False, random_state=None, verbose=1, distribute_strategy=None,
                 implementation="kernel"):
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
            _check_number(name, getattr(self, name), 0.0)
        _check_number("epochs", self.epochs, 1, integer=True, allow_none=True)
        _check_number("batch_size", self.batch_size, 1, integer=True, allow_none=True)
        _check_number("learning_rate", self.learning_rate, 0.0, low_inclusive=False)
        _check_number("validation_fraction", self.validation_fraction, 0.0, 1.0, low_inclusive=False)
        if self.validation_fraction >= 1.0:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction!r}")
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise ValueError(f"early_stopping must be True or False, got {self.early_stopping!r}")
        _check_number("verbose", self.verbose, 0, integer=True)
        if self.distribute_strategy is not None and not hasattr(self.distribute_strategy, "scope"):
            raise ValueError("distribute_strategy must be a tf.distribute.Strategy or None, "
                             f"got {self.distribute_strategy!r}")

    def _validate_features(self, X, reset):
        """Checks ``X`` and returns it as a DataFrame with the fitted names."""
        if reset:
            for name in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, name):
                    delattr(self, name)
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
            return to_frame(X)
        return to_frame(X, feature_names=names)

    # -- fitting ---------------------------------------------------------------

    def _network_settings(self, units, num_lattice_dims, initial_output):
        interpolation = self.interpolation
        if interpolation == "auto":
            interpolation = "hypercube" if num_lattice_dims <= AUTO_HYPERCUBE_MAX_DIMS else "simplex"
        return NetworkSettings(
            units=units, lattice_size=int(self.lattice_size), interpolation=interpolation,
            implementation=self.implementation,
            initial_output=tuple(float(v) for v in initial_output),
            **{name: float(getattr(self, name)) for name in _REGULARIZATION_PARAMS})

    def _training_settings(self, seed):
        return TrainingSettings(
            epochs=self.epochs, batch_size=self.batch_size, learning_rate=float(self.learning_rate),
            validation_fraction=float(self.validation_fraction),
            early_stopping=bool(self.early_stopping), seed=seed, verbose=int(self.verbose),
            strategy=self.distribute_strategy)

    def _prepare_fit(self, X, sample_weight):
        """Validates and encodes the training data.

        Returns:
          ``(frame, encoded, sample_weight, seed)``.
        """
        self._check_params()
        frame = self._validate_features(X, reset=True)
        specs = fit_feature_specs(frame, self.num_keypoints)
        if isinstance(self.num_keypoints, dict):
            for column in self.num_keypoints:
                if str(column) not in frame.columns:
                    raise ValueError(f"num_keypoints names column {column!r}, which is not in X")
        constraints = resolve_constraints(
            specs, monotonicity=self.monotonicity, convexity=self.convexity,
            unimodality=self.unimodality, category_order=self.category_order, trust=self.trust,
            dominance=self.dominance, allow_unimodality=self._supports_unimodality)
        encoded = encode(frame, specs)
        if sample_weight is None:
            weights = np.ones(len(frame), dtype=np.float32)
        else:
            weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if weights.shape[0] != len(frame):
                raise ValueError(f"sample_weight has {weights.shape[0]} entries but X has "
                                 f"{len(frame)} rows")
            if not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError("sample_weight must be finite and non-negative")
            if weights.sum() <= 0:
                raise ValueError("sample_weight has only zero weights; at least one must be positive")
            weights = (weights * (len(weights) / weights.sum())).astype(np.float32)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self.feature_specs_ = specs
        self.constraints_ = constraints
        return frame, encoded, weights, seed

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

        Merges the certificates of every constrained layer (calibrators,
        lattices, linear layers); check names say which layer (and for
        calibrators which column) they concern.

        Returns:
          A :class:`tf_lattice.constraints.Certificate` that holds only if every
          check holds.
        """
        check_is_fitted(self, "model_")
        return certify_network(type(self).__name__, self.model_,
                               [spec.name for spec in self.feature_specs_])

    def calibrator_curves(self):
        """The learned calibrators, one dict per column.

        Returns:
          list of dicts with ``name``, ``kind`` and, for numeric columns,
          ``keypoints`` `(K,)`, ``outputs`` `(K,)` and ``missing_output``; for
          categorical columns ``categories`` (the vocabulary then
          ``"<other>"``) and ``outputs`` `(len(vocabulary) + 1,)`.
        """
        check_is_fitted(self, "model_")
        curves = []
        for j, spec in enumerate(self.feature_specs_):
            layer = self.model_.get_layer(f"calibrator_{j}")
            if spec.kind == NUMERIC:
                keypoints = np.asarray(spec.keypoints, np.float32).reshape(-1, 1)
                present = np.zeros_like(keypoints)
                outputs = np.asarray(layer([keypoints, present]))[:, 0]
                missing = float(np.asarray(layer([keypoints[:1], np.ones_like(keypoints[:1])]))[0, 0])
                curves.append({"name": spec.name, "kind": spec.kind,
                               "keypoints": np.asarray(spec.keypoints), "outputs": outputs,
                               "missing_output": missing, "monotonicity":
                               self.constraints_.features[j].monotonicity})
            else:
                buckets = np.arange(spec.num_buckets, dtype=np.float32).reshape(-1, 1)
                outputs = np.asarray(layer(buckets))[:, 0]
                curves.append({"name": spec.name, "kind": spec.kind,
                               "categories": [str(c) for c in spec.vocabulary] + ["<other>"],
                               "outputs": outputs})
        return curves

    def plot_calibrators(self, columns=None):
        """A matplotlib figure with one panel per calibrator.

        Args:
          columns: the columns to draw (default: all).
        """
        from tf_lattice import plotting
        curves = self.calibrator_curves()
        if columns is not None:
            self._check_known_columns("columns", columns)
            curves = [c for c in curves if c["name"] in [str(col) for col in columns]]
        return plotting.plot_calibrators(curves, title=type(self).__name__)

    def plot_feature(self, column):
        """A matplotlib figure of one column's learned calibrator."""
        from tf_lattice import plotting
        self._check_known_columns("column", [column])
        curve = next(c for c in self.calibrator_curves() if c["name"] == str(column))
        return plotting.plot_calibrator(curve)

    def _check_known_columns(self, argument, columns):
        check_is_fitted(self, "model_")
        names = [spec.name for spec in self.feature_specs_]
        for column in columns:
            if str(column) not in names:
                raise ValueError(f"{argument} names column {column!r}, which was not in the "
                                 f"training data (columns: {names})")

    # -- persistence ---------------------------------------------------------------

    def _fitted_payload(self):
        """JSON form of the fitted attributes (subclasses add theirs)."""
        payload = {
            "feature_specs_": [spec.to_json() for spec in self.feature_specs_],
            "n_features_in_": int(self.n_features_in_),
            "history_": self.history_,
        }
        if hasattr(self, "feature_names_in_"):
            payload["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        return payload

    def _restore_payload(self, payload):
        self.feature_specs_ = [FeatureSpec.from_json(s) for s in payload["feature_specs_"]]
        self.n_features_in_ = payload["n_features_in_"]
        self.history_ = payload["history_"]
        if "feature_names_in_" in payload:
            self.feature_names_in_ = np.asarray(payload["feature_names_in_"], dtype=object)

    def _json_params(self):
        params = self.get_params(deep=False)
        params["distribute_strategy"] = None

        def plain(value):
            if isinstance(value, dict):
                return {str(k): plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, np.generic):
                return value.item()
            if isinstance(value, np.random.RandomState):
                return None
            return value

        return {name: plain(value) for name, value in params.items()}

    def save(self, path):
        """Saves the fitted estimator to one ``.keras`` file.

        The file is a Keras archive of the model with one extra member, a JSON
        of the estimator's class, parameters and fitted attributes.

        Args:
          path: destination ending in ``.keras``.
        """
        check_is_fitted(self, "model_")
        payload = {"class": type(self).__name__, "params": self._json_params(),
                   "fitted": self._fitted_payload()}
        _serialization.write(path, self.model_, payload)

    @classmethod
    def load(cls, path):
        """Loads an estimator written by :meth:`save`.

        Raises:
          ValueError: if the file holds another estimator class.
        """
        model, payload = _serialization.read(path)
        if payload["class"] != cls.__name__:
            raise ValueError(f"{path!r} holds a {payload['class']}, not a {cls.__name__}")
        params = payload["params"]
        for name in ("trust", "dominance"):
            if params.get(name) is not None:
                params[name] = [tuple(entry) for entry in params[name]]
        if params.get("category_order") is not None:
            params["category_order"] = {k: [tuple(p) for p in v]
                                        for k, v in params["category_order"].items()}
        estimator = cls(**params)
        estimator._restore_payload(payload["fitted"])
        estimator.constraints_ = resolve_constraints(
            estimator.feature_specs_, monotonicity=params.get("monotonicity"),
            convexity=params.get("convexity"), unimodality=params.get("unimodality"),
            category_order=params.get("category_order"), trust=params.get("trust"),
            dominance=params.get("dominance"), allow_unimodality=cls._supports_unimodality)
        estimator.model_ = model
        return estimator

    def export(self, path, portable=True):
        """Writes the model as a TensorFlow SavedModel.

        The SavedModel's serving function takes the encoded float32 matrix
        `(batch, n_features)` (see :meth:`transform_features`) and returns the
        raw `(batch, units)` scores. With ``portable=True`` it uses only stock
        TensorFlow ops, so it serves without tf_lattice installed.
        """
        check_is_fitted(self, "model_")
        from tf_lattice.export import export as export_saved_model
        export_saved_model(self.model_, path, portable=portable)

    def transform_features(self, X):
        """The float32 matrix the Keras model reads (NaN marks missing values)."""
        return self._encode_for_predict(X)

    # -- pickling -------------------------------------------------------------------

    def __getstate__(self):
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
