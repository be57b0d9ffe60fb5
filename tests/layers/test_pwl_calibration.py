"""PWLCalibration: shapes, training, constraints, saving, twins."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers import _checks
from tf_lattice.layers import PWLCalibration
from tf_lattice.layers.pwl_calibration import impute

KEYPOINTS = np.linspace(0.0, 1.0, 6)


def _data(n=256, units=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.1, 1.1, (n, units)).astype("float32")
    y = (np.sqrt(np.clip(x, 0, 1)).sum(axis=1, keepdims=True) + 0.05 * rng.normal(size=(n, 1))).astype("float32")
    return x, y


@pytest.mark.parametrize("input_width,units", [(1, 1), (1, 3), (3, 3)])
def test_shapes_and_eager_matches_function(input_width, units):
    layer = PWLCalibration(KEYPOINTS, units=units)
    x = np.random.uniform(0, 1, (7, input_width)).astype("float32")
    y = _checks.assert_eager_matches_function(layer, x)
    assert y.shape == (7, units)
    assert layer.compute_output_shape((None, input_width)) == (None, units)


def test_interpolates_keypoint_outputs_and_is_flat_outside():
    layer = PWLCalibration([0.0, 1.0, 3.0], kernel_initializer=keras.initializers.Constant([[0.0, 2.0, 3.0]]))
    y = layer(np.array([[-1.0], [0.5], [2.0], [3.0], [9.0]], "float32")).numpy()[:, 0]
    np.testing.assert_allclose(y, [0.0, 1.0, 2.5, 3.0, 3.0], atol=1e-6)


def test_initializer_spans_bounds_in_declared_direction():
    layer = PWLCalibration(KEYPOINTS, units=2, monotonicity="decreasing", output_min=-1, output_max=2)
    layer.build((None, 1))
    outputs = layer.keypoints_outputs().numpy()
    np.testing.assert_allclose(outputs[:, 0], 2.0)
    np.testing.assert_allclose(outputs[:, -1], -1.0)
    assert np.all(np.diff(outputs, axis=1) < 0)


@pytest.mark.parametrize("kwargs", [
    dict(monotonicity="increasing", output_min=0.0, output_max=1.0),
    dict(monotonicity="decreasing", output_min=-1.0, output_max=1.0),
    dict(monotonicity="increasing", convexity="concave"),
    dict(monotonicity="increasing", output_min=0.0, output_max=1.0, clamp_min=True, clamp_max=True),
    dict(is_cyclic=True, output_min=0.0, output_max=2.0),
    dict(input_keypoints_type="learned_interior", monotonicity="increasing"),
])
def test_training_keeps_constraints(kwargs):
    x, y = _data(units=2)
    if kwargs.get("monotonicity") == "decreasing":
        y = -y
    layer = PWLCalibration(KEYPOINTS, units=2, **kwargs)
    model = _checks.make_model(layer, (2,), head=True)
    _checks.train_lowers_loss(model, x, y, epochs=4)
    certificate = layer.certify()
    assert certificate.holds, str(certificate)
    outputs = layer.keypoints_outputs().numpy()
    steps = np.diff(outputs, axis=1)
    if kwargs.get("monotonicity") == "increasing":
        assert np.all(steps >= -1e-6)
    if kwargs.get("is_cyclic"):
        np.testing.assert_allclose(outputs[:, 0], outputs[:, -1])
    if kwargs.get("clamp_min"):
        np.testing.assert_allclose(outputs[:, 0], kwargs["output_min"], atol=1e-6)
    if "output_min" in kwargs:
        assert outputs.min() >= kwargs["output_min"] - 1e-6
        assert outputs.max() <= kwargs["output_max"] + 1e-6


@pytest.mark.parametrize("convexity", ["concave", "convex"])
def test_convexity_trains_in_float32_keras_model(convexity):
    x, y = _data()
    y = y if convexity == "concave" else -y
    layer = PWLCalibration(KEYPOINTS, convexity=convexity, output_min=-2.0, output_max=2.0)
    model = _checks.make_model(layer, (1,))
    assert layer.kernel.dtype == "float32"
    _checks.train_lowers_loss(model, x, y, epochs=4)
    certificate = layer.certify()
    assert certificate.holds, str(certificate)
    slopes = np.diff(layer.keypoints_outputs().numpy(), axis=1) / np.diff(KEYPOINTS)
    sign = -1.0 if convexity == "concave" else 1.0
    assert np.all(sign * np.diff(slopes, axis=1) >= -1e-4)


def test_constraint_runs_after_each_optimizer_step():
    layer = PWLCalibration(KEYPOINTS, monotonicity="increasing", output_min=0.0, output_max=1.0)
    layer.build((None, 1))
    optimizer = keras.optimizers.SGD(1.0)
    # A gradient that pushes the outputs far out of bounds and out of order.
    gradient = tf.constant([[5.0, -5.0, 5.0, -5.0, 5.0, -5.0]])
    optimizer.apply([gradient], [layer.kernel])
    outputs = layer.kernel.numpy()
    assert outputs.min() >= -1e-6 and outputs.max() <= 1 + 1e-6
    assert np.all(np.diff(outputs) >= -1e-6)


def test_learned_interior_keypoints_move_and_stay_ordered():
    x, y = _data(units=1)
    layer = PWLCalibration(KEYPOINTS, input_keypoints_type="learned_interior")
    model = _checks.make_model(layer, (1,))
    _checks.train_lowers_loss(model, x, y, epochs=4)
    keypoints = layer.keypoints_inputs().numpy()
    assert keypoints.shape == (1, 6)
    assert np.all(np.diff(keypoints) > 0)
    np.testing.assert_allclose(keypoints[:, [0, -1]], [[0.0, 1.0]], atol=1e-6)
    assert not np.allclose(keypoints[0], KEYPOINTS, atol=1e-4)


def test_missing_value_sentinel_learns_an_output():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (256, 1)).astype("float32")
    missing = rng.random((256, 1)) < 0.3
    y = np.where(missing, 0.8, x).astype("float32")
    x[missing] = -999.0
    layer = PWLCalibration(KEYPOINTS, missing_input_value=-999.0, output_min=0.0, output_max=1.0)
    model = _checks.make_model(layer, (1,))
    _checks.train_lowers_loss(model, x, y, epochs=20)
    assert abs(float(layer.missing_output.numpy()[0]) - 0.8) < 0.15
    assert layer.certify().holds


def test_is_missing_input_and_fixed_missing_output():
    layer = PWLCalibration(KEYPOINTS, impute_missing=True, missing_output_value=7.0)
    x = np.array([[0.2], [0.4]], "float32")
    y = layer([x, np.array([[0.0], [1.0]], "float32")]).numpy()
    assert y[1, 0] == 7.0 and y[0, 0] != 7.0


def test_finalize_then_certify():
    layer = PWLCalibration(KEYPOINTS, units=2, monotonicity="increasing", output_min=0, output_max=1)
    layer.build((None, 1))
    layer.kernel.assign(np.random.default_rng(0).normal(size=(2, 6)))
    assert not layer.certify().holds
    layer.finalize_constraints()
    assert layer.certify().holds


def test_save_load_and_config_round_trip(tmp_path):
    x, y = _data(units=2)
    layer = PWLCalibration(KEYPOINTS, units=2, monotonicity="increasing", output_min=0, output_max=1,
                           missing_input_value=-1.0, kernel_regularizer=keras.regularizers.L2(1e-3))
    model = _checks.make_model(layer, (2,), head=True)
    _checks.train_lowers_loss(model, x, y, epochs=2)
    _checks.assert_save_load_round_trip(model, x, tmp_path)
    _checks.assert_config_round_trip(layer)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_keypoints=[0.0, 0.0, 1.0]), "strictly increasing"),
    (dict(input_keypoints=[0.0, 1.0], monotonicity="up"), "monotonicity"),
    (dict(input_keypoints=[0.0, 1.0], is_cyclic=True, monotonicity="increasing"), "is_cyclic"),
    (dict(input_keypoints=[0.0, 1.0], clamp_min=True), "clamp_min"),
    (dict(input_keypoints=[0.0, 1.0], output_min=2.0, output_max=1.0), "output_min"),
    (dict(input_keypoints=[[0.0, 1.0]], units=2), "one row per unit"),
    (dict(input_keypoints=[0.0, 1.0], extrapolation="quadratic"), "extrapolation"),
    (dict(input_keypoints=[0.0, 1.0], extrapolation="linear", output_max=1.0),
     "extrapolation='linear' cannot be combined with output_min=None or output_max=1.0"),
    (dict(input_keypoints=[0.0, 1.0], units=2, extrapolation=["constant", "linear"],
          output_min=0.0), "a linear tail leaves every bound"),
    (dict(input_keypoints=[0.0, 1.0], extrapolation="linear", is_cyclic=True), "is_cyclic"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PWLCalibration(**kwargs)


def test_wrong_input_width_raises():
    with pytest.raises(ValueError, match="units=2"):
        PWLCalibration(KEYPOINTS, units=2)(np.zeros((3, 3), "float32"))


@_checks.requires_kernels
@pytest.mark.parametrize("kwargs", [dict(units=3), dict(units=2, input_keypoints_type="learned_interior"),
                                    dict(units=2, missing_input_value=-5.0)])
def test_kernel_and_portable_agree(kwargs):
    layer = PWLCalibration(KEYPOINTS, kernel_initializer="random_normal", **kwargs)
    x = np.random.default_rng(0).uniform(-0.2, 1.2, (33, kwargs["units"])).astype("float32")
    x[0, 0] = -5.0
    _checks.assert_implementations_agree(PWLCalibration, layer.get_config(), x)


@_checks.requires_kernels
def test_jit_disabled_with_kernels():
    _checks.assert_jit_disabled_with_kernels(
        lambda implementation: PWLCalibration(KEYPOINTS, implementation=implementation), (1,))


def test_structural_regularizer_tuples_add_losses():
    layer = PWLCalibration(KEYPOINTS, kernel_initializer="random_normal",
                           kernel_regularizer=[("laplacian", 0.0, 1.0), ("hessian", 0.1, 0.0)])
    layer.build((None, 1))
    assert len(layer.losses) == 1 and float(layer.losses[0]) > 0
    _checks.assert_config_round_trip(layer)
    with pytest.raises(ValueError, match="unknown regularizer"):
        PWLCalibration(KEYPOINTS, kernel_regularizer=("bumpy", 1.0, 0.0)).build((None, 1))


def test_per_unit_directions_are_projected_and_certified_unit_by_unit():
    keypoints = np.stack([KEYPOINTS, KEYPOINTS * 2, KEYPOINTS + 1])
    layer = PWLCalibration(keypoints, units=3, monotonicity=["increasing", "decreasing", "none"],
                           convexity=["none", "none", "convex"])
    layer.build((None, 3))
    rng = np.random.default_rng(3)
    layer.kernel.assign(rng.normal(size=(3, len(KEYPOINTS))).astype("float32"))
    assert not layer.certify().holds
    layer.apply_constraints()
    outputs = np.asarray(layer.kernel, np.float64)
    assert np.all(np.diff(outputs[0]) >= 0) and np.all(np.diff(outputs[1]) <= 0)
    assert np.all(np.diff(np.diff(outputs[2]) / np.diff(keypoints[2])) >= 0)
    assert layer.certify().holds
    # A unit's certificate sees only its own direction.
    layer.kernel.assign(np.stack([outputs[0], outputs[0], outputs[2]]).astype("float32"))
    assert layer.certify(units=[0, 2]).holds and not layer.certify(units=[1]).holds
    clone = PWLCalibration.from_config(layer.get_config())
    assert clone.unit_monotonicities == ["increasing", "decreasing", "none"]
    assert clone.unit_convexities == ["none", "none", "convex"]


def test_per_unit_directions_are_checked():
    with pytest.raises(ValueError, match="monotonicity"):
        PWLCalibration(KEYPOINTS, units=2, monotonicity=["increasing"])
    with pytest.raises(ValueError, match="monotonicity"):
        PWLCalibration(KEYPOINTS, units=2, monotonicity=["increasing", "up"])
    with pytest.raises(ValueError, match="clamp_min"):
        PWLCalibration(KEYPOINTS, units=2, monotonicity=["increasing", "increasing"],
                       output_min=0.0, clamp_min=True)


def _linear_tail_oracle(x, keypoints, outputs, linear):
    """NumPy: np.interp inside the keypoints, end segments continued outside."""
    y = np.empty_like(x, dtype=np.float64)
    for u in range(x.shape[1]):
        k, o = keypoints[u], outputs[u]
        y[:, u] = np.interp(x[:, u], k, o)
        if linear[u]:
            first, last = (o[1] - o[0]) / (k[1] - k[0]), (o[-1] - o[-2]) / (k[-1] - k[-2])
            y[:, u] += first * np.minimum(x[:, u] - k[0], 0) + last * np.maximum(x[:, u] - k[-1], 0)
    return y


@pytest.mark.parametrize("implementation", [pytest.param("kernel", marks=_checks.requires_kernels),
                                            "portable"])
def test_linear_extrapolation_continues_the_end_segments(implementation):
    keypoints = np.array([[0.0, 1.0, 3.0], [-1.0, 0.0, 2.0]])
    outputs = np.array([[0.0, 2.0, 3.0], [1.0, 0.5, 4.5]])
    layer = PWLCalibration(keypoints, units=2, extrapolation=["linear", "constant"],
                           kernel_initializer=keras.initializers.Constant(outputs),
                           implementation=implementation)
    x = np.array([[-4.0, -4.0], [-1.0, -1.0], [0.5, 0.5], [3.0, 2.0], [9.0, 9.0]], "float32")
    np.testing.assert_allclose(layer(x).numpy(), _linear_tail_oracle(x, keypoints, outputs, [1, 0]),
                               rtol=1e-6, atol=1e-6)
    # first unit: slope 2 below 0, slope 0.5 above 3; second unit flat outside.
    np.testing.assert_allclose(layer(x).numpy()[[0, 4]], [[-8.0, 1.0], [6.0, 4.5]], atol=1e-6)


def test_linear_tails_have_the_numerical_gradient():
    keypoints = np.array([0.0, 1.0, 3.0])
    layer = PWLCalibration(keypoints, units=2, extrapolation="linear", dtype="float64",
                           kernel_initializer="random_normal")
    x = tf.constant([[-2.5, 4.0], [0.5, 7.0], [5.0, -1.0]], tf.float64)
    layer(x)

    def forward(kernel):
        return layer.keypoints_outputs(kernel)

    from tf_lattice.layers.pwl_calibration import linear_tails
    theoretical, numerical = tf.test.compute_gradient(
        lambda kernel: linear_tails(x, keypoints, forward(kernel), [True, True]),
        [tf.convert_to_tensor(layer.kernel)])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)
    assert np.abs(theoretical[0]).max() > 0


def test_linear_tail_with_zero_slope_is_flat_even_for_infinite_inputs():
    layer = PWLCalibration([0.0, 1.0, 2.0], extrapolation="linear",
                           kernel_initializer=keras.initializers.Constant([[1.0, 1.0, 2.0]]))
    y = layer(np.array([[-np.inf], [np.inf]], "float32")).numpy()[:, 0]
    assert y[0] == 1.0 and y[1] == np.inf


@pytest.mark.parametrize("convexity", ["convex", "concave"])
def test_trained_convex_units_keep_their_shape_far_outside_the_keypoints(convexity):
    x, y = _data(units=2)
    if convexity == "convex":
        y = -y
    layer = PWLCalibration(KEYPOINTS, units=2, monotonicity="increasing", convexity=convexity,
                           extrapolation="linear", kernel_initializer="equal_slopes")
    model = _checks.make_model(layer, (2,), head=False)
    _checks.train_lowers_loss(model, x, y.repeat(2, axis=1) / 2, epochs=3)
    assert layer.certify().holds
    grid = np.linspace(-20.0, 20.0, 4001, dtype="float32")[:, None].repeat(2, axis=1)
    second = np.diff(layer(grid).numpy().astype(np.float64), n=2, axis=0)
    sign = 1.0 if convexity == "convex" else -1.0
    assert (sign * second).min() > -1e-4, (sign * second).min()
    assert np.all(np.diff(layer(grid).numpy(), axis=0) >= -1e-5)


def test_extrapolation_round_trips_through_the_config():
    layer = PWLCalibration(KEYPOINTS, units=2, extrapolation=["linear", "constant"])
    assert layer.unit_extrapolations == ["linear", "constant"]
    _checks.assert_config_round_trip(layer)
    assert PWLCalibration.from_config(layer.get_config()).unit_extrapolations == ["linear", "constant"]


@pytest.mark.parametrize("missing_shape", [(3,), ()])
def test_impute_matches_a_selection_and_its_numerical_gradient(missing_shape):
    rng = np.random.default_rng(4)
    calibrated = tf.constant(rng.normal(size=(6, 3)))
    is_missing = tf.constant(rng.random((6, 3)) < 0.4)
    missing = tf.constant(rng.normal(size=missing_shape))
    upstream = tf.constant(rng.normal(size=(6, 3)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([calibrated, missing])
        ours = impute(calibrated, is_missing, missing)
        selected = tf.where(is_missing, tf.broadcast_to(missing, (6, 3)), calibrated)
        ours_sum, selected_sum = (tf.reduce_sum(upstream * y) for y in (ours, selected))
    np.testing.assert_array_equal(ours, selected)
    ours_grads = tape.gradient(ours_sum, [calibrated, missing])
    selected_grads = tape.gradient(selected_sum, [calibrated, missing])
    np.testing.assert_array_equal(ours_grads[0], selected_grads[0])
    # A shared (scalar) missing output sums over the units in another order.
    np.testing.assert_allclose(ours_grads[1], selected_grads[1], rtol=1e-12)
    assert np.any(np.asarray(tape.gradient(ours_sum, missing)) != 0)
    theoretical, numerical = tf.test.compute_gradient(
        lambda c, m: impute(c, is_missing, m), [calibrated, missing])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, atol=1e-6)
