"""Tests of the interior-point projection onto polyhedra: the compiled op
TfLattice>PolyhedronProjection, its portable twin, and the compiled-function
cache of the portable solver in graphs."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

from tf_lattice import _native
from tf_lattice.ops import _compiled
from tf_lattice.ops import _quadratic_program
from tf_lattice.ops import calibrator_projection
from tf_lattice.ops.calibrator_projection import calibrator_inequalities

OP_NAME = "TfLattice>PolyhedronProjection"


def test_op_is_listed_and_registered():
    assert OP_NAME in _native.OP_NAMES
    assert callable(_native.load_ops().tf_lattice_polyhedron_projection)
    assert op_def_registry.get(OP_NAME) is not None


def _random_problem(rng, units, size, inequalities, equalities, inactive=0, feasible_units=()):
    """A feasible problem: every unit's constraints hold at a random point x0.

    A third of the inequalities are tight at x0. ``inactive`` extra rows are
    the inert ``0 <= 1``. Units in ``feasible_units`` get the target x0.
    """
    point = rng.normal(size=(units, size))
    matrix = rng.normal(size=(units, inequalities, size))
    slack = rng.uniform(0.0, 1.0, size=(units, inequalities))
    slack[:, : inequalities // 3] = 0.0
    bound = np.einsum("umn,un->um", matrix, point) + slack
    matrix = np.concatenate([matrix, np.zeros((units, inactive, size))], axis=1)
    bound = np.concatenate([bound, np.ones((units, inactive))], axis=1)
    target = point + 2.0 * rng.normal(size=(units, size))
    for unit in feasible_units:
        target[unit] = point[unit]
    e_matrix = rng.normal(size=(units, equalities, size))
    e_bound = np.einsum("upn,un->up", e_matrix, point)
    return target, matrix, bound, e_matrix, e_bound


def _solve(problem, implementation, dtype=np.float64, **kwargs):
    target, matrix, bound, e_matrix, e_bound = [a.astype(dtype) for a in problem]
    equalities = (e_matrix, e_bound) if e_matrix.shape[1] else (None, None)
    return _quadratic_program.project_onto_polyhedron(
        target, matrix, bound, *equalities, implementation=implementation, **kwargs).numpy()


def _cvxpy(problem, dtype=np.float64):
    import cvxpy as cp

    target, matrix, bound, e_matrix, e_bound = [a.astype(dtype).astype(np.float64)
                                                for a in problem]
    result = np.empty_like(target)
    for unit in range(target.shape[0]):
        x = cp.Variable(target.shape[1])
        constraints = []
        if matrix.shape[1]:
            constraints.append(matrix[unit] @ x <= bound[unit])
        if e_matrix.shape[1]:
            constraints.append(e_matrix[unit] @ x == e_bound[unit])
        cp.Problem(cp.Minimize(cp.sum_squares(x - target[unit])), constraints).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        result[unit] = x.value
    return result


def _assert_close(actual, expected, problem, rtol=1e-7):
    scale = 1.0 + np.abs(problem[0]).max() + np.abs(problem[2]).max()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inequalities, equalities", [(12, 0), (12, 2), (30, 1), (0, 2), (0, 0)])
def test_kernel_matches_twin_and_cvxpy(dtype, inequalities, equalities):
    rng = np.random.default_rng(inequalities * 10 + equalities)
    problem = _random_problem(rng, units=6, size=8, inequalities=inequalities,
                              equalities=equalities, inactive=3, feasible_units=(2,))
    kernel = _solve(problem, "kernel", dtype)
    assert kernel.dtype == np.float64 and kernel.shape == (6, 8)
    _assert_close(kernel, _solve(problem, "portable", dtype), problem)
    _assert_close(kernel, _cvxpy(problem, dtype), problem)
    # The unit whose target is feasible stays where it is (in float32 rounding
    # the data can make the tight rows of x0 infeasible by a few ulps).
    atol = 1e-8 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(kernel[2], problem[0][2].astype(dtype), atol=atol)


def test_larger_problems_match_cvxpy():
    rng = np.random.default_rng(7)
    problem = _random_problem(rng, units=3, size=40, inequalities=80, equalities=3, inactive=5)
    _assert_close(_solve(problem, "kernel"), _cvxpy(problem), problem)


def test_banded_rows_match_dense_rows():
    # Second differences (bandwidth 2, like a calibrator's convexity rows)
    # plus bounds: the banded factorization against cvxpy and the twin.
    size, units = 15, 4
    rng = np.random.default_rng(3)
    second = np.eye(size)[:-2] - 2 * np.eye(size, k=1)[:-2] + np.eye(size, k=2)[:-2]
    matrix = np.concatenate([-second, np.eye(size), -np.eye(size)])
    bound = np.concatenate([np.zeros(size - 2), np.full(2 * size, 1.5)])
    problem = (rng.normal(size=(units, size)) * 2, np.broadcast_to(matrix, (units,) + matrix.shape),
               np.broadcast_to(bound, (units, bound.size)), np.zeros((units, 0, size)),
               np.zeros((units, 0)))
    kernel = _solve(problem, "kernel")
    _assert_close(kernel, _cvxpy(problem), problem)
    _assert_close(kernel, _solve(problem, "portable"), problem)


def test_duplicate_constraints():
    rng = np.random.default_rng(11)
    target, matrix, bound, e_matrix, e_bound = _random_problem(
        rng, units=4, size=6, inequalities=9, equalities=2)
    # Every inequality twice, and the first equality repeated (consistently).
    problem = (target, np.concatenate([matrix, matrix], axis=1),
               np.concatenate([bound, bound], axis=1),
               np.concatenate([e_matrix, e_matrix[:, :1]], axis=1),
               np.concatenate([e_bound, e_bound[:, :1]], axis=1))
    kernel = _solve(problem, "kernel")
    _assert_close(kernel, _cvxpy(problem), problem)
    # Both drop the repeated equality's multiplier step (a dependent pivot
    # of the Schur complement).
    _assert_close(kernel, _solve(problem, "portable"), problem)


def test_newton_matrix_singular_to_rounding_stops_the_row():
    # A convex, increasing calibrator capped above: near convergence the
    # weights of the active convexity rows reach 1e20, I + G^T W G is
    # singular to rounding and its factor's pivot is noise. The twin's
    # factorization fails there (NaN) and the row stops; the kernel must stop
    # too rather than take the noise's step (it once moved x by 0.36).
    target = np.array([[-1.1799518983546864, -1.1643279070061672, 2.239014016044378,
                        0.4374652597571525, 2.7405123456529568, -1.8785059759254268]])
    keypoints = np.array([[1.5644511255222533, 2.95287284841935, 4.364712124907886,
                           4.695911634092857, 5.057270476223692, 5.7716090480765505]])
    upper = 1.7413575473462035
    matrix, bound = calibrator_inequalities(
        tf.constant(keypoints), [1], [1], None, upper)
    problem = (target, matrix.numpy(), bound.numpy(), np.zeros((1, 0, 6)), np.zeros((1, 0)))
    kernel = _solve(problem, "kernel")
    np.testing.assert_allclose(kernel, _solve(problem, "portable"), rtol=0, atol=1e-9)
    _assert_close(kernel, _cvxpy(problem), problem)
    settings = dict(monotonicity=["increasing"], convexity=["convex"], output_min=None,
                    output_max=upper)
    exact = calibrator_projection(
        tf.constant(target), keypoints[0], exact=True, **settings).numpy()
    for implementation in ("kernel", "portable"):
        projected = calibrator_projection(
            tf.constant(target), keypoints[0], implementation=implementation,
            **settings).numpy()
        np.testing.assert_allclose(projected, exact, rtol=0, atol=1e-7)


def test_hand_cases():
    # (2, 1) onto x0 <= x1 with x0 + x1 = 1 is (0.5, 0.5); onto x0 <= 0 it is (0, 1).
    target = np.array([[2.0, 1.0], [2.0, 1.0]])
    matrix = np.array([[[1.0, -1.0]], [[1.0, 0.0]]])
    equalities = (np.array([[[1.0, 1.0]], [[0.0, 0.0]]]), np.array([[1.0], [0.0]]))
    result = _quadratic_program.project_onto_polyhedron(
        target, matrix, np.zeros((2, 1)), *equalities).numpy()
    np.testing.assert_allclose(result, [[0.5, 0.5], [0.0, 1.0]], atol=1e-9)


def test_empty_batches():
    for units, size in ((0, 3), (2, 0)):
        result = _quadratic_program.project_onto_polyhedron(
            np.zeros((units, size)), np.zeros((units, 4, size)), np.ones((units, 4)))
        assert result.shape == (units, size)


def test_zero_iterations_return_the_target():
    rng = np.random.default_rng(2)
    problem = _random_problem(rng, units=3, size=4, inequalities=5, equalities=1)
    np.testing.assert_array_equal(_solve(problem, "kernel", num_iterations=0), problem[0])


def test_kernel_in_graphs_without_xla_and_under_xla():
    rng = np.random.default_rng(5)
    problem = _random_problem(rng, units=3, size=5, inequalities=7, equalities=1)
    tensors = [tf.constant(a) for a in problem]
    eager = _solve(problem, "kernel")

    def project(*args):
        return _quadratic_program.project_onto_polyhedron(*args)

    graph_function = tf.function(project)
    np.testing.assert_allclose(graph_function(*tensors).numpy(), eager, atol=1e-12)
    graph = graph_function.get_concrete_function(*tensors).graph
    assert OP_NAME in {op.type for op in graph.get_operations()}
    # Under XLA (where custom ops cannot run) the twin's ops are compiled.
    compiled = tf.function(project, jit_compile=True)
    _assert_close(compiled(*tensors).numpy(), eager, problem)
    graph = compiled.get_concrete_function(*tensors).graph
    assert OP_NAME not in {op.type for op in graph.get_operations()}


def test_no_gradient():
    target = tf.constant([[2.0, 1.0]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(target)
        result = _quadratic_program.project_onto_polyhedron(
            target, np.array([[[1.0, -1.0]]]), np.zeros((1, 1)))
    assert tape.gradient(result, target) is None


def _op(target, matrix, bound, e_matrix=None, e_bound=None):
    if e_matrix is None:
        units, size = np.shape(target)[:2]
        e_matrix, e_bound = np.zeros((units, 0, size)), np.zeros((units, 0))
    return _native.load_ops().tf_lattice_polyhedron_projection(
        target, matrix, bound, e_matrix, e_bound, num_iterations=40, tolerance=1e-11)


def test_op_rejects_bad_shapes():
    target = np.zeros((2, 3))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"inequality_matrix must have shape \[units, M, N\] = \[2, M, 3\]"):
        _op(target, np.zeros((2, 4, 2)), np.ones((2, 4)))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"inequality_bound must have shape \[units, M\] = \[2, 4\]"):
        _op(target, np.zeros((2, 4, 3)), np.ones((2, 5)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"equality_bound must have shape"):
        _op(target, np.zeros((2, 4, 3)), np.ones((2, 4)), np.zeros((2, 1, 3)), np.zeros((2, 2)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"target must have shape"):
        _op(np.zeros((2, 3, 1)), np.zeros((2, 4, 3)), np.ones((2, 4)))
    # In graphs the shape function rejects the mismatch while tracing.
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.function(_op).get_concrete_function(
            tf.TensorSpec([2, 3], tf.float64), tf.TensorSpec([2, 4, 3], tf.float64),
            tf.TensorSpec([2, 5], tf.float64), tf.TensorSpec([2, 0, 3], tf.float64),
            tf.TensorSpec([2, 0], tf.float64))


def test_op_rejects_non_finite_values():
    target = np.zeros((2, 3))
    target[1, 2] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"target must be finite; unit 1 has nan at \[1, 2\]"):
        _op(target, np.zeros((2, 4, 3)), np.ones((2, 4)))
    matrix = np.zeros((2, 4, 3), np.float32)
    matrix[0, 3, 1] = np.inf
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"inequality_matrix must be finite; unit 0 has inf at \[0, 3, 1\]"):
        _op(np.zeros((2, 3), np.float32), matrix, np.ones((2, 4), np.float32))
    bound = np.ones((2, 4))
    bound[1, 0] = -np.inf
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"inequality_bound must be finite; unit 1 has -inf at \[1, 0\]"):
        _op(np.zeros((2, 3)), np.zeros((2, 4, 3)), bound)


@pytest.mark.parametrize("num_iterations, tolerance, match", [
    (-1, 1e-11, "num_iterations must be >= 0, got -1"),
    (10, -1.0, "tolerance must be >= 0, got -1"),
    (10, float("nan"), "tolerance must be >= 0, got nan"),
])
def test_op_rejects_bad_attributes(num_iterations, tolerance, match):
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=match):
        _native.load_ops().tf_lattice_polyhedron_projection(
            np.zeros((1, 2)), np.zeros((1, 1, 2)), np.ones((1, 1)), np.zeros((1, 0, 2)),
            np.zeros((1, 0)), num_iterations=num_iterations, tolerance=tolerance)


def test_wrapper_rejects_half_given_equalities_and_bad_implementation():
    with pytest.raises(ValueError, match="given together"):
        _quadratic_program.project_onto_polyhedron(
            np.zeros((1, 2)), np.zeros((1, 1, 2)), np.ones((1, 1)), np.ones((1, 1, 2)))
    with pytest.raises(ValueError, match="implementation must be one of"):
        _quadratic_program.project_onto_polyhedron(
            np.zeros((1, 2)), np.zeros((1, 1, 2)), np.ones((1, 1)), implementation="fast")


def _xla_calls(concrete_function):
    """Names of the functions that ``concrete_function`` calls with XLA."""
    names = []
    for op in concrete_function.graph.get_operations():
        try:
            must_compile = op.get_attr("_XlaMustCompile")
        except ValueError:
            continue
        if must_compile:
            names.append(op.get_attr("f").name)
    return names


def test_portable_solver_compiles_once_across_traces():
    rng = np.random.default_rng(4)
    outputs = tf.constant(rng.normal(size=(5, 9)))
    keypoints = np.linspace(0.0, 2.0, 9)
    # A configuration no other test uses, so the first trace is a miss.
    constraints = dict(monotonicity="increasing", convexity="concave", output_min=-0.625,
                       output_max=0.875)
    before = _compiled.cache_info()
    results, xla_calls = [], []
    for _ in range(2):
        # A new tf.function each time: a Keras fit traces its train step anew.
        project = tf.function(lambda o: calibrator_projection(
            o, keypoints, implementation="portable", **constraints))
        results.append(project(outputs).numpy())
        xla_calls.append(_xla_calls(project.get_concrete_function(outputs)))
    after = _compiled.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 1
    # One trace, so one function name: XLA's cache key for the second graph.
    assert after.traces - before.traces == 1
    assert len(xla_calls[0]) == 1 and xla_calls[0] == xla_calls[1]
    np.testing.assert_array_equal(results[0], results[1])
    # A new shape traces (and compiles) once more.
    tf.function(lambda o: calibrator_projection(
        o, keypoints, implementation="portable", **constraints))(outputs[:3])
    assert _compiled.cache_info().traces - after.traces == 1


def _op_types(concrete_function):
    """Op types in a concrete function's graph and in every function it calls."""
    graph_def = concrete_function.graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types |= {node.op for node in function.node_def}
    return types


def test_kernel_projection_traces_once_across_traces_and_compiles_nothing():
    outputs = tf.constant(np.random.default_rng(8).normal(size=(3, 7)))
    keypoints = np.linspace(0.0, 1.0, 7)
    constraints = dict(convexity="convex", output_min=-0.375)
    before = _compiled.cache_info()
    results = []
    for _ in range(2):
        project = tf.function(lambda o: calibrator_projection(o, keypoints, **constraints))
        concrete = project.get_concrete_function(outputs)
        assert not _xla_calls(concrete)
        assert OP_NAME in _op_types(concrete)
        results.append(project(outputs).numpy())
    after = _compiled.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert after.traces - before.traces == 1
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(
        results[0], calibrator_projection(outputs, keypoints, implementation="portable",
                                          **constraints).numpy(), atol=1e-9)


def test_kernel_projection_traced_apart_inside_xla():
    # The same configuration first in a plain graph (the op), then inside an
    # XLA-compiled function, where the cached graph function with the op must
    # not be reused.
    outputs = tf.constant(np.random.default_rng(9).normal(size=(2, 6)))
    keypoints = np.linspace(0.0, 1.0, 6)
    constraints = dict(monotonicity="increasing", convexity="concave", output_max=0.625)
    plain = tf.function(lambda o: calibrator_projection(o, keypoints, **constraints))(outputs)
    compiled = tf.function(lambda o: calibrator_projection(o, keypoints, **constraints),
                           jit_compile=True)(outputs)
    np.testing.assert_allclose(compiled.numpy(), plain.numpy(), atol=1e-9)
