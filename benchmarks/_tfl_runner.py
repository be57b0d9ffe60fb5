"""Times TensorFlow Lattice's Keras layers on the benchmark cases.

Runs inside the TensorFlow Lattice virtual environment (it imports
``tensorflow_lattice`` and never ``tf_lattice``). Reads a JSON request on
stdin::

    {"cases": [...], "seed": int, "threads": int, "timing": {...},
     "save_dir": str or null, "device": "cpu" or "gpu"}

and prints one JSON object on the last line of stdout::

    {"versions": {...}, "results": {case name: {"timing": {...}} or
     {"error": str}}}

When ``save_dir`` is given, the outputs and gradients of each case go to
``<save_dir>/<index>.npz`` (``outputs``, ``grad_inputs``, ``grad_params``,
with ``grad_params`` in tf_lattice's parameterisation) so that the caller can
check that both libraries compute the same function.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402
from _tfl_serve import failure, progress, serve  # noqa: E402


def layer_modules():
    """``(tensorflow, tensorflow_lattice)`` (fails early when TFL is absent)."""
    import tensorflow as tf
    import tensorflow_lattice

    return tf, tensorflow_lattice


def _versions(tf):
    from importlib import metadata

    versions = {"tensorflow": tf.__version__, "python": sys.version.split()[0],
                "numpy": np.__version__}
    for package in ("tensorflow-lattice", "tf-keras", "keras"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def build_layer(case, arrays):
    """Builds the TFL layer of ``case`` holding the case's parameters.

    Lattice kernels are ``[V, units]`` in row-major vertex order (the
    transpose of tf_lattice's ``params``). PWLCalibration kernels are
    ``[K, units]``: the first keypoint's output, then the differences of
    consecutive outputs (``outputs = cumsum(kernel)``).
    """
    import tensorflow_lattice as tfl

    if case["op"] == "lattice":
        layer = tfl.layers.Lattice(
            lattice_sizes=case["lattice_sizes"], units=case["units"],
            interpolation=case["interpolation"], dtype="float32")
        layer.build((None, len(case["lattice_sizes"])))
        layer.kernel.assign(arrays["params"].T)
    else:
        layer = tfl.layers.PWLCalibration(
            input_keypoints=arrays["keypoints"], units=case["units"], dtype="float32")
        layer.build((None, case["units"]))
        outputs = arrays["outputs"]
        heights = np.concatenate([outputs[:, :1], np.diff(outputs, axis=1)], axis=1)
        layer.kernel.assign(heights.T)
    return layer


def to_tf_lattice_params_grad(case, kernel_grad):
    """Converts the gradient wrt a TFL kernel to tf_lattice's parameters.

    For calibration ``o = cumsum(h)``, so ``dL/dh_i = sum_{j >= i} dL/do_j``
    and ``dL/do_j = dL/dh_j - dL/dh_{j+1}``.
    """
    grad = np.asarray(kernel_grad).T
    if case["op"] == "calibration":
        grad = grad - np.concatenate([grad[:, 1:], np.zeros_like(grad[:, :1])], axis=1)
    return grad


def run_case(case, seed, timing, save_path=None, device="cpu"):
    """Times forward + backward (inputs and kernel) of one case's layer."""
    import tensorflow as tf

    with tf.device(f"/{device}:0"):
        return _run_case_here(case, seed, timing, save_path)


def _run_case_here(case, seed, timing, save_path):
    import tensorflow as tf

    arrays = _cases.make_inputs(case, seed)
    layer = build_layer(case, arrays)
    inputs = tf.constant(arrays["inputs"])
    upstream = tf.constant(arrays["upstream"])

    @tf.function
    def step(x, cotangent):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * cotangent)
        grad_x, grad_kernel = tape.gradient(loss, [x, layer.kernel])
        return y, grad_x, grad_kernel

    def run():
        return [t.numpy() for t in step(inputs, upstream)]

    result = {"timing": _cases.time_callable(run, **timing)}
    if save_path:
        outputs, grad_inputs, grad_kernel = run()
        np.savez(save_path, outputs=outputs, grad_inputs=grad_inputs,
                 grad_params=to_tf_lattice_params_grad(case, grad_kernel))
    return result


def run(request, tf, tensorflow_lattice):
    results = {}
    for index, case in enumerate(request["cases"]):
        save_path = None
        if request.get("save_dir"):
            save_path = os.path.join(request["save_dir"], f"{index}.npz")
        try:
            results[case["name"]] = run_case(case, request["seed"], request["timing"], save_path,
                                             request.get("device", "cpu"))
        except Exception as error:  # noqa: BLE001  (reported, not fatal)
            results[case["name"]] = failure(error, limit=None)
        result = results[case["name"]]
        speed = (f"{case['batch'] / result['timing']['median_seconds']:.0f} ex/s"
                 if "timing" in result else result["error"])
        progress(f"{case['name']:32s} {speed}")
    return results


if __name__ == "__main__":
    serve(run, modules=layer_modules, versions=_versions)
