"""Categorical calibration: one learned output per category and unit.

Inputs are integer category ids in ``[0, num_buckets)``; any other id (and
``default_input_value``) maps to an extra default bucket, so the kernel has
``num_buckets + 1`` columns per unit. A partial order on categories
(``category_order``: pairs ``(i, j)`` meaning output of ``i`` <= output of
``j``) and output bounds are enforced by projection after every optimizer
step.
"""

import keras
import numpy as np
import tensorflow as tf

from tf_lattice import constraints as tfl_constraints
from tf_lattice import ops
from tf_lattice.layers import _common
from tf_lattice.layers import _regularizers
from tf_lattice.layers import pwl_calibration
from tf_lattice.ops.buckets import bucket_ids
from tf_lattice.specs import CategoricalSpec
from tf_lattice.specs import _vocabulary


@keras.saving.register_keras_serializable(package="tf_lattice")
class CategoricalCalibration(_common.KernelLayer):
    """Maps category ids to learned outputs.

    Input: ``[batch, 1]`` (shared by every unit) or ``[batch, units]``, integer
    (or integral float) ids. Output: ``[batch, units]``.

    Args:
      num_buckets: number of known categories.
      units: number of calibrators.
      output_min, output_max: bounds on every output.
      category_order: ``(i, j)`` pairs: output of category ``i`` <= output of
        category ``j`` (a partial order; cycles are rejected). Configs of
        earlier versions name it ``monotonicities``; ``from_config`` reads
        them.
      default_input_value: an id that means "unknown" (goes to the default
        bucket, as do ids outside ``[0, num_buckets)``).
      kernel_initializer: ``"uniform"`` (random within the bounds),
        ``"constant"`` (the middle of the bounds) or a Keras initializer.
      kernel_regularizer: a Keras regularizer (or list).
      implementation: ``"kernel"`` or ``"portable"``.
      **kwargs: Keras layer arguments.
    """

    uses_kernels = False

    renamed_arguments = {"monotonicities": "category_order"}  # the name in earlier versions' configs

    def __init__(self, num_buckets, units=1, output_min=None, output_max=None, category_order=None,
                 default_input_value=None, kernel_initializer="uniform", kernel_regularizer=None,
                 implementation="kernel", **kwargs):
        if "monotonicities" in kwargs:
            raise _vocabulary.renamed_argument(
                "CategoricalCalibration", "monotonicities", "category_order",
                "the partial order of categories as category_order=[(i, j), ...]")
        super().__init__(implementation=implementation, **kwargs)
        # Parsed and checked once, here; the projection and the certificate
        # receive this spec.
        self.spec = CategoricalSpec.parse(num_buckets, units=units, category_order=category_order,
                                          output_min=output_min, output_max=output_max)
        self.default_input_value = default_input_value
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = _regularizers.deserialize(kernel_regularizer)

    num_buckets = _common.spec_attribute("num_buckets")
    units = _common.spec_attribute("units")
    output_min = _common.spec_attribute("output_min")
    output_max = _common.spec_attribute("output_max")

    @property
    def category_order(self):
        """The ``(i, j)`` category pairs, a list of tuples."""
        return [tuple(p) for p in self.spec.category_order]


    def _initializer(self):
        low, high = pwl_calibration.initial_output_range(self.output_min, self.output_max)
        if self.kernel_initializer == "uniform":
            return keras.initializers.RandomUniform(low, high)
        if self.kernel_initializer == "constant":
            return keras.initializers.Constant((low + high) / 2)
        return keras.initializers.get(self.kernel_initializer)

    def _has_constraints(self):
        return self.spec.has_constraints

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] not in (1, self.units):
            raise ValueError(f"CategoricalCalibration with units={self.units} needs inputs [batch, 1] or "
                             f"[batch, {self.units}], got {tuple(input_shape)}")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.units, self.num_buckets + 1), initializer=self._initializer(),
            regularizer=_regularizers.resolve(self.kernel_regularizer, {}),
            constraint=_common.Projection(self._project_kernel) if self._has_constraints() else None)

    def bucket_ids(self, inputs):
        """Maps raw ids to int32 buckets in ``[0, num_buckets]`` (the last is
        the default bucket, which takes ids outside ``[0, num_buckets)``,
        ``default_input_value`` and NaN); see `tf_lattice.ops.buckets.bucket_ids`.
        """
        return bucket_ids(inputs, self.num_buckets, self.default_input_value)

    def call(self, inputs):
        ids = self.bucket_ids(tf.convert_to_tensor(inputs))
        if ids.shape[-1] == 1 and self.units > 1:
            ids = tf.repeat(ids, self.units, axis=-1)
        kernel = tf.cast(self.kernel, self.compute_dtype)
        # Output [batch, units]: unit u reads kernel[u, ids[:, u]], one gather
        # from the flattened kernel (row u starts at u * (num_buckets + 1)):
        # O(batch * units) work, where a one-hot product costs num_buckets
        # times that forward and backward.
        offsets = tf.constant(np.arange(self.units) * (self.num_buckets + 1), tf.int32)
        return tf.gather(tf.reshape(kernel, [-1]), ids + offsets)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _project_kernel(self, kernel, exact=False):
        return ops.partial_order_projection(tf.convert_to_tensor(kernel), spec=self.spec,
                                            exact=exact, implementation=self.implementation)

    def _project(self, exact):
        if not self._has_constraints():
            return []
        return [(self.kernel, self._project_kernel(self.kernel, exact=exact))]

    def certify(self, units=None):
        """Checks the partial order and the bounds exactly.

        Args:
          units: the units to check (default: all); locations then count
            within this selection.
        """
        units = list(range(self.units)) if units is None else [int(u) for u in units]
        certificate = tfl_constraints.certify_categorical(
            np.asarray(self.kernel, np.float64)[units], spec=self.spec)
        return tfl_constraints.Certificate(f"CategoricalCalibration {self.name!r}", tuple(certificate.checks))

    def get_config(self):
        config = super().get_config()
        initializer = _common.serialize_initializer(self.kernel_initializer)
        config.update(self.spec.to_config())
        config.update(
            default_input_value=self.default_input_value, kernel_initializer=initializer,
            kernel_regularizer=_regularizers.serialize(self.kernel_regularizer))
        return config
