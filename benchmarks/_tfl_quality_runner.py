"""Trains TensorFlow Lattice 2.1.1's premade models for ``quality.py`` (runs in the TFL environment).

Imports ``tensorflow_lattice``, never ``tf_lattice``. Reads a JSON request on
stdin::

    {"threads": int, "jobs": [{"name": str, "task": "classification"|"regression",
      "data_path": str, "save_dir": str, "features": [...], "models": [...],
      "settings": {...}}]}

with ``features``, ``models`` and ``settings`` as in
``_tfl_estimator_runner.py`` (whose model building this reuses). A
classification job trains the logit with the binary cross-entropy; a
regression job trains on the label as given (the caller standardizes it) with
the mean squared error. Test and probe outputs are saved as
``<save_dir>/<model>__test.npy`` and ``<model>__probe__<probed>.npy``. The
last stdout line is one JSON object ``{"versions": {...}, "results": {job:
{model: {"fit_seconds": float} or {"error": str}}}}``; progress lines on
stderr start with ``tfl ``.
"""

import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tfl_estimator_runner import build_model, columns, predict  # noqa: E402


def loss_of(keras, task):
    if task == "classification":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def run_job(tf, keras, tfl, premade_lib, job):
    data = np.load(job["data_path"])
    features, settings = job["features"], job["settings"]
    labels = data["train_label"].astype(np.float32).reshape(-1, 1)
    train_inputs = columns(data, "train_", features)
    probed = sorted({key.split("__")[0][len("probe_"):] for key in data.files
                     if key.startswith("probe_")})
    results = {}
    for model in job["models"]:
        print(f"tfl {job['name']} {model['name']}", file=sys.stderr, flush=True)
        try:
            keras.utils.set_random_seed(settings["seed"])
            start = time.perf_counter()
            built = build_model(tf, keras, tfl, premade_lib, model, features, settings, data,
                                labels)
            built.compile(loss=loss_of(keras, job["task"]),
                          optimizer=keras.optimizers.Adam(settings["learning_rate"]))
            built.fit(train_inputs, labels, epochs=settings["epochs"],
                      batch_size=settings["batch_size"], verbose=0, shuffle=True)
            results[model["name"]] = {"fit_seconds": time.perf_counter() - start}
            stem = os.path.join(job["save_dir"], model["name"])
            np.save(f"{stem}__test.npy", predict(built, columns(data, "test_", features)))
            for name in probed:
                np.save(f"{stem}__probe__{name}.npy",
                        predict(built, columns(data, f"probe_{name}__", features)))
        except Exception as error:  # noqa: BLE001 - one model's failure is reported, not fatal
            traceback.print_exc(file=sys.stderr)
            results[model["name"]] = {"error": f"{type(error).__name__}: {error}"[:500]}
        keras.backend.clear_session()
    return results


def main():
    request = json.loads(sys.stdin.read())
    import tensorflow as tf
    import tf_keras as keras
    import tensorflow_lattice as tfl
    from tensorflow_lattice.python import premade_lib
    from importlib import metadata

    tf.config.threading.set_intra_op_parallelism_threads(request["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(request["threads"])
    results = {job["name"]: run_job(tf, keras, tfl, premade_lib, job) for job in request["jobs"]}
    versions = {"tensorflow": tf.__version__,
                "tensorflow-lattice": metadata.version("tensorflow-lattice")}
    print(json.dumps({"versions": versions, "results": results}))


if __name__ == "__main__":
    main()
