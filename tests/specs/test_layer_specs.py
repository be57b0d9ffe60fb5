"""Every layer builds its spec once and hands it to its projection and
certificate: whatever a layer accepts, they accept. Renamed arguments keep
old configs loading."""

import keras
import numpy as np
import pytest

from tf_lattice import constraints, layers, ops, regularizers
from tf_lattice.specs import CalibratorSpec, CategoricalSpec, LatticeSpec, LinearSpec

INC, DEC, NONE = "increasing", "decreasing", "none"


def test_a_lattice_hands_its_spec_to_projection_certificate_and_initializer():
    layer = layers.Lattice([2, 3], units=2, monotonicities=[INC, NONE],
                           unimodalities=[NONE, "peak"], output_min=0.0, output_max=1.0,
                           implementation="portable")
    assert layer.spec == LatticeSpec.parse(
        [2, 3], units=2, monotonicities=[INC, NONE], unimodalities=[NONE, "peak"],
        output_min=0.0, output_max=1.0)
    assert layers.Lattice.from_config(layer.get_config()).spec == layer.spec
    layer.build((None, 2))
    assert layer.certify().holds  # the initializer followed the spec
    params = np.random.default_rng(0).normal(size=(2, 6))
    by_spec = ops.lattice_projection(params, spec=layer.spec, implementation="portable")
    by_arguments = ops.lattice_projection(
        params, [2, 3], monotonicities=[INC, NONE], unimodalities=[NONE, "peak"],
        output_min=0.0, output_max=1.0, implementation="portable")
    np.testing.assert_array_equal(by_spec.numpy(), by_arguments.numpy())
    assert constraints.certify_lattice(by_spec.numpy(), spec=layer.spec).holds
    with pytest.raises(TypeError, match="either spec or lattice_sizes"):
        ops.lattice_projection(params, [2, 3], spec=layer.spec)
    with pytest.raises(TypeError, match="either spec or lattice_sizes"):
        constraints.certify_lattice(params, spec=layer.spec, output_min=0.0)


def test_a_lattice_contradiction_fails_at_construction_naming_the_argument():
    with pytest.raises(ValueError, match="monotonic_dominances"):
        layers.Lattice([2, 2], monotonicities=[DEC, INC], monotonic_dominances=[(0, 1)])


def test_a_linear_layer_hands_its_spec_to_projection_and_certificate():
    layer = layers.Linear(3, units=2, monotonicities=[INC, INC, DEC], monotonic_dominances=[(0, 1)],
                          normalization_order=1, implementation="portable")
    assert layer.spec == LinearSpec.parse(3, units=2, monotonicities=[INC, INC, DEC],
                                          monotonic_dominances=[(0, 1)], normalization_order=1)
    assert layers.Linear.from_config(layer.get_config()).spec == layer.spec
    weights = np.random.default_rng(1).normal(size=(3, 2))
    projected = ops.linear_projection(weights, spec=layer.spec, implementation="portable")
    assert constraints.certify_linear(projected.numpy(), spec=layer.spec).holds
    with pytest.raises(TypeError, match="either spec or constraint arguments"):
        ops.linear_projection(weights, spec=layer.spec, monotonicities=INC)
    with pytest.raises(ValueError, match="the spec declares 3 inputs"):
        ops.linear_projection(weights[:2], spec=layer.spec)


def test_a_calibrator_hands_its_spec_to_projection_and_certificate():
    keypoints = np.linspace(0.0, 1.0, 5)
    layer = layers.PWLCalibration(keypoints, units=2, monotonicity=[INC, DEC],
                                  convexity=["none", "convex"], output_min=-1.0, output_max=1.0,
                                  implementation="portable")
    assert layer.spec == CalibratorSpec.parse(
        keypoints, units=2, monotonicity=[INC, DEC], convexity=[NONE, "convex"],
        output_min=-1.0, output_max=1.0)
    assert layers.PWLCalibration.from_config(layer.get_config()).spec == layer.spec
    outputs = np.random.default_rng(2).normal(size=(2, 5))
    projected = ops.calibrator_projection(outputs, keypoints, spec=layer.spec,
                                          implementation="portable").numpy()
    assert constraints.certify_calibrator(keypoints, projected, spec=layer.spec).holds
    with pytest.raises(TypeError, match="either spec"):
        ops.calibrator_projection(outputs, keypoints, spec=layer.spec, monotonicity=INC)
    with pytest.raises(ValueError, match="the spec declares 2 units"):
        ops.calibrator_projection(outputs[:1], keypoints, spec=layer.spec)



def test_a_calibrators_smoothness_penalty_reads_its_outputs_not_its_input_units():
    keypoints = np.array([[0.0, 0.5, 2.0, 3.0, 3.5], [-1.0, 0.0, 4.0, 5.0, 9.0]])
    penalties = []
    for scale, shift in ((1.0, 0.0), (1e-3, 0.0), (1e3, -7.0)):
        layer = layers.PWLCalibration(
            keypoints * scale + shift, units=2,
            kernel_regularizer=[("hessian", 0.1, 1.0), ("wrinkle", 0.0, 2.0)],
            kernel_initializer=keras.initializers.Constant(
                [[0.0, 0.3, 0.4, 0.9, 1.0], [1.0, 0.2, 0.5, 0.1, 0.7]]),
            implementation="portable", dtype="float64")
        layer.build((None, 2))
        penalties.append(float(layer.kernel.regularizer(layer.kernel)))
    kernel = layer.kernel.numpy()
    second = np.diff(kernel, 2, axis=-1)
    third = np.diff(kernel, 3, axis=-1)
    # Slopes per unit of the keypoint range: K - 1 = 4 times the differences.
    want = 0.1 * 4 * np.abs(second).sum() + 16 * (second ** 2).sum() + 2.0 * 16 * (third ** 2).sum()
    np.testing.assert_allclose(penalties, [want] * 3, rtol=1e-12)
    # The same penalty measured on slopes in the input's units would differ.
    in_units = float(regularizers.calibrator_hessian(kernel, keypoints, l1=0.1, l2=1.0)
                     + regularizers.calibrator_wrinkle(kernel, keypoints, l2=2.0))
    assert abs(in_units - want) > 0.1 * want
    # A saved layer keeps its tuples and rebuilds the same penalty.
    loaded = layers.PWLCalibration.from_config(layer.get_config())
    loaded.build((None, 2))
    loaded.kernel.assign(kernel)
    np.testing.assert_allclose(float(loaded.kernel.regularizer(loaded.kernel)), want, rtol=1e-12)


def test_a_cyclic_calibrator_takes_smoothness_penalties():
    layer = layers.PWLCalibration(np.linspace(0.0, 24.0, 6), is_cyclic=True,
                                  kernel_regularizer=("hessian", 0.0, 1.0),
                                  kernel_initializer=keras.initializers.Constant(
                                      [[0.0, 1.0, 0.0, 2.0, 1.0]]),
                                  implementation="portable", dtype="float64")
    layer.build((None, 1))
    # The five stored outputs (the sixth repeats the first) at 0, 1/5, ..,
    # 4/5: second differences -2, 3, -3, slope changes 5 times these.
    np.testing.assert_allclose(float(layer.kernel.regularizer(layer.kernel)),
                               25 * (4.0 + 9.0 + 9.0))
    # Two keypoints store one output: nothing to penalize.
    single = layers.PWLCalibration([0.0, 24.0], is_cyclic=True,
                                   kernel_regularizer=[("hessian", 1.0, 1.0), ("wrinkle", 1.0, 1.0)],
                                   implementation="portable", dtype="float64")
    single.build((None, 1))
    assert float(single.kernel.regularizer(single.kernel)) == 0.0


def test_a_categorical_calibrator_hands_its_spec_to_projection_and_certificate():
    layer = layers.CategoricalCalibration(3, units=2, category_order=[(0, 2), (2, 1)],
                                          output_min=0.0, output_max=1.0,
                                          implementation="portable")
    assert layer.spec == CategoricalSpec.parse(3, units=2, category_order=[(0, 2), (2, 1)],
                                               output_min=0.0, output_max=1.0)
    values = np.random.default_rng(3).normal(size=(2, 4))  # the default bucket is the last
    projected = ops.partial_order_projection(values, spec=layer.spec, implementation="portable")
    assert constraints.certify_categorical(projected.numpy(), spec=layer.spec).holds
    with pytest.raises(TypeError, match="either spec or pairs"):
        ops.partial_order_projection(values, [(0, 1)], spec=layer.spec)


def test_categorical_calibration_takes_category_order():
    layer = layers.CategoricalCalibration(3, category_order=[(0, 1)])
    config = layer.get_config()
    assert config["category_order"] == [[0, 1]] and "monotonicities" not in config
    with pytest.raises(TypeError, match="category_order"):
        layers.CategoricalCalibration(3, monotonicities=[(0, 1)])
    # Configs saved before the rename name the order "monotonicities".
    old = dict(config)
    old["monotonicities"] = old.pop("category_order")
    assert layers.CategoricalCalibration.from_config(old).category_order == [(0, 1)]


def test_kronecker_factored_lattice_takes_one_lattice_size():
    layer = layers.KroneckerFactoredLattice(3, num_dims=2, monotonicities=[INC, NONE])
    config = layer.get_config()
    assert config["lattice_size"] == 3 and "lattice_sizes" not in config
    with pytest.raises(TypeError, match="lattice_size=m"):
        layers.KroneckerFactoredLattice(lattice_sizes=3)
    old = dict(config)
    old["lattice_sizes"] = old.pop("lattice_size")
    assert layers.KroneckerFactoredLattice.from_config(old).lattice_size == 3
