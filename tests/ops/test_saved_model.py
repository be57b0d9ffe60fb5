"""A SavedModel that keeps the kernels round-trips once the library is loaded."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tf_lattice import ops
from tf_lattice._native import library_path

pytestmark = pytest.mark.skipif(library_path() is None, reason="kernels not built")

LATTICE_SIZES = [3, 2]


class _Calibrated(tf.Module):
    """Calibrates two inputs and interpolates a 3x2 lattice, on the kernels."""

    def __init__(self):
        super().__init__()
        self.keypoints = tf.Variable([[0.0, 0.5, 1.0], [0.0, 0.25, 1.0]])
        self.outputs = tf.Variable([[0.0, 1.5, 2.0], [0.0, 0.7, 1.0]])
        self.params = tf.Variable([[0.0, 1.0, 2.0, 3.5, 4.0, 6.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x):
        calibrated = ops.pwl_calibration(x, self.keypoints, self.outputs)
        return ops.lattice_interpolation(calibrated, self.params, LATTICE_SIZES)


def _run(script):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _saved_graph_bytes(path):
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        return handle.read()


def test_kernel_saved_model_round_trips_with_the_library_loaded(tmp_path):
    module = _Calibrated()
    x = np.random.default_rng(0).uniform(-0.2, 1.2, (16, 2)).astype(np.float32)
    expected = module(x).numpy()
    path = str(tmp_path / "kernels")
    tf.saved_model.save(module, path, signatures=module.__call__)
    np.save(tmp_path / "x.npy", x)

    graph = _saved_graph_bytes(path)
    assert b"TfLattice>PwlCalibration" in graph and b"TfLattice>LatticeInterpolation" in graph
    result = _run(f"""
        import numpy as np, tensorflow as tf
        from tf_lattice._native import load_ops
        load_ops()
        restored = tf.saved_model.load({path!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        print(repr(restored(x).numpy().tolist()))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    got = np.array(eval(result.stdout.strip().splitlines()[-1]), np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_kernel_saved_model_without_the_library_names_the_missing_op(tmp_path):
    module = _Calibrated()
    path = str(tmp_path / "kernels")
    tf.saved_model.save(module, path, signatures=module.__call__)
    result = _run(f"""
        import tensorflow as tf
        tf.saved_model.load({path!r})
    """)
    assert result.returncode != 0
    assert "TfLattice>" in result.stderr
