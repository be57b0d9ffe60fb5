"""Export: portable SavedModels serve without tf_lattice."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tf_lattice
from tf_lattice import models
from tf_lattice.layers import _common
from tf_lattice.saved_model import custom_ops, portable_clone

SERVE_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
inputs = {k: tf.constant(np.asarray(v, np.float32)) for k, v in json.loads(sys.argv[2]).items()}
outputs = loaded.signatures["serving_default"](**inputs)
assert not any(name.startswith("tf_lattice") for name in sys.modules), "tf_lattice was imported"
print(json.dumps({k: v.numpy().tolist() for k, v in outputs.items()}))
"""


def _model(implementation="kernel"):
    features = (
        models.FeatureConfig("a", keypoints=np.linspace(0, 1, 5), monotonicity="increasing", lattice_size=3),
        models.FeatureConfig("b", keypoints=np.linspace(0, 1, 4), monotonicity="decreasing"),
        models.FeatureConfig("c", num_buckets=3, category_order=((0, 2),)),
    )
    return models.calibrated_lattice(models.CalibratedLatticeConfig(features, implementation=implementation))


def _data(n=64):
    rng = np.random.default_rng(0)
    return {"a": rng.uniform(0, 1, (n, 1)).astype("float32"), "b": rng.uniform(0, 1, (n, 1)).astype("float32"),
            "c": rng.integers(0, 4, (n, 1)).astype("float32")}


def test_portable_clone_matches_and_uses_portable_layers():
    model = _model("portable")
    clone = portable_clone(model)
    x = _data()
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert all(getattr(layer, "implementation", "portable") == "portable" for layer in clone.layers)


def test_portable_export_serves_in_a_process_without_tf_lattice(tmp_path):
    model = _model("kernel")
    x = _data(8)
    y = np.asarray(keras.ops.convert_to_numpy(portable_clone(model)(x)))
    path = tf_lattice.export(model, os.path.join(tmp_path, "saved"))
    assert custom_ops(path) == []
    payload = json.dumps({k: v.tolist() for k, v in x.items()})
    result = subprocess.run([sys.executable, "-c", SERVE_SCRIPT, path, payload], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    served = np.asarray(next(iter(outputs.values())))
    np.testing.assert_allclose(served, y, rtol=1e-5, atol=1e-6)


def test_export_is_a_plain_top_level_function():
    import importlib
    import types

    saved_model = importlib.import_module("tf_lattice.saved_model")
    assert isinstance(tf_lattice.export, types.FunctionType)
    assert tf_lattice.export is saved_model.export and tf_lattice.export.__doc__


ONNX_SCRIPT = r"""
import json, subprocess, sys
import numpy as np
import onnxruntime

saved, target, feeds = sys.argv[1], sys.argv[2], json.loads(open(sys.argv[3]).read())
subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved, "--output", target],
               check=True, capture_output=True)
session = onnxruntime.InferenceSession(target, providers=["CPUExecutionProvider"])
outputs = session.run(None, {name: np.array(v, np.float32) for name, v in feeds.items()})
print(json.dumps(outputs[0].tolist()))
"""


def test_onnx_runs_a_deep_lattice_network_on_nan_and_infinite_inputs(tmp_path):
    """tf2onnx turns most selects (``tf.where``) into ``c * a + (1 - c) * b``,
    where a NaN or infinite discarded branch gives NaN: the portable ops keep
    discarded branches finite, so onnxruntime agrees with TensorFlow (the
    learned missing-value output for NaN inputs, flat extrapolation for
    infinite ones)."""
    pytest.importorskip("tf2onnx", reason="tf2onnx is not installed (make test installs it)")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (make test installs it)")
    features = tuple(models.FeatureConfig(name, keypoints=np.linspace(0, 1, 6), monotonicity="increasing",
                                          lattice_size=3) for name in "abc")
    model = models.deep_lattice_network(models.DeepLatticeNetworkConfig(features))
    x = {name: np.random.default_rng(i).uniform(-0.5, 1.5, (40, 1)).astype("float32")
         for i, name in enumerate("abc")}
    x["a"][::5], x["b"][1::6], x["c"][2::7] = np.nan, np.inf, -np.inf
    expected = np.asarray(keras.ops.convert_to_numpy(portable_clone(model)(x)))
    assert np.all(np.isfinite(expected))
    path = tf_lattice.export(model, str(tmp_path / "saved"))
    feeds = tmp_path / "feeds.json"
    feeds.write_text(json.dumps({name: value.tolist() for name, value in x.items()}))
    result = subprocess.run([sys.executable, "-c", ONNX_SCRIPT, path, str(tmp_path / "model.onnx"),
                             str(feeds)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.asarray(json.loads(result.stdout.strip().splitlines()[-1]), np.float64)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


def _sets_model():
    """Sets of 4 elements of 3 columns -> Aggregation of an element model
    ParallelCombination (kernel calibrators) -> KroneckerFactoredLattice,
    plus a Lattice over the set mean: layers with and without kernels."""
    inputs = keras.Input((3,))
    combined = tf_lattice.layers.ParallelCombination([
        tf_lattice.layers.PWLCalibration(np.linspace(0, 1, 4), monotonicity="increasing", output_min=0,
                                         output_max=2, implementation="kernel"),
        tf_lattice.layers.PWLCalibration(np.linspace(0, 1, 3), output_min=0, output_max=2,
                                         implementation="kernel"),
        tf_lattice.layers.CategoricalCalibration(3, output_min=0, output_max=2, implementation="kernel")])(inputs)
    element = keras.Model(inputs, tf_lattice.layers.KroneckerFactoredLattice(
        3, num_terms=2, monotonicities=["increasing", "none", "none"], seed=3)(combined))
    sets = keras.Input((4, 3))
    mean = tf_lattice.layers.Aggregation(element)(sets)
    outputs = tf_lattice.layers.Lattice([2], output_min=0, output_max=1, implementation="kernel")(mean)
    return keras.Model(sets, outputs)


def _sets(n=6):
    rng = np.random.default_rng(1)
    return np.concatenate([rng.uniform(0, 1, (n, 4, 2)), rng.integers(0, 3, (n, 4, 1))],
                          axis=-1).astype("float32")


def test_portable_clone_of_layers_without_kernels_switches_only_the_kernel_layers():
    model = _sets_model()
    clone = portable_clone(model)
    x = _sets()
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    names = set()
    for layer in clone._flatten_layers():
        names.add(type(layer).__name__)
        if isinstance(layer, _common.LatticeLayer):
            takes = isinstance(layer, _common.KernelLayer)
            assert hasattr(layer, "implementation") == takes, layer.name
            assert not takes or layer.implementation == "portable", layer.name
    assert {"Aggregation", "ParallelCombination", "KroneckerFactoredLattice", "PWLCalibration",
            "CategoricalCalibration", "Lattice"} <= names


def test_portable_export_of_layers_without_kernels_uses_no_tf_lattice_op(tmp_path):
    import tensorflow as tf

    model = _sets_model()
    x = _sets()
    path = tf_lattice.export(model, os.path.join(tmp_path, "saved"))
    assert custom_ops(path) == []
    kept = tf_lattice.export(model, os.path.join(tmp_path, "kernels"), portable=False)
    assert custom_ops(kept), "the model runs no compiled kernel: the check above tests nothing"
    served = tf.saved_model.load(path).signatures["serving_default"](tf.constant(x))
    np.testing.assert_allclose(next(iter(served.values())).numpy(), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
