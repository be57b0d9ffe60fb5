"""Keras layers that read the columns of a `(batch, n_features)` input matrix
for the fused calibrators and lattices (see :mod:`tf_lattice.models.fused`)."""

import keras
import tensorflow as tf

from tf_lattice.models._select import select_columns
from tf_lattice.ops.selection import select


@keras.saving.register_keras_serializable(package="tf_lattice")
class FeatureColumn(keras.layers.Layer):
    """Reads one column of the encoded `(batch, n_features)` matrix.

    The per-column layout of models saved by tf_lattice 0.1 (new models read
    all numeric columns with one :class:`FeatureColumns`); kept so that those
    files load.

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
class FeatureColumns(keras.layers.Layer):
    """Reads several columns of the encoded `(batch, n_features)` matrix.

    Missing entries are NaN in the encoded matrix. The layer returns the
    columns with each NaN replaced by its column's ``fill_values`` entry (so
    no NaN reaches a kernel or a gradient) and a float mask that is 1 where
    the value was missing.

    Args:
      indices: the ``m`` columns to read, in order.
      fill_values: ``m`` values that replace NaN (any value inside each
        calibrator's keypoints).
      **kwargs: Keras layer arguments.

    Returns (from ``call``):
      ``[values, is_missing]``, each float of shape `(batch, m)`.
    """

    def __init__(self, indices, fill_values, **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]
        self.fill_values = [float(v) for v in fill_values]
        if len(self.fill_values) != len(self.indices):
            raise ValueError(f"fill_values has {len(self.fill_values)} entries for "
                             f"{len(self.indices)} indices")

    def call(self, inputs):
        columns = tf.cast(select_columns(inputs, self.indices), self.compute_dtype)
        is_missing = tf.math.is_nan(columns)
        fill = tf.broadcast_to(tf.constant(self.fill_values, columns.dtype), tf.shape(columns))
        return [select(is_missing, fill, columns), tf.cast(is_missing, columns.dtype)]

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], len(self.indices))
        return [shape, shape]

    def get_config(self):
        config = super().get_config()
        config.update(indices=self.indices, fill_values=self.fill_values)
        return config


def _selection(indices, width, dtype):
    """The `(width, len(indices))` 0/1 matrix whose column ``k`` picks input ``indices[k]``."""
    return tf.one_hot(indices, width, axis=0, dtype=dtype)


@keras.saving.register_keras_serializable(package="tf_lattice")
class GatherFeatures(keras.layers.Layer):
    """Gathers feature subsets: `(batch, d)` -> `(batch, units, rank)`.

    ``output[b, u, k] = inputs[b, subsets[u][k]]``, computed as a product
    with a 0/1 selection matrix (exact for finite inputs): its gradient is
    one matrix product, where a gather's gradient costs a scatter and much
    more graph to trace.

    Args:
      subsets: ``units`` lists of ``rank`` feature indices.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, subsets, **kwargs):
        super().__init__(**kwargs)
        self.subsets = [[int(i) for i in subset] for subset in subsets]

    def call(self, inputs):
        flat = [i for subset in self.subsets for i in subset]
        picked = tf.matmul(inputs, _selection(flat, inputs.shape[-1], inputs.dtype))
        return tf.reshape(picked, [-1, len(self.subsets), len(self.subsets[0])])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.subsets), len(self.subsets[0]))

    def get_config(self):
        config = super().get_config()
        config.update(subsets=self.subsets)
        return config


@keras.saving.register_keras_serializable(package="tf_lattice")
class ReorderFeatures(keras.layers.Layer):
    """``(batch, n) -> (batch, len(columns))``: the given columns of finite
    inputs, in order, as a product with a 0/1 selection matrix (see
    :class:`GatherFeatures`).
    """

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]

    def call(self, inputs):
        return tf.matmul(inputs, _selection(self.columns, inputs.shape[-1], inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.columns),)

    def get_config(self):
        return {**super().get_config(), "columns": self.columns}


@keras.saving.register_keras_serializable(package="tf_lattice")
class EncodeFeatures(keras.layers.Layer):
    """Raw feature values `(batch, d)` -> the encoded matrix the fused assembly
    reads (:mod:`tf_lattice.models.fused`).

    A numeric column ``j`` (``num_categories[j] == 0``) passes through, NaN
    where it equals ``missing_values[j]`` (None: only NaN is missing). A
    categorical column of ``n = num_categories[j]`` categories becomes
    ``round(x)`` where ``0 <= round(x) < n`` and ``n`` (its default bucket)
    elsewhere, NaN included.

    Args:
      num_categories: ``d`` ints, 0 for a numeric column.
      missing_values: ``d`` sentinels of missing numeric values, or None.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, num_categories, missing_values, **kwargs):
        super().__init__(**kwargs)
        self.num_categories = [int(n) for n in num_categories]
        self.missing_values = [None if v is None else float(v) for v in missing_values]
        if len(self.missing_values) != len(self.num_categories):
            raise ValueError(f"missing_values has {len(self.missing_values)} entries for "
                             f"{len(self.num_categories)} columns")
        if any(n < 0 for n in self.num_categories):
            raise ValueError(f"num_categories must be >= 0, got {self.num_categories}")

    def call(self, inputs):
        values = tf.cast(inputs, self.compute_dtype)
        count = tf.constant(self.num_categories, values.dtype)
        ids = tf.round(values)
        ids = tf.where((ids >= 0) & (ids < count), ids, count)
        sentinel = tf.constant([0.0 if v is None else v for v in self.missing_values], values.dtype)
        has_sentinel = tf.constant([v is not None for v in self.missing_values])
        missing = has_sentinel & tf.equal(values, sentinel)
        numeric = tf.where(missing, tf.constant(float("nan"), values.dtype), values)
        return tf.where(tf.constant([n > 0 for n in self.num_categories]), ids, numeric)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_categories": self.num_categories,
                "missing_values": self.missing_values}
