"""Times TensorFlow Lattice's lattice projection (runs in the TFL environment).

Imports ``tensorflow_lattice``, never ``tf_lattice``. Reads a JSON request on
stdin ``{"cases": [{"name", "sizes", "params_path"}], "iterations": int,
"repeats": int, "threads": int, "save_dir": str}``; for each case loads
``params [units, V]`` (float32) from ``params_path``, projects the kernel
``[V, units]`` with ``lattice_lib.project_by_dykstra`` (``iterations`` cycles)
followed by ``lattice_lib.finalize_constraints`` inside one ``tf.function`` (what
TFL's Lattice layer runs when it enforces its constraints), saves the result to
``<save_dir>/<name>.npy`` and prints one JSON object on the last stdout line:
``{"versions": {...}, "results": {name: {"median_seconds": float}}}``.
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tfl_serve import serve  # noqa: E402


def projection_modules():
    """``(tensorflow, lattice_lib)``."""
    import tensorflow as tf
    from tensorflow_lattice.python import lattice_lib

    return tf, lattice_lib


def run(request, tf, lattice_lib):
    results = {}
    for case in request["cases"]:
        sizes = case["sizes"]
        monotonicities = [1] * len(sizes)
        params = np.load(case["params_path"]).astype(np.float32)

        @tf.function
        def project(kernel, sizes=sizes, monotonicities=monotonicities):
            projected = lattice_lib.project_by_dykstra(
                kernel, sizes, monotonicities=monotonicities,
                num_iterations=request["iterations"])
            return lattice_lib.finalize_constraints(projected, sizes, monotonicities)

        kernel = tf.constant(params.T)
        out = project(kernel).numpy()
        times = []
        for _ in range(request["repeats"]):
            start = time.perf_counter()
            project(kernel).numpy()
            times.append(time.perf_counter() - start)
        np.save(os.path.join(request["save_dir"], case["name"] + ".npy"), out.T)
        results[case["name"]] = {"median_seconds": statistics.median(times)}
    return results


if __name__ == "__main__":
    serve(run, modules=projection_modules)
