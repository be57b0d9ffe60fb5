"""Applies one calibration layer per input column and concatenates."""

import keras
import tensorflow as tf

from tf_lattice.constraints import Certificate
from tf_lattice.layers import _common


@keras.saving.register_keras_serializable(package="tf_lattice")
class ParallelCombination(_common.LatticeLayer):
    """Splits ``[batch, n]`` into ``n`` columns (or takes a list of ``n``
    tensors), applies layer ``i`` to column ``i`` and concatenates the outputs
    along the last axis.

    Args:
      calibration_layers: ``n`` layers, each taking ``[batch, 1]``.
      single_output: concatenate (True) or return the list of outputs.
      **kwargs: Keras layer arguments.

    The split and the concatenation run in stock TensorFlow ops; each
    calibration layer chooses its own ``implementation``, and this layer
    takes none.
    """

    def __init__(self, calibration_layers=None, single_output=True, **kwargs):
        super().__init__(**kwargs)
        self.calibration_layers = [
            layer if isinstance(layer, keras.layers.Layer) else keras.saving.deserialize_keras_object(layer)
            for layer in (calibration_layers or [])]
        self.single_output = bool(single_output)
        self.supports_jit = all(getattr(layer, "supports_jit", True) for layer in self.calibration_layers)

    def append(self, layer):
        """Adds one more calibration layer (for the next input column)."""
        self.calibration_layers.append(layer)
        self.supports_jit = self.supports_jit and getattr(layer, "supports_jit", True)

    def _columns(self, inputs):
        if isinstance(inputs, (list, tuple)):
            columns = list(inputs)
        else:
            columns = tf.split(inputs, inputs.shape[-1], axis=-1)
        if len(columns) != len(self.calibration_layers):
            raise ValueError(f"ParallelCombination has {len(self.calibration_layers)} layers but got "
                             f"{len(columns)} input columns")
        return columns

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            shapes = list(input_shape)
        else:
            shapes = [tuple(input_shape[:-1]) + (1,)] * input_shape[-1]
        if len(shapes) != len(self.calibration_layers):
            raise ValueError(f"ParallelCombination has {len(self.calibration_layers)} layers but got "
                             f"{len(shapes)} input columns")
        for layer, shape in zip(self.calibration_layers, shapes):
            if not layer.built:
                layer.build(shape)

    def call(self, inputs):
        outputs = [layer(column) for layer, column in zip(self.calibration_layers, self._columns(inputs))]
        return tf.concat(outputs, axis=-1) if self.single_output else outputs

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            batch = input_shape[0][0]
        else:
            batch = input_shape[0]
        shapes = [layer.compute_output_shape((batch, 1)) for layer in self.calibration_layers]
        if not self.single_output:
            return shapes
        return (batch, sum(shape[-1] for shape in shapes))

    def _project(self, exact):
        updates = []
        for layer in self.calibration_layers:
            if isinstance(layer, _common.LatticeLayer):
                updates.extend(layer._project(exact))
        return updates

    def certify(self):
        checks = ()
        for layer in self.calibration_layers:
            if hasattr(layer, "certify"):
                checks += tuple(layer.certify().checks)
        return Certificate(f"ParallelCombination {self.name!r}", checks)

    def get_config(self):
        config = super().get_config()
        config.update(
            calibration_layers=[keras.saving.serialize_keras_object(l) for l in self.calibration_layers],
            single_output=self.single_output)
        return config
