"""Tests of tf_lattice.ops.lattice_interpolation: kernel, twin and NumPy oracle."""


import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_lattice import _native
from tf_lattice.ops import lattice_interpolation
from tests._doctests import assert_docstring_examples_pass
from tests.oracles import lattice as oracle

IMPLEMENTATIONS = ("kernel", "portable")
INTERPOLATIONS = ("hypercube", "simplex")
MAX_TEST_VERTICES = 2048


@st.composite
def lattice_problems(draw):
    """Random sizes (V kept modest), units, input rank, points in and out of range."""
    dims = draw(st.integers(1, 12))
    sizes = []
    for _ in range(dims):
        # Leave room for the remaining dimensions at size 2.
        used = int(np.prod(sizes or [1])) * 2 ** (dims - len(sizes) - 1)
        budget = MAX_TEST_VERTICES // used
        sizes.append(draw(st.integers(2, max(2, min(5, budget)))))
    units = draw(st.integers(1, 4))
    batch = draw(st.integers(1, 4))
    per_unit = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shape = (batch, units, dims) if per_unit else (batch, dims)
    upper = np.array(sizes, np.float64) - 1
    inputs = rng.uniform(-0.7, upper + 0.7, size=shape)
    # Some coordinates exactly on knots, where the one-sided rule matters.
    on_knot = rng.random(shape) < 0.2
    inputs = np.where(on_knot, np.round(np.clip(inputs, 0, upper)), inputs)
    params = rng.normal(size=(units, int(np.prod(sizes))))
    grad_outputs = rng.normal(size=(batch, units))
    return sizes, inputs, params, grad_outputs


def _value_and_grads(inputs, params, sizes, interpolation, implementation, grad_outputs):
    inputs, params = tf.constant(inputs), tf.constant(params)
    with tf.GradientTape() as tape:
        tape.watch([inputs, params])
        outputs = lattice_interpolation(inputs, params, sizes, interpolation, implementation)
        loss = tf.reduce_sum(outputs * tf.cast(grad_outputs, outputs.dtype))
    grad_inputs, grad_params = tape.gradient(loss, [inputs, params])
    return outputs.numpy(), grad_inputs.numpy(), grad_params.numpy()


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None)
@given(problem=lattice_problems())
def test_matches_oracle_and_twin(device, interpolation, dtype, problem):
    sizes, inputs, params, grad_outputs = problem
    inputs, params = inputs.astype(dtype), params.astype(dtype)
    expected = oracle.lattice_interpolation(inputs, params, sizes, interpolation)
    expected_grads = oracle.lattice_interpolation_gradients(
        inputs, params, sizes, interpolation, grad_outputs)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    results = {impl: _value_and_grads(inputs, params, sizes, interpolation, impl, grad_outputs)
               for impl in IMPLEMENTATIONS}
    for impl, (outputs, grad_inputs, grad_params) in results.items():
        assert outputs.dtype == dtype and outputs.shape == expected.shape, impl
        np.testing.assert_allclose(outputs, expected, rtol=tol, atol=tol, err_msg=impl)
        np.testing.assert_allclose(grad_inputs, expected_grads[0], rtol=tol, atol=tol,
                                   err_msg=impl)
        np.testing.assert_allclose(grad_params, expected_grads[1], rtol=tol, atol=tol,
                                   err_msg=impl)
    for kernel_part, twin_part in zip(results["kernel"], results["portable"]):
        np.testing.assert_allclose(kernel_part, twin_part, rtol=tol, atol=tol)


#: Coordinates where the clip of a size-2 dimension decides: its ends, just
#: inside and outside them, far outside, infinities and NaN.
UNIT_CELL_SPECIALS = (0.0, 1.0, -0.0, 1e-7, 1.0 - 1e-7, -1e-7, 1.0 + 1e-7, -1e30, 1e30,
                      -np.inf, np.inf, np.nan)


def _draw_unit_cell_problem(draw, dims, max_units, batch, special_rates):
    """``(rng, sizes, inputs, params, grad_outputs)`` of a lattice of sizes all
    2: 1 to ``max_units`` units, shared or per-unit inputs anywhere, a share
    (one of ``special_rates``) of the coordinates from UNIT_CELL_SPECIALS."""
    units = draw(st.integers(1, max_units))
    per_unit = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    shape = (batch, units, dims) if per_unit else (batch, dims)
    inputs = rng.uniform(-0.5, 1.5, size=shape)
    special = rng.random(shape) < draw(st.sampled_from(special_rates))
    inputs = np.where(special, rng.choice(UNIT_CELL_SPECIALS, size=shape), inputs)
    params = rng.normal(size=(units, 2**dims))
    grad_outputs = rng.normal(size=(batch, units))
    return rng, [2] * dims, inputs, params, grad_outputs


@st.composite
def unit_cell_problems(draw):
    """Lattices whose sizes are all 2 (one cell, the kernels' unit-cell path
    up to 8 dimensions, the general path above), points anywhere. Batches
    are long enough for its groups of four examples (per-unit inputs or one
    unit), with and without a remainder, in every shard."""
    _, *problem = _draw_unit_cell_problem(draw, draw(st.integers(1, 9)), 4,
                                          draw(st.integers(1, 40)), [0.0, 0.3])
    return problem


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None, max_examples=60)
@given(problem=unit_cell_problems())
def test_unit_cell_lattices_match_oracle(device, dtype, problem):
    sizes, inputs, params, grad_outputs = problem
    inputs, params = inputs.astype(dtype), params.astype(dtype)
    expected = oracle.lattice_interpolation(inputs, params, sizes, "hypercube")
    expected_grads = oracle.lattice_interpolation_gradients(
        inputs, params, sizes, "hypercube", grad_outputs)
    outputs, grad_inputs, grad_params = _value_and_grads(
        inputs, params, sizes, "hypercube", "kernel", grad_outputs)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(outputs, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad_inputs, expected_grads[0], rtol=tol, atol=tol)
    np.testing.assert_allclose(grad_params, expected_grads[1], rtol=tol, atol=tol)


@st.composite
def wide_unit_cell_problems(draw):
    """Unit cells of 10 to 13 dimensions (the kernel's matrix-product path),
    batches of one, several and parts of blocks of 64 examples, points
    anywhere; sometimes a unit holds a value past the unguarded lerps' bound,
    which sends the call back to the level-by-level loops."""
    rng, sizes, inputs, params, grad_outputs = _draw_unit_cell_problem(
        draw, draw(st.integers(10, 13)), 3, draw(st.sampled_from([1, 5, 64, 70, 131])),
        [0.0, 0.1])
    if draw(st.booleans()) and draw(st.booleans()):
        params[rng.integers(params.shape[0]), rng.integers(params.shape[1])] = 1e37
    return sizes, inputs, params, grad_outputs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None, max_examples=10)
@given(problem=wide_unit_cell_problems())
def test_wide_unit_cell_lattices_match_oracle_and_twin(device, dtype, problem):
    sizes, inputs, params, grad_outputs = problem
    inputs, params = inputs.astype(dtype), params.astype(dtype)
    expected = oracle.unit_cell_interpolation(inputs, params, grad_outputs)
    results = {impl: _value_and_grads(inputs, params, sizes, "hypercube", impl, grad_outputs)
               for impl in IMPLEMENTATIONS}
    # Relative to the largest parameter: outputs and gradients are sums of
    # up to 8,192 terms.
    scale = float(np.abs(params).max())
    tol = (1e-5 if dtype == np.float32 else 1e-12) * scale
    for impl, got in results.items():
        for part, (value, want) in enumerate(zip(got, expected)):
            np.testing.assert_allclose(value, want, rtol=1e-4, atol=tol,
                                       err_msg=f"{impl}, part {part}")


def test_wide_unit_cell_gradients_numerically(device):
    """Float64 gradients of a 10-dimensional unit cell (the matrix-product
    path) at interior points, shared and per-unit inputs."""
    rng = np.random.default_rng(4)
    params = tf.constant(rng.normal(size=(2, 2**10)))
    for shape in [(3, 10), (3, 2, 10)]:
        inputs = tf.constant(rng.uniform(0.05, 0.95, size=shape))
        theoretical, numerical = tf.test.compute_gradient(
            lambda x, p: lattice_interpolation(x, p, [2] * 10, "hypercube", "kernel"),
            [inputs, params])
        for t, n in zip(theoretical, numerical):
            np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("per_unit", [False, True])
def test_numerical_gradients_at_interior_points(device, implementation, interpolation,
                                                per_unit):
    sizes, units = [3, 2, 4], 2
    rng = np.random.default_rng(1)
    shape = (4, units, 3) if per_unit else (4, 3)
    # Interior of cells, away from knots and from simplex boundaries r_i = r_j.
    cells = rng.integers(0, np.array(sizes) - 1, size=shape)
    residual = np.stack([np.full(shape[:-1], v) for v in (0.31, 0.62, 0.83)], axis=-1)
    inputs = tf.constant(cells + residual, tf.float64)
    params = tf.constant(rng.normal(size=(units, 24)), tf.float64)

    def f(x, p):
        return lattice_interpolation(x, p, sizes, interpolation, implementation)

    theoretical, numerical = tf.test.compute_gradient(f, [inputs, params], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


def _input_gradient(x, params, sizes, interpolation, implementation):
    x = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = lattice_interpolation(x, tf.constant(params, tf.float64), sizes, interpolation,
                                  implementation)
    return tape.gradient(y, x).numpy()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_one_sided_gradient_at_knots_1d(device, implementation, interpolation):
    # theta = [5, 6, 8]: slope 1 on [0, 1], 2 on [1, 2].
    points = [-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    slopes = [0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0]
    grad = _input_gradient(np.array(points)[:, None], [[5.0, 6.0, 8.0]], [3], interpolation,
                           implementation)
    np.testing.assert_array_equal(grad[:, 0], slopes)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_one_sided_gradient_at_knots_2d(device, implementation, interpolation):
    # Sizes [3, 2]; theta[v0, v1] at row-major index 2 * v0 + v1.
    theta = np.array([[0.0, 1.0], [3.0, 7.0], [4.0, 12.0]])
    params = theta.reshape(1, 6)
    # x = (1, 0.5): dimension 0 uses the cell [1, 2] (floor), r = (0, 0.5).
    # Hypercube d/dr0 is the mean of the two edges along dimension 0 and
    # d/dr1 the edge at v0 = 1; the simplex with r = (0, 0.5) walks
    # v0 = (1, 0) -> (1, 1) -> (2, 1), so d/dr0 = theta[2, 1] - theta[1, 1].
    # x = (2, 1): the upper corner, both dimensions use the cell to the left.
    # x = (2.5, -1): outside in both dimensions, zero.
    points = np.array([[1.0, 0.5], [2.0, 1.0], [2.5, -1.0], [0.0, 0.0]])
    if interpolation == "hypercube":
        expected = [[0.5 * (4 - 3) + 0.5 * (12 - 7), 7 - 3],
                    [12 - 7, 12 - 4],
                    [0.0, 0.0],
                    [3 - 0, 1 - 0]]
    else:
        # (2, 1): r = (1, 1), tie keeps dimension 0 first: (1,0)->(2,0)->(2,1).
        # (0, 0): r = (0, 0), order (0, 1): (0,0)->(1,0)->(1,1).
        expected = [[12 - 7, 7 - 3],
                    [4 - 3, 12 - 4],
                    [0.0, 0.0],
                    [3 - 0, 7 - 3]]
    grad = _input_gradient(points, params, [3, 2], interpolation, implementation)
    np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-12)
    expected_oracle, _ = oracle.lattice_interpolation_gradients(
        points, params, [3, 2], interpolation, np.ones([4, 1]))
    np.testing.assert_allclose(grad, expected_oracle, atol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_simplex_ties_follow_lower_dimension_first(device, implementation):
    sizes = [2, 3, 2]
    rng = np.random.default_rng(3)
    params = rng.normal(size=(2, 12))
    points = np.array([[0.5, 0.5, 0.5], [0.3, 1.3, 0.3], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0],
                       [0.7, 0.7, 0.2], [0.2, 1.7, 0.7]])
    outputs, grad_inputs, grad_params = _value_and_grads(
        points, params, sizes, "simplex", implementation, np.ones([6, 2]))
    np.testing.assert_allclose(outputs, oracle.lattice_interpolation(
        points, params, sizes, "simplex"), atol=1e-12)
    expected = oracle.lattice_interpolation_gradients(
        points, params, sizes, "simplex", np.ones([6, 2]))
    np.testing.assert_allclose(grad_inputs, expected[0], atol=1e-12)
    np.testing.assert_allclose(grad_params, expected[1], atol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_known_values(device, implementation, interpolation):
    params = tf.constant([[0.0, 1.0, 2.0, 4.0]])
    points = tf.constant([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]])
    outputs = lattice_interpolation(points, params, [2, 2], interpolation, implementation)
    if interpolation == "hypercube":
        expected = [[1.75], [2.0], [0.75 * 0.75 * 1 + 0.25 * 0.25 * 2 + 0.25 * 0.75 * 4]]
    else:
        # (0.25, 0.75): order (1, 0): weights 0.25 at (0,0), 0.5 at (0,1), 0.25 at (1,1).
        expected = [[2.0], [2.0], [0.5 * 1 + 0.25 * 4]]
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("per_unit", [False, True])
def test_empty_batch_forward_and_backward(device, implementation, interpolation, per_unit):
    inputs = tf.zeros([0, 2, 2] if per_unit else [0, 2])
    params = tf.ones([2, 6])
    with tf.GradientTape() as tape:
        tape.watch([inputs, params])
        outputs = lattice_interpolation(inputs, params, [2, 3], interpolation, implementation)
    assert outputs.shape == (0, 2)
    grad_inputs, grad_params = tape.gradient(outputs, [inputs, params])
    assert grad_inputs.shape == inputs.shape
    np.testing.assert_array_equal(tf.convert_to_tensor(grad_params).numpy(), np.zeros([2, 6]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_nan_inputs_give_nan_outputs(device, implementation, interpolation):
    inputs = tf.constant([[np.nan, 0.5], [0.5, 0.5]])
    outputs = lattice_interpolation(inputs, tf.ones([1, 4]), [2, 2], interpolation,
                                    implementation).numpy()
    assert np.isnan(outputs[0, 0]) and outputs[1, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_tf_function_with_unknown_batch(device, implementation):
    sizes = [3, 2]
    params = tf.constant(np.random.default_rng(0).normal(size=(2, 6)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = lattice_interpolation(x, params, sizes, implementation=implementation)
        assert y.shape.as_list() == [None, 2]
        return y, tape.gradient(y, x)

    x = tf.constant([[0.5, 0.5], [1.5, 0.25], [2.0, 1.0]])
    outputs, grads = f(x)
    eager = lattice_interpolation(x, params, sizes, implementation=implementation)
    np.testing.assert_allclose(outputs.numpy(), eager.numpy(), rtol=1e-6)
    assert grads.shape == (3, 2)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_static_output_shape(implementation):
    @tf.function(input_signature=[tf.TensorSpec([None, 3, 2], tf.float64),
                                  tf.TensorSpec([3, None], tf.float64)])
    def f(x, p):
        y = lattice_interpolation(x, p, [2, 2], implementation=implementation)
        assert y.shape.as_list() == [None, 3], y.shape
        return y

    assert f(tf.zeros([5, 3, 2], tf.float64), tf.zeros([3, 4], tf.float64)).shape == (5, 3)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_twin_compiles_with_xla(interpolation):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.uniform(-0.5, 3.5, size=(16, 3, 2)))
    p = tf.constant(rng.normal(size=(3, 12)))

    @tf.function(jit_compile=True)
    def f(x, p):
        with tf.GradientTape() as tape:
            tape.watch([x, p])
            y = lattice_interpolation(x, p, [4, 3], interpolation, "portable")
        return (y,) + tuple(tape.gradient(y, [x, p]))

    compiled = f(x, p)
    with tf.GradientTape() as tape:
        tape.watch([x, p])
        y = lattice_interpolation(x, p, [4, 3], interpolation, "kernel")
    kernel = (y,) + tuple(tape.gradient(y, [x, p]))
    for a, b in zip(compiled, kernel):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-10)


def _call(implementation, inputs_shape=(4, 2), params_shape=(3, 6), sizes=(2, 3),
          interpolation="hypercube", dtype=tf.float32, params_dtype=None):
    inputs = tf.zeros(inputs_shape, dtype)
    params = tf.zeros(params_shape, params_dtype or dtype)
    return lattice_interpolation(inputs, params, list(sizes), interpolation, implementation)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("kwargs, match", [
    (dict(inputs_shape=(4, 3, 2), params_shape=(2, 6)),
     r"inputs units \(dimension 1\) must equal params units.*\(4, 3, 2\).*\(2, 6\)"),
    (dict(inputs_shape=(4, 3)), r"inputs last dimension must equal len\(lattice_sizes\) = 2"),
    (dict(sizes=(1, 6)), r"lattice_sizes\[0\] must be at least 2, got 1"),
    (dict(params_shape=(3, 7)),
     r"params second dimension must equal prod\(lattice_sizes\) = 6.*\(3, 7\)"),
    (dict(interpolation="linear"), r"interpolation must be one of.*'linear'"),
    (dict(dtype=tf.int32), r"inputs must be float32 or float64, got int32"),
    (dict(params_dtype=tf.float64), r"dtypes must match \(inputs: float32, params: float64\)"),
    (dict(inputs_shape=(4,)), r"inputs must have rank 2 .* or 3 .*got shape \(4,\)"),
    (dict(inputs_shape=(4, 1, 3, 2)), r"inputs must have rank 2"),
    (dict(params_shape=(6,)), r"params must have rank 2 .*got shape \(6,\)"),
    (dict(sizes=()), r"lattice_sizes must name at least one dimension"),
])
def test_static_errors(implementation, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _call(implementation, **kwargs)


def test_unknown_implementation():
    with pytest.raises(ValueError, match=r"implementation must be one of.*'fast'"):
        _call("fast")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("inputs_shape, params_shape, match", [
    ([7, 3, 2], [2, 6], r"inputs units \(dimension 1\) must equal params units"),
    ([7, 2], [2, 5], r"params second dimension must equal prod\(lattice_sizes\)"),
    ([7, 3], [2, 6], r"inputs last dimension must equal len\(lattice_sizes\)"),
])
def test_dynamic_errors(implementation, inputs_shape, params_shape, match):
    rank_in, rank_par = len(inputs_shape), len(params_shape)

    @tf.function(input_signature=[tf.TensorSpec([None] * rank_in, tf.float32),
                                  tf.TensorSpec([None] * rank_par, tf.float32)])
    def f(x, p):
        return lattice_interpolation(x, p, [2, 3], implementation=implementation)

    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        f(tf.zeros(inputs_shape), tf.zeros(params_shape))


@pytest.mark.parametrize("sizes, match", [
    ([2, 1], r"lattice_sizes\[1\] must be at least 2, got 1 in \[2, 1\]"),
    ([], r"lattice_sizes must name at least one dimension, got \[\]"),
    ([2] * 63, "lattice_sizes has 63 dimensions, more than the 62"),
    ([2 ** 32, 2 ** 32], "have more vertices than an int64 index can address"),
])
def test_kernel_ops_reject_bad_lattice_sizes(sizes, match):
    ops = _native.load_ops()
    inputs, params = tf.zeros([2, max(1, len(sizes))]), tf.zeros([1, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        ops.tf_lattice_lattice_interpolation(inputs=inputs, params=params, lattice_sizes=sizes)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        ops.tf_lattice_lattice_interpolation_grad(
            inputs=inputs, params=params, grad_outputs=tf.zeros([2, 1]), lattice_sizes=sizes)


def test_kernel_reports_bad_attrs_and_shapes():
    ops = _native.load_ops()
    with pytest.raises(tf.errors.InvalidArgumentError, match="interpolation must be 'hypercube'"):
        ops.tf_lattice_lattice_interpolation(
            inputs=tf.zeros([2, 1]), params=tf.zeros([1, 2]), lattice_sizes=[2],
            interpolation="cubic")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"grad_outputs must have shape"):
        ops.tf_lattice_lattice_interpolation_grad(
            inputs=tf.zeros([2, 1]), params=tf.zeros([1, 2]), grad_outputs=tf.zeros([3, 1]),
            lattice_sizes=[2])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_more_than_2_to_the_31_vertices_reports_true_count(implementation):
    sizes = [2] * 32  # 4294967296 vertices: int32 would wrap to 0.
    with pytest.raises(ValueError, match=r"prod\(lattice_sizes\) = 4294967296"):
        _call(implementation, inputs_shape=(1, 32), params_shape=(1, 4), sizes=sizes)
    with pytest.raises(ValueError, match=r"more than an int64 index can address"):
        _call(implementation, inputs_shape=(1, 64), params_shape=(1, 4), sizes=[2] * 64)


def test_kernel_checks_vertex_count_in_int64():
    ops = _native.load_ops()
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"= 4294967296"):
        ops.tf_lattice_lattice_interpolation(
            inputs=tf.zeros([1, 32]), params=tf.zeros([1, 4]), lattice_sizes=[2] * 32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"int64"):
        ops.tf_lattice_lattice_interpolation(
            inputs=tf.zeros([1, 64]), params=tf.zeros([1, 4]), lattice_sizes=[2] * 64)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_size_past_float32_integers_stays_in_the_last_cell(device, implementation, dtype):
    # m - 1 = 2^24 + 3 rounds to 2^24 + 4 = m in float32: a cell located in
    # the input dtype would read one vertex past the parameters (and the
    # gradient would write past its buffer).
    m = 2**24 + 4
    params = np.zeros((1, m), dtype)
    params[0, m - 1] = 7.0
    params[0, m - 2] = 5.0
    inputs = np.array([[m - 1], [m - 2], [m + 100.0], [np.inf]], dtype)
    outputs, grad_inputs, grad_params = _value_and_grads(
        inputs, params, [m], "hypercube", implementation, np.ones((4, 1)))
    np.testing.assert_array_equal(outputs[:, 0], [7.0, 5.0, 7.0, 7.0])
    # float32(m - 1) is m, above the top vertex (slope 0); in float64 it is the
    # top vertex, whose slope is that of the cell to the left.
    top_slope = 0.0 if dtype == np.float32 else 2.0
    np.testing.assert_array_equal(grad_inputs[:, 0], [top_slope, 2.0, 0.0, 0.0])
    assert grad_params[0, m - 1] == 3.0 and grad_params[0, m - 2] == 1.0
    assert np.count_nonzero(grad_params) == 2


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_largest_size_with_exact_float32_vertices(device, implementation, dtype):
    # m - 1 = 2^24 - 1 is exact in float32: the kernels clip to it directly
    # (lib/lattice_interpolation.h, MaxExactSize), and the top vertex is
    # inside the lattice in both dtypes.
    m = 2**24
    params = np.zeros((1, m), dtype)
    params[0, m - 1] = 7.0
    params[0, m - 2] = 5.0
    inputs = np.array([[m - 1], [m - 2], [m + 100.0], [np.inf], [-1.0], [-0.0], [np.nan]],
                      dtype)
    outputs, grad_inputs, grad_params = _value_and_grads(
        inputs, params, [m], "hypercube", implementation, np.ones((7, 1)))
    np.testing.assert_array_equal(outputs[:6, 0], [7.0, 5.0, 7.0, 7.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad_inputs[:6, 0], [2.0, 2.0, 0.0, 0.0, 0.0, 0.0])
    assert np.isnan(outputs[6, 0])
    assert grad_params[0, m - 1] == 3.0 and grad_params[0, m - 2] == 1.0


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_62_dimensional_lattice_with_zero_units_returns_at_once(implementation, interpolation):
    sizes = [2] * 62
    inputs = tf.zeros([3, 62])
    params = tf.zeros([0, 2**62])
    with tf.GradientTape() as tape:
        tape.watch([inputs, params])
        outputs = lattice_interpolation(inputs, params, sizes, interpolation, implementation)
    assert outputs.shape == (3, 0)
    grad_inputs = tape.gradient(outputs, inputs)
    np.testing.assert_array_equal(grad_inputs.numpy(), np.zeros([3, 62]))


def test_twin_hypercube_dimension_bound_is_a_clear_error():
    @tf.function(input_signature=[tf.TensorSpec([None, 30]), tf.TensorSpec([None, None])])
    def f(x, p):
        return lattice_interpolation(x, p, [2] * 30, implementation="portable")

    with pytest.raises(ValueError, match=r"d = 30 exceeds 24.*interpolation='simplex'"):
        f.get_concrete_function()


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_twelve_dimensional_lattice_batch_4096(interpolation):
    """[3]^12 = 531441 vertices: both implementations read only each cell."""
    sizes = [3] * 12
    rng = np.random.default_rng(4)
    inputs = rng.uniform(-0.2, 2.2, size=(4096, 12)).astype(np.float32)
    params = rng.normal(size=(1, 3**12)).astype(np.float32)
    grad_outputs = rng.normal(size=(4096, 1)).astype(np.float32)
    results = {impl: _value_and_grads(inputs, params, sizes, interpolation, impl, grad_outputs)
               for impl in IMPLEMENTATIONS}
    for a, b in zip(results["kernel"], results["portable"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    few = oracle.lattice_interpolation(inputs[:3], params, sizes, interpolation)
    np.testing.assert_allclose(results["kernel"][0][:3], few, rtol=1e-4, atol=1e-4)


def test_docstring_example_runs():
    assert_docstring_examples_pass(lattice_interpolation)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_twin_saved_model_uses_only_stock_ops(tmp_path, interpolation):
    params = tf.Variable(np.random.default_rng(5).normal(size=(2, 6)), dtype=tf.float32)
    module = tf.Module()
    module.params = params

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def serve(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = lattice_interpolation(x, params, [3, 2], interpolation, "portable")
        return y, tape.gradient(y, x)

    module.serve = serve
    graph = serve.get_concrete_function().graph.as_graph_def()
    op_types = {node.op for node in graph.node}
    for function in graph.library.function:
        op_types |= {node.op for node in function.node_def}
    assert not any(op.startswith("TfLattice>") for op in op_types), op_types
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    x = tf.constant([[0.5, 0.5], [2.0, 1.0]])
    for a, b in zip(restored.serve(x), serve(x)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def _contract_level_by_level(residual, corner_values):
    """The kernels' hypercube contraction in NumPy, operation for operation:
    last dimension first, ``v + r (w - v)``, or ``(1 - r) v + r w`` where ``w
    - v`` overflows (corner ``j`` has bit ``k`` for dimension ``k``)."""
    values = corner_values.copy()
    one = values.dtype.type(1)
    for k in reversed(range(len(residual))):
        half = 1 << k
        low, high, r = values[:half], values[half:2 * half], residual[k]
        difference = high - low
        with np.errstate(over="ignore", invalid="ignore"):
            values[:half] = np.where(difference - difference == 0, low + r * difference,
                                     (one - r) * low + r * high)
    return values[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [[2] * 9, [2] * 11 + [3], [3] * 6, [3, 2, 4, 2, 2, 3, 2]])
def test_wide_hypercube_outputs_are_the_level_by_level_contraction(dtype, sizes):
    """Lattices of 6 or more dimensions (other than unit cells of at most
    8, and those of 10 or more, which take matrix products) contract
    several corners per instruction on the CPU: the outputs are the same
    numbers as the contraction one corner at a time, and the gradients those
    of the oracle."""
    dims = len(sizes)
    rng = np.random.default_rng(dims)
    upper = np.array(sizes, np.float64) - 1
    inputs = rng.uniform(-0.2, upper + 0.2, size=(7, 3, dims)).astype(dtype)
    params = rng.normal(size=(3, int(np.prod(sizes)))).astype(dtype)
    grad_outputs = rng.normal(size=(7, 3))
    outputs, grad_inputs, grad_params = _value_and_grads(
        inputs, params, sizes, "hypercube", "kernel", grad_outputs)
    strides = np.cumprod([1] + sizes[::-1])[:-1][::-1]
    corners = np.arange(2**dims)
    bits = (corners[:, np.newaxis] >> np.arange(dims)) & 1  # bit k: dimension k
    for b in range(7):
        for u in range(3):
            clipped = np.clip(inputs[b, u], 0, upper.astype(dtype))
            base = np.minimum(np.floor(clipped), upper - 1).astype(np.int64)
            residual = clipped - base.astype(dtype)
            vertices = (base + bits) @ strides
            want = _contract_level_by_level(residual, params[u, vertices])
            assert outputs[b, u] == want, (b, u)
    expected_grads = oracle.lattice_interpolation_gradients(
        inputs, params, sizes, "hypercube", grad_outputs)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(grad_inputs, expected_grads[0], rtol=tol, atol=tol)
    np.testing.assert_allclose(grad_params, expected_grads[1], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_hypercube_near_the_dtype_limit_interpolates_finitely(device, dtype):
    """Adjacent vertices of opposite signs at the dtype's limit (their
    difference overflows) in a 10-dimensional lattice: the outputs are
    finite, the vertex values at the corners and 0 halfway along dimension
    0 between +max and -max."""
    big = np.finfo(dtype).max
    dims = 10
    parity = np.array([bin(v).count("1") % 2 for v in range(2**dims)])
    params = np.where(parity == 0, big, -big).astype(dtype)[np.newaxis]
    corner = np.zeros(dims, dtype)
    halfway = corner.copy()
    halfway[0] = 0.5
    inputs = np.stack([corner, np.ones(dims, dtype), halfway])
    outputs = lattice_interpolation(inputs, params, [2] * dims, "hypercube", "kernel").numpy()
    np.testing.assert_array_equal(outputs[:, 0], [big, big, 0.0])


def _alternating(dims, value, dtype):
    """Vertex values of a 2^dims lattice: +value at even vertices, -value at odd."""
    parity = np.array([bin(v).count("1") % 2 for v in range(2**dims)])
    return np.where(parity == 0, value, -value).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims", [3, 9])
def test_units_near_the_dtype_limit_beside_ordinary_units(dtype, dims):
    """The CPU kernels skip the overflow guard of a lerp for each unit whose
    vertex values are at most max / 4 in magnitude. One call holds an
    ordinary unit, one whose neighbouring vertices are +-max (their
    differences overflow) and one at +-max / 4: every output is the guarded
    contraction's, for unit cells (examples in vector lanes, 9 rows so that
    one takes the scalar path) and for a 9-dimensional lattice (corners in
    lanes)."""
    big = np.finfo(dtype).max
    rng = np.random.default_rng(dims)
    params = np.stack([rng.normal(size=2**dims).astype(dtype), _alternating(dims, big, dtype),
                       _alternating(dims, big / 4, dtype)])
    inputs = rng.uniform(-0.1, 1.1, size=(9, 3, dims)).astype(dtype)
    inputs[0] = 0.5
    outputs = lattice_interpolation(inputs, params, [2] * dims, "hypercube", "kernel").numpy()
    corners = np.arange(2**dims)
    # Corner j has bit k for dimension k; vertices are numbered row-major.
    vertices = ((corners[:, np.newaxis] >> np.arange(dims)) & 1) @ (1 << np.arange(dims)[::-1])
    for b in range(9):
        for u in range(3):
            residual = np.clip(inputs[b, u], 0, 1)
            want = _contract_level_by_level(residual, params[u, vertices])
            assert outputs[b, u] == want, (b, u, outputs[b, u], want)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_array_equal(outputs[0, 1:], [0.0, 0.0])


@pytest.mark.parametrize("sizes, units", [([2, 2, 2], 28), ([3, 3, 3, 3], 4), ([2] * 7, 2)])
def test_batches_split_over_threads_match_twin_and_oracle(sizes, units):
    """Batches large enough to be split over the CPU's threads (forward in
    ranges of rows, gradient in per-thread buffers summed at the end): the
    same values and gradients as the twin, and the oracle on a few rows."""
    rng = np.random.default_rng(len(sizes))
    dims = len(sizes)
    upper = np.array(sizes, np.float64) - 1
    inputs = rng.uniform(-0.2, upper + 0.2, size=(2051, units, dims))
    params = rng.normal(size=(units, int(np.prod(sizes))))
    grad_outputs = rng.normal(size=(2051, units))
    results = {impl: _value_and_grads(inputs, params, sizes, "hypercube", impl, grad_outputs)
               for impl in IMPLEMENTATIONS}
    for kernel, twin in zip(results["kernel"], results["portable"]):
        np.testing.assert_allclose(kernel, twin, rtol=1e-10, atol=1e-10)
    few = slice(2045, 2051)
    np.testing.assert_allclose(
        results["kernel"][0][few],
        oracle.lattice_interpolation(inputs[few], params, sizes, "hypercube"), rtol=1e-10)
    grads = oracle.lattice_interpolation_gradients(inputs[few], params, sizes, "hypercube",
                                                   grad_outputs[few])
    np.testing.assert_allclose(results["kernel"][1][few], grads[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_near_the_dtype_limit_interpolate_finitely(device, implementation, dtype):
    # theta_1 - theta_0 overflows: at a knot (r = 0) a naive v + r (w - v)
    # gives 0 * inf = NaN.
    big = np.finfo(dtype).max
    params = np.array([[big, -big, big / 2]], dtype)
    inputs = np.array([[0.0], [0.5], [1.0], [1.5]], dtype)
    outputs = lattice_interpolation(inputs, params, [3], "hypercube", implementation).numpy()
    np.testing.assert_allclose(outputs[:, 0], [big, 0.0, -big, -big / 4], rtol=1e-6)
