"""Model inputs and per-feature calibrators shared by the builders."""

import keras

from tf_lattice import layers


def feature_inputs(features):
    """One ``keras.Input((1,))`` per feature, keyed by name."""
    return {f.name: keras.Input((1,), name=f.name, dtype="float32") for f in features}


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
            monotonicities=feature.category_pairs, kernel_initializer="constant",
            implementation=implementation, name=name)
    return layers.PWLCalibration(
        feature.keypoints, units=units, monotonicity=feature.monotonicity, convexity=feature.convexity,
        output_min=output_min, output_max=output_max, missing_input_value=feature.missing_input_value,
        implementation=implementation, name=name)


def lattice_monotonicity(feature):
    """The lattice direction of a feature: its calibrator already applies the
    sign, so any monotone feature is increasing in the lattice."""
    return "increasing" if feature.is_monotone else "none"
