"""Linear layer with sign constraints, dominance and normalization.

``y_u = sum_k x_k w_{k,u} + b_u`` with kernel ``w`` of shape ``[d, units]``.
An increasing input has ``w_k >= 0`` in every unit (decreasing: ``<= 0``);
monotonic dominance ``(i, j)`` requires ``|w_i| >= |w_j|`` in the monotone
direction; range dominance scales by the input ranges; ``normalization_order=1``
keeps every unit's weight vector at unit l1 norm (all inputs, monotone or not).
"""

import keras
import numpy as np
import tensorflow as tf

from tf_lattice import constraints as tfl_constraints
from tf_lattice import ops
from tf_lattice.layers import _common
from tf_lattice.specs import LinearSpec


@keras.saving.register_keras_serializable(package="tf_lattice")
class Linear(_common.KernelLayer):
    """A linear function of ``[batch, d]`` inputs with shape constraints.

    Args:
      num_input_dims: ``d`` (checked against the input when building).
      units: number of outputs.
      monotonicities: per input ``"none"``, ``"increasing"`` or
        ``"decreasing"`` (or one string for all).
      monotonic_dominances: ``(dominant, weak)`` pairs of monotone inputs.
      range_dominances: ``(dominant, weak)`` pairs of monotone inputs; needs
        ``input_min`` and ``input_max``.
      input_min, input_max: per-input bounds (lists of ``d`` floats) used by
        range dominance.
      normalization_order: None or 1: each unit's weights are projected onto
        the unit l1 sphere ``sum_k |w_{k,u}| = 1`` after every step, keeping
        each weight's sign.
      use_bias: whether to add a trainable bias.
      kernel_initializer, bias_initializer: Keras initializers; the default
        kernel is ``1/d`` (an average).
      kernel_regularizer, bias_regularizer: Keras regularizers.
      implementation: ``"kernel"`` or ``"portable"``: the projection's
        solver (the layer itself is a matrix product).
      **kwargs: Keras layer arguments.
    """

    uses_kernels = False

    def __init__(self, num_input_dims, units=1, monotonicities=None, monotonic_dominances=None,
                 range_dominances=None, input_min=None, input_max=None, normalization_order=None,
                 use_bias=True, kernel_initializer=None, bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, implementation="kernel", **kwargs):
        super().__init__(implementation=implementation, **kwargs)
        dims = num_input_dims
        if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool) and dims >= 1:
            self.input_min = None if input_min is None else [float(v) for v in np.broadcast_to(input_min, dims)]
            self.input_max = None if input_max is None else [float(v) for v in np.broadcast_to(input_max, dims)]
        else:
            self.input_min = self.input_max = None
        if range_dominances and (self.input_min is None or self.input_max is None):
            raise ValueError("range_dominances needs input_min and input_max")
        # Parsed and checked once, here; the projection and the certificate
        # receive this spec (see Lattice).
        self.spec = LinearSpec.parse(
            num_input_dims, units=units, monotonicities=monotonicities,
            monotonic_dominances=monotonic_dominances, range_dominances=range_dominances,
            input_ranges=self._input_ranges(), normalization_order=normalization_order)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.Constant(1.0 / self.num_input_dims))
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def _input_ranges(self):
        if self.input_min is None or self.input_max is None:
            return None
        return list(zip(self.input_min, self.input_max))

    @property
    def num_input_dims(self):
        return self.spec.num_inputs

    @property
    def units(self):
        return self.spec.units

    @property
    def monotonicities(self):
        """The monotonicity of each input, a list of strings."""
        return self.spec.monotonicity_names

    @property
    def monotonic_dominances(self):
        return [tuple(p) for p in self.spec.monotonic_dominances]

    @property
    def range_dominances(self):
        return [tuple(p) for p in self.spec.range_dominances]

    @property
    def normalization_order(self):
        return self.spec.normalization_order

    def _has_constraints(self):
        return self.spec.has_constraints

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.num_input_dims:
            raise ValueError(f"Linear with num_input_dims={self.num_input_dims} got input shape "
                             f"{tuple(input_shape)}")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.num_input_dims, self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=_common.Projection(self._project_kernel) if self._has_constraints() else None)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def call(self, inputs):
        outputs = tf.matmul(tf.cast(inputs, self.compute_dtype), tf.cast(self.kernel, self.compute_dtype))
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, self.compute_dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _project_kernel(self, kernel, exact=False):
        return ops.linear_projection(tf.convert_to_tensor(kernel), spec=self.spec, exact=exact,
                                     implementation=self.implementation)

    def _project(self, exact):
        if not self._has_constraints():
            return []
        return [(self.kernel, self._project_kernel(self.kernel, exact=exact))]

    def certify(self):
        """Checks signs and dominances exactly (and the norm, when normalized)."""
        return tfl_constraints.certify_linear(np.asarray(self.kernel), spec=self.spec,
                                              subject=f"Linear {self.name!r}")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_input_dims=self.num_input_dims, units=self.units, monotonicities=self.monotonicities,
            monotonic_dominances=[list(p) for p in self.monotonic_dominances],
            range_dominances=[list(p) for p in self.range_dominances],
            input_min=self.input_min, input_max=self.input_max,
            normalization_order=self.normalization_order, use_bias=self.use_bias,
            kernel_initializer=keras.saving.serialize_keras_object(self.kernel_initializer),
            bias_initializer=keras.saving.serialize_keras_object(self.bias_initializer),
            kernel_regularizer=keras.saving.serialize_keras_object(self.kernel_regularizer),
            bias_regularizer=keras.saving.serialize_keras_object(self.bias_regularizer))
        return config
