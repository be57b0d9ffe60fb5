"""RTL: structure, grouping, stacking, constraints, saving."""

import keras
import numpy as np
import pytest

from tests.layers import _checks
from tf_lattice.layers import RTL
from tf_lattice.layers.rtl import random_lattice_structure

MONOTONICITIES = ["increasing", "none", "increasing", "none", "none"]


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 5)).astype("float32")
    y = (x[:, :1] + x[:, 2:3] * x[:, 1:2] + 0.2 * np.sin(4 * x[:, 3:4])).astype("float32")
    return x, y


def test_structure_is_seeded_covers_inputs_and_has_no_repeats():
    first = random_lattice_structure(5, 6, 3, seed=7)
    assert first == random_lattice_structure(5, 6, 3, seed=7)
    assert first != random_lattice_structure(5, 6, 3, seed=8)
    assert all(len(set(lattice)) == 3 for lattice in first)
    assert set().union(*first) == set(range(5))
    with pytest.raises(ValueError, match="lattice_rank"):
        random_lattice_structure(2, 3, 3, seed=0)


def test_shapes_groups_and_output_monotonicities():
    layer = RTL(6, 3, monotonicities=MONOTONICITIES, random_seed=1)
    y = _checks.assert_eager_matches_function(layer, np.random.uniform(0, 1, (4, 5)).astype("float32"))
    assert y.shape == (4, 6)
    assert sum(lattice.units for lattice in layer.lattices) == 6
    for lattice_inputs, output in zip(layer.structure, layer.output_monotonicities):
        expected = any(MONOTONICITIES[i] == "increasing" for i in lattice_inputs)
        assert (output == "increasing") == expected


def test_outputs_are_the_lattices_of_the_structure():
    layer = RTL(4, 2, monotonicities=MONOTONICITIES, random_seed=3)
    x = np.random.uniform(0, 1, (6, 5)).astype("float32")
    y = layer(x).numpy()
    column = 0
    for lattice in layer.lattices:
        for unit in range(lattice.units):
            inputs = x[:, list(layer.structure[column])]
            single = lattice.get_config()
            single.update(units=1, name=None)
            from tf_lattice.layers import Lattice
            one = Lattice.from_config(single)
            one.build((None, 2))
            one.kernel.assign(lattice.kernel.numpy()[unit:unit + 1])
            np.testing.assert_allclose(y[:, column], one(inputs).numpy()[:, 0], rtol=1e-5, atol=1e-6)
            column += 1


def test_stacked_rtl_trains_and_stays_monotone():
    x, y = _data()
    first = RTL(6, 3, monotonicities=MONOTONICITIES, output_min=0.0, output_max=1.0, random_seed=0)
    inputs = keras.Input((5,))
    hidden = first(inputs)
    second = RTL(3, 2, monotonicities=first.output_monotonicities, average_outputs=True, random_seed=1)
    model = keras.Model(inputs, second(hidden))
    _checks.train_lowers_loss(model, x, y, epochs=4)
    assert first.certify().holds and second.certify().holds
    rng = np.random.default_rng(1)
    for feature in (0, 2):
        probe = np.repeat(rng.uniform(0, 1, (1, 5)), 9, axis=0).astype("float32")
        probe[:, feature] = np.linspace(0, 1, 9)
        assert np.all(np.diff(model.predict(probe, verbose=0)[:, 0]) >= -1e-5)


def test_save_load_and_config_round_trip(tmp_path):
    x, y = _data()
    layer = RTL(4, 2, monotonicities=MONOTONICITIES, average_outputs=True)
    model = _checks.make_model(layer, (5,))
    _checks.train_lowers_loss(model, x, y, epochs=2)
    loaded = _checks.assert_save_load_round_trip(model, x, tmp_path)
    assert loaded.layers[-1].structure == layer.structure
    _checks.assert_config_round_trip(layer)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="monotonicities"):
        RTL(2, 2, monotonicities=["decreasing", "none"])
    with pytest.raises(ValueError, match="monotonicities"):
        RTL(2, 2, monotonicities=["none"])(np.zeros((2, 3), "float32"))


@_checks.requires_kernels
def test_kernel_and_portable_agree():
    layer = RTL(4, 2, monotonicities=MONOTONICITIES, kernel_initializer="random_normal")
    x = np.random.default_rng(0).uniform(0, 1, (9, 5)).astype("float32")
    _checks.assert_implementations_agree(RTL, layer.get_config(), x)


@_checks.requires_kernels
def test_jit_disabled_with_kernels():
    _checks.assert_jit_disabled_with_kernels(
        lambda implementation: RTL(2, 2, implementation=implementation), (3,))
