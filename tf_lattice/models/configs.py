"""Frozen configurations of the calibrated models.

A model is described by one :class:`FeatureConfig` per input feature plus a
model config; the builders in :mod:`tf_lattice.models.builders` turn them into
``keras.Model`` objects whose inputs are a dict ``{feature name: [batch, 1]}``.
"""

import dataclasses
from typing import Optional

import numpy as np

_MONOTONICITIES = ("none", "increasing", "decreasing")
_CONVEXITIES = ("none", "convex", "concave")
_ENSEMBLES = ("random", "crystals", "rtl")


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """One input feature.

    Attributes:
      name: the feature's name (the model's input key).
      keypoints: calibrator keypoint inputs (strictly increasing), e.g. from
        :func:`tf_lattice.models.keypoints_from_quantiles`; numeric features only.
      monotonicity: ``"none"``, ``"increasing"`` or ``"decreasing"``.
      convexity: ``"none"``, ``"convex"`` or ``"concave"`` (of the calibrator).
      lattice_size: lattice vertices along this feature (lattice models).
      num_buckets: > 0 makes the feature categorical with ids in
        ``[0, num_buckets)`` (other ids go to a default bucket).
      category_pairs: ``(i, j)`` pairs, output of category ``i`` <= output of
        category ``j`` (a partial-order monotonicity of a categorical feature).
      missing_input_value: a sentinel meaning "missing"; missing inputs get a
        learned output. In calibrated linear, lattice and ensemble models a
        NaN input is missing too.
    """

    name: str
    keypoints: Optional[tuple] = None
    monotonicity: str = "none"
    convexity: str = "none"
    lattice_size: int = 2
    num_buckets: int = 0
    category_pairs: tuple = ()
    missing_input_value: Optional[float] = None

    def __post_init__(self):
        _check(f"monotonicity of {self.name!r}", self.monotonicity, _MONOTONICITIES)
        _check(f"convexity of {self.name!r}", self.convexity, _CONVEXITIES)
        if self.lattice_size < 2:
            raise ValueError(f"lattice_size of {self.name!r} must be at least 2, got {self.lattice_size}")
        if self.is_categorical:
            if self.monotonicity != "none" or self.convexity != "none":
                raise ValueError(f"categorical feature {self.name!r} takes category_pairs, not a "
                                 "monotonicity or convexity")
        else:
            if self.keypoints is None:
                raise ValueError(f"numeric feature {self.name!r} needs keypoints")
            keypoints = tuple(float(k) for k in np.asarray(self.keypoints).reshape(-1))
            object.__setattr__(self, "keypoints", keypoints)
        object.__setattr__(self, "category_pairs", tuple(tuple(int(i) for i in p) for p in self.category_pairs))

    @property
    def is_categorical(self):
        return self.num_buckets > 0

    @property
    def is_monotone(self):
        """Whether the model must be monotone in this feature (in some order)."""
        return self.monotonicity != "none" or bool(self.category_pairs)


def _features(features):
    features = tuple(features)
    if not features:
        raise ValueError("features must not be empty")
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique, got {names}")
    return features


@dataclasses.dataclass(frozen=True)
class CalibratedLinearConfig:
    """Calibrators followed by a linear combination.

    With both output bounds, every calibrator is bounded to them and the
    combination is a weighted average (non-negative weights summing to one),
    so the output stays within the bounds.
    """

    features: tuple
    units: int = 1
    output_min: Optional[float] = None
    output_max: Optional[float] = None
    use_bias: bool = True
    implementation: str = "kernel"

    def __post_init__(self):
        object.__setattr__(self, "features", _features(self.features))


@dataclasses.dataclass(frozen=True)
class CalibratedLatticeConfig:
    """Calibrators to ``[0, lattice_size - 1]`` followed by one lattice."""

    features: tuple
    units: int = 1
    interpolation: str = "hypercube"
    output_min: Optional[float] = None
    output_max: Optional[float] = None
    implementation: str = "kernel"

    def __post_init__(self):
        object.__setattr__(self, "features", _features(self.features))


@dataclasses.dataclass(frozen=True)
class CalibratedLatticeEnsembleConfig:
    """Calibrators followed by the mean of several small lattices.

    Attributes:
      ensemble: how features are assigned to lattices (one meaning each, see
        :mod:`tf_lattice.models.ensembles`): ``"random"`` (every feature
        once, the other slots uniform; seeded), ``"rtl"`` (balanced random
        tiny lattices; seeded) or ``"crystals"`` (features that interact,
        measured by binned target means, share lattices; the builder needs
        data).
      lattices: explicit lattices as tuples of feature names (overrides
        ``ensemble``).
    """

    features: tuple
    num_lattices: int = 4
    lattice_rank: int = 2
    ensemble: str = "random"
    lattices: Optional[tuple] = None
    units: int = 1
    interpolation: str = "hypercube"
    output_min: Optional[float] = None
    output_max: Optional[float] = None
    seed: int = 0
    implementation: str = "kernel"

    def __post_init__(self):
        object.__setattr__(self, "features", _features(self.features))
        _check("ensemble", self.ensemble, _ENSEMBLES)
        if self.lattice_rank > len(self.features):
            raise ValueError(f"lattice_rank ({self.lattice_rank}) exceeds the number of features "
                             f"({len(self.features)})")
        if self.lattices is not None:
            names = {f.name for f in self.features}
            lattices = tuple(tuple(lattice) for lattice in self.lattices)
            for lattice in lattices:
                unknown = set(lattice) - names
                if unknown:
                    raise ValueError(f"lattices name unknown features {sorted(unknown)}")
            object.__setattr__(self, "lattices", lattices)


@dataclasses.dataclass(frozen=True)
class DeepLatticeLayerConfig:
    """One block of a deep lattice network: embedding, calibration, lattices.

    Attributes:
      monotone_dims, free_dims: embedding outputs that are monotone in the
        monotone inputs (non-negative weights on them) and that read only the
        unconstrained inputs.
      num_lattices, lattice_rank, lattice_size: the random tiny lattices.
      num_keypoints: keypoints of the calibrators between embedding and lattices.
    """

    monotone_dims: int = 4
    free_dims: int = 2
    num_lattices: int = 4
    lattice_rank: int = 2
    lattice_size: int = 2
    num_keypoints: int = 8


@dataclasses.dataclass(frozen=True)
class DeepLatticeNetworkConfig:
    """Calibrators, then any number of :class:`DeepLatticeLayerConfig` blocks,
    then a monotone linear output."""

    features: tuple
    layers: tuple = (DeepLatticeLayerConfig(),)
    units: int = 1
    seed: int = 0
    implementation: str = "kernel"

    def __post_init__(self):
        object.__setattr__(self, "features", _features(self.features))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("layers must contain at least one DeepLatticeLayerConfig")
