"""select: tf.where without broadcasting, through the Select kernel."""

import numpy as np
import pytest
import tensorflow as tf

from tf_lattice.ops.selection import select


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (tf.constant(rng.random((5, 3)) < 0.5), tf.constant(rng.normal(size=(5, 3))),
            tf.constant(rng.normal(size=(5, 3))))


def test_select_matches_where_elementwise_and_by_rows():
    condition, x, y = _inputs()
    np.testing.assert_array_equal(select(condition, x, y), tf.where(condition, x, y))
    rows = tf.constant([True, False, False, True, False])
    np.testing.assert_array_equal(select(rows, x, y), tf.where(rows[:, None], x, y))


def test_select_gradient_goes_to_the_chosen_operand():
    condition, x, y = _inputs(1)
    upstream = tf.constant(np.random.default_rng(2).normal(size=(5, 3)))
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        total = tf.reduce_sum(upstream * select(condition, x, y))
    d_x, d_y = tape.gradient(total, [x, y])
    np.testing.assert_array_equal(d_x, np.where(condition, upstream, 0.0))
    np.testing.assert_array_equal(d_y, np.where(condition, 0.0, upstream))
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, b: select(condition, a, b), [x, y])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, atol=1e-6)


def test_select_runs_the_select_kernel_in_graphs():
    graph = tf.function(select).get_concrete_function(
        tf.TensorSpec((None, 3), tf.bool), tf.TensorSpec((None, 3), tf.float32),
        tf.TensorSpec((None, 3), tf.float32)).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "Select" in kinds and "SelectV2" not in kinds


@pytest.mark.parametrize("shapes", [((5, 3), (5, 3), (1, 3)), ((5, 1), (5, 3), (5, 3)),
                                    ((3,), (5, 3), (5, 3))])
def test_select_refuses_operands_that_would_broadcast(shapes):
    condition, x, y = (tf.zeros(shape, tf.bool if k == 0 else tf.float32)
                       for k, shape in enumerate(shapes))
    with pytest.raises(ValueError, match="one shape"):
        select(condition, x, y)
