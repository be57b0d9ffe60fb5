"""``CalibratorSpec``: the validated declaration of a piecewise-linear calibrator.

A calibrator unit has keypoint inputs ``k_0 < ... < k_{K-1}`` and keypoint
outputs ``o_0 .. o_{K-1}``; with slopes ``s_i = (o_{i+1} - o_i) / (k_{i+1} -
k_i)`` its declared constraints are

* monotonicity: ``s_i >= 0`` ("increasing") or ``s_i <= 0`` ("decreasing");
* convexity: ``s_{i-1} <= s_i`` ("convex") or ``>=`` ("concave"), only with
  fixed keypoints;
* bounds: ``output_min <= o_i <= output_max`` (not with a linear
  extrapolation, whose tails leave every bound);
* clamping: with one monotonicity shared by every unit and the bound set,
  the output at the low (``clamp_min``) or high (``clamp_max``) end of the
  input range equals the bound (not with a convexity);
* ``is_cyclic``: ``o_{K-1} = o_0`` (not with a monotonicity, a convexity or a
  linear extrapolation);
* missing inputs: ``missing_input_value`` (or an ``is_missing`` input with
  ``impute_missing``) maps to ``missing_output_value``, which must lie within
  the bounds, or to a learned output kept within them.

Monotonicity, convexity and extrapolation are one value shared by every unit
or a tuple of one per unit, as the layer takes them.
"""

import dataclasses
import numbers

import numpy as np

from tf_lattice.specs import _vocabulary as vocabulary

KEYPOINT_TYPES = ("fixed", "learned_interior")
EXTRAPOLATIONS = ("constant", "linear")


@dataclasses.dataclass(frozen=True)
class CalibratorSpec:
    """Validated calibrator constraints, directions as integers.

    Build one from the user vocabulary with :meth:`parse` (or
    :meth:`from_config`); the constructor takes the canonical values and
    checks them too.

    Attributes:
      input_keypoints: tuple of ``K`` floats (shared) or ``units`` tuples.
      units: number of calibrators.
      input_keypoints_type: ``"fixed"`` or ``"learned_interior"``.
      monotonicity: ``{-1, 0, 1}`` shared, or a tuple of one per unit.
      convexity: ``{-1, 0, 1}`` shared, or a tuple of one per unit.
      extrapolation: ``"constant"`` / ``"linear"`` shared, or one per unit.
      output_min, output_max: float or None.
      clamp_min, clamp_max: bools.
      is_cyclic: bool.
      missing_input_value: float or None.
      impute_missing: bool (True whenever ``missing_input_value`` is set).
      missing_output_value: float or None (None: learned).
    """

    input_keypoints: tuple
    units: int = 1
    input_keypoints_type: str = "fixed"
    monotonicity: object = 0
    convexity: object = 0
    extrapolation: object = "constant"
    output_min: float = None
    output_max: float = None
    clamp_min: bool = False
    clamp_max: bool = False
    is_cyclic: bool = False
    missing_input_value: float = None
    impute_missing: bool = False
    missing_output_value: float = None

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        units = vocabulary.parse_count(self.units, "units")
        set_("units", units)
        set_("input_keypoints", _parse_keypoints(self.input_keypoints, units))
        if self.input_keypoints_type not in KEYPOINT_TYPES:
            raise ValueError(
                f"input_keypoints_type must be one of {KEYPOINT_TYPES}, got "
                f"{self.input_keypoints_type!r}")
        for name in ("monotonicity", "convexity"):
            set_(name, _canonical_per_unit(getattr(self, name), units, name))
        extrapolation = self.extrapolation
        if not isinstance(extrapolation, str):
            extrapolation = tuple(extrapolation)
            if len(extrapolation) != units:
                raise ValueError(
                    f"extrapolation must be one direction or one per unit ({units}), got "
                    f"{len(extrapolation)}: {list(extrapolation)!r}")
        for i, value in enumerate((extrapolation,) if isinstance(extrapolation, str)
                                  else extrapolation):
            if value not in EXTRAPOLATIONS:
                name = "extrapolation" if isinstance(extrapolation, str) else f"extrapolation[{i}]"
                raise ValueError(f"{name} must be one of {EXTRAPOLATIONS}, got {value!r}")
        set_("extrapolation", extrapolation)
        low, high = vocabulary.parse_bounds(self.output_min, self.output_max)
        set_("output_min", low)
        set_("output_max", high)
        for name in ("clamp_min", "clamp_max", "is_cyclic", "impute_missing"):
            set_(name, bool(getattr(self, name)))
        set_("missing_input_value", _parse_number(self.missing_input_value, "missing_input_value"))
        set_("missing_output_value",
             _parse_number(self.missing_output_value, "missing_output_value"))
        set_("impute_missing", self.impute_missing or self.missing_input_value is not None)
        self._check_contradictions()

    def _check_contradictions(self):
        monotone = any(self.unit_monotonicities)
        convex = any(self.unit_convexities)
        if self.is_cyclic and (monotone or convex):
            raise ValueError("is_cyclic=True cannot be combined with a monotonicity or convexity")
        if "linear" in self.unit_extrapolations:
            if self.output_min is not None or self.output_max is not None:
                raise ValueError(
                    f"extrapolation='linear' cannot be combined with output_min={self.output_min} "
                    f"or output_max={self.output_max}: a linear tail leaves every bound")
            if self.is_cyclic:
                raise ValueError("extrapolation='linear' cannot be combined with is_cyclic=True")
        if convex and self.input_keypoints_type != "fixed":
            raise ValueError("convexity requires input_keypoints_type='fixed'")
        for flag, bound, name in ((self.clamp_min, self.output_min, "min"),
                                  (self.clamp_max, self.output_max, "max")):
            if flag and (bound is None or not isinstance(self.monotonicity, int)
                         or self.monotonicity == 0):
                raise ValueError(f"clamp_{name}=True requires output_{name} and one monotonicity "
                                 "shared by every unit")
            if flag and convex:
                raise ValueError(f"clamp_{name}=True cannot be combined with a convexity")
        value = self.missing_output_value
        if value is not None and ((self.output_min is not None and value < self.output_min) or
                                  (self.output_max is not None and value > self.output_max)):
            raise ValueError(
                f"missing_output_value={value} lies outside [output_min, output_max] = "
                f"[{self.output_min}, {self.output_max}]")

    @classmethod
    def parse(cls, input_keypoints, *, units=1, input_keypoints_type="fixed",
              monotonicity="none", convexity="none", extrapolation="constant",
              output_min=None, output_max=None, clamp_min=False, clamp_max=False,
              is_cyclic=False, missing_input_value=None, impute_missing=False,
              missing_output_value=None):
        """Parses the user vocabulary (as ``PWLCalibration`` takes it) into a spec.

        Args:
          input_keypoints: ``[K]`` or ``[units, K]`` finite, strictly
            increasing keypoint inputs, ``K >= 2``.
          units: number of calibrators.
          input_keypoints_type: ``"fixed"`` or ``"learned_interior"``.
          monotonicity: "increasing"/"decreasing"/"none" (None), or one per
            unit.
          convexity: "convex"/"concave"/"none" (None), or one per unit.
          extrapolation: "constant"/"linear", or one per unit.
          output_min, output_max, clamp_min, clamp_max, is_cyclic,
          missing_input_value, impute_missing, missing_output_value: as in
            the module docstring.

        Raises:
          ValueError: naming the argument, for bad keypoints, an unknown
            direction or a wrong count, infeasible bounds, or a contradiction
            listed in the module docstring.
        """
        units = vocabulary.parse_count(units, "units")
        return cls(input_keypoints, units, input_keypoints_type,
                   _parse_per_unit(monotonicity, units, vocabulary.MONOTONICITIES, "monotonicity"),
                   _parse_per_unit(convexity, units, vocabulary.CONVEXITIES, "convexity"),
                   extrapolation, output_min, output_max, clamp_min, clamp_max, is_cyclic,
                   missing_input_value, impute_missing, missing_output_value)

    @property
    def num_keypoints(self):
        """``K``."""
        return len(self.input_keypoints[0] if self.per_unit_keypoints else self.input_keypoints)

    @property
    def per_unit_keypoints(self):
        """Whether each unit has its own keypoints (``[units, K]``)."""
        return isinstance(self.input_keypoints[0], tuple)

    def keypoints_array(self):
        """The keypoint inputs as float64 ``[K]`` or ``[units, K]``."""
        return np.asarray(self.input_keypoints, np.float64)

    @property
    def unit_monotonicities(self):
        """The monotonicity of each unit, a tuple of ``units`` ints."""
        return _per_unit(self.monotonicity, self.units)

    @property
    def unit_convexities(self):
        """The convexity of each unit, a tuple of ``units`` ints."""
        return _per_unit(self.convexity, self.units)

    @property
    def unit_extrapolations(self):
        """The extrapolation of each unit, a tuple of ``units`` strings."""
        return _per_unit(self.extrapolation, self.units)

    @property
    def has_shape_constraints(self):
        """Whether a monotonicity, convexity or bound restricts the outputs."""
        return bool(any(self.unit_monotonicities) or any(self.unit_convexities)
                    or self.output_min is not None or self.output_max is not None)

    def select(self, units):
        """The spec of the calibrators ``units`` (a list of unit indices)."""
        units = [int(u) for u in units]
        pick = lambda value: value if not isinstance(value, tuple) else tuple(  # noqa: E731
            value[u] for u in units)
        keypoints = (tuple(self.input_keypoints[u] for u in units) if self.per_unit_keypoints
                     else self.input_keypoints)
        return dataclasses.replace(
            self, input_keypoints=keypoints, units=max(len(units), 1),
            monotonicity=pick(self.monotonicity), convexity=pick(self.convexity),
            extrapolation=pick(self.extrapolation)) if units else self

    def to_config(self):
        """A JSON-able dict in the user vocabulary; ``from_config`` inverts it."""
        def names(value, table):
            if isinstance(value, tuple):
                return [vocabulary.direction_name(v, table) for v in value]
            return vocabulary.direction_name(value, table)

        return dict(
            input_keypoints=self.keypoints_array().tolist(), units=self.units,
            input_keypoints_type=self.input_keypoints_type,
            monotonicity=names(self.monotonicity, vocabulary.MONOTONICITIES),
            convexity=names(self.convexity, vocabulary.CONVEXITIES),
            extrapolation=(self.extrapolation if isinstance(self.extrapolation, str)
                           else list(self.extrapolation)),
            output_min=self.output_min, output_max=self.output_max, clamp_min=self.clamp_min,
            clamp_max=self.clamp_max, is_cyclic=self.is_cyclic,
            missing_input_value=self.missing_input_value, impute_missing=self.impute_missing,
            missing_output_value=self.missing_output_value)

    @classmethod
    def from_config(cls, config):
        """The spec of a :meth:`to_config` dict (or of the same arguments)."""
        config = dict(config)
        vocabulary.check_keys(config, [f.name for f in dataclasses.fields(cls)], cls.__name__)
        return cls.parse(config.pop("input_keypoints"), **config)


def _parse_keypoints(values, units):
    keypoints = np.asarray(values, np.float64)
    if keypoints.ndim not in (1, 2) or keypoints.shape[-1] < 2:
        raise ValueError(
            f"input_keypoints must have shape [K] or [units, K] with K >= 2, got {keypoints.shape}")
    if keypoints.ndim == 2 and keypoints.shape[0] != units:
        raise ValueError(
            f"input_keypoints of shape {keypoints.shape} must have one row per unit ({units})")
    if not np.all(np.isfinite(keypoints)) or np.any(np.diff(keypoints, axis=-1) <= 0):
        raise ValueError(
            f"input_keypoints must be finite and strictly increasing, got {keypoints.tolist()}")
    if keypoints.ndim == 1:
        return tuple(keypoints.tolist())
    return tuple(tuple(row) for row in keypoints.tolist())


def _parse_per_unit(value, units, table, argument):
    """One direction (kept shared) or a tuple of ``units`` of them."""
    if value is None or isinstance(value, str):
        return vocabulary.parse_direction(value, table, argument)
    return vocabulary.parse_per_item(value, units, table, argument, "unit")


def _canonical_per_unit(value, units, argument):
    values = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    if not isinstance(value, numbers.Integral) and len(values) != units:
        raise ValueError(
            f"{argument} must be one direction or one per unit ({units}), got {len(values)}")
    if any(isinstance(v, bool) or v not in (-1, 0, 1) for v in values):
        raise ValueError(
            f"{argument} must be -1, 0 or 1 (or one per unit) in a CalibratorSpec "
            f"(CalibratorSpec.parse takes the direction strings), got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else tuple(int(v) for v in values)


def _per_unit(value, units):
    return tuple(value) if isinstance(value, tuple) else (value,) * units


def _parse_number(value, argument):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{argument} must be a number or None, got {value!r}")
    return float(value)
