"""Persistence of a calibrated estimator: files, SavedModels and pickling.

``PersistenceMixin`` gives
:class:`~tf_lattice.estimators._base.CalibratedEstimatorBase` ``save(path)``
(one ``.keras`` archive: the model plus a JSON member with the class, the
parameters and the fitted attributes, :mod:`tf_lattice.estimators._serialization`),
``load(path)`` (which checks the file before reading the model, then the
stored encoding against the model), ``export(path)`` and ``serving_inputs()``
(a TensorFlow SavedModel reading raw columns,
:mod:`tf_lattice.estimators._serving`), and pickling and deep copies (the
model travels as its ``.keras`` bytes).
"""

import copy
import os

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tf_lattice.estimators import _serialization, _structure
from tf_lattice.estimators._columns import NUMERIC, FeatureSpec
from tf_lattice.estimators._constraints import resolve_constraints

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


class PersistenceMixin:
    """Saving, loading, export and pickling of an estimator (a mixin of
    ``CalibratedEstimatorBase``)."""

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

    @classmethod
    def _saved_problem(cls, params, fitted):
        """Why a saved estimator of this class cannot be loaded (None: it can).

        Args:
          params: the stored parameters; fitted: the stored fitted attributes.
        """
        return None

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
        problem = cls._saved_problem(params, fitted)
        if problem:
            raise ValueError(f"{path!r}: {problem}")
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
