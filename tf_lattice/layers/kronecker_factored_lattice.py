"""Kronecker-factored lattice: a lattice whose parameters are a sum of products.

For the size ``m`` of every dimension (``lattice_size``, shared by all ``d``
dimensions) and ``T`` terms,

    f_u(x) = b_u + (1/T) sum_t s_{u,t} prod_k PL(x_k; w_{u,k,:,t})

where ``PL(x; w)`` interpolates ``w_0..w_{m-1}`` linearly at ``x`` clipped to
``[0, m-1]``. The parameters grow as ``d m T`` instead of ``m^d``. The
interpolation uses stock TensorFlow ops only (the layer has no compiled kernel and
takes no ``implementation``).

Constraints, all kept by projection after each step:
- monotonic dimension ``k``: every factor is non-negative, the factors along
  ``k`` are sorted in the declared direction, and the scales are non-negative,
  so each term (a product of non-negative factors, one of them monotone) and
  their positive combination are monotone in ``x_k``;
- bounds: with bounds every factor lies in ``[0, 1]``, so every product lies in
  ``[0, 1]`` and ``f`` in ``[b + sum_t min(s_t, 0)/T, b + sum_t max(s_t, 0)/T]``;
  the projection keeps that interval inside ``[output_min, output_max]``.
"""

import keras
import numpy as np
import tensorflow as tf

from tf_lattice import constraints as tfl_constraints
from tf_lattice.constraints import ConstraintCheck
from tf_lattice.layers import _common
from tf_lattice.specs import _vocabulary


def factor_values(inputs, kernel, lattice_size):
    """Evaluates every 1-D factor at its input.

    Args:
      inputs: ``[batch, units, d]``.
      kernel: ``[units, d, m, T]``.
      lattice_size: ``m``.

    Returns:
      ``[batch, units, d, T]``: ``PL(x_k; w_{u,k,:,t})``.
    """
    clipped = tf.clip_by_value(inputs, 0.0, lattice_size - 1.0)
    vertices = tf.range(lattice_size, dtype=inputs.dtype)
    hats = tf.maximum(1.0 - tf.abs(clipped[..., None] - vertices), 0.0)  # [b, u, d, m]
    return tf.einsum("budm,udmt->budt", hats, kernel)


def _sort_along(values, axis, descending):
    return tf.sort(values, axis=axis, direction="DESCENDING" if descending else "ASCENDING")


@keras.saving.register_keras_serializable(package="tf_lattice")
class KroneckerFactoredLattice(_common.LatticeLayer):
    """A low-parameter lattice: a scaled mean of products of 1-D factors.

    Input: ``[batch, d]`` or ``[batch, units, d]``. Output: ``[batch, units]``.

    Args:
      lattice_size: one int ``m >= 2`` shared by every dimension (configs
        of earlier versions name it ``lattice_sizes``; ``from_config`` reads
        them).
      num_dims: ``d``; inferred from the input when None.
      units: number of functions.
      num_terms: ``T``.
      monotonicities: per dimension ``"none"``, ``"increasing"`` or
        ``"decreasing"``.
      output_min, output_max: bounds on the output.
      seed: seed of the random initial factors.
      **kwargs: Keras layer arguments.
    """

    renamed_arguments = {"lattice_sizes": "lattice_size"}  # the name in earlier versions' configs

    def __init__(self, lattice_size=None, num_dims=None, units=1, num_terms=2, monotonicities=None,
                 output_min=None, output_max=None, seed=0, **kwargs):
        if "lattice_sizes" in kwargs or lattice_size is None:
            raise _vocabulary.renamed_argument(
                "KroneckerFactoredLattice", "lattice_sizes", "lattice_size",
                "the size of every dimension as lattice_size=m")
        super().__init__(**kwargs)
        self.lattice_size = _vocabulary.parse_count(lattice_size, "lattice_size", 2)
        self.num_dims = None if num_dims is None else _vocabulary.parse_count(num_dims, "num_dims")
        self.units = _vocabulary.parse_count(units, "units")
        self.num_terms = _vocabulary.parse_count(num_terms, "num_terms")
        self._monotonicities_argument = monotonicities
        self.monotonicities = None
        if self.num_dims is not None:
            self.monotonicities = self._parse_monotonicities()
        self.output_min, self.output_max = _vocabulary.parse_bounds(output_min, output_max)
        self.seed = seed

    def _parse_monotonicities(self):
        signs = _vocabulary.parse_per_item(self._monotonicities_argument, self.num_dims,
                                           _vocabulary.MONOTONICITIES, "monotonicities",
                                           "dimension")
        return [_vocabulary.direction_name(m, _vocabulary.MONOTONICITIES) for m in signs]


    @property
    def _bounded(self):
        return self.output_min is not None or self.output_max is not None

    @property
    def _monotone(self):
        return any(m != "none" for m in self.monotonicities)

    def build(self, input_shape):
        dims = input_shape[-1]
        if self.num_dims is not None and dims is not None and dims != self.num_dims:
            raise ValueError(f"KroneckerFactoredLattice with num_dims={self.num_dims} got input shape "
                             f"{tuple(input_shape)}")
        self.num_dims = int(dims if dims is not None else self.num_dims)
        if self.monotonicities is None:
            self.monotonicities = self._parse_monotonicities()
        shape = (self.units, self.num_dims, self.lattice_size, self.num_terms)
        rng = np.random.default_rng(self.seed)
        low, high = (0.0, 1.0) if self._bounded else (0.5, 1.5)
        kernel = rng.uniform(low, high, shape)
        for k, direction in enumerate(self.monotonicities):
            if direction != "none":
                kernel[:, k] = np.sort(kernel[:, k], axis=1)
                if direction == "decreasing":
                    kernel[:, k] = kernel[:, k, ::-1]
        # Geometric normalization: every product starts near 1 in magnitude.
        if not self._bounded:
            kernel = kernel ** (1.0 / self.num_dims)
        self.kernel = self.add_weight(
            name="kernel", shape=shape, initializer=keras.initializers.Constant(kernel),
            constraint=_common.Projection(self._project_kernel))
        low, high = self._initial_range()
        scale_and_bias = np.zeros((self.units, self.num_terms + 1))
        scale_and_bias[:, :-1] = high - low
        scale_and_bias[:, -1] = low
        self.scale_and_bias = self.add_weight(
            name="scale_and_bias", shape=scale_and_bias.shape,
            initializer=keras.initializers.Constant(scale_and_bias),
            constraint=_common.Projection(self._project_scale_and_bias))

    def _initial_range(self):
        if self.output_min is not None and self.output_max is not None:
            return self.output_min, self.output_max
        if self.output_min is not None:
            return self.output_min, self.output_min + 1.0
        if self.output_max is not None:
            return self.output_max - 1.0, self.output_max
        return 0.0, 1.0

    def call(self, inputs):
        inputs = tf.cast(inputs, self.compute_dtype)
        if inputs.shape.rank == 2:
            inputs = tf.repeat(inputs[:, None, :], self.units, axis=1)
        factors = factor_values(inputs, tf.cast(self.kernel, self.compute_dtype), self.lattice_size)
        products = tf.reduce_prod(factors, axis=2)  # [batch, units, T]
        scale_and_bias = tf.cast(self.scale_and_bias, self.compute_dtype)
        return tf.reduce_mean(products * scale_and_bias[:, :-1], axis=-1) + scale_and_bias[:, -1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def _project_kernel(self, kernel, exact=False):
        kernel = tf.convert_to_tensor(kernel)
        if self._bounded:
            kernel = tf.clip_by_value(kernel, 0.0, 1.0)
        elif self._monotone:
            kernel = tf.maximum(kernel, 0.0)
        columns = []
        for k, direction in enumerate(self.monotonicities):
            column = kernel[:, k]
            if direction != "none":
                column = _sort_along(column, axis=1, descending=direction == "decreasing")
            columns.append(column)
        return tf.stack(columns, axis=1)

    def _project_scale_and_bias(self, value, exact=False):
        value = tf.convert_to_tensor(value)
        scale, bias = value[:, :-1], value[:, -1:]
        if self._monotone:
            scale = tf.maximum(scale, 0.0)
        terms = float(self.num_terms)
        if self.output_min is not None or self.output_max is not None:
            low = -np.inf if self.output_min is None else self.output_min
            high = np.inf if self.output_max is None else self.output_max
            bias = tf.clip_by_value(bias, low, high)
            positive, negative = tf.maximum(scale, 0.0), tf.minimum(scale, 0.0)
            if self.output_max is not None:
                room = (self.output_max - bias) * terms
                total = tf.reduce_sum(positive, axis=-1, keepdims=True)
                positive = positive * tf.minimum(1.0, room / tf.maximum(total, 1e-12))
            if self.output_min is not None:
                room = (bias - self.output_min) * terms
                total = -tf.reduce_sum(negative, axis=-1, keepdims=True)
                negative = negative * tf.minimum(1.0, room / tf.maximum(total, 1e-12))
            scale = positive + negative
        return tf.concat([scale, bias], axis=-1)

    def _project(self, exact):
        return [(self.kernel, self._project_kernel(self.kernel)),
                (self.scale_and_bias, self._project_scale_and_bias(self.scale_and_bias))]

    def certify(self):
        """Checks the sufficient conditions above exactly."""
        kernel = np.asarray(self.kernel, np.float64)
        scale_and_bias = np.asarray(self.scale_and_bias, np.float64)
        scale, bias = scale_and_bias[:, :-1], scale_and_bias[:, -1]
        checks = []
        tolerance = 1e-6
        if self._monotone or self._bounded:
            checks.append(ConstraintCheck("factors >= 0", float(max(0.0, -kernel.min())), None, tolerance))
        if self._monotone:
            checks.append(ConstraintCheck("scales >= 0", float(max(0.0, -scale.min())), None, tolerance))
        for k, direction in enumerate(self.monotonicities):
            if direction == "none":
                continue
            steps = np.diff(kernel[:, k], axis=1)
            worst = -steps.min() if direction == "increasing" else steps.max()
            checks.append(ConstraintCheck(f"monotonicities[{k}]={direction}", float(max(0.0, worst)),
                                          None, tolerance))
        if self._bounded:
            checks.append(ConstraintCheck("factors <= 1", float(max(0.0, kernel.max() - 1.0)), None, tolerance))
            low = bias + np.minimum(scale, 0).sum(axis=-1) / self.num_terms
            high = bias + np.maximum(scale, 0).sum(axis=-1) / self.num_terms
            checks.append(_common.bounds_check("output bounds", np.concatenate([low, high]),
                                               self.output_min, self.output_max))
        return tfl_constraints.Certificate(f"KroneckerFactoredLattice {self.name!r}", tuple(checks))

    def get_config(self):
        config = super().get_config()
        config.update(lattice_size=self.lattice_size, num_dims=self.num_dims, units=self.units,
                      num_terms=self.num_terms, monotonicities=self.monotonicities,
                      output_min=self.output_min, output_max=self.output_max, seed=self.seed)
        return config
