"""Model inputs and calibrators shared by the builders.

The builders read either a dict ``{feature name: [batch, 1]}``, which
:func:`input_matrix` concatenates and encodes, or the encoded `(batch, d)`
matrix itself. :func:`calibrated` calibrates every feature of the matrix with
the fused layers of :mod:`tf_lattice.models.fused`: numeric features with one
PWLCalibration per set of output bounds and categorical ones with one
CategoricalCalibration (a feature with a category order has a layer of its
own).

The fused assembly reads the :class:`~tf_lattice.models.configs.FeatureConfig`
of every column: :func:`columns` pairs each with its calibrator's output
bounds (:class:`fused.CalibratedColumn`), :func:`model_constraints` adds the
pairwise constraints by position
(:class:`~tf_lattice.models._constraints.ModelConstraints`), and
:func:`initial_bias` starts an output bias at a config's ``initial_output``.
"""

import keras
import numpy as np

from tf_lattice.models import fused
from tf_lattice.models._constraints import ModelConstraints
from tf_lattice.models._inputs import EncodeFeatures

#: The name of the one input of models reading the encoded matrix.
MATRIX_INPUT = "features"


def feature_inputs(features):
    """One ``keras.Input((1,))`` per feature, keyed by name."""
    return {f.name: keras.Input((1,), name=f.name, dtype="float32") for f in features}


def matrix_input(features):
    """The one `(batch, d)` input of a model reading the encoded matrix."""
    return keras.Input(shape=(len(features),), dtype="float32", name=MATRIX_INPUT)


def input_matrix(features, inputs):
    """The `(batch, d)` matrix of the fused assembly: the features in order,
    categorical ids outside ``[0, num_buckets)`` moved to the default bucket
    ``num_buckets`` and numeric ``missing_input_value`` entries made NaN
    (see :class:`~tf_lattice.models._inputs.EncodeFeatures`)."""
    empty = [f.name for f in features if f.is_categorical and f.num_buckets == 0]
    if empty:
        raise ValueError(f"categorical feature {empty[0]!r} has num_buckets=0: a model reading a dict "
                         "needs at least one category (build it with encoded=True)")
    tensors = [inputs[f.name] for f in features]
    matrix = tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(
        axis=-1, name="feature_matrix")(tensors)
    if not any(f.is_categorical or f.missing_input_value is not None for f in features):
        return matrix
    return EncodeFeatures(
        [f.num_buckets if f.is_categorical else 0 for f in features],
        [None if f.is_categorical else f.missing_input_value for f in features],
        name="encoded_features")(matrix)


def columns(features, bounds):
    """One :class:`fused.CalibratedColumn` per FeatureConfig.

    Args:
      features: FeatureConfigs.
      bounds: ``(output_min, output_max)`` of every calibrator, or a list of
        one pair per feature.
    """
    if isinstance(bounds, tuple):
        bounds = [bounds] * len(features)
    return [fused.CalibratedColumn(f, output_min=low, output_max=high)
            for f, (low, high) in zip(features, bounds)]


def model_constraints(features, edgeworth_trusts=(), trapezoid_trusts=(), monotonic_dominances=()):
    """The :class:`ModelConstraints` of FeatureConfigs and pairwise
    constraints naming them (by position in ``features``)."""
    index = {f.name: j for j, f in enumerate(features)}

    def positions(entries):
        return tuple((index[e[0]], index[e[1]]) + tuple(e[2:]) for e in entries)

    return ModelConstraints(tuple(features),
                            positions(edgeworth_trusts), positions(trapezoid_trusts),
                            positions(monotonic_dominances))


def calibrated(features, inputs, bounds, implementation, **regularizers):
    """Every feature calibrated by the fused layers; returns `(batch, d)` in
    feature order (see :func:`tf_lattice.models.fused.calibrated_features`).

    Args:
      features: FeatureConfigs.
      inputs: the dict of `(batch, 1)` inputs, or the encoded `(batch, d)`
        matrix (a tensor).
      bounds: ``(output_min, output_max)`` of every calibrator, or a list of
        one pair per feature.
      implementation: ``"kernel"`` or ``"portable"``.
      **regularizers: ``calibration_regularizer`` and
        ``categorical_regularizer``, the ``kernel_regularizer`` of the PWL
        and categorical calibrators.
    """
    return _assemble(fused.calibrated_features, features, inputs, bounds, implementation,
                     regularizers)


def calibrated_groups(features, inputs, bounds, implementation, **regularizers):
    """:func:`calibrated` in the calibration layers' order: returns
    ``(calibrated, positions)`` (see
    :func:`tf_lattice.models.fused.calibrated_groups`); same arguments."""
    return _assemble(fused.calibrated_groups, features, inputs, bounds, implementation,
                     regularizers)


def _assemble(assembly, features, inputs, bounds, implementation, regularizers):
    matrix = input_matrix(features, inputs) if isinstance(inputs, dict) else inputs
    return assembly(matrix, columns(features, bounds), implementation=implementation,
                    **regularizers)


def initial_scores(config):
    """``config.initial_output`` (set) broadcast to ``units`` floats."""
    values = np.broadcast_to(np.asarray(config.initial_output, np.float64), (config.units,))
    return [float(v) for v in values]


def initial_bias(config):
    """The bias initializer: ``initial_output`` broadcast to ``units``."""
    if config.initial_output is None:
        return "zeros"
    return keras.initializers.Constant(initial_scores(config))
