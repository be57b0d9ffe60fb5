"""The Keras layer that splits the encoded input matrix into calibrator inputs."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_lattice")
class FeatureColumn(keras.layers.Layer):
    """Reads one column of the encoded `(batch, n_features)` matrix.

    Missing entries are NaN in the encoded matrix. The layer returns the
    column with NaN replaced by ``fill_value`` (so no NaN reaches a kernel or
    a gradient) and a float mask that is 1 where the value was missing.

    Args:
      index: the column to read.
      fill_value: the value that replaces NaN (any value inside the
        calibrator's keypoints).
      **kwargs: Keras layer arguments.

    Returns (from ``call``):
      ``[values, is_missing]``, each float of shape `(batch, 1)`.
    """

    def __init__(self, index, fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)
        self.fill_value = float(fill_value)

    def call(self, inputs):
        column = tf.cast(inputs[:, self.index:self.index + 1], self.compute_dtype)
        is_missing = tf.math.is_nan(column)
        values = tf.where(is_missing, tf.cast(self.fill_value, column.dtype), column)
        return [values, tf.cast(is_missing, column.dtype)]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], 1), (input_shape[0], 1)]

    def get_config(self):
        config = super().get_config()
        config.update(index=self.index, fill_value=self.fill_value)
        return config


@keras.saving.register_keras_serializable(package="tf_lattice")
class GatherFeatures(keras.layers.Layer):
    """Gathers feature subsets: `(batch, d)` -> `(batch, units, rank)`.

    Args:
      subsets: ``units`` lists of ``rank`` feature indices;
        ``output[b, u, k] = inputs[b, subsets[u][k]]``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, subsets, **kwargs):
        super().__init__(**kwargs)
        self.subsets = [[int(i) for i in subset] for subset in subsets]

    def call(self, inputs):
        return tf.gather(inputs, tf.constant(self.subsets, tf.int32), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.subsets), len(self.subsets[0]))

    def get_config(self):
        config = super().get_config()
        config.update(subsets=self.subsets)
        return config
