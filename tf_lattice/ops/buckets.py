"""Categorical ids to the buckets of a calibrator's table: the one rule."""

import tensorflow as tf

from tf_lattice.ops.selection import select


def bucket_ids(values, num_buckets, default_input_value=None):
    """Maps raw ids to int32 buckets in ``[0, num_buckets]``.

    A float id is rounded first (half to even, as ``tf.round``); an id in
    ``[0, num_buckets)`` is its own bucket, and any other (outside the range,
    equal to ``default_input_value``, NaN) takes the default bucket
    ``num_buckets``. The range is checked before the cast, so no id is
    wrapped into a bucket.

    Args:
      values: a float or integer tensor of ids.
      num_buckets: the known buckets: an int, or one int per entry of the
        last axis of ``values``.
      default_input_value: an id that also means "unknown", or None.

    Returns:
      An int32 tensor of the shape of ``values``.
    """
    ids = tf.round(values) if values.dtype.is_floating else tf.cast(values, tf.int64)
    count = tf.constant(num_buckets, ids.dtype)
    known = (ids >= 0) & (ids < count)
    if default_input_value is not None:
        known &= tf.not_equal(ids, tf.cast(int(default_input_value), ids.dtype))
    shape = tf.shape(ids)
    default = tf.broadcast_to(count, shape) if count.shape.rank else tf.fill(shape, count)
    return tf.cast(select(known, ids, default), tf.int32)
