"""Which layers take ``implementation``: those with a compiled kernel only.

``data/sets_saved_by_0_1.*`` is a model saved by tf_lattice 0.1.0, whose
KroneckerFactoredLattice config (and those of the calibrators inside its
ParallelCombination) hold ``implementation``: an Aggregation over sets of an
element model ParallelCombination -> KroneckerFactoredLattice, the inputs and
the outputs that version computed.
"""

import os

import keras
import numpy as np
import pytest

from tf_lattice import layers
from tf_lattice.layers import _common

DATA = os.path.join(os.path.dirname(__file__), "data")

KERNEL_LAYERS = {
    "PWLCalibration": lambda **kw: layers.PWLCalibration([0.0, 1.0], **kw),
    "CategoricalCalibration": lambda **kw: layers.CategoricalCalibration(3, **kw),
    "Lattice": lambda **kw: layers.Lattice([2, 2], **kw),
    "Linear": lambda **kw: layers.Linear(2, **kw),
    "RTL": lambda **kw: layers.RTL(2, 2, **kw),
}
KERNEL_LESS_LAYERS = {
    "KroneckerFactoredLattice": lambda **kw: layers.KroneckerFactoredLattice(2, **kw),
    "Aggregation": lambda **kw: layers.Aggregation(keras.layers.Dense(1), **kw),
    "ParallelCombination": lambda **kw: layers.ParallelCombination(
        [layers.PWLCalibration([0.0, 1.0])], **kw),
}


def test_every_layer_is_listed_once():
    exported = {name for name in layers.__all__
                if issubclass(getattr(layers, name), _common.LatticeLayer)}
    assert exported == set(KERNEL_LAYERS) | set(KERNEL_LESS_LAYERS)
    for name in KERNEL_LAYERS:
        assert issubclass(getattr(layers, name), _common.KernelLayer), name
    for name in KERNEL_LESS_LAYERS:
        assert not issubclass(getattr(layers, name), _common.KernelLayer), name


@pytest.mark.parametrize("name", sorted(KERNEL_LAYERS))
@pytest.mark.parametrize("implementation", ["kernel", "portable"])
def test_kernel_layers_take_and_store_implementation(name, implementation):
    layer = KERNEL_LAYERS[name](implementation=implementation)
    assert layer.implementation == implementation
    assert layer.get_config()["implementation"] == implementation
    with pytest.raises(ValueError, match=r"implementation must be one of.*'fast'"):
        KERNEL_LAYERS[name](implementation="fast")


@pytest.mark.parametrize("name", sorted(KERNEL_LESS_LAYERS))
@pytest.mark.parametrize("implementation", ["kernel", "portable"])
def test_kernel_less_layers_refuse_implementation(name, implementation):
    with pytest.raises(TypeError, match=rf"^{name} has no compiled kernel; it takes no "
                                        rf"implementation argument \(got implementation='{implementation}'\)"):
        KERNEL_LESS_LAYERS[name](implementation=implementation)


@pytest.mark.parametrize("name", sorted(KERNEL_LESS_LAYERS))
def test_kernel_less_configs_hold_no_implementation_and_old_ones_load(name):
    layer = KERNEL_LESS_LAYERS[name]()
    assert not hasattr(layer, "implementation")
    config = layer.get_config()
    assert "implementation" not in config
    for implementation in ("kernel", "portable"):
        clone = type(layer).from_config(dict(config, implementation=implementation))
        assert clone.get_config() == config


def test_a_model_saved_by_0_1_with_implementation_in_its_configs_loads_and_predicts():
    model = keras.models.load_model(os.path.join(DATA, "sets_saved_by_0_1.keras"))
    x = np.loadtxt(os.path.join(DATA, "sets_saved_by_0_1.inputs.txt"), dtype=np.float32).reshape(-1, 4, 3)
    expected = np.loadtxt(os.path.join(DATA, "sets_saved_by_0_1.outputs.txt")).reshape(-1, 1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    found = {type(layer).__name__: layer for layer in model._flatten_layers()}
    assert {"Aggregation", "ParallelCombination", "KroneckerFactoredLattice", "PWLCalibration",
            "CategoricalCalibration"} <= set(found)
    assert "implementation" not in found["KroneckerFactoredLattice"].get_config()
    assert found["PWLCalibration"].get_config()["implementation"] == "kernel"
    assert found["Aggregation"].certify().holds


def test_supports_jit_depends_on_the_forward_kernel_only():
    assert not layers.PWLCalibration([0.0, 1.0], implementation="kernel").supports_jit
    assert layers.PWLCalibration([0.0, 1.0], implementation="portable").supports_jit
    # Linear and CategoricalCalibration run a kernel only in their projection.
    assert layers.Linear(2, implementation="kernel").supports_jit
    assert layers.CategoricalCalibration(3, implementation="kernel").supports_jit
    assert layers.KroneckerFactoredLattice(2).supports_jit
