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
from tf_lattice.export import custom_ops, portable_clone

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
        models.FeatureConfig("c", num_buckets=3, category_pairs=((0, 2),)),
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


def test_export_is_a_lazy_top_level_function():
    assert callable(tf_lattice.export)
    assert tf_lattice.export.__doc__
