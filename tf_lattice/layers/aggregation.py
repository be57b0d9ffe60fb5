"""Aggregation: the mean of a model applied to each element of a set."""

import keras
import tensorflow as tf

from tf_lattice.constraints import Certificate
from tf_lattice.layers import _common


@keras.saving.register_keras_serializable(package="tf_lattice")
class Aggregation(_common.LatticeLayer):
    """``y = mean_{i in set} model(x_i)`` over the elements of each example's set.

    Input: ``[batch, set_size, ...]`` padded, with a boolean ``mask``
    ``[batch, set_size]`` (True for real elements; a Keras mask is used when
    given), or a ``tf.RaggedTensor`` ``[batch, (set_size), ...]``. An empty set
    gives 0. Output: ``[batch, units]`` where ``units`` is the last dimension
    of ``model``'s output.

    Args:
      model: a Keras layer or model taking ``[n, ...]`` elements.
      **kwargs: Keras layer arguments.

    The mean runs in stock TensorFlow ops; the layers of ``model`` choose
    their own ``implementation``, and this layer takes none.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.layers.Layer):
            model = keras.saving.deserialize_keras_object(model)
        self.model = model
        self.supports_jit = getattr(model, "supports_jit", True) and all(
            getattr(layer, "supports_jit", True) for layer in getattr(model, "_flatten_layers", lambda: [])())
        self.supports_masking = True

    def build(self, input_shape):
        if not self.model.built:
            self.model.build((None,) + tuple(input_shape[2:]))

    def call(self, inputs, mask=None):
        if isinstance(inputs, tf.RaggedTensor):
            mask = tf.sequence_mask(inputs.row_lengths(), tf.cast(inputs.bounding_shape()[1], tf.int64))
            inputs = inputs.to_tensor()
        inputs = tf.convert_to_tensor(inputs)
        shape = tf.shape(inputs)
        flat = tf.reshape(inputs, tf.concat([[-1], shape[2:]], axis=0))
        outputs = self.model(flat)
        outputs = tf.reshape(outputs, tf.concat([shape[:2], tf.shape(outputs)[1:]], axis=0))
        if mask is None:
            return tf.reduce_mean(outputs, axis=1)
        weights = tf.cast(mask, outputs.dtype)[..., None]
        total = tf.reduce_sum(outputs * weights, axis=1)
        count = tf.reduce_sum(weights, axis=1)
        return tf.math.divide_no_nan(total, count)

    def compute_output_shape(self, input_shape):
        element = self.model.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0],) + tuple(element[1:])

    def compute_mask(self, inputs, mask=None):
        return None

    def _project(self, exact):
        updates = []
        for layer in self.model._flatten_layers():
            if isinstance(layer, _common.LatticeLayer) and layer is not self:
                updates.extend(layer._project(exact))
        return updates

    def certify(self):
        checks = ()
        for layer in self.model._flatten_layers(include_self=False):
            if isinstance(layer, _common.LatticeLayer) and not isinstance(
                    layer, (Aggregation,)) and hasattr(layer, "certify"):
                checks += tuple(layer.certify().checks)
        return Certificate(f"Aggregation {self.name!r}", checks)

    def get_config(self):
        config = super().get_config()
        config["model"] = keras.saving.serialize_keras_object(self.model)
        return config
