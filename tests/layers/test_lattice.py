"""Lattice layer: shapes, training, constraints, saving, twins."""

import keras
import numpy as np
import pytest

from tests.layers import _checks
from tf_lattice.constraints import certify_lattice
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


def test_an_unseeded_random_monotonic_initializer_follows_the_keras_seed():
    def two_layers(global_seed):
        keras.utils.set_random_seed(global_seed)
        layers = [Lattice([2, 3], kernel_initializer="random_monotonic_initializer")
                  for _ in range(2)]
        for layer in layers:
            layer.build((None, 2))
        return [layer.kernel.numpy() for layer in layers]

    first, again, other = two_layers(7), two_layers(7), two_layers(8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])  # each layer draws its own values
    assert not np.array_equal(first[0], other[0])


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


#: Three blocks of units with constraints of their own.
UNIT_BLOCKS = [
    dict(units=2),
    dict(units=1, monotonicities=["increasing", "none"], edgeworth_trusts=[(0, 1, "increasing")]),
    dict(units=3, monotonicities=["none", "decreasing"], joint_monotonicities=[(0, 1)]),
]


def _blocked_lattice(**kwargs):
    return Lattice([3, 3], units=6, unit_constraints=UNIT_BLOCKS, **kwargs)


@pytest.mark.parametrize("implementation", ["kernel", "portable"])
def test_unit_constraints_project_each_block_onto_its_own_constraints(implementation):
    if implementation == "kernel" and not _checks.kernels_built():
        pytest.skip("fused kernels not built")
    layer = _blocked_lattice(output_max=2.0, implementation=implementation)
    layer.build((None, 6, 2))
    kernel = np.random.default_rng(1).normal(size=(6, 9)) * 3
    layer.kernel.assign(kernel)
    assert not layer.certify().holds
    layer.apply_constraints()
    projected = layer.kernel.numpy()
    assert layer.certify().holds, str(layer.certify())
    begin = 0
    for block in UNIT_BLOCKS:
        alone = Lattice([3, 3], units=block["units"], output_max=2.0, implementation=implementation,
                        **{k: v for k, v in block.items() if k != "units"})
        alone.build((None, block["units"], 2))
        alone.kernel.assign(kernel[begin:begin + block["units"]])
        alone.apply_constraints()
        np.testing.assert_array_equal(projected[begin:begin + block["units"]], alone.kernel.numpy())
        begin += block["units"]
    assert np.all(projected <= 2.0)


def test_unit_constraints_certificate_names_each_block_and_the_layers_unit():
    layer = _blocked_lattice()
    layer.build((None, 6, 2))
    kernel = np.zeros((6, 9))
    kernel[4] = vertex_coordinates([3, 3])[:, 1]  # unit 4 (block 2) rises along dimension 1
    layer.kernel.assign(kernel)
    failing = [check for check in layer.certify().checks if not check.holds]
    assert [check.name for check in failing] == ["units 3..5: monotonicity[1]=decreasing"]
    alone = certify_lattice(kernel[3:], [3, 3], **{k: v for k, v in UNIT_BLOCKS[2].items()
                                                   if k != "units"})
    alone_location = [c for c in alone.checks if not c.holds][0].location
    assert alone_location[0] == 1 and failing[0].location == (4, alone_location[1])
    names = [check.name for check in layer.certify().checks]
    assert names == ["units 2..2: monotonicity[0]=increasing",
                     "units 2..2: edgeworth_trusts[0]=(0, 1, increasing)",
                     "units 3..5: monotonicity[1]=decreasing", "units 3..5: joint_monotonicities[0]=(0, 1)"]


@pytest.mark.parametrize("initializer", ["linear_initializer", "random_monotonic_initializer"])
def test_unit_constraints_initializers_start_each_block_monotone(initializer):
    blocks = [dict(units=1, monotonicities=["increasing", "decreasing"]), dict(units=2),
              dict(units=2, monotonicities=["none", "increasing"])]
    layer = Lattice([3, 2], units=5, unit_constraints=blocks, kernel_initializer=initializer)
    layer.build((None, 5, 2))
    assert layer.certify().holds, str(layer.certify())
    kernel = layer.kernel.numpy().reshape(5, 3, 2)
    assert np.all(np.diff(kernel[0], axis=0) >= 0) and np.all(np.diff(kernel[0], axis=1) <= 0)
    assert np.all(np.diff(kernel[3:], axis=2) >= 0)


def test_unit_constraints_train_save_load_and_round_trip_their_config(tmp_path):
    x, y = _data()
    layer = _blocked_lattice(output_min=-1.0)
    model = _checks.make_model(layer, (2,), head=True)
    _checks.train_lowers_loss(model, x, y, epochs=2)
    assert layer.certify().holds
    _checks.assert_save_load_round_trip(model, x, tmp_path)
    _checks.assert_config_round_trip(layer)
    config = layer.get_config()
    assert [block["units"] for block in config["unit_constraints"]] == [2, 1, 3]
    assert config["unit_constraints"][2]["joint_monotonicities"] == [[0, 1]]
    assert config["monotonicities"] == ["none", "none"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=6, monotonicities="increasing", unit_constraints=UNIT_BLOCKS),
     "either for every unit or per block in unit_constraints, not both"),
    (dict(units=5, unit_constraints=UNIT_BLOCKS),
     r"unit_constraints cover 6 units \(\[2, 1, 3\]\), but the layer has units=5"),
    (dict(units=2, unit_constraints=[]), "at least one block"),
    (dict(units=2, unit_constraints=[dict(monotonicities="increasing")]),
     r"unit_constraints\[0\] must be a dict with 'units'"),
    (dict(units=2, unit_constraints=[dict(units=2, output_min=0.0)]),
     r"unit_constraints\[0\] has unknown arguments \['output_min'\]"),
    (dict(units=2, unit_constraints=[dict(units=1), dict(units=1, unimodalities=["valley", "up"])]),
     r"unit_constraints\[1\]: .*unimodalities"),
])
def test_bad_unit_constraints_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Lattice([3, 3], **kwargs)
