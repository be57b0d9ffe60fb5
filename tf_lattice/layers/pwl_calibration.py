"""Piecewise-linear calibration layer.

Each unit ``u`` maps its input through a piecewise-linear function with
keypoint inputs ``k_0 < ... < k_{K-1}`` and keypoint outputs ``o_0..o_{K-1}``
(the trainable ``kernel``, shape ``[units, K]``): for ``k_i <= x <= k_{i+1}``,
``y = o_i + (o_{i+1} - o_i) (x - k_i) / (k_{i+1} - k_i)``. Outside the
keypoints a unit is flat (``extrapolation="constant"``) or continues its end
segment (``"linear"``):

    y = o_0 + s_0 (x - k_0)                  for x < k_0,
    y = o_{K-1} + s_{K-2} (x - k_{K-1})      for x > k_{K-1},

with ``s_i = (o_{i+1} - o_i) / (k_{i+1} - k_i)``. Shape constraints
(monotonicity, convexity, bounds) are properties of the keypoint outputs and
are enforced by projecting them after every optimizer step. A flat tail keeps
monotonicity and bounds on the whole real line but not convexity (a sloped
end segment meets a flat tail in a kink of the other sign); a linear tail
keeps monotonicity and convexity on the whole real line but no bound, so a
linearly extrapolating layer takes no ``output_min`` / ``output_max``.
"""

import keras
import numpy as np
import tensorflow as tf

from tf_lattice import constraints as tfl_constraints
from tf_lattice import ops
from tf_lattice.constraints import ConstraintCheck
from tf_lattice.layers import _common
from tf_lattice.layers import _regularizers
from tf_lattice.ops.selection import select
from tf_lattice.specs import CalibratorSpec
from tf_lattice.specs import _vocabulary

OUTPUT_INITIALIZERS = ("equal_heights", "equal_slopes")


def calibrator_regularizer_builders(num_keypoints, num_outputs):
    """Names usable in ``("name", l1, l2)`` calibrator regularizer tuples.

    The penalties read the outputs only, never the keypoint inputs, so a
    calibrator's penalty is the same in any units of its input. The
    Laplacian takes the first differences of the outputs; the Hessian and
    the wrinkle the changes of slope with keypoint ``j`` placed at ``j / (K -
    1)`` (see :mod:`tf_lattice.regularizers.calibrator`), that is ``K - 1``
    times the second and third differences of the outputs: slopes per unit
    of the keypoint range, so that a calibrator of keypoints at quantiles is
    smoothed as a function of the input's quantile, whatever its ``K``.

    Args:
      num_keypoints: the calibrator's ``K``.
      num_outputs: outputs stored per unit (``K``, or ``K - 1`` for a cyclic
        calibrator, whose last output repeats the first).
    """
    from tf_lattice import regularizers
    # A single stored output (a cyclic calibrator of 2 keypoints) has no
    # differences: unit spacing gives it the zero penalty.
    grid = (np.arange(num_outputs, dtype=np.float64) / (num_keypoints - 1)
            if num_outputs >= 2 else None)
    return {
        "laplacian": lambda l1=0.0, l2=0.0: regularizers.CalibratorLaplacian(l1=l1, l2=l2),
        "hessian": lambda l1=0.0, l2=0.0: regularizers.CalibratorHessian(l1=l1, l2=l2,
                                                                         keypoints=grid),
        "wrinkle": lambda l1=0.0, l2=0.0: regularizers.CalibratorWrinkle(l1=l1, l2=l2,
                                                                         keypoints=grid),
    }


def initial_output_range(output_min, output_max):
    """The range the initial outputs span: the bounds, or [0, 1] around them."""
    if output_min is not None and output_max is not None:
        return float(output_min), float(output_max)
    if output_min is not None:
        return float(output_min), float(output_min) + 1.0
    if output_max is not None:
        return float(output_max) - 1.0, float(output_max)
    return 0.0, 1.0


def initial_outputs(keypoints, units, kind, low, high, decreasing):
    """Keypoint outputs rising linearly from ``low`` to ``high``.

    Args:
      keypoints: array ``[K]`` or ``[units, K]``.
      units: number of units.
      kind: ``"equal_heights"`` (outputs linear in the keypoint index) or
        ``"equal_slopes"`` (outputs linear in the keypoint input).
      low, high: the first and last output.
      decreasing: flip so the outputs fall from ``high`` to ``low``: one bool,
        or one per unit.

    Returns:
      Array ``[units, K]``.
    """
    keypoints = np.broadcast_to(np.asarray(keypoints, np.float64), (units, np.shape(keypoints)[-1]))
    if kind == "equal_heights":
        fraction = np.broadcast_to(np.linspace(0.0, 1.0, keypoints.shape[1]), keypoints.shape)
    else:
        span = keypoints[:, -1:] - keypoints[:, :1]
        fraction = (keypoints - keypoints[:, :1]) / span
    decreasing = np.broadcast_to(np.asarray(decreasing, bool).reshape(-1, 1), (units, 1))
    fraction = np.where(decreasing, 1.0 - fraction, fraction)
    return low + (high - low) * fraction


@keras.saving.register_keras_serializable(package="tf_lattice")
class PWLCalibration(_common.KernelLayer):
    """Piecewise-linear calibration of one or more inputs.

    Input: ``[batch, 1]`` (one input shared by every unit) or
    ``[batch, units]`` (one input per unit); with ``impute_missing=True`` and
    no ``missing_input_value`` the layer is called on ``[inputs, is_missing]``
    where ``is_missing`` has the shape of ``inputs`` (nonzero means missing).
    Output: ``[batch, units]``.

    Args:
      input_keypoints: keypoint inputs, ``[K]`` (shared) or ``[units, K]``,
        strictly increasing, ``K >= 2``.
      units: number of calibrators.
      input_keypoints_type: ``"fixed"``, or ``"learned_interior"``: the first
        and last keypoints stay fixed and the interior ones are learned
        (``k = k_0 + (k_{K-1} - k_0) cumsum(softmax(logits))``, per unit).
      monotonicity: ``"none"``, ``"increasing"`` or ``"decreasing"``, or a
        list of one per unit (one layer then calibrates several features).
      convexity: ``"none"``, ``"convex"`` or ``"concave"`` (slopes between
        keypoints non-decreasing / non-increasing), or one per unit; not with
        learned keypoints.
      output_min, output_max: bounds on every output (None: unbounded).
      extrapolation: ``"constant"`` (flat beyond the first and last keypoint)
        or ``"linear"`` (the end segments continue), or one per unit;
        ``"linear"`` keeps a convex or concave unit convex or concave on the
        whole real line and cannot be combined with output bounds or
        ``is_cyclic``.
      clamp_min, clamp_max: with a monotonicity, pin the output at the low
        (high) end of the input range to ``output_min`` (``output_max``).
      is_cyclic: the output at the last keypoint equals the output at the
        first (periodic features); not with monotonicity or convexity.
      missing_input_value: inputs equal to this value are missing.
      impute_missing: whether missing inputs exist (with a sentinel or an
        ``is_missing`` input).
      missing_output_value: output for missing inputs; None learns one per
        unit (kept within the output bounds).
      kernel_initializer: ``"equal_heights"``, ``"equal_slopes"`` or a Keras
        initializer of the ``[units, K]`` outputs.
      kernel_regularizer: None, a Keras regularizer, a ``("laplacian" |
        "hessian" | "wrinkle", l1, l2)`` tuple, or a list of these; the
        tuples read the outputs only, so their penalty is the same in any
        units of the input (see `calibrator_regularizer_builders`).
      implementation: ``"kernel"`` or ``"portable"``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, input_keypoints, units=1, input_keypoints_type="fixed",
                 monotonicity="none", convexity="none", output_min=None, output_max=None,
                 clamp_min=False, clamp_max=False, is_cyclic=False, missing_input_value=None,
                 impute_missing=False, missing_output_value=None,
                 kernel_initializer="equal_heights", kernel_regularizer=None,
                 implementation="kernel", extrapolation="constant", **kwargs):
        super().__init__(implementation=implementation, **kwargs)
        # Every constraint argument is parsed and checked once, here; the
        # projection and the certificate receive this spec.
        self.spec = CalibratorSpec.parse(
            input_keypoints, units=units, input_keypoints_type=input_keypoints_type,
            monotonicity=monotonicity, convexity=convexity, extrapolation=extrapolation,
            output_min=output_min, output_max=output_max, clamp_min=clamp_min,
            clamp_max=clamp_max, is_cyclic=is_cyclic, missing_input_value=missing_input_value,
            impute_missing=impute_missing, missing_output_value=missing_output_value)
        self.input_keypoints = self.spec.keypoints_array()
        self.kernel_initializer = kernel_initializer
        if not (isinstance(kernel_initializer, str) and kernel_initializer in OUTPUT_INITIALIZERS):
            keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = _regularizers.deserialize(kernel_regularizer)

    # The declaration's arguments, read from the spec.
    units = _common.spec_attribute("units")
    input_keypoints_type = _common.spec_attribute("input_keypoints_type")
    output_min = _common.spec_attribute("output_min")
    output_max = _common.spec_attribute("output_max")
    clamp_min = _common.spec_attribute("clamp_min")
    clamp_max = _common.spec_attribute("clamp_max")
    is_cyclic = _common.spec_attribute("is_cyclic")
    missing_input_value = _common.spec_attribute("missing_input_value")
    impute_missing = _common.spec_attribute("impute_missing")
    missing_output_value = _common.spec_attribute("missing_output_value")

    @property
    def monotonicity(self):
        """The monotonicity: one string shared by every unit, or a list of one per unit."""
        return _names(self.spec.monotonicity, _vocabulary.MONOTONICITIES)

    @property
    def convexity(self):
        """The convexity: one string shared by every unit, or a list of one per unit."""
        return _names(self.spec.convexity, _vocabulary.CONVEXITIES)

    @property
    def extrapolation(self):
        """The extrapolation: one string shared by every unit, or a list of one per unit."""
        return _plain(self.spec.extrapolation)

    @property
    def unit_monotonicities(self):
        """The monotonicity of each unit, a list of ``units`` strings."""
        return _names(self.spec.unit_monotonicities, _vocabulary.MONOTONICITIES)

    @property
    def unit_convexities(self):
        """The convexity of each unit, a list of ``units`` strings."""
        return _names(self.spec.unit_convexities, _vocabulary.CONVEXITIES)

    @property
    def unit_extrapolations(self):
        """The extrapolation of each unit, a list of ``units`` strings."""
        return list(self.spec.unit_extrapolations)

    @property
    def num_keypoints(self):
        return self.input_keypoints.shape[-1]

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        width = input_shape[-1]
        if width is not None and width not in (1, self.units):
            raise ValueError(
                f"PWLCalibration with units={self.units} needs inputs of shape [batch, 1] or "
                f"[batch, {self.units}], got {tuple(input_shape)}")
        stored = self.num_keypoints - (1 if self.is_cyclic else 0)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.units, stored), initializer=self._kernel_initializer(),
            regularizer=_regularizers.resolve(
                self.kernel_regularizer,
                calibrator_regularizer_builders(self.num_keypoints, stored)),
            constraint=_common.Projection(self._project_kernel))
        if self.input_keypoints_type == "learned_interior":
            lengths = np.diff(np.broadcast_to(self.input_keypoints, (self.units, self.num_keypoints)), axis=-1)
            logits = np.log(lengths / lengths.sum(axis=-1, keepdims=True))
            self.keypoint_logits = self.add_weight(
                name="keypoint_logits", shape=logits.shape,
                initializer=keras.initializers.Constant(logits))
        if self.impute_missing and self.missing_output_value is None:
            low, high = initial_output_range(self.output_min, self.output_max)
            self.missing_output = self.add_weight(
                name="missing_output", shape=(self.units,),
                initializer=keras.initializers.Constant((low + high) / 2),
                constraint=_common.Projection(self._project_missing_output))

    def _kernel_initializer(self):
        if not (isinstance(self.kernel_initializer, str) and self.kernel_initializer in OUTPUT_INITIALIZERS):
            return keras.initializers.get(self.kernel_initializer)
        low, high = initial_output_range(self.output_min, self.output_max)
        if self.is_cyclic:
            values = np.full((self.units, self.num_keypoints - 1), (low + high) / 2)
        else:
            values = initial_outputs(self.input_keypoints, self.units, self.kernel_initializer,
                                     low, high,
                                     [m == "decreasing" for m in self.unit_monotonicities])
        return keras.initializers.Constant(values)

    def keypoints_inputs(self):
        """The keypoint inputs: ``[K]`` when fixed and shared, else ``[units, K]``."""
        fixed = tf.constant(self.input_keypoints, self.compute_dtype)
        if self.input_keypoints_type == "fixed":
            return fixed
        fixed = tf.broadcast_to(fixed, (self.units, self.num_keypoints))
        first, last = fixed[:, :1], fixed[:, -1:]
        fractions = tf.math.cumsum(tf.nn.softmax(tf.cast(self.keypoint_logits, self.compute_dtype)), axis=-1)
        interior = first + (last - first) * fractions[:, :-1]
        return tf.concat([first, interior, last], axis=-1)

    def keypoints_outputs(self, kernel=None):
        """The keypoint outputs ``[units, K]`` (the cyclic kernel repeats its first)."""
        kernel = self.kernel if kernel is None else kernel
        kernel = tf.convert_to_tensor(kernel)
        if self.is_cyclic:
            kernel = tf.concat([kernel, kernel[:, :1]], axis=-1)
        return kernel

    def call(self, inputs):
        is_missing = None
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2 or not self.impute_missing:
                raise ValueError(
                    "PWLCalibration takes a list [inputs, is_missing] only with impute_missing=True")
            inputs, is_missing = inputs
        inputs = tf.cast(inputs, self.compute_dtype)
        if inputs.shape[-1] == 1 and self.units > 1:
            inputs = tf.repeat(inputs, self.units, axis=-1)
        outputs = tf.cast(self.keypoints_outputs(), self.compute_dtype)
        keypoints = self.keypoints_inputs()
        calibrated = ops.pwl_calibration(inputs, keypoints, outputs,
                                         implementation=self.implementation)
        if self.impute_missing:
            if is_missing is None:
                if self.missing_input_value is None:
                    raise ValueError(
                        "impute_missing=True without missing_input_value needs [inputs, is_missing]")
                is_missing = tf.equal(inputs, tf.cast(self.missing_input_value, inputs.dtype))
            else:
                is_missing = tf.cast(is_missing, tf.bool)
                if is_missing.shape[-1] == 1 and self.units > 1:
                    is_missing = tf.repeat(is_missing, self.units, axis=-1)
        linear = [e == "linear" for e in self.unit_extrapolations]
        if any(linear):
            if self.impute_missing:
                # Missing inputs take the missing output below; their tail is 0.
                inputs = select(is_missing, tf.zeros_like(inputs), inputs)
            calibrated += linear_tails(inputs, keypoints, outputs, linear)
        if not self.impute_missing:
            return calibrated
        if self.missing_output_value is None:
            missing = tf.cast(self.missing_output, self.compute_dtype)
        else:
            missing = tf.constant(self.missing_output_value, self.compute_dtype)
        return impute(calibrated, is_missing, missing)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        return tuple(input_shape[:-1]) + (self.units,)

    # Constraints -------------------------------------------------------------

    def _project_kernel(self, kernel, exact=False):
        kernel = tf.convert_to_tensor(kernel)
        if self.is_cyclic:
            low = -np.inf if self.output_min is None else self.output_min
            high = np.inf if self.output_max is None else self.output_max
            return tf.clip_by_value(kernel, low, high)
        if not self.spec.has_shape_constraints:
            return kernel
        projected = ops.calibrator_projection(
            kernel, self.keypoints_inputs(), spec=self.spec, exact=exact,
            implementation=self.implementation)
        return self._clamp(projected)

    def _clamp(self, outputs):
        increasing = self.monotonicity == "increasing"
        if self.clamp_min:
            column = 0 if increasing else -1
            outputs = _set_column(outputs, column, self.output_min)
        if self.clamp_max:
            column = -1 if increasing else 0
            outputs = _set_column(outputs, column, self.output_max)
        return outputs

    def _project_missing_output(self, value):
        low = -np.inf if self.output_min is None else self.output_min
        high = np.inf if self.output_max is None else self.output_max
        return tf.clip_by_value(value, low, high)

    def _project(self, exact):
        updates = [(self.kernel, self._project_kernel(self.kernel, exact=exact))]
        if self.impute_missing and self.missing_output_value is None:
            updates.append((self.missing_output, self._project_missing_output(self.missing_output)))
        return updates

    def certify(self, units=None):
        """Checks monotonicity, convexity, bounds and clamping exactly.

        Args:
          units: the units to check (default: all); locations then count
            within this selection.

        Returns:
          A Certificate over the units' keypoint outputs (and the missing
          output, when learned).
        """
        units = list(range(self.units)) if units is None else [int(u) for u in units]
        keypoints = np.broadcast_to(np.asarray(self.keypoints_inputs(), np.float64),
                                    (self.units, self.num_keypoints))[units]
        outputs = np.asarray(self.keypoints_outputs(), np.float64)[units]
        certificate = tfl_constraints.certify_calibrator(keypoints, outputs,
                                                         spec=self.spec.select(units))
        extra = []
        if self.is_cyclic:
            extra.append(ConstraintCheck("is_cyclic", float(np.max(np.abs(outputs[:, -1] - outputs[:, 0])))))
        increasing = self.monotonicity == "increasing"
        if self.clamp_min:
            column = outputs[:, 0] if increasing else outputs[:, -1]
            extra.append(ConstraintCheck("clamp_min", float(np.max(np.abs(column - self.output_min))),
                                         None, 1e-6))
        if self.clamp_max:
            column = outputs[:, -1] if increasing else outputs[:, 0]
            extra.append(ConstraintCheck("clamp_max", float(np.max(np.abs(column - self.output_max))),
                                         None, 1e-6))
        if self.impute_missing and self.missing_output_value is None:
            extra.append(_common.bounds_check("missing_output bounds",
                                              np.asarray(self.missing_output)[units],
                                              self.output_min, self.output_max))
        subject = f"PWLCalibration {self.name!r}"
        return tfl_constraints.Certificate(subject, tuple(certificate.checks) + tuple(extra))

    def get_config(self):
        config = super().get_config()
        config.update(self.spec.to_config())
        config.update(
            kernel_initializer=_common.serialize_initializer(self.kernel_initializer),
            kernel_regularizer=_regularizers.serialize(self.kernel_regularizer))
        return config


def linear_tails(inputs, keypoints, outputs, linear):
    """What linear extrapolation adds to the flat calibration outside the keypoints.

    For unit ``u`` with ``linear[u]``: ``s_0 min(x - k_0, 0) + s_{K-2} max(x -
    k_{K-1}, 0)``, with the end slopes ``s_0 = (o_1 - o_0) / (k_1 - k_0)`` and
    ``s_{K-2} = (o_{K-1} - o_{K-2}) / (k_{K-1} - k_{K-2})``; 0 for the other
    units. A zero slope gives a zero tail even for an infinite input.

    Args:
      inputs: ``[batch, units]``.
      keypoints: ``[K]`` or ``[units, K]`` keypoint inputs.
      outputs: ``[units, K]`` keypoint outputs.
      linear: ``units`` booleans.

    Returns:
      ``[batch, units]``.
    """
    keypoints = tf.broadcast_to(tf.cast(keypoints, outputs.dtype), tf.shape(outputs))
    first_slope = (outputs[:, 1] - outputs[:, 0]) / (keypoints[:, 1] - keypoints[:, 0])
    last_slope = (outputs[:, -1] - outputs[:, -2]) / (keypoints[:, -1] - keypoints[:, -2])
    mask = tf.constant(linear, outputs.dtype)
    below = tf.minimum(inputs - keypoints[:, 0], 0.0)
    above = tf.maximum(inputs - keypoints[:, -1], 0.0)
    return (tf.math.multiply_no_nan(below, first_slope * mask)
            + tf.math.multiply_no_nan(above, last_slope * mask))


def impute(calibrated, is_missing, missing):
    """``calibrated`` with its missing entries replaced by their unit's missing output.

    ``y[b, u] = missing[u]`` where ``is_missing[b, u]``, else
    ``calibrated[b, u]``. The gradient is that of the selection, written
    out: ``upstream`` where the entry is present (0 where missing) for
    ``calibrated``, and ``sum_b upstream[b, u]`` over the missing entries of
    unit ``u`` for ``missing``. Written out, the selection and its gradient
    take six ops per training step, three of them selections without
    broadcasting (`tf_lattice.ops.selection.select`); differentiating
    ``tf.where`` on a broadcast ``missing`` took seven, three of them
    broadcasting selections, each several times slower.

    Args:
      calibrated: ``[batch, units]``.
      is_missing: ``[batch, units]`` booleans.
      missing: ``[units]`` (or a scalar, shared by every unit).

    Returns:
      ``[batch, units]``.
    """
    missing = tf.convert_to_tensor(missing, calibrated.dtype)

    @tf.custom_gradient
    def imputed(calibrated, missing):
        def gradient(upstream):
            zeros = tf.zeros_like(upstream)
            d_missing = tf.reduce_sum(select(is_missing, upstream, zeros), axis=0)
            if missing.shape.rank == 0:
                d_missing = tf.reduce_sum(d_missing)
            return select(is_missing, zeros, upstream), d_missing

        filled = tf.broadcast_to(missing, tf.shape(calibrated))
        return select(is_missing, filled, calibrated), gradient

    return imputed(calibrated, missing)


def _names(value, table):
    """A canonical direction (or tuple of them) in the user vocabulary."""
    if isinstance(value, tuple):
        return [_vocabulary.direction_name(v, table) for v in value]
    return _vocabulary.direction_name(value, table)


def _plain(value):
    return value if isinstance(value, str) else list(value)


def _set_column(outputs, column, value):
    """Returns ``outputs`` with one column replaced by a constant."""
    width = outputs.shape[-1]
    column = column % width
    mask = tf.one_hot(column, width, dtype=outputs.dtype)
    return outputs * (1 - mask) + tf.cast(value, outputs.dtype) * mask
