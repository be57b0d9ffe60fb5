"""Keras regularizer classes: values, config round trip, serialization, use in a layer."""

import ast
import pathlib

import keras
import numpy as np
import pytest

import tf_lattice.regularizers as regularizers
from tests.oracles import regularizers as oracle

CALIBRATOR_KEYPOINTS = [0.0, 0.5, 2.0, 2.5, 4.0]

INSTANCES = [
    regularizers.CalibratorLaplacian(l1=0.1, l2=0.2),
    regularizers.CalibratorHessian(l1=0.3, l2=0.4, keypoints=CALIBRATOR_KEYPOINTS),
    regularizers.CalibratorWrinkle(l2=0.5, units_last=True),
    regularizers.LatticeLaplacian([2, 3], l1=[0.1, 0.2], l2=0.3),
    regularizers.LatticeTorsion([2, 2, 2], l2=[0.1, 0.2, 0.3]),
    regularizers.LinearLaplacian(l1=0.2, l2=0.1),
    regularizers.RegularizerSum([
        regularizers.LatticeLaplacian([2, 3], l2=1.0),
        regularizers.LatticeTorsion([2, 3], l2=2.0)]),
]


def _weight_for(regularizer):
    rng = np.random.default_rng(0)
    if isinstance(regularizer, (regularizers.LatticeLaplacian, regularizers.LatticeTorsion)):
        return rng.normal(size=(2, int(np.prod(regularizer.lattice_sizes))))
    if isinstance(regularizer, regularizers.RegularizerSum):
        return rng.normal(size=(2, 6))
    if getattr(regularizer, "units_last", False):
        return rng.normal(size=(5, 2))
    return rng.normal(size=(2, 5))


@pytest.mark.parametrize("regularizer", INSTANCES, ids=lambda r: type(r).__name__)
def test_config_round_trip(regularizer):
    weight = _weight_for(regularizer)
    clone = type(regularizer).from_config(regularizer.get_config())
    assert clone.get_config() == regularizer.get_config()
    np.testing.assert_allclose(clone(weight), regularizer(weight), rtol=1e-12)


@pytest.mark.parametrize("regularizer", INSTANCES, ids=lambda r: type(r).__name__)
def test_keras_serialization(regularizer):
    weight = _weight_for(regularizer)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(regularizer))
    assert type(restored) is type(regularizer)
    np.testing.assert_allclose(restored(weight), regularizer(weight), rtol=1e-12)
    by_get = keras.regularizers.get(keras.regularizers.serialize(regularizer))
    assert type(by_get) is type(regularizer)


def test_values_match_oracles():
    rng = np.random.default_rng(1)
    outputs = rng.normal(size=(3, 5))
    np.testing.assert_allclose(
        INSTANCES[1](outputs),
        oracle.calibrator_penalty(outputs, CALIBRATOR_KEYPOINTS, 2, 0.3, 0.4), rtol=1e-12)
    np.testing.assert_allclose(
        INSTANCES[2](outputs.T), oracle.calibrator_penalty(outputs, None, 3, 0.0, 0.5),
        rtol=1e-12)
    params = rng.normal(size=(2, 6))
    np.testing.assert_allclose(
        INSTANCES[6](params),
        oracle.lattice_laplacian(params, [2, 3], [0, 0], [1, 1])
        + oracle.lattice_torsion(params, [2, 3], {(0, 1): 0.0}, {(0, 1): 2.0}), rtol=1e-12)


class _TinyLattice(keras.layers.Layer):
    def __init__(self, regularizer, **kwargs):
        super().__init__(**kwargs)
        self.regularizer = regularizer

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(2, 6), initializer="random_normal", regularizer=self.regularizer,
            dtype="float64")

    def call(self, inputs):
        return inputs + keras.ops.sum(self.kernel)


def test_usable_in_add_weight():
    regularizer = regularizers.RegularizerSum([
        regularizers.LatticeLaplacian([2, 3], l2=1.0),
        regularizers.LatticeTorsion([2, 3], l1=0.5)])
    layer = _TinyLattice(regularizer, dtype="float64")
    layer(np.zeros((1, 1)))
    assert len(layer.losses) == 1
    kernel = np.asarray(layer.kernel.numpy())
    want = (oracle.lattice_laplacian(kernel, [2, 3], [0, 0], [1, 1])
            + oracle.lattice_torsion(kernel, [2, 3], {(0, 1): 0.5}, {(0, 1): 0.0}))
    np.testing.assert_allclose(float(layer.losses[0]), want, rtol=1e-10)


def test_a_config_of_the_earlier_version_loads():
    config = {"l1": 0.0, "l2": 1.0, "keypoints": [[0.0, 1.0, 3.0], [0.0, 2.0, 3.0]],
              "units_last": False}
    regularizer = keras.regularizers.deserialize(
        {"module": None, "class_name": "tf_lattice>CalibratorWrinkle", "config": config,
         "registered_name": "tf_lattice>CalibratorWrinkle"})
    assert regularizer.get_config() == config
    outputs = np.random.default_rng(4).normal(size=(2, 3))
    np.testing.assert_allclose(
        regularizer(outputs),
        oracle.calibrator_penalty(outputs, np.array(config["keypoints"]), 3, 0.0, 1.0),
        rtol=1e-12)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="l1"):
        regularizers.CalibratorLaplacian(l1=-1.0)
    with pytest.raises(ValueError, match="l2"):
        regularizers.LatticeLaplacian([2, 2, 2], l2=[1.0, 1.0])
    with pytest.raises(ValueError, match="l1"):
        regularizers.LatticeTorsion([2, 2, 2], l1=[1.0])
    with pytest.raises(ValueError, match="lattice_sizes"):
        regularizers.LatticeTorsion([2, 0], l1=1.0)
    with pytest.raises(ValueError, match="keypoints"):
        regularizers.CalibratorHessian(l2=1.0, keypoints=[0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="regularizers"):
        regularizers.RegularizerSum([])


def test_pure_modules_do_not_import_keras():
    """No module-level Keras import outside keras.py (the package imports it lazily)."""
    package = pathlib.Path(regularizers.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "keras.py":
            continue
        imported = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
                if node.module == "tf_lattice.regularizers":
                    imported.update(alias.name for alias in node.names)
        assert "keras" not in imported, path.name


def test_numpy_scalar_amounts_serialize_as_floats():
    regularizer = regularizers.LatticeTorsion([2, 2], l2=np.float32(0.5))
    config = regularizer.get_config()
    assert config["l2"] == 0.5 and type(config["l2"]) is float
