"""Lattice layer: shapes, training, constraints, saving, twins."""

import keras
import numpy as np
import pytest

from tests.layers import _checks
from tf_lattice.layers import Lattice, LinearInitializer, RandomMonotonicInitializer
from tf_lattice.layers.lattice_initializers import vertex_coordinates


def _data(n=256, dims=2, sizes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, sizes - 1, (n, dims)).astype("float32")
    y = (np.sin(x[:, :1]) + x[:, 1:2] ** 2 / 4).astype("float32")
    return x, y


@pytest.mark.parametrize("interpolation", ["hypercube", "simplex"])
@pytest.mark.parametrize("input_shape,units", [((2,), 1), ((2,), 3), ((3, 2), 3)])
def test_shapes_and_eager_matches_function(interpolation, input_shape, units):
    layer = Lattice([3, 2], units=units, interpolation=interpolation,
                    kernel_initializer="random_monotonic_initializer")
    x = np.random.uniform(0, 2, (5,) + input_shape).astype("float32")
    y = _checks.assert_eager_matches_function(layer, x)
    assert y.shape == (5, units)


def test_list_of_inputs_equals_concatenated_input():
    layer = Lattice([2, 3], kernel_initializer="random_monotonic_initializer")
    x = np.random.uniform(0, 2, (4, 2)).astype("float32")
    np.testing.assert_allclose(layer([x[:, :1], x[:, 1:]]).numpy(), layer(x).numpy(), rtol=1e-6)


def test_vertices_interpolate_their_parameters():
    layer = Lattice([2, 3], kernel_initializer="random_monotonic_initializer")
    layer.build((None, 2))
    vertices = vertex_coordinates([2, 3]).astype("float32")
    np.testing.assert_allclose(layer(vertices).numpy()[:, 0], layer.kernel.numpy()[0], atol=1e-6)


def test_linear_initializer_is_monotone_and_spans_range():
    values = LinearInitializer([3, 2, 4], ["increasing", "none", "decreasing"], None, -1, 1)((2, 24)).numpy()
    grid = values[0].reshape(3, 2, 4)
    assert np.all(np.diff(grid, axis=0) > 0) and np.all(np.diff(grid, axis=2) < 0)
    np.testing.assert_allclose([values.min(), values.max()], [-1, 1], atol=1e-6)
    flat = LinearInitializer([3, 2, 4], ["increasing", "none", "decreasing"], None, -1, 1)((24,))
    np.testing.assert_array_equal(flat.numpy(), values[0])


def test_linear_initializer_spans_each_units_own_range():
    low, high = [-2.0, 0.0, 5.0], [-1.0, 3.0, 5.5]
    initializer = LinearInitializer([3, 2], ["increasing", "none"], None, low, high)
    values = initializer((3, 6)).numpy()
    for unit in range(3):
        alone = LinearInitializer([3, 2], ["increasing", "none"], None, low[unit], high[unit])((1, 6))
        np.testing.assert_array_equal(values[unit], alone.numpy()[0])
    np.testing.assert_allclose(values.min(axis=1), low)
    np.testing.assert_allclose(values.max(axis=1), high)
    restored = LinearInitializer(**initializer.get_config())
    np.testing.assert_array_equal(restored((3, 6)).numpy(), values)
    with pytest.raises(ValueError, match=r"2 output_min values \(one per unit\) for a kernel of "
                                         r"shape \(3, 6\) \(3 units\)"):
        LinearInitializer([3, 2], output_min=[0.0, 1.0], output_max=[1.0, 2.0])((3, 6))
    with pytest.raises(ValueError, match="output_max of LinearInitializer must be a finite number"):
        LinearInitializer([3, 2], output_max=[1.0, float("nan")])


def test_random_monotonic_initializer_is_monotone():
    values = RandomMonotonicInitializer([3, 3, 2], ["increasing", "decreasing", "none"], seed=3)((4, 18)).numpy()
    grid = values.reshape(4, 3, 3, 2)
    assert np.all(np.diff(grid, axis=1) >= 0) and np.all(np.diff(grid, axis=2) <= 0)
    assert np.all(np.diff(grid, axis=3) >= 0)
    assert values.min() >= 0 and values.max() <= 1


@pytest.mark.parametrize("kwargs", [
    dict(monotonicities=["increasing", "increasing"], output_min=-1.0, output_max=3.0),
    dict(monotonicities=["increasing", "none"], unimodalities=["none", "valley"]),
    dict(monotonicities=["increasing", "increasing"], edgeworth_trusts=[(0, 1, "increasing")]),
    dict(monotonicities=["increasing", "increasing"], monotonic_dominances=[(1, 0)]),
    dict(monotonicities=["increasing", "none"], joint_monotonicities=[(0, 1)], interpolation="simplex"),
])
def test_training_keeps_constraints(kwargs):
    x, y = _data()
    layer = Lattice([3, 3], **kwargs)
    model = _checks.make_model(layer, (2,))
    _checks.train_lowers_loss(model, x, y, epochs=4)
    certificate = layer.certify()
    assert certificate.holds, str(certificate)
    grid = layer.kernel.numpy().reshape(3, 3)
    for k, direction in enumerate(kwargs.get("monotonicities", [])):
        if direction == "increasing":
            assert np.all(np.diff(grid, axis=k) >= -1e-6)


def test_finalize_then_certify():
    layer = Lattice([3, 2], units=2, monotonicities=["increasing", "decreasing"], output_min=0, output_max=1)
    layer.build((None, 2))
    layer.kernel.assign(np.random.default_rng(0).normal(size=(2, 6)))
    assert not layer.certify().holds
    layer.finalize_constraints()
    assert layer.certify().holds


def test_lattice_on_a_dense_network_over_unconstrained_features():
    """Monotone in the calibrated feature, a Dense network feeds the other."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (256, 3)).astype("float32")
    y = (x[:, :1] + np.sin(3 * x[:, 1:2]) * x[:, 2:3]).astype("float32")
    inputs = keras.Input((3,))
    monotone = keras.layers.Lambda(lambda t: t[:, :1])(inputs)
    free = keras.layers.Lambda(lambda t: t[:, 1:])(inputs)
    embedding = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dense(8, activation="relu")(free))
    lattice = Lattice([2, 2], monotonicities=["increasing", "none"])
    outputs = lattice(keras.layers.Concatenate()([monotone, embedding]))
    model = keras.Model(inputs, outputs)
    _checks.train_lowers_loss(model, x, y, epochs=4)
    assert lattice.certify().holds
    probe = np.repeat(rng.uniform(0, 1, (1, 3)), 11, axis=0).astype("float32")
    probe[:, 0] = np.linspace(0, 1, 11)
    assert np.all(np.diff(model.predict(probe, verbose=0)[:, 0]) >= -1e-6)


def test_save_load_and_config_round_trip(tmp_path):
    x, y = _data()
    layer = Lattice([3, 3], monotonicities=["increasing", "none"], trapezoid_trusts=[(0, 1, "decreasing")],
                    kernel_regularizer=keras.regularizers.L2(1e-4))
    model = _checks.make_model(layer, (2,))
    _checks.train_lowers_loss(model, x, y, epochs=2)
    _checks.assert_save_load_round_trip(model, x, tmp_path)
    _checks.assert_config_round_trip(layer)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lattice_sizes=[1, 2]), "lattice_sizes"),
    (dict(lattice_sizes=[2, 2], monotonicities=["increasing"]), "one entry per dimension"),
    (dict(lattice_sizes=[2, 2], interpolation="cubic"), "interpolation"),
    (dict(lattice_sizes=[2, 2], monotonic_dominances=[(0, 5)]), "outside"),
    (dict(lattice_sizes=[3, 2], monotonicities=["increasing", "none"], unimodalities=["valley", "none"]),
     r"unimodalities\[0\] is set but dimension 0 is also monotone"),
    (dict(lattice_sizes=[2, 2], trapezoid_trusts=[(0, 1, "increasing")]),
     r"trapezoid_trusts\[0\] needs its main dimension 0 to be monotone"),
    (dict(lattice_sizes=[2, 2], monotonicities=["decreasing", "increasing"],
          monotonic_dominances=[(0, 1)]), "needs both dimensions increasing"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Lattice(**kwargs)


def test_wrong_input_width_raises():
    with pytest.raises(ValueError, match="lattice_sizes"):
        Lattice([2, 2])(np.zeros((3, 3), "float32"))


@_checks.requires_kernels
@pytest.mark.parametrize("interpolation", ["hypercube", "simplex"])
@pytest.mark.parametrize("input_shape,units", [((3,), 2), ((2, 3), 2)])
def test_kernel_and_portable_agree(interpolation, input_shape, units):
    layer = Lattice([3, 2, 2], units=units, interpolation=interpolation, kernel_initializer="random_normal")
    x = np.random.default_rng(0).uniform(-0.3, 2.3, (17,) + input_shape).astype("float32")
    _checks.assert_implementations_agree(Lattice, layer.get_config(), x)


@_checks.requires_kernels
def test_jit_disabled_with_kernels():
    _checks.assert_jit_disabled_with_kernels(
        lambda implementation: Lattice([2, 2], implementation=implementation), (2,))


def test_structural_regularizer_tuples_add_losses():
    smooth = Lattice([3, 3], kernel_initializer="random_monotonic_initializer",
                     kernel_regularizer=[("laplacian", 0.0, 1.0), ("torsion", 0.0, 1.0)])
    smooth.build((None, 2))
    assert len(smooth.losses) == 1 and float(smooth.losses[0]) > 0
    _checks.assert_config_round_trip(smooth)
