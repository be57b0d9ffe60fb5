"""Reading columns of a `(batch, n)` matrix: a pure function and a
serializable layer around it."""

import keras
import tensorflow as tf


def select_columns(inputs, columns):
    """``inputs[..., columns]``, `(..., n) -> (..., len(columns))`.

    Consecutive columns are one slice (all columns in order: ``inputs``
    itself); any other selection is a gather. A slice copies whole rows,
    where a gather along the last axis copies element by element.

    Args:
      inputs: a tensor whose last axis has a static size ``n``.
      columns: a non-empty sequence of ints in ``[0, n)``.
    """
    columns = [int(c) for c in columns]
    first = columns[0]
    if columns != list(range(first, first + len(columns))):
        return tf.gather(inputs, columns, axis=-1)
    if first == 0 and len(columns) == inputs.shape[-1]:
        return inputs
    return inputs[..., first:first + len(columns)]


@keras.saving.register_keras_serializable(package="tf_lattice")
class SelectColumns(keras.layers.Layer):
    """``[batch, n] -> [batch, len(columns)]``: the given columns, in order
    (see `select_columns`)."""

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]

    def call(self, inputs):
        return select_columns(inputs, self.columns)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.columns),)

    def get_config(self):
        return {**super().get_config(), "columns": self.columns}
