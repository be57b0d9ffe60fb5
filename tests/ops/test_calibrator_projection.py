"""Tests of tf_lattice.ops.calibrator_projection."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_lattice.constraints import certify_calibrator
from tf_lattice.ops import calibrator_projection

MONOTONICITIES = ["increasing", "decreasing", "none"]
CONVEXITIES = ["convex", "concave", "none"]


@st.composite
def problems(draw):
    units = draw(st.integers(1, 3))
    size = draw(st.integers(2, 10))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    outputs = rng.normal(size=(units, size)) * draw(st.sampled_from([0.5, 3.0]))
    keypoints = np.cumsum(rng.uniform(0.1, 2.0, size=size)) - 1.0
    constraints = dict(
        monotonicity=[draw(st.sampled_from(MONOTONICITIES)) for _ in range(units)],
        convexity=[draw(st.sampled_from(CONVEXITIES)) for _ in range(units)],
        output_min=draw(st.one_of(st.none(), st.floats(-2.0, 0.0))),
        output_max=draw(st.one_of(st.none(), st.floats(0.0, 2.0))))
    return outputs, keypoints, constraints


IMPLEMENTATIONS = ["kernel", "portable"]


def _project(outputs, keypoints, dtype=np.float64, **constraints):
    return calibrator_projection(outputs.astype(dtype), keypoints.astype(dtype),
                                 **constraints).numpy()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None, max_examples=15)
@given(problem=problems())
def test_feasible_exactly_and_close_to_exact_projection(implementation, dtype, problem):
    outputs, keypoints, constraints = problem
    projected = _project(outputs, keypoints, dtype, implementation=implementation,
                         **constraints)
    certificate = certify_calibrator(keypoints.astype(dtype), projected, **constraints)
    assert certificate.holds, str(certificate)
    exact = calibrator_projection(outputs, keypoints, exact=True, **constraints).numpy()
    moved = np.linalg.norm(exact - outputs, axis=1)
    error = np.linalg.norm(projected - exact, axis=1)
    slack = 1e-6 if dtype == np.float64 else 1e-4
    assert (error <= 0.01 * moved + slack * (1 + np.abs(outputs).max())).all()


@settings(deadline=None, max_examples=10)
@given(problem=problems())
def test_idempotent(problem):
    outputs, keypoints, constraints = problem
    once = _project(outputs, keypoints, **constraints)
    twice = _project(once, keypoints, **constraints)
    np.testing.assert_allclose(twice, once, atol=1e-7)


def test_closed_forms():
    outputs = np.array([[3.0, 1.0, 2.0, 5.0]])
    keypoints = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(
        _project(outputs, keypoints, monotonicity="increasing"), [[2.0, 2.0, 2.0, 5.0]])
    np.testing.assert_allclose(
        _project(outputs, keypoints, output_min=1.5, output_max=4.0), [[3.0, 1.5, 2.0, 4.0]])
    np.testing.assert_allclose(
        _project(outputs, keypoints, monotonicity="decreasing", output_max=2.5),
        [[2.5, 2.5, 2.5, 2.5]])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_convex_hand_case_uneven_keypoints(implementation):
    # A peak at the middle knot of (0, 1, 3): the projection onto convex
    # functions is the line through a weighted fit, computed by hand from the
    # normal a = (1/1, -(1/1 + 1/2), 1/2): o += max(0, -a.o) / |a|^2 a.
    outputs = np.array([[0.0, 1.0, 0.0]])
    keypoints = np.array([0.0, 1.0, 3.0])
    normal = np.array([1.0, -1.5, 0.5])
    expected = outputs + (-(normal @ outputs[0])) / (normal @ normal) * normal
    np.testing.assert_allclose(
        _project(outputs, keypoints, convexity="convex", implementation=implementation),
        expected, atol=1e-9)
    slopes = np.diff(expected[0]) / np.diff(keypoints)
    np.testing.assert_allclose(slopes[0], slopes[1], atol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_convex_monotone_bounded_is_feasible_with_many_knots(implementation):
    rng = np.random.default_rng(5)
    outputs = rng.normal(size=(4, 40)).astype(np.float32)
    keypoints = np.sort(rng.uniform(-3, 3, size=40)).astype(np.float32)
    constraints = dict(monotonicity="increasing", convexity="concave",
                       output_min=-0.3, output_max=0.7)
    projected = _project(outputs, keypoints, np.float32, implementation=implementation,
                         **constraints)
    assert certify_calibrator(keypoints, projected, **constraints).holds


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("in_graph", [False, True])
@pytest.mark.parametrize("convexity", ["convex", "concave"])
def test_convexity_in_each_dtype_eager_and_in_graphs(implementation, dtype, in_graph,
                                                     convexity):
    rng = np.random.default_rng(9)
    outputs = rng.normal(size=(3, 8)).astype(dtype)
    keypoints = np.cumsum(rng.uniform(0.2, 1.0, size=8)).astype(dtype)
    constraints = dict(monotonicity=["increasing", "decreasing", "none"], convexity=convexity,
                       output_min=-1.0, output_max=1.0)
    project = lambda o: calibrator_projection(o, keypoints, implementation=implementation,
                                              **constraints)
    if in_graph:
        project = tf.function(project)
    projected = project(tf.constant(outputs)).numpy()
    assert projected.dtype == dtype
    certificate = certify_calibrator(keypoints, projected, **constraints)
    assert certificate.holds, str(certificate)
    exact = calibrator_projection(outputs.astype(np.float64), keypoints.astype(np.float64),
                                  exact=True, **constraints).numpy()
    tolerance = 1e-5 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(projected, exact, atol=tolerance)


def test_graph_mode():
    outputs = tf.constant(np.random.default_rng(6).normal(size=(2, 6)))
    keypoints = tf.constant(np.linspace(0.0, 1.0, 6))
    project = tf.function(lambda o: calibrator_projection(
        o, keypoints, monotonicity="increasing", convexity="convex", output_max=1.0,
        implementation="portable"))
    np.testing.assert_allclose(
        project(outputs).numpy(),
        calibrator_projection(outputs, keypoints, monotonicity="increasing",
                              convexity="convex", output_max=1.0).numpy(), atol=1e-9)


@pytest.mark.parametrize("size", [1, 2, 5, 8, 13])
def test_running_extremes_match_a_sequential_scan(size):
    from tf_lattice.ops.calibrator_projection import _running_extreme

    values = np.random.default_rng(size).normal(size=(3, size))
    np.testing.assert_array_equal(
        _running_extreme(tf.maximum, tf.constant(values), -np.inf).numpy(),
        np.maximum.accumulate(values, axis=1))
    np.testing.assert_array_equal(
        _running_extreme(tf.minimum, tf.constant(values), np.inf, reverse=True).numpy(),
        np.minimum.accumulate(values[:, ::-1], axis=1)[:, ::-1])


def test_errors():
    outputs = np.zeros((2, 4))
    keypoints = np.arange(4.0)
    with pytest.raises(ValueError, match="infeasible bounds"):
        calibrator_projection(outputs, keypoints, output_min=1.0, output_max=0.0)
    with pytest.raises(ValueError, match="monotonicity must be one of"):
        calibrator_projection(outputs, keypoints, monotonicity="up")
    with pytest.raises(ValueError, match="convexity\\[1\\] must be one of"):
        calibrator_projection(outputs, keypoints, convexity=["convex", "wavy"])
    with pytest.raises(ValueError, match="one direction or one per unit"):
        calibrator_projection(outputs, keypoints, monotonicity=["increasing"] * 3)
    with pytest.raises(ValueError, match="strictly increasing"):
        calibrator_projection(outputs, [0.0, 1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="keypoints must have shape"):
        calibrator_projection(outputs, np.arange(5.0))
    with pytest.raises(ValueError, match="output_min must be a number"):
        calibrator_projection(outputs, keypoints, output_min=np.nan)


@pytest.mark.parametrize("convexity", ["none", "convex"])
def test_nan_outputs_are_a_clear_error_eager_and_in_graphs(convexity):
    outputs = np.array([[0.0, 1.0, 2.0], [0.0, np.nan, 1.0]])
    keypoints = np.array([0.0, 1.0, 2.0])
    kwargs = dict(monotonicity="increasing", convexity=convexity)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"calibrator_projection: outputs\[1, 1\] is NaN"):
        calibrator_projection(outputs, keypoints, **kwargs)
    graph = tf.function(lambda o: calibrator_projection(o, keypoints, **kwargs))
    with pytest.raises(tf.errors.InvalidArgumentError, match="outputs must not contain NaN"):
        graph(tf.constant(outputs))


@pytest.mark.parametrize("implementation", ["kernel", "portable"])
def test_outputs_that_overflow_the_convex_solve_are_a_clear_error(implementation):
    """Finite outputs near the float64 limit (a case the fuzzer found) are refused by
    name, eagerly and in graphs, where the solve would return NaN (kernel) or zeros
    (the compiled portable solver)."""
    outputs = np.array([[np.finfo(np.float64).max, 0.3, -1.2]])
    keypoints = np.array([0.0, 0.5, 1.5])
    kwargs = dict(monotonicity="decreasing", convexity="convex", implementation=implementation)
    message = r"calibrator_projection: outputs.* exceeds 3.27\d*e\+150 in magnitude"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        calibrator_projection(outputs, keypoints, **kwargs)
    graph = tf.function(lambda o: calibrator_projection(o, keypoints, **kwargs))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        graph(tf.constant(outputs))
    ordinary = calibrator_projection(outputs * 1e-300, keypoints, **kwargs).numpy()
    assert np.isfinite(ordinary).all()
    # Outputs within the limit whose slopes overflow (keypoints 1e-200 apart):
    # the solve's NaN is refused by name.
    steep = np.array([[1e150, 0.3, -1e150]])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"the projected outputs\[0, 1\] is NaN; the convexity solve "
                             r"overflowed float64"):
        calibrator_projection(steep, np.array([0.0, 1e-200, 2e-200]), **kwargs)
