"""Keras 3 regularizer classes over the pure regularizer functions.

Each class validates its arguments on construction, delegates the math to a
function of `tf_lattice.regularizers`, and round-trips through
``get_config`` / ``from_config`` and ``keras.saving`` serialization.

Weights are expected with units first (``[units, K]`` for calibrators,
``[units, V]`` for lattices); pass ``units_last=True`` for weights stored as
``[K, units]`` / ``[V, units]``.
"""

import numbers

import keras
import tensorflow as tf

from tf_lattice.regularizers.amounts import (
    calibrator_spec, check_amount, check_lattice_sizes, dimension_pairs, per_item_amounts)
from tf_lattice.regularizers.calibrator import (
    calibrator_hessian, calibrator_laplacian, calibrator_wrinkle)
from tf_lattice.regularizers.lattice import lattice_laplacian, lattice_torsion
from tf_lattice.regularizers.linear import linear_laplacian
from tf_lattice.specs import LatticeSpec


def _units_first(weights, units_last):
    weights = tf.convert_to_tensor(weights)
    if units_last and weights.shape.rank == 2:
        return tf.transpose(weights)
    return weights


def _amount_config(amount):
    """A JSON-friendly copy of a scalar or per-item amount."""
    if isinstance(amount, numbers.Real):
        return float(amount)
    return [float(a) for a in amount]


class _CalibratorRegularizer(keras.regularizers.Regularizer):
    """Shared constructor and config of the calibrator regularizers."""

    def __init__(self, l1=0.0, l2=0.0, units_last=False):
        self.l1 = check_amount("l1", l1)
        self.l2 = check_amount("l2", l2)
        self.units_last = bool(units_last)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2, "units_last": self.units_last}


@keras.saving.register_keras_serializable(package="tf_lattice")
class CalibratorLaplacian(_CalibratorRegularizer):
    """Keras regularizer for `calibrator_laplacian` (first output differences).

    Args:
      l1: non-negative amount of ``sum |o_{i+1} - o_i|``.
      l2: non-negative amount of ``sum (o_{i+1} - o_i)^2``.
      units_last: True if the weight is stored as ``[K, units]``.
    """

    def __call__(self, x):
        return calibrator_laplacian(
            _units_first(x, self.units_last), l1=self.l1, l2=self.l2)


class _SlopeRegularizer(_CalibratorRegularizer):
    """Calibrator regularizer that also depends on keypoint spacing.

    ``keypoints`` is a calibrator's CalibratorSpec (used as it is), raw
    keypoints (parsed into a spec once, here) or None (unit spacing: the
    plain differences of the outputs). The config keeps the keypoints as
    nested lists.
    """

    def __init__(self, l1=0.0, l2=0.0, keypoints=None, units_last=False):
        super().__init__(l1=l1, l2=l2, units_last=units_last)
        self._spec = None if keypoints is None else calibrator_spec(keypoints)
        self.keypoints = None if self._spec is None else self._spec.keypoints_array().tolist()

    def get_config(self):
        return {**super().get_config(), "keypoints": self.keypoints}


@keras.saving.register_keras_serializable(package="tf_lattice")
class CalibratorHessian(_SlopeRegularizer):
    """Keras regularizer for `calibrator_hessian` (changes of slope).

    Args:
      l1: non-negative amount of ``sum |s_{i+1} - s_i|``.
      l2: non-negative amount of ``sum (s_{i+1} - s_i)^2``.
      keypoints: the calibrator's CalibratorSpec, or optional strictly
        increasing keypoints ``[K]`` or ``[units, K]`` (nested lists); None
        means unit spacing.
      units_last: True if the weight is stored as ``[K, units]``.
    """

    def __call__(self, x):
        return calibrator_hessian(
            _units_first(x, self.units_last), self._spec, l1=self.l1, l2=self.l2)


@keras.saving.register_keras_serializable(package="tf_lattice")
class CalibratorWrinkle(_SlopeRegularizer):
    """Keras regularizer for `calibrator_wrinkle` (differences of slope changes).

    Args:
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.
      keypoints: the calibrator's CalibratorSpec, or optional strictly
        increasing keypoints ``[K]`` or ``[units, K]`` (nested lists); None
        means unit spacing.
      units_last: True if the weight is stored as ``[K, units]``.
    """

    def __call__(self, x):
        return calibrator_wrinkle(
            _units_first(x, self.units_last), self._spec, l1=self.l1, l2=self.l2)


class _LatticeRegularizer(keras.regularizers.Regularizer):
    """Shared constructor, call and config of the lattice regularizers.

    Subclasses set ``_PENALTY`` (the function of :mod:`lattice` applied to
    ``[units, V]`` weights), ``_ITEMS`` (what one amount of a sequence
    belongs to, for error messages) and ``_item_count(num_dims)`` (how many
    amounts a sequence must have).
    """

    def __init__(self, lattice_sizes, l1=0.0, l2=0.0, units_last=False):
        # A LatticeSpec is used as it is; sizes are validated once, here.
        self._sizes = (lattice_sizes if isinstance(lattice_sizes, LatticeSpec)
                       else LatticeSpec(check_lattice_sizes(lattice_sizes)))
        self.lattice_sizes = list(self._sizes.lattice_sizes)
        count = self._item_count(len(self.lattice_sizes))
        per_item_amounts("l1", l1, count, self._ITEMS)
        per_item_amounts("l2", l2, count, self._ITEMS)
        self.l1 = _amount_config(l1)
        self.l2 = _amount_config(l2)
        self.units_last = bool(units_last)

    def __call__(self, x):
        return type(self)._PENALTY(
            _units_first(x, self.units_last), self._sizes, l1=self.l1, l2=self.l2)

    def get_config(self):
        return {"lattice_sizes": self.lattice_sizes, "l1": self.l1, "l2": self.l2,
                "units_last": self.units_last}


@keras.saving.register_keras_serializable(package="tf_lattice")
class LatticeLaplacian(_LatticeRegularizer):
    """Keras regularizer for `lattice_laplacian` (edge differences per dimension).

    Args:
      lattice_sizes: sequence of ``d`` integers >= 2, or a LatticeSpec.
      l1: non-negative number or ``d`` of them (one per dimension).
      l2: non-negative number or ``d`` of them (one per dimension).
      units_last: True if the weight is stored as ``[V, units]``.
    """

    _PENALTY = lattice_laplacian
    _ITEMS = "lattice dimensions"

    @staticmethod
    def _item_count(num_dims):
        return num_dims


@keras.saving.register_keras_serializable(package="tf_lattice")
class LatticeTorsion(_LatticeRegularizer):
    """Keras regularizer for `lattice_torsion` (twist of 2x2 faces per pair).

    Args:
      lattice_sizes: sequence of ``d`` integers >= 2, or a LatticeSpec.
      l1: non-negative number or ``d (d - 1) / 2`` of them (one per pair of
        dimensions, lexicographic order).
      l2: non-negative number or ``d (d - 1) / 2`` of them.
      units_last: True if the weight is stored as ``[V, units]``.
    """

    _PENALTY = lattice_torsion
    _ITEMS = "pairs of lattice dimensions"

    @staticmethod
    def _item_count(num_dims):
        return len(dimension_pairs(num_dims))


@keras.saving.register_keras_serializable(package="tf_lattice")
class LinearLaplacian(keras.regularizers.Regularizer):
    """Keras regularizer for `linear_laplacian` (differences of consecutive weights).

    Args:
      l1: non-negative amount of the l1 term.
      l2: non-negative amount of the l2 term.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = check_amount("l1", l1)
        self.l2 = check_amount("l2", l2)

    def __call__(self, x):
        return linear_laplacian(x, l1=self.l1, l2=self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@keras.saving.register_keras_serializable(package="tf_lattice")
class RegularizerSum(keras.regularizers.Regularizer):
    """The sum of several regularizers applied to the same weight.

    A Keras weight takes a single regularizer; this combines, for example, a
    `LatticeLaplacian` and a `LatticeTorsion`.

    Args:
      regularizers: non-empty sequence of regularizers (objects, or anything
        `keras.regularizers.get` accepts).
    """

    def __init__(self, regularizers):
        items = list(regularizers) if regularizers is not None else []
        if not items:
            raise ValueError("regularizers must be a non-empty sequence, got "
                             f"{regularizers!r}")
        self.regularizers = [keras.regularizers.get(r) for r in items]
        for i, regularizer in enumerate(self.regularizers):
            if regularizer is None:
                raise ValueError(f"regularizers[{i}] is None")

    def __call__(self, x):
        total = self.regularizers[0](x)
        for regularizer in self.regularizers[1:]:
            total += regularizer(x)
        return total

    def get_config(self):
        return {"regularizers": [keras.regularizers.serialize(r)
                                 for r in self.regularizers]}

    @classmethod
    def from_config(cls, config):
        return cls([keras.regularizers.deserialize(r) for r in config["regularizers"]])
