"""Inspection of a fitted calibrated estimator: certificates and calibrators.

``InspectionMixin`` gives
:class:`~tf_lattice.estimators._base.CalibratedEstimatorBase` its read-only
views of the fitted network: ``certify()`` (an exact check of every layer's
own settings and of every declared constraint, :func:`certify_network`),
``monotonicity_tolerance(X)`` (the bound ``2^-18 * max(1, max_i |s_i|) * c``
on what float32 rounding can move a prediction against a declared direction),
``calibrator_curves()`` (each column's keypoints `(K,)` and outputs) and the
``plot_*`` figures. It reads the fitted ``model_``, ``feature_specs_`` and
``constraints_`` and the host's ``_raw_scores``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tf_lattice.constraints import Certificate, ConstraintCheck
from tf_lattice.estimators import _structure
from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.estimators._importance import feature_importances

#: The fields of a column's FeatureConfig that its calibrator curve reports.
_SHAPE_FIELDS = ("monotonicity", "convexity", "unimodality", "category_order")


def certify_network(subject, model, specs, constraints):
    """One certificate of an estimator's network: its layers and its declared constraints.

    Each column's calibrator, found by tracing the model graph
    (:func:`_structure.layers_reading_column`), is certified on its own unit;
    every other constrained layer is certified whole; then
    :func:`_structure.declared_checks` compares the network's structure with
    the declared constraints (a column without a calibrator fails there).

    Args:
      subject: what the certificate is about (the estimator's class name).
      model: the Keras network built by :mod:`tf_lattice.estimators._model_configs` (with the builders of :mod:`tf_lattice.models`).
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


class InspectionMixin:
    """Certificates, the rounding tolerance, calibrator curves and figures of
    a fitted estimator (a mixin of ``CalibratedEstimatorBase``)."""

    @property
    def feature_importances_(self):
        """Each column's importance `(n_features_in_,)`, summing to 1 (or all 0).

        The mean absolute change of the scores when the column is set to its
        median (or most frequent category), see
        :mod:`tf_lattice.estimators._importance`. Computed on the first read
        from the training rows ``fit`` kept, then stored.

        Raises:
          AttributeError: before ``fit`` (so ``hasattr`` is False).
        """
        state = self.__dict__
        if "_feature_importances" not in state:
            if state.get("_importance_inputs") is None:
                raise AttributeError(f"this {type(self).__name__} has no feature_importances_ "
                                     "(it is not fitted)")
            sample, references = state["_importance_inputs"]
            state["_feature_importances"] = feature_importances(self.model_, sample, references)
        return state["_feature_importances"]

    @feature_importances_.setter
    def feature_importances_(self, values):
        self.__dict__["_feature_importances"] = np.asarray(values, np.float64)

    def _keep_importance_inputs(self, inputs):
        """Keeps ``(sample, references)`` for `feature_importances_` (and
        forgets importances of an earlier fit)."""
        self.__dict__.pop("_feature_importances", None)
        self._importance_inputs = inputs

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
                      "has_other": spec.has_other,
                      **{field: getattr(feature, field) for field in _SHAPE_FIELDS}}
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
