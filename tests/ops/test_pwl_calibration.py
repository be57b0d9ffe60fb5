"""Tests of tf_lattice.ops.pwl_calibration: kernel, pure-TF twin and NumPy oracle."""

import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.oracles import pwl_calibration as oracle
from tf_lattice.saved_model import op_types
from tf_lattice.ops import pwl_calibration

IMPLEMENTATIONS = ["kernel", "portable"]
TOLERANCE = {tf.float32: dict(rtol=1e-5, atol=1e-5), tf.float64: dict(rtol=1e-12, atol=1e-12)}


@st.composite
def calibration_cases(draw):
    """Random (inputs, keypoints, outputs) with inputs inside, outside and on knots."""
    units = draw(st.integers(1, 8))
    num_keypoints = draw(st.integers(2, 50))
    batch = draw(st.integers(0, 16))
    shared = draw(st.booleans())
    even = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    rows = 1 if shared else units
    starts = rng.uniform(-5.0, 5.0, size=(rows, 1))
    if even:
        steps = rng.uniform(0.1, 2.0, size=(rows, 1))
        keypoints = starts + steps * np.arange(num_keypoints)
    else:
        gaps = rng.uniform(0.05, 2.0, size=(rows, num_keypoints - 1))
        keypoints = np.concatenate([starts, starts + np.cumsum(gaps, axis=1)], axis=1)
    if shared:
        keypoints = keypoints[0]
    outputs = rng.normal(size=(units, num_keypoints))
    low, high = np.min(keypoints) - 1.0, np.max(keypoints) + 1.0
    inputs = rng.uniform(low, high, size=(batch, units))
    # Put some inputs exactly on keypoints (interior knots and both ends).
    unit_keypoints = np.broadcast_to(keypoints, (units, num_keypoints))
    on_knot = rng.random(size=(batch, units)) < 0.3
    knot_index = rng.integers(0, num_keypoints, size=(batch, units))
    knots = unit_keypoints[np.arange(units)[None, :], knot_index]
    inputs = np.where(on_knot, knots, inputs)
    return inputs, keypoints, outputs


def _call(implementation, inputs, keypoints, outputs):
    return pwl_calibration(inputs, keypoints, outputs, implementation=implementation)


def _gradients(implementation, inputs, keypoints, outputs, upstream=None):
    inputs, keypoints, outputs = map(tf.convert_to_tensor, (inputs, keypoints, outputs))
    with tf.GradientTape() as tape:
        tape.watch([inputs, keypoints, outputs])
        y = _call(implementation, inputs, keypoints, outputs)
        if upstream is not None:
            y = y * upstream
    return tape.gradient(y, [inputs, keypoints, outputs])


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@settings(deadline=None)
@given(case=calibration_cases())
def test_matches_oracle_and_twin(device, dtype, case):
    inputs, keypoints, outputs = (tf.constant(a, dtype) for a in case)
    expected = oracle.pwl_calibration(*case)
    kernel = _call("kernel", inputs, keypoints, outputs)
    portable = _call("portable", inputs, keypoints, outputs)
    assert kernel.dtype == dtype and kernel.shape == inputs.shape
    scale = 1.0 + np.max(np.abs(case[2]))
    tolerance = dict(rtol=TOLERANCE[dtype]["rtol"] * 10, atol=TOLERANCE[dtype]["atol"] * scale)
    np.testing.assert_allclose(kernel.numpy(), expected, **tolerance)
    np.testing.assert_allclose(portable.numpy(), expected, **tolerance)
    np.testing.assert_allclose(kernel.numpy(), portable.numpy(), **tolerance)


@settings(deadline=None)
@given(case=calibration_cases())
def test_kernel_gradient_equals_twin_gradient(device, case):
    inputs, keypoints, outputs = (tf.constant(a, tf.float64) for a in case)
    upstream = tf.constant(np.random.default_rng(1).normal(size=case[0].shape))
    kernel = _gradients("kernel", inputs, keypoints, outputs, upstream)
    portable = _gradients("portable", inputs, keypoints, outputs, upstream)
    for name, a, b in zip(("inputs", "keypoints", "outputs"), kernel, portable):
        a = tf.convert_to_tensor(a).numpy()
        b = tf.convert_to_tensor(b).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("shared", [True, False])
def test_numerical_gradients_at_interior_points(implementation, shared):
    rng = np.random.default_rng(3)
    units, num_keypoints = 3, 5
    keypoints = np.array([[0.0, 1.0, 2.5, 3.0, 5.0]])
    keypoints = keypoints if not shared else keypoints[0]
    if not shared:
        keypoints = keypoints + np.arange(units)[:, None] * 0.5
    unit_keypoints = np.broadcast_to(keypoints, (units, num_keypoints))
    # Points strictly inside segments, far from every knot, plus points
    # outside the range.
    segment = rng.integers(0, num_keypoints - 1, size=(6, units))
    fraction = rng.uniform(0.2, 0.8, size=(6, units))
    lo = unit_keypoints[np.arange(units)[None, :], segment]
    hi = unit_keypoints[np.arange(units)[None, :], segment + 1]
    inside = lo + fraction * (hi - lo)
    outside = np.stack([unit_keypoints[:, 0] - 1.0, unit_keypoints[:, -1] + 1.0])
    inputs = tf.constant(np.concatenate([inside, outside]))
    keypoints = tf.constant(keypoints)
    outputs = tf.constant(rng.normal(size=(units, num_keypoints)))

    def f(x, k, o):
        return pwl_calibration(x, k, o, implementation=implementation)

    theoretical, numerical = tf.test.compute_gradient(
        f, [inputs, keypoints, outputs], delta=1e-6)
    for name, t, n in zip(("inputs", "keypoints", "outputs"), theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6, err_msg=name)


# keypoints [0, 1, 3], outputs [5, 6, 9]: slopes 1 on [0, 1] and 1.5 on [1, 3],
# so the side chosen at the knot x = 1 is visible.
KNOT_KEYPOINTS = [0.0, 1.0, 3.0]
KNOT_OUTPUTS = [[5.0, 6.0, 9.0]]
FIRST_SLOPE = (6.0 - 5.0) / (1.0 - 0.0)
SECOND_SLOPE = (9.0 - 6.0) / (3.0 - 1.0)


def _expected_one_sided(x):
    """(y, dy/dx, dy/dk, dy/do) from the formula, with the knot convention."""
    if x < 0.0:
        return 5.0, 0.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]
    if x > 3.0:
        return 9.0, 0.0, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    if x < 1.0:  # Segment 0, including x == 0.
        t = (x - 0.0) / 1.0
        return (5.0 + FIRST_SLOPE * x, FIRST_SLOPE,
                [FIRST_SLOPE * (t - 1.0), -FIRST_SLOPE * t, 0.0], [1.0 - t, t, 0.0])
    t = (x - 1.0) / 2.0  # Segment 1: the right one at x == 1, the left one at x == 3.
    return (6.0 + SECOND_SLOPE * (x - 1.0), SECOND_SLOPE,
            [0.0, SECOND_SLOPE * (t - 1.0), -SECOND_SLOPE * t], [0.0, 1.0 - t, t])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("x", [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
def test_one_sided_gradients_at_knots(device, implementation, x):
    inputs = tf.constant([[x]], tf.float64)
    keypoints = tf.constant(KNOT_KEYPOINTS, tf.float64)
    outputs = tf.constant(KNOT_OUTPUTS, tf.float64)
    y = _call(implementation, inputs, keypoints, outputs)
    d_inputs, d_keypoints, d_outputs = _gradients(implementation, inputs, keypoints, outputs)
    expected_y, expected_dx, expected_dk, expected_do = _expected_one_sided(x)
    np.testing.assert_allclose(y.numpy(), [[expected_y]], atol=1e-12)
    np.testing.assert_allclose(d_inputs.numpy(), [[expected_dx]], atol=1e-12)
    np.testing.assert_allclose(tf.convert_to_tensor(d_keypoints).numpy(), expected_dk,
                               atol=1e-12)
    np.testing.assert_allclose(tf.convert_to_tensor(d_outputs).numpy(), [expected_do],
                               atol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_knot_derivative_sides_on_even_keypoints(device, implementation):
    # Evenly spaced keypoints take the O(1) path in the kernel; the side chosen
    # at every knot must still be the right-hand segment (left at the end).
    keypoints = np.linspace(-1.0, 2.0, 31)
    outputs = np.cumsum(np.arange(31.0) ** 2)[None, :] * 0.01
    inputs = keypoints[:, None]
    d_inputs, _, _ = _gradients(implementation, tf.constant(inputs),
                                tf.constant(keypoints), tf.constant(outputs))
    slopes = np.diff(outputs[0]) / np.diff(keypoints)
    expected = np.concatenate([slopes, slopes[-1:]])
    np.testing.assert_allclose(d_inputs.numpy()[:, 0], expected, rtol=1e-9)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_nan_inputs_give_nan_outputs(implementation):
    inputs = tf.constant([[np.nan, 0.5]])
    y = _call(implementation, inputs, [0.0, 1.0], [[0.0, 2.0], [0.0, 4.0]])
    assert np.isnan(y.numpy()[0, 0])
    assert y.numpy()[0, 1] == pytest.approx(2.0)


def test_nan_inputs_give_equal_gradients_in_both_implementations():
    inputs = tf.constant([[np.nan, 0.5], [2.0, np.nan]], tf.float64)
    keypoints = tf.constant([0.0, 1.0, 3.0], tf.float64)
    outputs = tf.constant([[0.0, 2.0, 3.0], [0.0, 4.0, 5.0]], tf.float64)
    kernel = _gradients("kernel", inputs, keypoints, outputs)
    portable = _gradients("portable", inputs, keypoints, outputs)
    for a, b in zip(kernel, portable):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(),
                                   tf.convert_to_tensor(b).numpy(), rtol=1e-12)


# Keypoints with an infinite end: the segment is flat at its finite end (the
# limit of the formula); at x = +-inf itself the output of that keypoint.
INFINITE_END_CASES = [
    # keypoints, inputs, outputs y, dy/dx, dy/do (summed over the inputs)
    ([-np.inf, 0.0, 1.0], [-5.0, 0.5, 2.0, np.inf, -np.inf],
     [2.0, 3.0, 4.0, 4.0, 1.0], [0.0, 2.0, 0.0, 0.0, 0.0], [1.0, 1.5, 2.5]),
    ([0.0, 1.0, np.inf], [-5.0, 0.5, 2.0, np.inf, -np.inf],
     [1.0, 1.5, 2.0, 4.0, 1.0], [0.0, 1.0, 0.0, 0.0, 0.0], [2.5, 1.5, 1.0]),
    ([-np.inf, 1.0], [-1e30, 0.0, 1.0, 5.0, -np.inf], [2.0, 2.0, 2.0, 2.0, 1.0],
     [0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 4.0, 0.0]),
]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("case", range(len(INFINITE_END_CASES)))
def test_infinite_end_keypoints_extrapolate_flat(device, implementation, dtype, case):
    keypoints, inputs, expected, slopes, output_grads = INFINITE_END_CASES[case]
    num_keypoints = len(keypoints)
    outputs = tf.constant([[1.0, 2.0, 4.0][:num_keypoints]], dtype)
    x = tf.constant(np.array(inputs)[:, None], dtype)
    kp = tf.constant(keypoints, dtype)
    y = _call(implementation, x, kp, outputs).numpy()[:, 0]
    np.testing.assert_array_equal(y, expected)
    grad_x, grad_k, grad_o = (g.numpy() for g in _gradients(implementation, x, kp, outputs))
    np.testing.assert_array_equal(grad_x[:, 0], slopes)
    np.testing.assert_array_equal(grad_o[0], output_grads[:num_keypoints])
    assert np.all(np.isfinite(grad_k))
    # The infinite keypoint itself gets no gradient (its segment is flat).
    assert grad_k[0 if keypoints[0] == -np.inf else -1] == 0.0


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_span_past_float32_range_interpolates(device, implementation):
    # k_1 - k_0 = 6e38 overflows float32: the width is taken from halved terms.
    keypoints = tf.constant([-3e38, 3e38], tf.float32)
    # (A slope that is a normal float32: CPU threads flush subnormals to 0.)
    outputs = tf.constant([[0.0, 6e4]], tf.float32)
    x = tf.constant([[-3e38], [0.0], [1.5e38], [3e38]], tf.float32)
    y = _call(implementation, x, keypoints, outputs).numpy()[:, 0]
    np.testing.assert_allclose(y, [0.0, 3e4, 4.5e4, 6e4], rtol=1e-6)
    grads = _gradients(implementation, x, keypoints, outputs)
    for grad in grads:
        assert np.all(np.isfinite(grad.numpy()))
    np.testing.assert_allclose(grads[0].numpy()[:, 0], [1e-34] * 4, rtol=1e-5)
    np.testing.assert_allclose(grads[2].numpy()[0], [1.75, 2.25], rtol=1e-6)


def test_infinite_end_gradients_agree_between_implementations():
    keypoints = tf.constant([[-np.inf, 0.0, 1.0, np.inf], [-2.0, 0.0, 1.0, 3.0]], tf.float64)
    outputs = tf.constant([[1.0, 2.0, 4.0, 5.0], [0.0, 1.0, 3.0, 9.0]], tf.float64)
    x = tf.constant([[-np.inf, 0.5], [-1.0, np.inf], [0.25, -7.0], [9.0, 2.0],
                     [np.inf, np.nan]], tf.float64)
    y = {impl: _call(impl, x, keypoints, outputs).numpy() for impl in IMPLEMENTATIONS}
    np.testing.assert_array_equal(y["kernel"], y["portable"])
    grads = {impl: _gradients(impl, x, keypoints, outputs) for impl in IMPLEMENTATIONS}
    for a, b in zip(grads["kernel"], grads["portable"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_keypoints_without_a_finite_value_are_rejected(device, implementation):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must include a finite keypoint"):
        pwl_calibration(tf.zeros([2, 1]), tf.constant([-np.inf, np.inf]), tf.zeros([1, 2]),
                        implementation=implementation)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("shared", [True, False])
def test_empty_batch_forward_and_backward(device, implementation, shared):
    inputs = tf.zeros([0, 2], tf.float64)
    keypoints = tf.constant([0.0, 1.0, 2.0], tf.float64)
    if not shared:
        keypoints = tf.stack([keypoints, keypoints + 1.0])
    outputs = tf.ones([2, 3], tf.float64)
    y = _call(implementation, inputs, keypoints, outputs)
    assert y.shape == (0, 2)
    d_inputs, d_keypoints, d_outputs = _gradients(implementation, inputs, keypoints, outputs)
    assert d_inputs.shape == (0, 2)
    np.testing.assert_array_equal(tf.convert_to_tensor(d_keypoints).numpy(),
                                  np.zeros(keypoints.shape))
    np.testing.assert_array_equal(tf.convert_to_tensor(d_outputs).numpy(), np.zeros([2, 3]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_tf_function_with_unknown_batch(implementation):
    keypoints = tf.constant([[0.0, 1.0, 3.0], [-1.0, 0.0, 1.0]])
    outputs = tf.constant([[5.0, 6.0, 9.0], [0.0, 1.0, -1.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def calibrate(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = pwl_calibration(x, keypoints, outputs, implementation=implementation)
        assert y.shape.as_list() == [None, 2]
        return y, tape.gradient(y, x)

    inputs = np.array([[0.5, -0.5], [2.0, 0.5], [4.0, 2.0]], np.float32)
    y, dx = calibrate(tf.constant(inputs))
    np.testing.assert_allclose(y.numpy(), oracle.pwl_calibration(inputs, keypoints, outputs),
                               rtol=1e-6)
    np.testing.assert_allclose(dx.numpy(), [[1.0, 1.0], [1.5, -2.0], [0.0, 0.0]], rtol=1e-6)
    empty_y, empty_dx = calibrate(tf.zeros([0, 2]))
    assert empty_y.shape == (0, 2) and empty_dx.shape == (0, 2)


def test_static_output_shape():
    spec = tf.TensorSpec([None, 3], tf.float32)
    for implementation in IMPLEMENTATIONS:
        graph = tf.function(
            lambda x: pwl_calibration(x, [0.0, 1.0], tf.zeros([3, 2]),
                                      implementation=implementation))
        concrete = graph.get_concrete_function(spec)
        assert concrete.structured_outputs.shape.as_list() == [None, 3]


@pytest.mark.parametrize("shared", [True, False])
def test_large_batch_gradients_reduce_across_shards(shared):
    # Enough rows for the CPU kernel to split the batch into several shards.
    rng = np.random.default_rng(7)
    units, num_keypoints, batch = 3, 6, 20000
    keypoints = np.sort(rng.uniform(-2.0, 2.0, size=(units, num_keypoints)), axis=1)
    keypoints = keypoints[0] if shared else keypoints
    outputs = rng.normal(size=(units, num_keypoints))
    inputs = rng.uniform(-3.0, 3.0, size=(batch, units))
    upstream = tf.constant(rng.normal(size=(batch, units)))
    kernel = _gradients("kernel", inputs, keypoints, outputs, upstream)
    portable = _gradients("portable", inputs, keypoints, outputs, upstream)
    for a, b in zip(kernel, portable):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(),
                                   tf.convert_to_tensor(b).numpy(), rtol=1e-9, atol=1e-8)


@settings(deadline=None, max_examples=10)
@given(case=calibration_cases())
def test_twin_compiles_under_xla(case):
    inputs, keypoints, outputs = (tf.constant(a, tf.float64) for a in case)

    def value_and_gradients(x, k, o):
        with tf.GradientTape() as tape:
            tape.watch([x, k, o])
            y = pwl_calibration(x, k, o, implementation="portable")
        return [y] + tape.gradient(y, [x, k, o])

    compiled = tf.function(value_and_gradients, jit_compile=True)(inputs, keypoints, outputs)
    eager = value_and_gradients(inputs, keypoints, outputs)
    for a, b in zip(compiled, eager):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(),
                                   tf.convert_to_tensor(b).numpy(), rtol=1e-9, atol=1e-9)


def test_twin_saved_model_has_no_custom_ops(tmp_path):
    module = tf.Module()
    module.keypoints = tf.Variable([0.0, 1.0, 3.0])
    module.outputs = tf.Variable([[5.0, 6.0, 9.0]])
    module.calibrate = tf.function(
        lambda x: pwl_calibration(x, module.keypoints, module.outputs,
                                  implementation="portable"),
        input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    tf.saved_model.save(module, str(tmp_path))
    with open(os.path.join(tmp_path, "saved_model.pb"), "rb") as handle:
        assert b"TfLattice" not in handle.read()
    # Binary searches (searchsorted) have no ONNX equivalent.
    assert not {"UpperBound", "LowerBound"} & set(op_types(str(tmp_path)))
    loaded = tf.saved_model.load(str(tmp_path))
    np.testing.assert_allclose(loaded.calibrate(tf.constant([[2.0]])).numpy(), [[7.5]])


# ---- errors -------------------------------------------------------------------------


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "inputs_shape, keypoints_shape, outputs_shape, match",
    [
        ([4, 3], [5], [2, 5], r"inputs has 3 units .*\(4, 3\).*outputs has 2"),
        ([4, 2], [3, 5], [2, 5], r"keypoints has 3 units .*\(3, 5\).*outputs has 2"),
        ([4, 2], [4], [2, 5], r"keypoints has K=4 .*outputs has K=5"),
        ([4, 2], [2, 6], [2, 5], r"keypoints has K=6 .*outputs has K=5"),
        ([4, 2], [1], [2, 1], r"at least 2 keypoints \(K >= 2\)"),
        ([4], [5], [1, 5], r"inputs must have shape \[batch, units\].*\(4,\)"),
        ([4, 2], [2, 2, 5], [2, 5], r"keypoints must have shape \[K\] or \[units, K\]"),
        ([4, 2], [5], [10], r"outputs must have shape \[units, K\]"),
    ],
)
def test_static_shape_errors(implementation, inputs_shape, keypoints_shape, outputs_shape,
                             match):
    with pytest.raises(ValueError, match=match):
        pwl_calibration(tf.zeros(inputs_shape), tf.zeros(keypoints_shape),
                        tf.zeros(outputs_shape), implementation=implementation)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_dtype_errors(implementation):
    with pytest.raises(ValueError, match=r"inputs must be float32 or float64, got int32"):
        pwl_calibration(tf.zeros([2, 1], tf.int32), [0.0, 1.0], [[0.0, 1.0]],
                        implementation=implementation)
    with pytest.raises(ValueError, match=r"keypoints must be float32 or float64, got int64"):
        pwl_calibration(tf.zeros([2, 1]), np.array([0, 1]), [[0.0, 1.0]],
                        implementation=implementation)
    with pytest.raises(ValueError, match=r"dtypes must match.*outputs: float64"):
        pwl_calibration(tf.zeros([2, 1]), [0.0, 1.0], tf.zeros([1, 2], tf.float64),
                        implementation=implementation)


def test_unknown_implementation():
    with pytest.raises(ValueError, match=r"implementation must be one of .*'fast'"):
        pwl_calibration(tf.zeros([2, 1]), [0.0, 1.0], [[0.0, 1.0]], implementation="fast")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_non_increasing_keypoints_name_unit_and_index(device, implementation):
    keypoints = tf.constant([[0.0, 1.0, 2.0], [0.0, 1.0, 1.0]])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"strictly increasing.*unit\D*1\D*index\D*2"):
        pwl_calibration(tf.zeros([2, 2]), keypoints, tf.zeros([2, 3]),
                        implementation=implementation)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"shared by all units\) must be strictly increasing.*index\D*1"):
        pwl_calibration(tf.zeros([2, 2]), [0.0, -1.0, 2.0], tf.zeros([2, 3]),
                        implementation=implementation)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_nan_keypoints_are_rejected(device, implementation):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"keypoints must not be NaN"):
        pwl_calibration(tf.zeros([2, 2]), tf.constant([[0.0, 1.0], [np.nan, 1.0]]),
                        tf.zeros([2, 2]), implementation=implementation)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_gradient_checks_keypoints_too(implementation):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"strictly increasing"):
        _gradients(implementation, tf.zeros([2, 1]), tf.constant([1.0, 0.0]),
                   tf.zeros([1, 2]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "inputs_shape, keypoints_shape, outputs_shape, match",
    [
        ([4, 3], [5], [2, 5], r"units"),
        ([4, 2], [3, 5], [2, 5], r"units"),
        ([4, 2], [4], [2, 5], r"K"),
        ([4, 2], [1], [2, 1], r"at least 2 keypoints"),
        ([4], [5], [1, 5], r"inputs must have shape \[batch, units\]"),
        ([4, 2], [2, 2, 5], [2, 5], r"keypoints must have shape \[K\] or \[units, K\]"),
    ],
)
def test_dynamic_shape_errors(implementation, inputs_shape, keypoints_shape, outputs_shape,
                              match):
    unknown = tf.TensorSpec(None, tf.float32)

    @tf.function(input_signature=[unknown, unknown, unknown])
    def calibrate(x, k, o):
        return pwl_calibration(x, k, o, implementation=implementation)

    keypoints = np.cumsum(np.ones(keypoints_shape, np.float32), axis=-1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        calibrate(tf.zeros(inputs_shape), keypoints, tf.zeros(outputs_shape))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_outputs_near_the_dtype_limit_calibrate_finitely(device, implementation, dtype):
    # o_1 - o_0 overflows: at k_0 a naive o_0 + rise * 0 is NaN.
    big = np.finfo(dtype.as_numpy_dtype).max
    outputs = tf.constant([[big, -big]], dtype)
    x = tf.constant([[0.0], [0.5], [1.0]], dtype)
    y = _call(implementation, x, tf.constant([0.0, 1.0], dtype), outputs).numpy()[:, 0]
    np.testing.assert_allclose(y, [big, 0.0, -big], rtol=1e-6)
