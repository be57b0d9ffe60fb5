"""The ``tf.estimator.Estimator`` shared by the canned calibrated models.

Construction checks every parameter and every feature-named constraint, then
either reads the model's plan from ``model_dir`` (a model trained before) or
makes one pass over ``feature_analysis_input_fn`` to learn keypoints,
vocabularies and label statistics, and saves that plan next to the
checkpoints. The ``model_fn`` builds the same Keras networks as the
scikit-learn estimators (:mod:`tf_lattice.estimators._model_configs`) in the
Estimator's graph, and its train op runs the optimizer step and then, under a
control dependency on that step, every layer's projection; the initial
weights are projected once after initialization. The weights in every
checkpoint satisfy the declared constraints.
"""

import numbers

import pandas as pd
import tensorflow as tf
from sklearn.utils import check_random_state

from tf_lattice.estimators._base import (
    _REGULARIZATION_PARAMS, IMPLEMENTATIONS, INTERPOLATIONS, _check_number)
from tf_lattice.estimators._columns import encode
from tf_lattice.estimators._constraints import resolve_constraints
from tf_lattice.estimators._defaults import automatic_interpolation
from tf_lattice.estimators._inspection import certify_network
from tf_lattice.tf_estimator import _checkpoint, _features, _plan

HEADS = ("binary", "multiclass", "regression")


def _make_head(head, n_classes, label_vocabulary, weight_column):
    if head == "binary":
        if n_classes not in (None, 2):
            raise ValueError(f'head="binary" has 2 classes, got n_classes={n_classes!r}')
        return tf.estimator.BinaryClassHead(weight_column=weight_column,
                                            label_vocabulary=label_vocabulary)
    if head == "multiclass":
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 3:
            raise ValueError(f'head="multiclass" needs n_classes >= 3, got {n_classes!r} '
                             '(use head="binary" for two classes)')
        return tf.estimator.MultiClassHead(int(n_classes), weight_column=weight_column,
                                           label_vocabulary=label_vocabulary)
    if head == "regression":
        if n_classes is not None or label_vocabulary is not None:
            raise ValueError('head="regression" takes no n_classes or label_vocabulary')
        return tf.estimator.RegressionHead(weight_column=weight_column)
    raise ValueError(f"head must be one of {HEADS}, got {head!r}")


class CalibratedEstimator(tf.estimator.Estimator):
    """Parameters, analysis pass, ``model_fn``, certificates and export.

    Subclasses set ``_supports_unimodality`` and implement
    ``_tfl_model_params()`` (their own parameters, validated),
    ``_tfl_structure(specs, encoded, target, seed)`` (the ensemble's
    lattices, or None) and ``_tfl_network(plan, settings)`` (the
    Keras model, from the keyword arguments ``settings`` of
    :func:`tf_lattice.estimators._model_configs.model_config`).
    """

    _supports_unimodality = False

    def __init__(self, feature_columns, feature_analysis_input_fn=None, *, head="binary",
                 n_classes=None, label_vocabulary=None, weight_column=None, monotonicity=None,
                 convexity=None, unimodality=None, trust=None, dominance=None,
                 category_order=None, num_keypoints=None, lattice_size=2, interpolation="auto",
                 calibration_laplacian=0.0, calibration_hessian=1e-4, calibration_wrinkle=0.0,
                 lattice_laplacian=0.0, lattice_torsion=0.0, l2=0.0, learning_rate=0.01,
                 random_state=None, implementation="kernel", model_dir=None, config=None,
                 warm_start_from=None, **model_params):
        inputs = _features.feature_inputs(feature_columns)
        names = [f.name for f in inputs]
        if weight_column is not None and weight_column in names:
            raise ValueError(f"weight_column {weight_column!r} is also a model feature")
        constraints = dict(monotonicity=monotonicity, convexity=convexity, unimodality=unimodality,
                           trust=trust, dominance=dominance, category_order=category_order)
        _features.check_named_constraints(names, num_keypoints=num_keypoints, **constraints)
        if unimodality and not self._supports_unimodality and any(
                v != "none" for v in unimodality.values()):
            raise ValueError(f"unimodality needs a lattice model; {type(self).__name__} cannot be "
                             "unimodal (use convexity, or CalibratedLatticeEstimator)")
        if isinstance(num_keypoints, dict):
            for name, count in num_keypoints.items():
                _check_number(f"num_keypoints[{name!r}]", count, 2, integer=True)
        else:
            _check_number("num_keypoints", num_keypoints, 2, integer=True, allow_none=True)
        _check_number("lattice_size", lattice_size, 2, integer=True)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
        regularization = dict(calibration_laplacian=calibration_laplacian,
                              calibration_hessian=calibration_hessian,
                              calibration_wrinkle=calibration_wrinkle,
                              lattice_laplacian=lattice_laplacian, lattice_torsion=lattice_torsion,
                              l2=l2)
        for name, value in regularization.items():
            _check_number(name, value, 0.0)
        _check_number("learning_rate", learning_rate, 0.0, low_inclusive=False)
        label_vocabulary = None if label_vocabulary is None else [str(v) for v in label_vocabulary]
        self._tfl_head_kind = head
        self._tfl_head = _make_head(head, n_classes, label_vocabulary, weight_column)
        self._tfl_inputs = inputs
        self._tfl_weight_column = weight_column
        self._tfl_learning_rate = float(learning_rate)
        self._tfl_implementation = implementation
        self._tfl_export_implementation = None
        self._tfl_params = _plan.as_json(dict(
            features=[[f.name, f.kind, f.vocabulary] for f in inputs], head=head,
            n_classes=n_classes, label_vocabulary=label_vocabulary, weight_column=weight_column,
            num_keypoints=num_keypoints, lattice_size=lattice_size, interpolation=interpolation,
            **constraints, **regularization,
            **self._tfl_model_params(len(inputs), lattice_size, **model_params)))
        super().__init__(model_fn=self._tfl_model_fn, model_dir=model_dir, config=config,
                         warm_start_from=warm_start_from)
        plan = _plan.read(self.model_dir)
        if plan is None:
            if feature_analysis_input_fn is None:
                raise ValueError(
                    f"model_dir {self.model_dir!r} holds no trained model ({_plan.PLAN_FILE}); pass "
                    "feature_analysis_input_fn, an input_fn whose one pass sets the keypoints, "
                    "vocabularies and initial output")
            plan = self._tfl_analyze(feature_analysis_input_fn, random_state)
            _plan.write(self.model_dir, plan)
        else:
            self._tfl_check_saved(plan)
        self._tfl_plan = plan
        self._tfl_constraints = self._tfl_resolve(plan.specs)

    # -- subclass hooks -------------------------------------------------------------

    def _tfl_model_params(self, num_features, lattice_size, **model_params):
        if model_params:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(model_params)}")
        return {}

    def _tfl_structure(self, specs, encoded, target, seed):
        return None

    def _tfl_network(self, plan, settings):
        raise NotImplementedError

    def _tfl_lattice_dims(self, plan):
        return len(plan.specs)

    # -- the plan -----------------------------------------------------------------------

    def _tfl_resolve(self, specs):
        params = self._tfl_params
        return resolve_constraints(
            specs, monotonicity=params["monotonicity"], convexity=params["convexity"],
            unimodality=params["unimodality"],
            category_order=(None if params["category_order"] is None else
                            {k: [tuple(p) for p in v] for k, v in params["category_order"].items()}),
            trust=params["trust"], dominance=params["dominance"],
            allow_unimodality=self._supports_unimodality)

    def _tfl_analyze(self, input_fn, random_state):
        names = [f.name for f in self._tfl_inputs]
        extra = [self._tfl_weight_column] if self._tfl_weight_column else []
        columns, labels = _features.run_input_fn(
            lambda: self._call_input_fn(input_fn, tf.estimator.ModeKeys.TRAIN), names, extra)
        specs = _features.learn_specs(self._tfl_inputs, columns, self._tfl_params["num_keypoints"])
        self._tfl_resolve(specs)  # constraint errors now, before the plan is saved
        weights = columns.get(self._tfl_weight_column) if self._tfl_weight_column else None
        initial, mean, scale, target = _plan.label_statistics(
            labels, weights, self._tfl_head_kind, self._tfl_params["n_classes"],
            self._tfl_params["label_vocabulary"])
        seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
        # The crystals ensemble measures interactions on the encoded values.
        encoded = encode(pd.DataFrame({name: columns[name] for name in names}), specs)
        lattices = self._tfl_structure(specs, encoded, target, seed)
        return _plan.ModelPlan(type(self).__name__, self._tfl_params, tuple(specs),
                               self._tfl_head.logits_dimension, tuple(initial), mean, scale, lattices)

    def _tfl_check_saved(self, plan):
        if plan.estimator != type(self).__name__:
            raise ValueError(f"model_dir {self.model_dir!r} holds a {plan.estimator}, not a "
                             f"{type(self).__name__}")
        differ = sorted(k for k in set(plan.params) | set(self._tfl_params)
                        if plan.params.get(k) != self._tfl_params.get(k))
        if differ:
            raise ValueError(
                f"model_dir {self.model_dir!r} holds a model built with other "
                + ", ".join(f"{k}={plan.params.get(k)!r}" for k in differ)
                + f"; this {type(self).__name__} has "
                + ", ".join(f"{k}={self._tfl_params.get(k)!r}" for k in differ)
                + ". Use the same parameters, or another model_dir")

    @property
    def feature_specs(self):
        """The encoding of each feature: keypoints (numeric) or vocabulary
        (categorical), as learned by the analysis pass."""
        return list(self._tfl_plan.specs)

    # -- the network --------------------------------------------------------------------

    def _tfl_settings(self, implementation):
        params = self._tfl_params
        interpolation = params["interpolation"]
        if interpolation == "auto":
            interpolation = automatic_interpolation(self._tfl_lattice_dims(self._tfl_plan),
                                                    int(params["lattice_size"]))
        return dict(
            units=self._tfl_plan.units, lattice_size=int(params["lattice_size"]),
            interpolation=interpolation, implementation=implementation,
            initial_output=self._tfl_plan.initial_output,
            **{name: float(params[name]) for name in _REGULARIZATION_PARAMS})

    def _tfl_build(self, implementation=None):
        """A function building the Keras network (same weights, same order, on
        every call)."""
        settings = self._tfl_settings(implementation or self._tfl_implementation)
        return lambda: self._tfl_network(self._tfl_plan, settings)

    # -- model_fn -------------------------------------------------------------------------

    def _tfl_model_fn(self, features, labels, mode, config):
        implementation = self._tfl_export_implementation or self._tfl_implementation
        # The network first: its variables then get the same graph names in
        # every graph (training, evaluation, export and the checkpoint tools).
        network = self._tfl_build(implementation)()
        encoded = _features.encode(features, self._tfl_plan.specs)
        scores = network(encoded, training=mode == tf.estimator.ModeKeys.TRAIN)
        logits = scores * self._tfl_plan.label_scale + self._tfl_plan.label_mean

        def train_op_fn(loss):
            optimizer = tf.compat.v1.train.AdamOptimizer(self._tfl_learning_rate)
            step = optimizer.minimize(
                loss, global_step=tf.compat.v1.train.get_global_step(),
                var_list=[weight.value for weight in network.trainable_weights])
            # Projections read the weights after the step (and only then).
            with tf.control_dependencies([step]):
                return projection_op(network)

        spec = self._tfl_head.create_estimator_spec(
            features=features, mode=mode, logits=logits, labels=labels, train_op_fn=train_op_fn,
            regularization_losses=list(network.losses) or None)
        if mode != tf.estimator.ModeKeys.TRAIN:
            return spec
        # Initial weights are projected too, so even the checkpoint written
        # before the first step satisfies the constraints.
        initial_projection = projection_op(network)
        return spec._replace(scaffold=tf.compat.v1.train.Scaffold(
            init_fn=lambda scaffold, session: session.run(initial_projection)))

    # -- after training ---------------------------------------------------------------------

    def _tfl_checkpoint(self, checkpoint_path):
        path = checkpoint_path or self.latest_checkpoint()
        if path is None:
            raise ValueError(f"model_dir {self.model_dir!r} has no checkpoint; train the "
                             f"{type(self).__name__} first")
        return path

    def keras_model(self, checkpoint_path=None, implementation=None):
        """The trained network as an eager Keras model, from a checkpoint.

        Args:
          checkpoint_path: default the latest checkpoint.
          implementation: ``"kernel"`` or ``"portable"`` (default: the
            estimator's).

        Returns:
          A ``keras.Model`` from the encoded `(batch, n_features)` matrix to
          the standardized scores (before the regression scaling).
        """
        return _checkpoint.restore(self._tfl_build(implementation),
                                   self._tfl_checkpoint(checkpoint_path))

    def certify(self, checkpoint_path=None):
        """Checks every declared constraint exactly on the checkpoint's weights.

        Args:
          checkpoint_path: default the latest checkpoint.

        Returns:
          A :class:`tf_lattice.constraints.Certificate` merging every
          constrained layer's checks (calibrator checks name their feature)
          and one structural check per declared constraint (the network
          carries it from the feature to the output).

        Raises:
          ValueError: no checkpoint yet.
        """
        return certify_network(type(self).__name__, self.keras_model(checkpoint_path),
                               list(self._tfl_plan.specs), self._tfl_constraints)

    def finalize(self):
        """Applies each layer's strictest projection to the latest checkpoint.

        Training projects after every step; this runs the final projection the
        scikit-learn estimators run after ``fit`` (exact where a closed form
        or a small quadratic program exists) and writes the weights as the new
        latest checkpoint, with the same global step. Evaluation, prediction
        and export then use them.

        Returns:
          The :meth:`certify` certificate of the finalized weights.

        Raises:
          ValueError: no checkpoint yet.
        """
        checkpoint = self._tfl_checkpoint(None)
        build = self._tfl_build()
        names = _checkpoint.graph_names(build)
        network = _checkpoint.restore(build, checkpoint, names)
        for layer in network.layers:
            if hasattr(layer, "finalize_constraints"):
                layer.finalize_constraints()
        _checkpoint.write(self.model_dir, checkpoint, names, network)
        return self.certify()

    # -- serving ------------------------------------------------------------------------------

    def serving_input_receiver_fn(self):
        """A receiver that parses serialized ``tf.Example`` protos.

        Numeric features are ``float_list`` values (absent: missing), string
        features ``bytes_list`` and integer-vocabulary features
        ``int64_list``. Exported with it, a classifier's SavedModel has the
        ``serving_default`` (classify), ``classification``, ``predict`` (and
        regression heads' ``regression``) signatures.
        """
        spec = _features.parsing_spec(self._tfl_plan.specs, self._tfl_inputs)
        return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)

    def export(self, export_dir_base, portable=True, checkpoint_path=None):
        """Exports a SavedModel that reads ``tf.Example`` protos.

        Args:
          export_dir_base: directory under which a timestamped export is made.
          portable: use only stock TensorFlow ops (the pure-TensorFlow twins
            of tf_lattice's kernels), so the SavedModel serves with stock
            TensorFlow Serving and loads without tf_lattice's op library;
            False keeps the compiled kernels (loading then needs the library).
          checkpoint_path: default the latest checkpoint.

        Returns:
          The export directory (str). It also holds the model's plan
          (keypoints, vocabularies) as ``assets.extra/tf_lattice_model.json``.

        Raises:
          ValueError: a portable export whose graph still has a tf_lattice op.
        """
        from tf_lattice.saved_model import custom_ops

        self._tfl_export_implementation = "portable" if portable else "kernel"
        try:
            path = self.export_saved_model(
                export_dir_base, self.serving_input_receiver_fn(),
                assets_extra={_plan.PLAN_FILE: _plan.plan_path(self.model_dir)},
                checkpoint_path=self._tfl_checkpoint(checkpoint_path))
        finally:
            self._tfl_export_implementation = None
        path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
        if portable:
            remaining = custom_ops(path)
            if remaining:
                raise ValueError(f"the portable export {path} still uses {remaining}")
        return path


def projection_op(network):
    """One op assigning every constrained weight its projection.

    Must be created under a control dependency on the optimizer step, so the
    projections read the weights after the step. The projections run in one
    ``tf.function``: its automatic control dependencies order each weight's
    reads before its assignment and keep the projections' own checks (which
    a plain graph would drop).
    """

    @tf.function(autograph=False)
    def project():
        for layer in network.layers:
            if hasattr(layer, "_project"):
                for variable, value in layer._project(exact=False):  # pylint: disable=protected-access
                    variable.value.assign(value, read_value=False)
        return tf.constant(True)

    return tf.group(project(), name="projections")
