"""Calibrator regularizers against explicit-loop NumPy oracles."""

import numpy as np
import pytest
import tensorflow as tf

from tests.oracles import regularizers as oracle
from tf_lattice.regularizers import calibrator
from tf_lattice.regularizers import (
    calibrator_hessian, calibrator_laplacian, calibrator_wrinkle)
from tf_lattice.specs import CalibratorSpec

FUNCTIONS = {1: calibrator_laplacian, 2: calibrator_hessian, 3: calibrator_wrinkle}


def _call(order, outputs, keypoints, l1, l2):
    if order == 1:
        return calibrator_laplacian(outputs, l1=l1, l2=l2)
    return FUNCTIONS[order](outputs, keypoints, l1=l1, l2=l2)


def _uneven_keypoints(rng, num, units=None):
    shape = (num,) if units is None else (units, num)
    steps = rng.uniform(0.2, 3.0, size=shape)
    return np.cumsum(steps, axis=-1) - 5.0


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("l1,l2", [(0.0, 1.0), (1.0, 0.0), (0.3, 0.7)])
@pytest.mark.parametrize("units,num", [(1, 4), (3, 5), (2, 9)])
def test_matches_oracle_unit_spacing(order, l1, l2, units, num):
    rng = np.random.default_rng(units * 100 + num)
    outputs = rng.normal(size=(units, num))
    got = _call(order, outputs, None, l1, l2).numpy()
    want = oracle.calibrator_penalty(outputs, None, order, l1, l2)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("shared", [True, False])
def test_matches_oracle_uneven_keypoints(order, shared):
    rng = np.random.default_rng(7)
    units, num = 3, 7
    outputs = rng.normal(size=(units, num))
    keypoints = _uneven_keypoints(rng, num, None if shared else units)
    got = _call(order, outputs, keypoints, 0.4, 1.3).numpy()
    want = oracle.calibrator_penalty(outputs, keypoints, order, 0.4, 1.3)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_python_list_keypoints_keep_float64_precision():
    outputs = np.array([[0.0, 1.0, 0.3, 2.0, 1.1]])
    keypoints = [0.1, 0.7, 1.3, 2.9, 3.3]
    want = oracle.calibrator_penalty(outputs, keypoints, 3, 0.0, 1.0)
    np.testing.assert_allclose(calibrator_wrinkle(outputs, keypoints, l2=1.0), want, rtol=1e-13)


def test_unit_spacing_is_plain_differences():
    rng = np.random.default_rng(1)
    outputs = rng.normal(size=(2, 8))
    unit_keypoints = np.arange(8.0)
    for order, function in FUNCTIONS.items():
        want = np.sum(np.diff(outputs, n=order, axis=-1) ** 2)
        if order == 1:
            got = function(outputs, l2=1.0)
        else:
            got = function(outputs, unit_keypoints, l2=1.0)
            np.testing.assert_allclose(function(outputs, l2=1.0), want, rtol=1e-12)
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_zero_on_the_right_functions():
    keypoints = np.array([0.0, 0.5, 2.0, 2.5, 7.0])
    line = 3.0 * keypoints - 1.0
    constant = np.full(5, 2.0)
    parabola = keypoints ** 2
    assert calibrator_laplacian(constant, l1=1.0, l2=1.0).numpy() == 0.0
    np.testing.assert_allclose(calibrator_hessian(line, keypoints, l1=1.0, l2=1.0), 0.0, atol=1e-12)
    assert calibrator_hessian(parabola, keypoints, l2=1.0).numpy() > 0.1
    assert calibrator_laplacian(line, l2=1.0).numpy() > 0.1


def test_rank_one_and_too_few_keypoints():
    outputs = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(calibrator_hessian(outputs, l2=1.0), 1.0)
    assert calibrator_wrinkle(outputs, l1=1.0, l2=1.0).numpy() == 0.0


def test_float32_keeps_dtype():
    outputs = tf.constant([[0.0, 1.0, 3.0, 2.0]], dtype=tf.float32)
    result = calibrator_wrinkle(outputs, [0.0, 1.0, 2.0, 4.0], l2=1.0)
    assert result.dtype == tf.float32


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("l1", [0.0, 0.5])
def test_gradient_numerically(order, l1):
    rng = np.random.default_rng(3)
    outputs = rng.normal(size=(2, 6))  # generic values: no zero differences
    keypoints = _uneven_keypoints(rng, 6)
    theoretical, numerical = tf.test.compute_gradient(
        lambda o: _call(order, o, keypoints, l1, 0.8), [tf.constant(outputs)])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)


@pytest.mark.parametrize("name,value", [("l1", -1.0), ("l2", -0.1), ("l2", float("nan")),
                                        ("l1", "big")])
def test_bad_amounts_raise(name, value):
    for order in FUNCTIONS:
        with pytest.raises(ValueError, match=name):
            _call(order, np.zeros((1, 5)), None, **{"l1": 0.0, "l2": 0.0, name: value})


def test_bad_keypoints_raise():
    outputs = np.zeros((2, 4))
    with pytest.raises(ValueError, match="keypoints"):
        calibrator_hessian(outputs, [0.0, 1.0, 1.0, 2.0], l2=1.0)
    with pytest.raises(ValueError, match="keypoints"):
        calibrator_hessian(outputs, [0.0, 1.0, 2.0], l2=1.0)
    with pytest.raises(ValueError, match="outputs"):
        calibrator_laplacian(np.zeros((2, 3, 4)), l2=1.0)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("shared", [True, False])
def test_a_calibrator_spec_gives_the_keypoints(order, shared):
    rng = np.random.default_rng(11)
    units, num = 3, 6
    outputs = rng.normal(size=(units, num))
    keypoints = _uneven_keypoints(rng, num, None if shared else units)
    spec = CalibratorSpec.parse(keypoints, units=units)
    by_spec = _call(order, outputs, spec, 0.2, 0.9).numpy()
    np.testing.assert_array_equal(by_spec, _call(order, outputs, keypoints, 0.2, 0.9).numpy())
    np.testing.assert_allclose(
        by_spec, oracle.calibrator_penalty(outputs, keypoints, order, 0.2, 0.9), rtol=1e-12)


def test_raw_keypoints_are_parsed_by_the_spec_rule():
    outputs = np.zeros((2, 4))
    for bad in ([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, float("nan"), 2.0], [[[0.0, 1.0, 2.0, 3.0]]]):
        with pytest.raises(ValueError) as raised:
            CalibratorSpec(np.asarray(bad))
        with pytest.raises(ValueError, match="keypoints") as ours:
            calibrator_hessian(outputs, bad, l2=1.0)
        assert str(ours.value) == str(raised.value)


def test_keypoints_known_only_when_run_are_used_as_they_are():
    outputs = np.array([[0.0, 1.0, 3.0, 2.0]])
    keypoints = np.array([0.0, 0.5, 2.0, 4.0])
    penalty = tf.function(lambda k: calibrator_hessian(outputs, k, l2=1.0),
                          input_signature=[tf.TensorSpec([4], tf.float64)])
    np.testing.assert_allclose(penalty(tf.constant(keypoints)),
                               oracle.calibrator_penalty(outputs, keypoints, 2, 0.0, 1.0),
                               rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("num", [calibrator.DENSE_OPERATOR_MAX_KEYPOINTS,
                                 calibrator.DENSE_OPERATOR_MAX_KEYPOINTS + 1])
@pytest.mark.parametrize("layout", ["shared", "per_unit", "rank_one"])
def test_dense_operator_and_slices_both_match_oracle(order, num, layout):
    """Up to DENSE_OPERATOR_MAX_KEYPOINTS keypoints the differences are one
    product with a dense operator, beyond it slices: both against the oracle,
    with shared and per-unit keypoints and rank-one outputs."""
    rng = np.random.default_rng(num + order)
    units = 1 if layout == "rank_one" else 3
    outputs = rng.normal(size=(units, num))
    keypoints = _uneven_keypoints(rng, num, units if layout == "per_unit" else None)
    want = oracle.calibrator_penalty(outputs, keypoints, order, 0.3, 0.7)
    if layout == "rank_one":
        outputs = outputs[0]
    np.testing.assert_allclose(_call(order, outputs, keypoints, 0.3, 0.7), want, rtol=1e-11)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_few_keypoints_are_differenced_by_one_product(order):
    outputs = tf.TensorSpec([4, 12], tf.float32)
    keypoints = np.linspace(0.0, 1.0, 12)
    graph = tf.function(lambda o: _call(order, o, keypoints, 0.0, 1.0)).get_concrete_function(
        outputs).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "MatMul" in kinds
    assert "StridedSlice" not in kinds
