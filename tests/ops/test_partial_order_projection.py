"""Tests of tf_lattice.ops.partial_order_projection."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_lattice.constraints import certify_categorical
from tf_lattice.ops import partial_order_projection


@st.composite
def problems(draw):
    size = draw(st.integers(2, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    # Pairs from a random permutation's order are always acyclic.
    rank = rng.permutation(size)
    candidates = [(a, b) for a in range(size) for b in range(size) if rank[a] < rank[b]]
    count = draw(st.integers(0, min(len(candidates), 10)))
    pairs = [candidates[i] for i in rng.choice(len(candidates), count, replace=False)]
    values = rng.normal(size=(draw(st.integers(1, 3)), size))
    bounds = dict(output_min=draw(st.one_of(st.none(), st.floats(-2.0, 0.0))),
                  output_max=draw(st.one_of(st.none(), st.floats(0.0, 2.0))))
    return values, pairs, bounds


IMPLEMENTATIONS = ["kernel", "portable"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None, max_examples=15)
@given(problem=problems())
def test_feasible_exactly_and_close_to_exact(implementation, dtype, problem):
    values, pairs, bounds = problem
    projected = partial_order_projection(values.astype(dtype), pairs,
                                         implementation=implementation, **bounds).numpy()
    assert projected.dtype == dtype
    certificate = certify_categorical(projected, pairs=pairs, **bounds)
    assert certificate.holds, str(certificate)
    exact = partial_order_projection(values, pairs, exact=True, **bounds).numpy()
    moved = np.linalg.norm(exact - values, axis=1)
    slack = 1e-6 if dtype == np.float64 else 1e-5
    assert (np.linalg.norm(projected - exact, axis=1) <= 0.01 * moved + slack).all()
    np.testing.assert_allclose(
        partial_order_projection(projected, pairs, implementation=implementation,
                                 **bounds).numpy(), projected, atol=1e-6)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hand_cases(implementation):
    values = np.array([[2.0, 0.0, 5.0]])
    np.testing.assert_allclose(
        partial_order_projection(values, [(0, 1)], implementation=implementation).numpy(),
        [[1.0, 1.0, 5.0]], atol=1e-9)
    # 0 <= 2 and 1 <= 2 with entry 2 too low: all three pool to the mean.
    np.testing.assert_allclose(
        partial_order_projection([[3.0, 3.0, 0.0]], [(0, 2), (1, 2)],
                                 implementation=implementation).numpy(),
        [[2.0, 2.0, 2.0]], atol=1e-9)
    np.testing.assert_allclose(
        partial_order_projection(values, [], output_min=0.5, output_max=4.0).numpy(),
        [[2.0, 0.5, 4.0]])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_graph_mode(implementation):
    project = tf.function(lambda v: partial_order_projection(
        v, [(0, 1), (1, 2)], implementation=implementation))
    values = tf.constant([[3.0, 2.0, 1.0]])
    np.testing.assert_allclose(project(values).numpy(), [[2.0, 2.0, 2.0]], atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="cycle \\(0 <= 1 <= 2 <= 0\\)"):
        partial_order_projection(np.zeros((1, 3)), [(0, 1), (1, 2), (2, 0)])
    with pytest.raises(ValueError, match="out of range"):
        partial_order_projection(np.zeros((1, 3)), [(0, 3)])
    with pytest.raises(ValueError, match="with itself"):
        partial_order_projection(np.zeros((1, 3)), [(1, 1)])
    with pytest.raises(ValueError, match="infeasible bounds"):
        partial_order_projection(np.zeros((1, 3)), [], output_min=1.0, output_max=0.0)
    with pytest.raises(ValueError, match="implementation must be one of"):
        partial_order_projection(np.zeros((1, 3)), [(0, 1)], implementation="fast")


def test_nan_values_are_a_clear_error_eager_and_in_graphs():
    values = np.array([[0.0, np.nan, 1.0]])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"partial_order_projection: values\[0, 1\] is NaN"):
        partial_order_projection(values, [(0, 1)])
    graph = tf.function(lambda v: partial_order_projection(v, [(0, 1)]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="values must not contain NaN"):
        graph(tf.constant(values))


@pytest.mark.parametrize("implementation", ["kernel", "portable"])
def test_values_beyond_the_solver_range_are_a_clear_error(implementation):
    values = np.array([[np.finfo(np.float64).max, 0.0, 1.0]])
    message = r"partial_order_projection: values.* exceeds 3.27\d*e\+150 in magnitude"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        partial_order_projection(values, [(0, 1)], implementation=implementation)
    graph = tf.function(lambda v: partial_order_projection(v, [(0, 1)],
                                                           implementation=implementation))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        graph(tf.constant(values))
    projected = partial_order_projection(values * 1e-160, [(0, 1)],
                                         implementation=implementation).numpy()
    assert projected[0, 0] <= projected[0, 1] + 1e-9
