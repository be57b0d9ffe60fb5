"""A serializable layer picking columns of its input."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_lattice")
class SelectColumns(keras.layers.Layer):
    """``[batch, n] -> [batch, len(columns)]``: the given columns, in order."""

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]

    def call(self, inputs):
        return tf.gather(inputs, self.columns, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.columns),)

    def get_config(self):
        return {**super().get_config(), "columns": self.columns}
