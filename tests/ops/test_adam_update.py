"""Tests of tf_lattice.ops.adam_update (kernel and its twin, ResourceApplyAdam).

The kernel runs on the CPU, so the variables of these tests live there (the
training loop's choice of device is tested with the loop).
"""

import types

import numpy as np
import pytest
import tensorflow as tf

from tests._doctests import assert_docstring_examples_pass
from tests.oracles.adam import adam_oracle
from tf_lattice import _native
from tf_lattice.ops import adam_update

IMPLEMENTATIONS = ["kernel", "portable"]
# The last shape is large enough for the kernel to split it over the threads.
SHAPES = [(), (5,), (3, 7), (0, 4), (300, 120)]


def _variables(arrays):
    with tf.device("/CPU:0"):
        return [tf.Variable(a) for a in arrays]


def _run_steps(implementation, start, gradients, learning_rate):
    """``[weights, first, second]`` (lists of arrays) before the first and
    after each adam_update, one step per entry of ``gradients``."""
    weights = _variables(start)
    first = _variables([np.zeros_like(a) for a in start])
    second = _variables([np.zeros_like(a) for a in start])
    states = [[[v.numpy() for v in variables] for variables in (weights, first, second)]]
    for step, step_gradients in enumerate(gradients, start=1):
        adam_update(weights, first, second, step_gradients, learning_rate, 0.9 ** step,
                    0.999 ** step, implementation=implementation)
        states.append([[v.numpy() for v in variables] for variables in (weights, first, second)])
    return states


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_gives_resource_apply_adams_numbers_and_the_oracles(dtype):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=shape).astype(dtype) for shape in SHAPES]
    gradients = [[(rng.normal(size=shape) * scale).astype(dtype) for shape in SHAPES]
                 for scale in (1.0, 1e-3, 50.0)]
    kernel = _run_steps("kernel", start, gradients, 0.01)
    portable = _run_steps("portable", start, gradients, 0.01)
    for ours, twin in zip(kernel, portable):
        for a, b in zip(sum(ours, []), sum(twin, [])):
            np.testing.assert_array_equal(a, b)  # the same arithmetic
    # Each step against the oracle's step from the kernel's previous state,
    # with the constants as the op receives them (rounded to the dtype).
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    for step, step_gradients in enumerate(gradients, start=1):
        constants = [float(dtype(c)) for c in (0.01, 0.9 ** step, 0.999 ** step, 0.9, 0.999, 1e-7)]
        for index, gradient in enumerate(step_gradients):
            before = [column[index] for column in kernel[step - 1]]
            expected = adam_oracle(*before, gradient, *constants)
            for ours, oracle in zip([column[index] for column in kernel[step]], expected):
                np.testing.assert_allclose(ours, oracle, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_update_in_a_graph_equals_the_eager_update(implementation):
    rng = np.random.default_rng(1)
    start = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(6,)).astype(np.float32)]
    gradients = [[rng.normal(size=a.shape).astype(np.float32) for a in start]]
    eager = _run_steps(implementation, start, gradients, 0.1)[-1]
    weights = _variables(start)
    first = _variables([np.zeros_like(a) for a in start])
    second = _variables([np.zeros_like(a) for a in start])

    @tf.function(autograph=False)
    def step(learning_rate):
        adam_update(weights, first, second, gradients[0], learning_rate, 0.9, 0.999,
                    implementation=implementation)

    step(tf.constant(0.1))
    for ours, reference in zip([weights, first, second], eager):
        for variable, value in zip(ours, reference):
            np.testing.assert_array_equal(variable.numpy(), value)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_value_read_before_the_update_keeps_its_numbers(implementation):
    weights, *moments = _variables([np.array([1.0, 2.0, 3.0], np.float32), np.zeros(3, np.float32),
                                    np.zeros(3, np.float32)])
    read = weights.read_value()
    adam_update([weights], [moments[0]], [moments[1]], [tf.ones(3)], 0.5, 0.9, 0.999,
                implementation=implementation)
    np.testing.assert_array_equal(read.numpy(), [1.0, 2.0, 3.0])
    assert np.all(weights.numpy() < [1.0, 2.0, 3.0])


def test_lists_of_different_lengths_are_refused():
    weights = _variables([np.ones(1, np.float32), np.ones(1, np.float32)])
    with pytest.raises(ValueError, match="equal length"):
        adam_update(weights, weights[:1], weights[:1], [[0.0]], 0.1, 0.9, 0.999)
    with pytest.raises(ValueError, match="equal length"):
        adam_update([], [], [], [], 0.1, 0.9, 0.999)


def test_an_entry_that_is_not_a_variable_is_named():
    with pytest.raises(ValueError, match=r"first_moments\[0\] must be a resource variable"):
        adam_update(_variables([np.ones(1, np.float32)]), [tf.constant([0.0])],
                    _variables([np.zeros(1, np.float32)]), [[0.5]], 0.1, 0.9, 0.999)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_mismatched_shapes_and_dtypes_are_named(implementation):
    weights = _variables([np.zeros((2, 3), np.float32), np.zeros(4, np.float32)])
    moments = _variables([np.zeros((2, 3), np.float32), np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match=r"gradients\[1\] has shape \(3,\), variables\[1\]"):
        adam_update(weights, moments, moments, [np.zeros((2, 3), np.float32),
                                                np.zeros(3, np.float32)], 0.1, 0.9, 0.999,
                    implementation=implementation)
    with pytest.raises(ValueError, match=r"gradients\[0\] has dtype float64, variables\[0\] float32"):
        adam_update(weights, moments, moments, [np.zeros((2, 3), np.float64),
                                                np.zeros(4, np.float32)], 0.1, 0.9, 0.999,
                    implementation=implementation)
    with pytest.raises(ValueError, match=r"second_moments\[0\] has shape \(3, 2\)"):
        adam_update(weights[:1], moments[:1], _variables([np.zeros((3, 2), np.float32)]),
                    [np.zeros((2, 3), np.float32)], 0.1, 0.9, 0.999,
                    implementation=implementation)


def test_the_kernel_checks_shapes_and_scalars_itself():
    """Shapes unknown to the wrapper reach the kernel, whose errors name the entry."""
    raw = _native.load_ops().tf_lattice_adam_update
    weights, first, second = _variables([np.zeros(3, np.float32)] * 3)
    scalars = dict(learning_rate=0.1, beta_1_power=0.9, beta_2_power=0.999, beta_1=0.9,
                   beta_2=0.999, epsilon=1e-7)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"gradients\[0\] has shape \[4\]"):
        raw(variables=[weights.handle], first_moments=[first.handle],
            second_moments=[second.handle], gradients=[tf.zeros(4)], **scalars)
    (wrong,) = _variables([np.zeros(2, np.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"first_moments\[0\] has shape \[2\]"):
        raw(variables=[weights.handle], first_moments=[wrong.handle],
            second_moments=[second.handle], gradients=[tf.zeros(3)], **scalars)
    (double,) = _variables([np.zeros(3, np.float64)])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"second_moments\[0\] holds double, not float"):
        raw(variables=[weights.handle], first_moments=[first.handle],
            second_moments=[double.handle], gradients=[tf.zeros(3)], **scalars)
    np.testing.assert_array_equal(weights.numpy(), np.zeros(3))


def test_a_kernel_error_leaves_every_variable_as_it_was():
    """A mismatch the kernel finds in the second variable of the list stops
    the update of the first one too."""
    raw = _native.load_ops().tf_lattice_adam_update
    weights, first, second = _variables([np.zeros(3, np.float32)] * 3)
    other_weights, other_first, other_second = _variables([np.zeros(2, np.float32)] * 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"gradients\[1\] has shape \[5\]"):
        raw(variables=[weights.handle, other_weights.handle],
            first_moments=[first.handle, other_first.handle],
            second_moments=[second.handle, other_second.handle],
            gradients=[tf.ones(3), tf.ones(5)], learning_rate=0.1, beta_1_power=0.9,
            beta_2_power=0.999, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    for variable in (weights, first, second):
        np.testing.assert_array_equal(variable.numpy(), np.zeros(3))


def test_the_kernel_refuses_variables_off_the_cpu():
    on_gpu = types.SimpleNamespace(handle=None, dtype=tf.float32, shape=tf.TensorShape([2]),
                                   device="/job:localhost/replica:0/task:0/device:GPU:0")
    with pytest.raises(ValueError, match=r"variables\[0\] is on .*GPU:0.*'portable'"):
        adam_update([on_gpu], *[_variables([np.zeros(2, np.float32)])] * 2, [[1.0, 1.0]], 0.1,
                    0.9, 0.999)


def test_docstring_example_runs():
    assert_docstring_examples_pass(adam_update)
