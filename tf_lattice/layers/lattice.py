"""Lattice layer: multilinear or simplex interpolation of vertex parameters.

A lattice with sizes ``m = (m_0, ..., m_{d-1})`` holds ``V = prod(m)``
parameters per unit (the ``kernel``, shape ``[units, V]``, row-major: last
dimension fastest). Input ``x_k`` is clipped to ``[0, m_k - 1]``; the output is
the interpolation of the parameters of the cell containing ``x``. Shape
constraints are linear inequalities on the parameters, enforced by projection
after every optimizer step, so they hold on the whole input domain.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tf_lattice import constraints as tfl_constraints
from tf_lattice import ops
from tf_lattice.layers import _common
from tf_lattice.layers import _regularizers
from tf_lattice.layers import lattice_initializers
from tf_lattice.specs import LatticeSpec
from tf_lattice.specs import _vocabulary

KERNEL_INITIALIZERS = ("linear_initializer", "random_monotonic_initializer")
EXACT_PROJECTION_MAX_PARAMS = 2048
#: The constraint arguments a block of ``unit_constraints`` may set (the
#: output bounds are the layer's).
UNIT_CONSTRAINT_ARGUMENTS = ("monotonicities", "unimodalities", "edgeworth_trusts",
                             "trapezoid_trusts", "monotonic_dominances", "range_dominances",
                             "joint_monotonicities")


def lattice_regularizer_builders(lattice_sizes):
    """Names usable in ``("name", l1, l2)`` lattice regularizer tuples.

    Args:
      lattice_sizes: ``d`` ints or a :class:`LatticeSpec`.
    """
    from tf_lattice import regularizers
    return {
        "laplacian": lambda l1=0.0, l2=0.0: regularizers.LatticeLaplacian(lattice_sizes, l1=l1, l2=l2),
        "torsion": lambda l1=0.0, l2=0.0: regularizers.LatticeTorsion(lattice_sizes, l1=l1, l2=l2),
    }


@keras.saving.register_keras_serializable(package="tf_lattice")
class Lattice(_common.KernelLayer):
    """An interpolated lattice (look-up table) with shape constraints.

    Input: ``[batch, d]`` (every unit reads the same point), ``[batch, units,
    d]``, or a list of ``d`` tensors ``[batch, 1]``. Output: ``[batch, units]``.

    Args:
      lattice_sizes: ``d`` ints, each at least 2.
      units: number of lattices evaluated together.
      interpolation: ``"hypercube"`` (multilinear) or ``"simplex"``.
      monotonicities: per dimension ``"none"``, ``"increasing"`` or
        ``"decreasing"`` (or one string for all).
      unimodalities: per dimension ``"none"``, ``"valley"`` or ``"peak"``.
      edgeworth_trusts: ``(main_dim, conditional_dim, direction)`` triples:
        the main dimension's slope grows (``"increasing"``) or shrinks with the
        conditional dimension, on every cell.
      trapezoid_trusts: ``(main_dim, conditional_dim, direction)`` triples:
        the range of the function along the main dimension widens with the
        conditional dimension.
      monotonic_dominances: ``(dominant, weak)`` pairs: the slope along the
        dominant dimension is at least the slope along the weak one.
      range_dominances: ``(dominant, weak)`` pairs: the range along the
        dominant dimension is at least the range along the weak one.
      joint_monotonicities: ``(a, b)`` pairs: increasing along the diagonal
        ``e_a + e_b``.
      output_min, output_max: bounds on every vertex (so on every output).
      num_projection_iterations: Dykstra iterations of the per-step projection.
      kernel_initializer: ``"linear_initializer"``,
        ``"random_monotonic_initializer"`` or a Keras initializer.
      kernel_regularizer: None, a Keras regularizer, ``("laplacian" |
        "torsion", l1, l2)`` tuples, or a list of these.
      implementation: ``"kernel"`` or ``"portable"``.
      unit_constraints: None (every unit takes the constraint arguments
        above), or consecutive blocks of units with constraints of their own:
        a list of dicts, each with ``"units"`` (how many) and any of
        ``UNIT_CONSTRAINT_ARGUMENTS`` (as above), covering all ``units``;
        the constraint arguments above then stay unset but for the output
        bounds, which hold for every unit. One projection op call projects
        every block; the constraint properties (``monotonicities``, ...)
        then describe what every unit shares, ``unit_specs`` each block.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, lattice_sizes, units=1, interpolation="hypercube", monotonicities=None,
                 unimodalities=None, edgeworth_trusts=None, trapezoid_trusts=None,
                 monotonic_dominances=None, range_dominances=None, joint_monotonicities=None,
                 output_min=None, output_max=None, num_projection_iterations=10,
                 kernel_initializer="linear_initializer", kernel_regularizer=None,
                 implementation="kernel", unit_constraints=None, **kwargs):
        super().__init__(implementation=implementation, **kwargs)
        if isinstance(lattice_sizes, (int, np.integer)) and not isinstance(lattice_sizes, bool):
            lattice_sizes = [lattice_sizes]  # one dimension, as earlier versions took it
        # Every constraint argument is parsed and checked once, here, by the
        # spec that the projection, the certificate, the initializer and the
        # regularizers then receive: whatever the layer accepts, its
        # projection accepts, and a contradiction (a dominance over a
        # decreasing dimension, a unimodal dimension of size 2, ...) is an
        # error now rather than at the first optimizer step.
        self.spec = LatticeSpec.parse(
            lattice_sizes, units=units, monotonicities=monotonicities,
            unimodalities=unimodalities, edgeworth_trusts=edgeworth_trusts,
            trapezoid_trusts=trapezoid_trusts, monotonic_dominances=monotonic_dominances,
            range_dominances=range_dominances, joint_monotonicities=joint_monotonicities,
            output_min=output_min, output_max=output_max)
        self.unit_specs = unit_block_specs(self.spec, unit_constraints)
        self.interpolation = _common.check_choice("interpolation", interpolation, _common.INTERPOLATIONS)
        self.num_projection_iterations = int(num_projection_iterations)
        if isinstance(kernel_initializer, str) and kernel_initializer in KERNEL_INITIALIZERS:
            self.kernel_initializer = kernel_initializer
        else:
            self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = _regularizers.deserialize(kernel_regularizer)

    @property
    def lattice_sizes(self):
        """The size of each dimension, a list of ``d`` ints."""
        return list(self.spec.lattice_sizes)

    @property
    def units(self):
        return self.spec.units

    @property
    def num_vertices(self):
        return self.spec.num_vertices

    @property
    def monotonicities(self):
        """The monotonicity of each dimension, a list of strings."""
        return self.spec.monotonicity_names

    @property
    def unimodalities(self):
        """The unimodality of each dimension, a list of strings."""
        return self.spec.unimodality_names

    @property
    def edgeworth_trusts(self):
        """``(main, conditional, direction)`` triples, directions as strings."""
        return _named_trusts(self.spec.edgeworth_trusts)

    @property
    def trapezoid_trusts(self):
        """``(main, conditional, direction)`` triples, directions as strings."""
        return _named_trusts(self.spec.trapezoid_trusts)

    @property
    def monotonic_dominances(self):
        return list(self.spec.monotonic_dominances)

    @property
    def range_dominances(self):
        return list(self.spec.range_dominances)

    @property
    def joint_monotonicities(self):
        return list(self.spec.joint_monotonicities)

    @property
    def output_min(self):
        return self.spec.output_min

    @property
    def output_max(self):
        return self.spec.output_max

    @property
    def has_unit_constraints(self):
        """Whether blocks of units have constraints of their own."""
        return len(self.unit_specs) > 1 or self.unit_specs[0] is not self.spec

    def unit_spec(self, unit):
        """The :class:`LatticeSpec` that constrains unit ``unit`` (its block's
        with ``unit_constraints``, else the layer's)."""
        if not 0 <= unit < self.units:
            raise ValueError(f"unit must be in [0, {self.units}), got {unit}")
        for spec in self.unit_specs:
            if unit < spec.units:
                return spec
            unit -= spec.units
        raise AssertionError("unit_specs cover every unit")

    def _has_constraints(self):
        return any(spec.has_constraints for spec in self.unit_specs)

    def _initializer(self):
        if not isinstance(self.kernel_initializer, str):
            return self.kernel_initializer
        if not self.has_unit_constraints:
            return self._named_initializer(self.spec)
        return lattice_initializers.UnitBlocks([self._named_initializer(spec) for spec in self.unit_specs],
                                               [spec.units for spec in self.unit_specs])

    def _named_initializer(self, spec):
        """The ``kernel_initializer`` named by a string, for units of ``spec``."""
        low = 0.0 if self.output_min is None else self.output_min
        high = low + 1.0 if self.output_max is None else self.output_max
        if self.output_max is not None and self.output_min is None:
            low = high - 1.0
        if self.kernel_initializer == "linear_initializer":
            return lattice_initializers.LinearInitializer(spec, output_min=low, output_max=high)
        return lattice_initializers.RandomMonotonicInitializer(spec, output_min=low, output_max=high)

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            dims = len(input_shape)
        else:
            dims = input_shape[-1]
            if len(input_shape) == 3 and input_shape[1] not in (None, self.units):
                raise ValueError(f"Lattice with units={self.units} got inputs {tuple(input_shape)}: the "
                                 f"middle dimension must be {self.units}")
        if dims is not None and dims != len(self.lattice_sizes):
            raise ValueError(f"Lattice with lattice_sizes {self.lattice_sizes} needs {len(self.lattice_sizes)} "
                             f"inputs per point, got input shape {input_shape}")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.units, self.num_vertices), initializer=self._initializer(),
            regularizer=_regularizers.resolve(self.kernel_regularizer, lattice_regularizer_builders(self.spec)),
            constraint=_common.Projection(self._project_kernel) if self._has_constraints() else None)

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            inputs = tf.concat([tf.cast(x, self.compute_dtype) for x in inputs], axis=-1)
        inputs = tf.cast(inputs, self.compute_dtype)
        return ops.lattice_interpolation(inputs, tf.cast(self.kernel, self.compute_dtype),
                                         self.spec, interpolation=self.interpolation,
                                         implementation=self.implementation)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return (input_shape[0][0], self.units)
        return (input_shape[0], self.units)

    def _project_kernel(self, kernel, exact=False):
        if not self._has_constraints():
            return tf.convert_to_tensor(kernel)
        # The exact (cvxpy) projection is affordable only for small kernels;
        # larger ones get many more Dykstra cycles instead.
        finalizing = exact
        exact = exact and self.units * self.num_vertices <= EXACT_PROJECTION_MAX_PARAMS
        iterations = self.num_projection_iterations * (10 if finalizing else 1)
        return ops.lattice_projection(
            tf.convert_to_tensor(kernel),
            spec=list(self.unit_specs) if self.has_unit_constraints else self.spec,
            num_iterations=iterations, exact=exact, implementation=self.implementation)

    def _project(self, exact):
        return [(self.kernel, self._project_kernel(self.kernel, exact=exact))]

    def certify(self):
        """Checks every declared constraint exactly on the vertex parameters
        (with ``unit_constraints``, each block's own; a check's name then
        starts with the block's units, its location holds the layer's unit)."""
        kernel = np.asarray(self.kernel, np.float64)
        if not self.has_unit_constraints:
            certificate = tfl_constraints.certify_lattice(kernel, spec=self.spec)
            return tfl_constraints.Certificate(f"Lattice {self.name!r}", tuple(certificate.checks))
        checks, begin = [], 0
        for spec in self.unit_specs:
            end = begin + spec.units
            for check in tfl_constraints.certify_lattice(kernel[begin:end], spec=spec).checks:
                location = check.location
                if location is not None:
                    location = (location[0] + begin,) + tuple(location[1:])
                checks.append(dataclasses.replace(
                    check, name=f"units {begin}..{end - 1}: {check.name}", location=location))
            begin = end
        return tfl_constraints.Certificate(f"Lattice {self.name!r}", tuple(checks))

    def get_config(self):
        config = super().get_config()
        initializer = _common.serialize_initializer(self.kernel_initializer)
        config.update(self.spec.to_config())
        config.update(
            interpolation=self.interpolation, num_projection_iterations=self.num_projection_iterations,
            kernel_initializer=initializer,
            kernel_regularizer=_regularizers.serialize(self.kernel_regularizer))
        if self.has_unit_constraints:
            config["unit_constraints"] = [_block_config(spec) for spec in self.unit_specs]
        return config


def unit_block_specs(spec, unit_constraints):
    """The :class:`LatticeSpec` of each block of units of a Lattice.

    Args:
      spec: the layer's spec (its sizes, units, bounds and the constraints
        of every unit).
      unit_constraints: None, or the layer's ``unit_constraints`` blocks.

    Returns:
      ``(spec,)`` without ``unit_constraints``; otherwise one spec per block,
      with the block's ``units``, its constraints and the layer's bounds.

    Raises:
      ValueError: naming the block, for a block that is not a dict with
        ``"units"``, an unknown or invalid constraint argument, constraints
        given both for the layer and per block, or blocks whose units do not
        sum to the layer's.
    """
    if unit_constraints is None:
        return (spec,)
    shared = LatticeSpec.parse(spec.lattice_sizes, units=spec.units, output_min=spec.output_min,
                               output_max=spec.output_max)
    if spec != shared:
        raise ValueError("Lattice takes constraint arguments either for every unit or per block "
                         "in unit_constraints, not both (only output_min and output_max hold "
                         "for every unit alongside unit_constraints)")
    blocks = list(unit_constraints)
    if not blocks:
        raise ValueError("unit_constraints must hold at least one block of units")
    specs = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or "units" not in block:
            raise ValueError(f"unit_constraints[{index}] must be a dict with 'units' and "
                             f"constraint arguments, got {block!r}")
        unknown = sorted(set(block) - {"units"} - set(UNIT_CONSTRAINT_ARGUMENTS))
        if unknown:
            raise ValueError(f"unit_constraints[{index}] has unknown arguments {unknown}; a block "
                             f"takes 'units' and {list(UNIT_CONSTRAINT_ARGUMENTS)}")
        try:
            specs.append(LatticeSpec.parse(spec.lattice_sizes, output_min=spec.output_min,
                                           output_max=spec.output_max, **block))
        except ValueError as error:
            raise ValueError(f"unit_constraints[{index}]: {error}") from None
    total = sum(each.units for each in specs)
    if total != spec.units:
        raise ValueError(f"unit_constraints cover {total} units "
                         f"({[each.units for each in specs]}), but the layer has units={spec.units}")
    return tuple(specs)


def _block_config(spec):
    """A block of ``unit_constraints`` in the user vocabulary."""
    config = spec.to_config()
    for name in ("lattice_sizes", "output_min", "output_max"):
        config.pop(name)
    return config


def _named_trusts(trusts):
    return [(main, cond, _vocabulary.direction_name(direction, _vocabulary.TRUST_DIRECTIONS))
            for main, cond, direction in trusts]
