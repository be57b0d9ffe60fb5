"""Model inputs and calibrators shared by the builders.

The builders take a dict ``{feature name: [batch, 1]}``; :func:`calibrated`
concatenates it into the `(batch, d)` matrix of the fused assembly
(:mod:`tf_lattice.models.fused`) and calibrates every feature there, numeric
features with one PWLCalibration per set of output bounds and categorical
ones with one CategoricalCalibration (a feature with category pairs has a
layer of its own).
"""

import keras

from tf_lattice import layers
from tf_lattice.models import fused
from tf_lattice.models._constraints import FeatureConstraints, ModelConstraints
from tf_lattice.models._inputs import EncodeFeatures


def feature_inputs(features):
    """One ``keras.Input((1,))`` per feature, keyed by name."""
    return {f.name: keras.Input((1,), name=f.name, dtype="float32") for f in features}


def input_matrix(features, inputs):
    """The `(batch, d)` matrix of the fused assembly: the features in order,
    categorical ids outside ``[0, num_buckets)`` moved to the default bucket
    ``num_buckets`` and numeric ``missing_input_value`` entries made NaN
    (see :class:`~tf_lattice.models._inputs.EncodeFeatures`)."""
    tensors = [inputs[f.name] for f in features]
    matrix = tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(
        axis=-1, name="feature_matrix")(tensors)
    if not any(f.is_categorical or f.missing_input_value is not None for f in features):
        return matrix
    return EncodeFeatures(
        [f.num_buckets if f.is_categorical else 0 for f in features],
        [None if f.is_categorical else f.missing_input_value for f in features],
        name="encoded_features")(matrix)


def calibrated(features, inputs, bounds, implementation):
    """Every feature calibrated by the fused layers; returns `(batch, d)`.

    Args:
      features: FeatureConfigs.
      inputs: the dict of `(batch, 1)` inputs.
      bounds: ``(output_min, output_max)`` of every calibrator, or a list of
        one pair per feature.
      implementation: ``"kernel"`` or ``"portable"``.
    """
    if isinstance(bounds, tuple):
        bounds = [bounds] * len(features)
    columns = [fused.CalibratedColumn(
        keypoints=() if f.is_categorical else f.keypoints,
        num_categories=f.num_buckets if f.is_categorical else None,
        constraints=FeatureConstraints(f.monotonicity, f.convexity, category_order=f.category_pairs),
        output_min=low, output_max=high) for f, (low, high) in zip(features, bounds)]
    return fused.calibrated_features(input_matrix(features, inputs), columns,
                                     implementation=implementation, linear_tails=False)


def lattice_constraints(features):
    """The constraints the lattices see: a monotone feature (a monotonicity or
    category pairs) is increasing, since its calibrator applies the sign; a
    convexity stays a property of the calibrator only."""
    return ModelConstraints(tuple(FeatureConstraints(f.monotonicity, category_order=f.category_pairs)
                                  for f in features))


def calibrator(feature, units, output_min, output_max, implementation, name_prefix="calibrator"):
    """The calibration layer of one feature.

    Numeric features get a :class:`PWLCalibration` with the feature's
    keypoints, monotonicity and convexity; categorical ones a
    :class:`CategoricalCalibration` with its partial order.
    """
    name = f"{name_prefix}_{feature.name}"
    if feature.is_categorical:
        return layers.CategoricalCalibration(
            feature.num_buckets, units=units, output_min=output_min, output_max=output_max,
            category_order=feature.category_pairs, kernel_initializer="constant",
            implementation=implementation, name=name)
    return layers.PWLCalibration(
        feature.keypoints, units=units, monotonicity=feature.monotonicity, convexity=feature.convexity,
        output_min=output_min, output_max=output_max, missing_input_value=feature.missing_input_value,
        implementation=implementation, name=name)
