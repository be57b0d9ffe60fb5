"""The runner side of `_tfl_env.run_runner` (runs in the TFL environment).

A TensorFlow Lattice runner reads one JSON request on stdin, sets
TensorFlow's thread pools to ``request["threads"]``, runs the request and
prints one JSON object ``{"versions": {...}, "results": {...}}`` on the last
line of stdout; progress lines on stderr start with ``tfl ``. `serve` does
all of it but the running, which each runner passes in. Imports only the
standard library at import time (TensorFlow when `serve` runs), never
``tf_lattice``.
"""

import json
import sys
import traceback


def premade_modules():
    """``(tensorflow, tf_keras, tensorflow_lattice, premade_lib)``, for the
    runners of TFL's premade models."""
    import tensorflow as tf
    import tf_keras as keras
    import tensorflow_lattice as tfl
    from tensorflow_lattice.python import premade_lib

    return tf, keras, tfl, premade_lib


def tfl_versions(tf):
    """The versions of TensorFlow and TensorFlow Lattice."""
    from importlib import metadata

    return {"tensorflow": tf.__version__,
            "tensorflow-lattice": metadata.version("tensorflow-lattice")}


def progress(line):
    """Writes one ``tfl `` progress line to stderr."""
    print(f"tfl {line}", file=sys.stderr, flush=True)


def failure(error, limit=500):
    """The result of an item that raised ``error``: ``{"error": "Type:
    message"}`` (cut to ``limit`` characters; None keeps all), after the
    traceback on stderr. One item's failure is reported, not fatal."""
    traceback.print_exc(file=sys.stderr)
    return {"error": f"{type(error).__name__}: {error}"[:limit]}


def serve(run, modules=premade_modules, versions=tfl_versions):
    """Answers the request on stdin.

    Args:
      run: ``run(request, *modules()) -> results``, a JSON-serialisable dict.
      modules: imports what ``run`` needs; returns a tuple whose first item
        is the ``tensorflow`` module. Called before the thread pools are set.
      versions: ``versions(tf) -> dict`` of the versions reported.
    """
    request = json.loads(sys.stdin.read())
    loaded = modules()
    tf = loaded[0]
    threads = request.get("threads")
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    results = run(request, *loaded)
    print(json.dumps({"versions": versions(tf), "results": results}))
