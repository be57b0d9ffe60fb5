"""The pure-TensorFlow twins in a TensorFlow 1 style graph run by a Session.

Estimator model_fns, TF1 SavedModels and TensorFlow Serving build such graphs.
There, ``tensor == value`` is Python identity, not ``tf.equal``, so a check
written with ``==`` would always fail; these run the twins and their checks
there.
"""

import numpy as np
import pytest
import tensorflow as tf

from tf_lattice import ops


def _in_graph(build):
    """Runs ``build()`` in a fresh graph, traced into a ``tf.function`` whose
    automatic control dependencies run every assertion (as the Estimators'
    projections run), and returns the result."""
    with tf.Graph().as_default():
        result = tf.function(build, autograph=False)()
        with tf.compat.v1.Session() as session:
            return session.run(result)


@pytest.mark.parametrize("shared", [True, False], ids=["keypoints-K", "keypoints-units-K"])
def test_portable_pwl_calibration_runs_in_a_graph(shared):
    keypoints = np.array([0.0, 0.5, 1.0], np.float32)
    if not shared:
        keypoints = np.stack([keypoints, keypoints * 2])
    outputs = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, -1.0]], np.float32)
    inputs = np.array([[0.25, 0.25], [0.75, 1.5], [2.0, -1.0]], np.float32)
    expected = ops.pwl_calibration(inputs, keypoints, outputs, implementation="portable").numpy()
    got = _in_graph(lambda: ops.pwl_calibration(
        tf.constant(inputs), tf.constant(keypoints), tf.constant(outputs),
        implementation="portable"))
    np.testing.assert_allclose(got, expected)


def test_portable_isotonic_projection_runs_in_a_graph():
    values = np.array([[3.0, 1.0, 2.0], [0.0, 2.0, 1.0]], np.float32)
    expected = ops.isotonic_projection(values, implementation="portable").numpy()
    got = _in_graph(lambda: ops.isotonic_projection(tf.constant(values), implementation="portable"))
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(got, [[2.0, 2.0, 2.0], [0.0, 1.5, 1.5]])


def test_lattice_projection_kernel_serves_successive_graphs():
    # An Estimator builds a new graph for every train, evaluate and export
    # call; constants cached from one graph must not leak into the next.
    params = np.array([[0.0, 2.0, 1.0, -1.0]], np.float32)
    expected = ops.lattice_projection(params, [2, 2], monotonicities=["increasing", "increasing"])
    for _ in range(2):
        got = _in_graph(lambda: ops.lattice_projection(
            tf.constant(params), [2, 2], monotonicities=["increasing", "increasing"]))
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_portable_lattice_interpolation_gradient_at_the_upper_bound_in_a_graph():
    # At x = m - 1 the derivative is the slope of the last cell (2 here); the
    # twin tells x = m - 1 from x past it with tf.not_equal, which a graph
    # keeps (with != it read "past" and the gradient was 0).
    params = np.array([[0.0, 1.0, 3.0]], np.float32)
    inputs = np.array([[2.0], [1.5], [3.5], [-1.0]], np.float32)

    def value_and_gradient():
        x = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = ops.lattice_interpolation(x, tf.constant(params), [3], implementation="portable")
        return y, tape.gradient(y, x)

    expected = [t.numpy() for t in value_and_gradient()]
    got = _in_graph(value_and_gradient)
    np.testing.assert_allclose(expected[1], [[2.0], [2.0], [0.0], [0.0]])
    np.testing.assert_allclose(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1])
