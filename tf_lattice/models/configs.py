"""Frozen configurations of the calibrated models.

A model is described by one :class:`FeatureConfig` per input feature plus a
model config; the builders in :mod:`tf_lattice.models.builders` turn them into
``keras.Model`` objects. Every constraint family is declared here and
validated once, at construction, with errors naming the feature and the
argument:

- per feature (:class:`FeatureConfig`): ``monotonicity``, ``convexity``,
  ``unimodality`` (lattice models), ``category_order`` (categorical
  features) and ``missing_input_value``;
- per model, between features named by their ``name``:
  ``edgeworth_trusts`` and ``trapezoid_trusts`` (``(main, conditional,
  direction)``) and ``monotonic_dominances`` (``(dominant, weak)``).

The model configs also hold the regularization amounts and the initial output
of a model, so the estimators (:mod:`tf_lattice.estimators`) build their
models from these configs too.
"""

import dataclasses
import functools
from typing import Optional

import numpy as np

from tf_lattice.models.ensembles import ENSEMBLES
from tf_lattice.specs import _vocabulary as vocabulary

_MONOTONICITIES = tuple(vocabulary.MONOTONICITIES)
_CONVEXITIES = tuple(vocabulary.CONVEXITIES)
_UNIMODALITIES = tuple(vocabulary.UNIMODALITIES)
_TRUST_DIRECTIONS = tuple(vocabulary.TRUST_DIRECTIONS)
_INTERPOLATIONS = ("hypercube", "simplex")
_IMPLEMENTATIONS = ("kernel", "portable")
_COMBINATIONS = ("average", "linear")
_LATTICE_INITIALIZERS = ("random_monotonic", "linear")
_CALIBRATION_REGULARIZERS = ("calibration_laplacian", "calibration_hessian", "calibration_wrinkle")
_LATTICE_REGULARIZERS = ("lattice_laplacian", "lattice_torsion")


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _renamed_arguments(renamed):
    """Class decorator: an argument given by an earlier name is refused with the
    layers' ``TypeError`` naming the current one (see
    :func:`tf_lattice.specs._vocabulary.renamed_argument`).

    Args:
      renamed: ``{earlier name: (current name, usage)}``; the class keeps it
        as ``renamed_arguments``.
    """
    def decorate(cls):
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            for earlier, (current, usage) in renamed.items():
                if earlier in kwargs:
                    raise vocabulary.renamed_argument(cls.__name__, earlier, current, usage)
            init(self, *args, **kwargs)

        cls.__init__ = __init__
        cls.renamed_arguments = dict(renamed)
        return cls
    return decorate


@_renamed_arguments({"category_pairs": (
    "category_order", "the partial order of a categorical feature's categories as "
    "category_order=((i, j), ...)")})
@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """One input feature: the one record of a feature's encoding and shape.

    A feature whose ``keypoints`` (numeric) or ``lattice_size`` is None is
    declared but not placed yet: it records the feature's shape (an
    estimator resolves its column-named constraints into such records before
    it places the keypoints) and is completed with ``dataclasses.replace``;
    the model configs take complete features only.

    Attributes:
      name: the feature's name (the model's input key).
      keypoints: calibrator keypoint inputs (at least 2, strictly increasing),
        e.g. from :func:`tf_lattice.models.keypoints_from_quantiles`; numeric
        features only; None: not placed yet.
      monotonicity: ``"none"``, ``"increasing"`` or ``"decreasing"``.
      convexity: ``"none"``, ``"convex"`` or ``"concave"`` (of the calibrator;
        of the model output for unbounded calibrated linear models, on the
        whole real line).
      unimodality: ``"none"``, ``"valley"`` or ``"peak"``: the model output
        first decreases then increases (valley) or the reverse (peak) in this
        feature. The calibrator is increasing and the lattice carries the
        shape, so only :class:`CalibratedLatticeConfig` takes it, with
        ``lattice_size >= 3``; it excludes a monotonicity and a convexity.
      lattice_size: lattice vertices along this feature (lattice models);
        None: not chosen yet.
      num_buckets: an int makes the feature categorical with ids in
        ``[0, num_buckets)`` (other ids go to a default bucket, id
        ``num_buckets``); None (the default) makes it numeric. A categorical
        feature of no known category (``num_buckets=0``, only its default
        bucket) is read from the encoded matrix only. ``num_buckets=0``
        together with ``keypoints`` is the former spelling of a numeric
        feature and still reads as one.
      category_order: ``(i, j)`` pairs of category ids, output of category
        ``i`` <= output of category ``j`` (a partial-order monotonicity of a
        categorical feature). Earlier versions named it ``category_pairs``;
        that name is refused with a ``TypeError`` naming this one.
      missing_input_value: a sentinel meaning "missing"; missing inputs get a
        learned output. In calibrated linear, lattice and ensemble models a
        NaN input is missing too.
    """

    name: str
    keypoints: Optional[tuple] = None
    monotonicity: str = "none"
    convexity: str = "none"
    lattice_size: Optional[int] = 2
    num_buckets: Optional[int] = None
    category_order: tuple = ()
    missing_input_value: Optional[float] = None
    unimodality: str = "none"

    def __post_init__(self):
        if self.num_buckets == 0 and self.keypoints is not None:
            object.__setattr__(self, "num_buckets", None)
        if self.num_buckets is not None:
            if isinstance(self.num_buckets, bool) or not isinstance(self.num_buckets, (int, np.integer)) \
                    or self.num_buckets < 0:
                raise ValueError(f"num_buckets of {self.name!r} must be an int >= 0 (or None for a "
                                 f"numeric feature), got {self.num_buckets!r}")
            if self.keypoints is not None:
                raise ValueError(f"categorical feature {self.name!r} (num_buckets={self.num_buckets}) "
                                 "takes no keypoints")
            object.__setattr__(self, "num_buckets", int(self.num_buckets))
        _check(f"monotonicity of {self.name!r}", self.monotonicity, _MONOTONICITIES)
        _check(f"convexity of {self.name!r}", self.convexity, _CONVEXITIES)
        _check(f"unimodality of {self.name!r}", self.unimodality, _UNIMODALITIES)
        if self.lattice_size is not None and self.lattice_size < 2:
            raise ValueError(f"lattice_size of {self.name!r} must be at least 2, got {self.lattice_size}")
        if self.is_categorical:
            for argument in ("monotonicity", "convexity", "unimodality"):
                if getattr(self, argument) != "none":
                    raise ValueError(f"categorical feature {self.name!r} takes category_order, not "
                                     f"{argument}={getattr(self, argument)!r}")
            object.__setattr__(self, "category_order", self._checked_order())
        else:
            if self.category_order:
                raise ValueError(f"category_order of {self.name!r} needs a categorical feature "
                                 "(num_buckets given); use monotonicity for a numeric feature")
            if self.keypoints is not None:
                object.__setattr__(self, "keypoints", self._checked_keypoints())
        if self.unimodality != "none":
            for argument in ("monotonicity", "convexity"):
                if getattr(self, argument) != "none":
                    raise ValueError(f"feature {self.name!r} cannot have both unimodality="
                                     f"{self.unimodality!r} and {argument}={getattr(self, argument)!r}")
            if self.lattice_size is not None and self.lattice_size < 3:
                raise ValueError(f"unimodality of {self.name!r} needs lattice_size >= 3 (a valley "
                                 f"or peak needs a middle vertex), got {self.lattice_size}")

    def _checked_keypoints(self):
        keypoints = np.asarray(self.keypoints, np.float64).reshape(-1)
        if len(keypoints) < 2 or not np.all(np.isfinite(keypoints)) or np.any(np.diff(keypoints) <= 0):
            raise ValueError(f"keypoints of {self.name!r} must be at least 2 finite, strictly "
                             f"increasing values, got {tuple(keypoints.tolist())}")
        return tuple(float(k) for k in keypoints)

    def _checked_order(self):
        pairs = []
        for pair in self.category_order:
            pair = tuple(pair)
            if len(pair) != 2 or not all(isinstance(i, (int, np.integer)) for i in pair) \
                    or not all(0 <= i < self.num_buckets for i in pair) or pair[0] == pair[1]:
                raise ValueError(f"category_order of {self.name!r}: {pair!r} must be a pair of two "
                                 f"different category ids in [0, {self.num_buckets})")
            pairs.append((int(pair[0]), int(pair[1])))
        return tuple(pairs)

    @property
    def is_categorical(self):
        return self.num_buckets is not None

    @property
    def is_placed(self):
        """Whether the feature is complete: its keypoints (numeric features)
        and its lattice size are known."""
        return self.lattice_size is not None and (self.is_categorical or self.keypoints is not None)

    @property
    def is_monotone(self):
        """Whether the model must be monotone in this feature (in some order)."""
        return self.monotonicity != "none" or bool(self.category_order)

    @property
    def shaped(self):
        """Whether any shape constraint applies: every layer after the
        calibrator is then increasing in the calibrated value, so the
        calibrator's shape reaches the output."""
        return self.is_monotone or self.convexity != "none" or self.unimodality != "none"


def _features(features):
    features = tuple(features)
    if not features:
        raise ValueError("features must not be empty")
    for f in features:
        if f.lattice_size is None:
            raise ValueError(f"feature {f.name!r} has no lattice_size yet: a model config takes "
                             "complete features")
        if not f.is_placed:
            raise ValueError(f"numeric feature {f.name!r} needs keypoints (e.g. from "
                             "keypoints_from_quantiles): a model config takes complete features")
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique, got {names}")
    return features


def _trusts(config, argument):
    """``(main, conditional, direction)`` triples naming features; the main
    feature needs a monotonicity."""
    by_name = {f.name: f for f in config.features}
    resolved = []
    for entry in getattr(config, argument):
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            raise ValueError(f"{argument} entries must be (main, conditional, direction), got {entry!r}")
        main, conditional, direction = entry
        for name in (main, conditional):
            if name not in by_name:
                raise ValueError(f"{argument} entry {tuple(entry)!r} names unknown feature {name!r}")
        if main == conditional:
            raise ValueError(f"{argument} entry {tuple(entry)!r} names feature {main!r} twice")
        _check(f"the direction of {argument} entry {tuple(entry)!r}", direction, _TRUST_DIRECTIONS)
        if by_name[main].monotonicity == "none":
            raise ValueError(f"{argument} entry {tuple(entry)!r} needs feature {main!r} to have a "
                             "monotonicity")
        resolved.append((main, conditional, direction))
    return tuple(resolved)


def _dominances(config):
    """``(dominant, weak)`` pairs naming two monotone features."""
    by_name = {f.name: f for f in config.features}
    resolved = []
    for entry in config.monotonic_dominances:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ValueError(f"monotonic_dominances entries must be (dominant, weak), got {entry!r}")
        for name in entry:
            if name not in by_name:
                raise ValueError(f"monotonic_dominances entry {tuple(entry)!r} names unknown "
                                 f"feature {name!r}")
            if by_name[name].monotonicity == "none":
                raise ValueError(f"monotonic_dominances entry {tuple(entry)!r} needs feature "
                                 f"{name!r} to have a monotonicity")
        if entry[0] == entry[1]:
            raise ValueError(f"monotonic_dominances entry {tuple(entry)!r} names feature "
                             f"{entry[0]!r} twice")
        resolved.append(tuple(entry))
    return tuple(resolved)


def _check_model(config, amounts):
    """The validation every model config shares: features, pairwise
    constraints, choices and regularization amounts."""
    kind = type(config).__name__
    object.__setattr__(config, "features", _features(config.features))
    for argument in ("edgeworth_trusts", "trapezoid_trusts"):
        object.__setattr__(config, argument, _trusts(config, argument))
    object.__setattr__(config, "monotonic_dominances", _dominances(config))
    _check(f"implementation of {kind}", config.implementation, _IMPLEMENTATIONS)
    if hasattr(config, "interpolation"):
        _check(f"interpolation of {kind}", config.interpolation, _INTERPOLATIONS)
    if int(config.units) < 1:
        raise ValueError(f"units of {kind} must be at least 1, got {config.units}")
    for name in amounts:
        value = getattr(config, name)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} of {kind} must be a finite amount >= 0, got {value!r}")
    if getattr(config, "initial_output", None) is not None:
        values = tuple(float(v) for v in np.asarray(config.initial_output, np.float64).reshape(-1))
        if len(values) not in (1, config.units) or not np.all(np.isfinite(values)):
            raise ValueError(f"initial_output of {kind} must be finite, one value or one per unit "
                             f"({config.units}), got {values}")
        object.__setattr__(config, "initial_output", values)


def _refuse_unimodality(config, reason):
    for f in config.features:
        if f.unimodality != "none":
            raise ValueError(f"{type(config).__name__} cannot keep unimodality={f.unimodality!r} of "
                             f"feature {f.name!r}: {reason}; use CalibratedLatticeConfig")


@dataclasses.dataclass(frozen=True)
class CalibratedLinearConfig:
    """Calibrators followed by a linear combination.

    The combination has weights >= 0 on every shaped feature (see
    :attr:`FeatureConfig.shaped`). With both output bounds, every calibrator
    is bounded to them and the combination is a weighted average
    (non-negative weights summing to one), so the output stays within the
    bounds.

    Attributes:
      features: the :class:`FeatureConfig` of every input.
      units: outputs.
      output_min, output_max: bounds of the output.
      use_bias: whether the combination has a bias (unbounded models).
      implementation: ``"kernel"`` (compiled ops) or ``"portable"``.
      edgeworth_trusts, trapezoid_trusts: ``(main, conditional, direction)``
        by feature name. A linear combination has no interactions, so a
        trust holds (the effect of ``main`` does not change with
        ``conditional``); accepted so that one declaration fits every model.
      monotonic_dominances: ``(dominant, weak)`` feature names: the weight
        of the dominant feature's calibrated value is at least the weak one's.
      calibration_laplacian, calibration_hessian, calibration_wrinkle: l2
        amounts on the first, second and third differences of the numeric
        calibrators' keypoint outputs.
      l2: l2 amount on the linear weights and the categorical calibrators'
        outputs.
      initial_output: the initial bias, one value or one per unit (None:
        zeros), e.g. the best constant fit of the targets.
    """

    features: tuple
    units: int = 1
    output_min: Optional[float] = None
    output_max: Optional[float] = None
    use_bias: bool = True
    implementation: str = "kernel"
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()
    calibration_laplacian: float = 0.0
    calibration_hessian: float = 0.0
    calibration_wrinkle: float = 0.0
    l2: float = 0.0
    initial_output: Optional[tuple] = None

    def __post_init__(self):
        _check_model(self, _CALIBRATION_REGULARIZERS + ("l2",))
        _refuse_unimodality(self, "a monotone calibrator times a weight is monotone")
        bounded = self.output_min is not None and self.output_max is not None
        if bounded and self.initial_output is not None:
            raise ValueError("initial_output of CalibratedLinearConfig sets the bias, which a "
                             "bounded model (output_min and output_max) does not have")


@dataclasses.dataclass(frozen=True)
class CalibratedLatticeConfig:
    """Calibrators to ``[0, lattice_size - 1]`` followed by one lattice.

    Takes every constraint family: the lattice is increasing in each shaped
    feature's calibrated value (the calibrator applies the direction),
    valley- or peak-shaped along a unimodal feature, and carries the trusts
    and dominances.

    Attributes:
      features, units, implementation, edgeworth_trusts, trapezoid_trusts,
        monotonic_dominances, calibration_laplacian, calibration_hessian,
        calibration_wrinkle, l2: as in :class:`CalibratedLinearConfig` (l2
        applies to the categorical calibrators).
      interpolation: ``"hypercube"`` or ``"simplex"``.
      output_min, output_max: bounds of the lattice output.
      lattice_laplacian, lattice_torsion: l2 amounts of the lattice
        regularizers (differences of adjacent vertices, torsion).
      initial_output: unbounded lattices only: the initial score, one value
        or one per unit (e.g. the best constant fit of the targets); unit
        ``u`` then starts as a linear function spanning ``initial_output[u]
        +- 1/2``. None: the Lattice layer's default initial function
        (spanning ``[0, 1]``).
    """

    features: tuple
    units: int = 1
    interpolation: str = "hypercube"
    output_min: Optional[float] = None
    output_max: Optional[float] = None
    implementation: str = "kernel"
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()
    calibration_laplacian: float = 0.0
    calibration_hessian: float = 0.0
    calibration_wrinkle: float = 0.0
    lattice_laplacian: float = 0.0
    lattice_torsion: float = 0.0
    l2: float = 0.0
    initial_output: Optional[tuple] = None

    def __post_init__(self):
        _check_model(self, _CALIBRATION_REGULARIZERS + _LATTICE_REGULARIZERS + ("l2",))
        if self.initial_output is not None and (self.output_min is not None
                                                or self.output_max is not None):
            raise ValueError("initial_output of CalibratedLatticeConfig sets the initial scores of "
                             "an unbounded lattice; a bounded one starts within its output bounds")


@dataclasses.dataclass(frozen=True)
class CalibratedLatticeEnsembleConfig:
    """Calibrators followed by several small lattices, combined.

    Attributes:
      ensemble: how features are assigned to lattices (one meaning each, see
        :mod:`tf_lattice.models.ensembles`): ``"random"`` (every feature
        once, the other slots uniform; seeded), ``"rtl"`` (balanced random
        tiny lattices; seeded) or ``"crystals"`` (features that interact,
        measured by binned target means, share lattices; the builder needs
        data).
      lattices: explicit lattices as tuples of feature names (overrides
        ``ensemble``).
      combination: ``"average"``: each lattice has ``units`` outputs and the
        model outputs their mean; ``"linear"``: each lattice has one output
        and an increasing linear layer (weights >= 0, a bias starting at
        ``initial_output``, the ``l2`` penalty) maps them to ``units``
        outputs.
      lattice_initializer: ``"random_monotonic"`` (random vertex values
        increasing in the monotone dimensions) or ``"linear"`` (a linear
        function spanning ``[-1/2, 1/2]``).
      edgeworth_trusts, trapezoid_trusts, monotonic_dominances: as in
        :class:`CalibratedLatticeConfig`, kept by every lattice that reads
        both features. A dominance needs explicit ``lattices`` and holds on
        the output when every lattice reading the weak feature reads the
        dominant one too (a lattice reading the weak feature alone adds to
        its effect only).
      Other attributes: as in :class:`CalibratedLatticeConfig`.
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
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()
    calibration_laplacian: float = 0.0
    calibration_hessian: float = 0.0
    calibration_wrinkle: float = 0.0
    lattice_laplacian: float = 0.0
    lattice_torsion: float = 0.0
    l2: float = 0.0
    combination: str = "average"
    lattice_initializer: str = "random_monotonic"
    initial_output: Optional[tuple] = None

    def __post_init__(self):
        _check_model(self, _CALIBRATION_REGULARIZERS + _LATTICE_REGULARIZERS + ("l2",))
        _check("ensemble", self.ensemble, ENSEMBLES)
        _check("combination", self.combination, _COMBINATIONS)
        _check("lattice_initializer", self.lattice_initializer, _LATTICE_INITIALIZERS)
        _refuse_unimodality(self, "a sum of lattices with valleys at different places has "
                                  "several valleys")
        if self.lattice_rank > len(self.features):
            raise ValueError(f"lattice_rank ({self.lattice_rank}) exceeds the number of features "
                             f"({len(self.features)})")
        if self.initial_output is not None and self.combination != "linear":
            raise ValueError('initial_output of CalibratedLatticeEnsembleConfig sets the bias of '
                             'combination="linear"; an average has no bias')
        if self.lattices is not None:
            names = {f.name for f in self.features}
            lattices = tuple(tuple(lattice) for lattice in self.lattices)
            for lattice in lattices:
                unknown = set(lattice) - names
                if unknown:
                    raise ValueError(f"lattices name unknown features {sorted(unknown)}")
            object.__setattr__(self, "lattices", lattices)
        elif self.monotonic_dominances:
            raise ValueError(f"monotonic_dominances {self.monotonic_dominances[0]!r} need explicit "
                             f"lattices (ensemble={self.ensemble!r} may put the weak feature in a "
                             "lattice without the dominant one)")


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
    then a monotone linear output (see
    :mod:`tf_lattice.models.deep_lattice_network`).

    Attributes:
      features: the :class:`FeatureConfig` of every input; the network is
        increasing in the calibrated value of every shaped feature.
      layers: one :class:`DeepLatticeLayerConfig` per block.
      units: outputs of the network.
      seed: seed of the embedding initializers and lattice structures.
      interpolation: of the lattices, ``"hypercube"`` or ``"simplex"``.
      calibration_laplacian, calibration_hessian, calibration_wrinkle: amounts
        of the feature calibrators' regularizers.
      lattice_laplacian, lattice_torsion: amounts of the lattices' regularizers.
      l2: amount of the l2 penalty on the output layer's weights and the
        categorical calibrators.
      initial_output: the output layer's initial bias, one value or one per
        unit (None: 0).
      edgeworth_trusts, trapezoid_trusts, monotonic_dominances: refused when
        given: the linear embedding mixes the features with weights of its
        own, so a pair constraint kept by one lattice does not reach the
        output.
    """

    features: tuple
    layers: tuple = (DeepLatticeLayerConfig(),)
    units: int = 1
    seed: int = 0
    implementation: str = "kernel"
    interpolation: str = "hypercube"
    calibration_laplacian: float = 0.0
    calibration_hessian: float = 0.0
    calibration_wrinkle: float = 0.0
    lattice_laplacian: float = 0.0
    lattice_torsion: float = 0.0
    l2: float = 0.0
    initial_output: Optional[tuple] = None
    edgeworth_trusts: tuple = ()
    trapezoid_trusts: tuple = ()
    monotonic_dominances: tuple = ()

    def __post_init__(self):
        _check_model(self, _CALIBRATION_REGULARIZERS + _LATTICE_REGULARIZERS + ("l2",))
        _refuse_unimodality(self, "the linear embedding mixes the features")
        for argument in ("edgeworth_trusts", "trapezoid_trusts", "monotonic_dominances"):
            if getattr(self, argument):
                raise ValueError(f"DeepLatticeNetworkConfig cannot keep {argument} "
                                 f"{getattr(self, argument)[0]!r}: its linear embedding mixes the "
                                 "features; use CalibratedLatticeConfig or "
                                 "CalibratedLatticeEnsembleConfig")
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("layers must contain at least one DeepLatticeLayerConfig")
