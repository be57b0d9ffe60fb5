"""Initializers of lattice parameters ``[units, prod(lattice_sizes)]``.

Vertices are in row-major order (last dimension fastest), as everywhere in
tf_lattice.
"""

import random

import keras
import numpy as np

from tf_lattice.specs import LatticeSpec


def vertex_coordinates(lattice_sizes):
    """Integer coordinates of every vertex, row-major: array ``[V, d]``."""
    grids = np.meshgrid(*[np.arange(size) for size in lattice_sizes], indexing="ij")
    return np.stack([grid.reshape(-1) for grid in grids], axis=-1)


def _dimension_profile(size, direction):
    """Per-dimension shape on ``size`` vertices, scaled to span [0, 1]."""
    position = np.linspace(0.0, 1.0, size)
    if direction == "increasing":
        return position
    if direction == "decreasing":
        return 1.0 - position
    if direction in ("valley", "peak"):
        center = (size - 1) / 2.0
        valley = np.abs(np.arange(size) - center) / max(center, 1e-12)
        return valley if direction == "valley" else 1.0 - valley
    return np.zeros(size)


def lattice_directions(lattice_sizes, monotonicities=None, unimodalities=None):
    """The :class:`LatticeSpec` of an initializer's sizes and directions.

    Args:
      lattice_sizes: ``d`` ints, or a :class:`LatticeSpec` (used as it is;
        then no direction argument may be given).
      monotonicities, unimodalities: as :meth:`LatticeSpec.parse` takes them.

    Raises:
      TypeError: a spec and direction arguments.
      ValueError: as :meth:`LatticeSpec.parse`.
    """
    if isinstance(lattice_sizes, LatticeSpec):
        if monotonicities is not None or unimodalities is not None:
            raise TypeError("give either a LatticeSpec or lattice_sizes and directions")
        return lattice_sizes
    return LatticeSpec.parse(lattice_sizes, monotonicities=monotonicities,
                             unimodalities=unimodalities)


def linear_lattice_values(lattice_sizes, monotonicities=None, unimodalities=None,
                          output_min=0.0, output_max=1.0):
    """Vertex values of ``output_min + sum_k phi_k(v_k)``.

    ``phi_k`` rises linearly over increasing dimensions (falls over decreasing
    ones, is V- or Λ-shaped over valley/peak ones) by ``Δ = (output_max -
    output_min) / c`` where ``c`` counts the constrained dimensions (all
    dimensions when none is constrained; then every dimension rises), so the
    values span ``[output_min, output_max]``.

    Args:
      lattice_sizes: ``d`` ints, or a :class:`LatticeSpec` of the sizes and
        directions (then ``monotonicities`` and ``unimodalities`` stay None).
      monotonicities, unimodalities: directions per dimension.
      output_min, output_max: the range the values span.

    Returns:
      Array ``[V]``.
    """
    spec = lattice_directions(lattice_sizes, monotonicities, unimodalities)
    lattice_sizes, dims = spec.lattice_sizes, spec.rank
    monotonicities, unimodalities = spec.monotonicity_names, spec.unimodality_names
    directions = [u if u != "none" else m for m, u in zip(monotonicities, unimodalities)]
    if all(direction == "none" for direction in directions):
        directions = ["increasing"] * dims
    constrained = sum(direction != "none" for direction in directions)
    step = (output_max - output_min) / constrained
    coordinates = vertex_coordinates(lattice_sizes)
    values = np.full(coordinates.shape[0], float(output_min))
    for k, direction in enumerate(directions):
        values += step * _dimension_profile(lattice_sizes[k], direction)[coordinates[:, k]]
    return values


def _unit_values(value, name):
    """A bound of :class:`LinearInitializer`: a float, or a list of floats
    (one per unit)."""
    values = np.asarray(value, np.float64)
    if values.ndim > 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} of LinearInitializer must be a finite number or a list of one "
                         f"finite number per unit, got {value!r}")
    return float(values) if values.ndim == 0 else [float(v) for v in values]


def _per_unit(bound, units, name, shape):
    """``units`` values of a bound of :class:`LinearInitializer`."""
    if not isinstance(bound, list):
        return [bound] * units
    if len(bound) != units:
        raise ValueError(f"LinearInitializer has {len(bound)} {name} values (one per unit) for a "
                         f"kernel of shape {tuple(shape)} ({units} units)")
    return bound


@keras.saving.register_keras_serializable(package="tf_lattice")
class LinearInitializer(keras.initializers.Initializer):
    """Every unit starts as a separable linear (monotone) function.

    See :func:`linear_lattice_values`. The requested shape must be
    ``[units, prod(lattice_sizes)]``. ``lattice_sizes`` may be a
    :class:`LatticeSpec` (then without direction arguments).
    ``output_min`` and ``output_max`` are one value for every unit, or one
    per unit (for example a model's initial score per class, ``+- 1/2``):
    unit ``u`` then spans ``[output_min[u], output_max[u]]``.
    """

    def __init__(self, lattice_sizes, monotonicities=None, unimodalities=None,
                 output_min=0.0, output_max=1.0):
        self.spec = lattice_directions(lattice_sizes, monotonicities, unimodalities)
        self.lattice_sizes = list(self.spec.lattice_sizes)
        self.monotonicities = self.spec.monotonicity_names
        self.unimodalities = self.spec.unimodality_names
        self.output_min = _unit_values(output_min, "output_min")
        self.output_max = _unit_values(output_max, "output_max")

    def __call__(self, shape, dtype=None):
        units = shape[0] if len(shape) == 2 else 1
        values = np.stack([
            linear_lattice_values(self.spec, output_min=low, output_max=high)
            for low, high in zip(*(_per_unit(bound, units, name, shape) for name, bound in
                                   (("output_min", self.output_min),
                                    ("output_max", self.output_max))))])
        if shape[-1] != values.shape[1]:
            raise ValueError(f"LinearInitializer for lattice_sizes {self.lattice_sizes} needs a last "
                             f"dimension of {values.shape[1]}, got shape {tuple(shape)}")
        # A kernel of other than [units, V] shape takes the one unit's values.
        values = values if len(shape) == 2 else values[0]
        return keras.ops.convert_to_tensor(np.broadcast_to(values, shape), dtype=dtype)

    def get_config(self):
        return dict(lattice_sizes=self.lattice_sizes, monotonicities=self.monotonicities,
                    unimodalities=self.unimodalities, output_min=self.output_min,
                    output_max=self.output_max)


@keras.saving.register_keras_serializable(package="tf_lattice")
class RandomMonotonicInitializer(keras.initializers.Initializer):
    """Random vertex values, monotone along the declared dimensions.

    Draws ``V`` values uniformly from ``[output_min, output_max]``, sorts them
    and hands them out by vertex level ``sum_k l_k(v_k)`` (``l_k = v_k`` for
    increasing and unconstrained dimensions, ``m_k - 1 - v_k`` for decreasing
    ones; random order within a level). A step along a monotone dimension
    raises the level, so it never lowers the value. ``lattice_sizes`` may be
    a :class:`LatticeSpec` (then without ``monotonicities``).

    With ``seed=None`` each call draws its seed from Python's ``random``, as
    Keras' own unseeded initializers do, so ``keras.utils.set_random_seed``
    makes the values reproducible.
    """

    def __init__(self, lattice_sizes, monotonicities=None, output_min=0.0, output_max=1.0, seed=None):
        self.spec = lattice_directions(lattice_sizes, monotonicities)
        self.lattice_sizes = list(self.spec.lattice_sizes)
        self.monotonicities = self.spec.monotonicity_names
        self.output_min = float(output_min)
        self.output_max = float(output_max)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        monotonicities = self.monotonicities
        coordinates = vertex_coordinates(self.lattice_sizes)
        levels = np.zeros(coordinates.shape[0])
        for k, direction in enumerate(monotonicities):
            column = coordinates[:, k]
            levels += (self.lattice_sizes[k] - 1 - column) if direction == "decreasing" else column
        rng = np.random.default_rng(self.seed if self.seed is not None
                                    else random.randint(1, 10**9))
        units = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        rows = []
        for _ in range(units):
            samples = np.sort(rng.uniform(self.output_min, self.output_max, coordinates.shape[0]))
            order = np.lexsort((rng.random(coordinates.shape[0]), levels))
            row = np.empty(coordinates.shape[0])
            row[order] = samples
            rows.append(row)
        return keras.ops.convert_to_tensor(np.reshape(rows, shape), dtype=dtype)

    def get_config(self):
        return dict(lattice_sizes=self.lattice_sizes, monotonicities=self.monotonicities,
                    output_min=self.output_min, output_max=self.output_max, seed=self.seed)


@keras.saving.register_keras_serializable(package="tf_lattice")
class UnitBlocks(keras.initializers.Initializer):
    """Consecutive blocks of units, each from an initializer of its own.

    For a kernel ``[units, V]`` with ``units = sum(units_per_block)``: rows
    ``sum(units_per_block[:b]) ..`` (``units_per_block[b]`` of them) come from
    ``initializers[b]``, called with the shape ``[units_per_block[b], V]``.
    A :class:`~tf_lattice.layers.Lattice` with ``unit_constraints`` starts
    each block from the values its constraints call for.
    """

    def __init__(self, initializers, units_per_block):
        if len(initializers) != len(units_per_block) or not initializers:
            raise ValueError(
                f"UnitBlocks needs one initializer per block, got {len(initializers)} "
                f"initializers for {len(units_per_block)} blocks")
        self.initializers = [keras.initializers.get(each) for each in initializers]
        self.units_per_block = [int(n) for n in units_per_block]

    def __call__(self, shape, dtype=None):
        if len(shape) != 2 or shape[0] != sum(self.units_per_block):
            raise ValueError(
                f"UnitBlocks of {self.units_per_block} units needs a kernel of shape "
                f"[{sum(self.units_per_block)}, V], got shape {tuple(shape)}")
        blocks = [initializer((units, shape[1]), dtype=dtype)
                  for initializer, units in zip(self.initializers, self.units_per_block)]
        return keras.ops.concatenate(blocks, axis=0)

    def get_config(self):
        return dict(initializers=[keras.initializers.serialize(each) for each in self.initializers],
                    units_per_block=list(self.units_per_block))
