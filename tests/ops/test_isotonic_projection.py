"""Tests of tf_lattice.ops.isotonic_projection (kernel and pure-TF twin)."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import isotonic_regression

from tf_lattice.ops import isotonic_projection
from tests.oracles.isotonic import isotonic_oracle

IMPLEMENTATIONS = ["kernel", "portable"]


@st.composite
def problems(draw):
    units = draw(st.integers(1, 4))
    size = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(units, size)) * draw(st.sampled_from([0.1, 1.0, 50.0]))
    if draw(st.booleans()):  # ties
        values = np.round(values)
    weights = rng.uniform(0.05, 3.0, size=(units, size))
    increasing = [draw(st.booleans()) for _ in range(units)]
    lower = draw(st.one_of(st.none(), st.floats(-2, 0)))
    upper = draw(st.one_of(st.none(), st.floats(0, 2)))
    return values, weights, increasing, lower, upper


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(deadline=None)
@given(problem=problems())
def test_matches_sklearn(implementation, problem):
    values, weights, increasing, lower, upper = problem
    result = isotonic_projection(values, weights, increasing, lower, upper,
                                 implementation=implementation).numpy()
    for unit in range(values.shape[0]):
        expected = isotonic_regression(values[unit], sample_weight=weights[unit],
                                       y_min=lower, y_max=upper, increasing=increasing[unit])
        np.testing.assert_allclose(result[unit], expected, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(
            result[unit], isotonic_oracle(values[unit], weights[unit], increasing[unit],
                                          lower, upper), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None)
@given(problem=problems())
def test_kernel_matches_twin(dtype, problem):
    values, weights, increasing, lower, upper = problem
    args = (values.astype(dtype), weights.astype(dtype), increasing, lower, upper)
    kernel = isotonic_projection(*args, implementation="kernel").numpy()
    twin = isotonic_projection(*args, implementation="portable").numpy()
    assert kernel.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(kernel, twin, rtol=tolerance, atol=tolerance * np.abs(values).max())


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_output_monotone_and_bounded_exactly(implementation, device):
    values = np.random.default_rng(1).normal(size=(6, 30)).astype(np.float32)
    increasing = [True, False] * 3
    result = isotonic_projection(values, increasing=increasing, lower=-0.5, upper=0.5,
                                 implementation=implementation).numpy()
    steps = np.diff(result, axis=1) * np.where(increasing, 1.0, -1.0)[:, None]
    assert (steps >= 0).all()
    assert result.min() >= -0.5 and result.max() <= 0.5


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_idempotent_and_non_expansive(implementation):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 5, 15))
    weights = None
    project = lambda x: isotonic_projection(x, weights, lower=-1.0, upper=1.2,  # noqa: E731
                                            implementation=implementation).numpy()
    pa, pb = project(a), project(b)
    np.testing.assert_allclose(project(pa), pa, atol=1e-12)
    assert (np.linalg.norm(pa - pb, axis=1) <= np.linalg.norm(a - b, axis=1) + 1e-12).all()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hand_cases(implementation):
    project = lambda *a, **k: isotonic_projection(  # noqa: E731
        *a, implementation=implementation, **k).numpy()
    np.testing.assert_allclose(project([[3.0, 1.0, 2.0]]), [[2.0, 2.0, 2.0]])
    np.testing.assert_allclose(project([[1.0, 3.0, 2.0, 4.0]]), [[1.0, 2.5, 2.5, 4.0]])
    # Weighted: the heavy 1 pulls the pooled mean to (3 * 1 + 1 * 3) / 4.
    np.testing.assert_allclose(project([[3.0, 1.0]], [[1.0, 3.0]]), [[1.5, 1.5]])
    np.testing.assert_allclose(project([[1.0, 2.0, 3.0]], increasing=False), [[2.0, 2.0, 2.0]])
    np.testing.assert_allclose(project([[-5.0, 0.0, 5.0]], lower=-1.0, upper=1.0),
                               [[-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(project(np.zeros((0, 4))), np.zeros((0, 4)))
    np.testing.assert_allclose(project(np.zeros((2, 0))), np.zeros((2, 0)))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_errors(implementation):
    project = lambda *a, **k: isotonic_projection(  # noqa: E731
        *a, implementation=implementation, **k)
    with pytest.raises(ValueError, match="shape \\[units, K\\]"):
        project([1.0, 2.0])
    with pytest.raises(ValueError, match="infeasible bounds: lower=1.0 > upper=0.0"):
        project([[1.0, 2.0]], lower=1.0, upper=0.0)
    with pytest.raises(ValueError, match="one flag per unit"):
        project([[1.0, 2.0]], increasing=[True, False])
    with pytest.raises(ValueError, match="weights must have the shape"):
        project([[1.0, 2.0]], [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="float32 or float64"):
        project(tf.constant([[1, 2]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN in unit"):
        project([[1.0, 2.0], [np.nan, 0.0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="positive"):
        project([[1.0, 2.0]], [[1.0, 0.0]])


def test_graph_mode_matches_eager():
    values = np.random.default_rng(3).normal(size=(3, 7))
    compiled = tf.function(lambda v: isotonic_projection(v, implementation="portable"))
    np.testing.assert_allclose(compiled(tf.constant(values)).numpy(),
                               isotonic_projection(values, implementation="kernel").numpy(),
                               atol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_every_device_checks_values_and_weights(device, implementation):
    # The GPU kernel runs the CPU kernel's checks (on the device), not fewer.
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN in unit 1"):
        isotonic_projection([[1.0, 2.0], [np.nan, 0.0]], implementation=implementation)
    for weight in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(tf.errors.InvalidArgumentError, match="positive and finite; unit 0"):
            isotonic_projection([[1.0, 2.0]], [[1.0, weight]], implementation=implementation)


def test_kernel_checks_its_raw_inputs_on_every_device(device):
    from tf_lattice import _native
    ops = _native.load_ops()
    args = dict(values=tf.constant([[1.0, 0.0]]), weights=tf.constant([[1.0, 1.0]]),
                increasing=tf.constant([True]), lower=tf.constant(0.0), upper=tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"unit 0 has weight -2 at index 1"):
        ops.tf_lattice_isotonic_projection(**dict(args, weights=tf.constant([[1.0, -2.0]])))
    with pytest.raises(tf.errors.InvalidArgumentError, match="lower must not exceed upper"):
        ops.tf_lattice_isotonic_projection(**dict(args, lower=tf.constant(2.0)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="lower must not exceed upper"):
        ops.tf_lattice_isotonic_projection(**dict(args, upper=tf.constant(np.nan, tf.float32)))
    np.testing.assert_allclose(ops.tf_lattice_isotonic_projection(**args).numpy(), [[0.5, 0.5]])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_and_weights_near_the_dtype_limit_stay_finite(device, implementation, dtype):
    # Unscaled, the block sums w v overflow to +inf and -inf and pool to NaN.
    big = np.finfo(dtype).max
    values = np.array([[big, -big], [big / 2, big / 2]], dtype)
    weights = np.array([[10.0, 10.0], [big, big / 4]], dtype)
    out = isotonic_projection(values, weights, implementation=implementation).numpy()
    np.testing.assert_allclose(out, [[0.0, 0.0], [big / 2, big / 2]], rtol=1e-6)
    decreasing = isotonic_projection(-values, weights, increasing=False,
                                     implementation=implementation).numpy()
    np.testing.assert_allclose(decreasing, -out, rtol=1e-6)
