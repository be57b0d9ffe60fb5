"""Times TensorFlow Lattice 2.1.1's premade regressors (runs in the TFL environment).

Imports ``tensorflow_lattice``, never ``tf_lattice``. Reads a JSON request on
stdin::

    {"threads": int, "data_path": str, "fits": int,
     "features": [{"name", "kind": "numeric", "monotonicity"}],
     "models": [{"name", "kind": "linear"|"lattice"|"ensemble", "features": [names],
                 "lattice_size", "interpolation", "lattices": "random"|"rtl_layer",
                 "separate_calibrators": bool}],
     "settings": {"num_keypoints", "num_lattices", "lattice_rank", "epochs",
                  "batch_size", "learning_rate", "seed"}}

``data_path`` is an ``.npz`` with float32 ``train_<feature>`` columns and
``train_label``. Each model is built like `_tfl_estimator_runner` builds it
(quantile keypoints of the training column, the declared monotonicity;
output initialized to the label range) and fitted ``fits`` times, each time
from scratch, with Adam on the mean squared error (Keras ``fit``, shuffled
batches). A Keras callback reads the clock when the epochs start and after
every epoch (`_cases.epoch_throughput`). The last stdout line is one JSON
object ``{"versions": {...}, "results": {model: {"fits": [{"wall_seconds",
"cpu_seconds", "throughput": {...}}]} or {"error": str}}}``. Progress lines
on stderr start with ``tfl ``.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402
from _tfl_estimator_runner import build_model, columns  # noqa: E402
from _tfl_serve import failure, progress, serve  # noqa: E402


def epoch_clock(keras):
    """A Keras callback holding ``train_begin`` and ``epoch_ends`` readings."""

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.train_begin, self.epoch_ends = None, []

        def on_train_begin(self, logs=None):
            self.train_begin = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_ends.append(time.perf_counter())

    return EpochClock()


def fit_once(tf, keras, tfl, premade_lib, model, features, settings, data, labels):
    """Builds and fits one model from scratch; returns its times."""
    keras.utils.set_random_seed(settings["seed"])
    clock = epoch_clock(keras)
    start, cpu_start = time.perf_counter(), time.process_time()
    built = build_model(tf, keras, tfl, premade_lib, model, features, settings, data, labels)
    built.compile(loss=keras.losses.MeanSquaredError(),
                  optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    built.fit(columns(data, "train_", features), labels, epochs=settings["epochs"],
              batch_size=settings["batch_size"], verbose=0, shuffle=True, callbacks=[clock])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"wall_seconds": wall, "cpu_seconds": cpu,
            "throughput": _cases.epoch_throughput(clock.train_begin, clock.epoch_ends,
                                                  len(labels))}


def run(request, tf, keras, tfl, premade_lib):
    data = dict(np.load(request["data_path"]))
    labels = data["train_label"].astype(np.float32).reshape(-1, 1)
    results = {}
    for model in request["models"]:
        features = [f for f in request["features"] if f["name"] in model["features"]]
        settings = dict(request["settings"], lattice_size=model.get("lattice_size", 2),
                        output_initialization=[float(labels.min()), float(labels.max())])
        fits = []
        try:
            for index in range(request["fits"]):
                progress(f"{model['name']} fit {index + 1}")
                fits.append(fit_once(tf, keras, tfl, premade_lib, model, features, settings,
                                     data, labels))
            results[model["name"]] = {"fits": fits}
        except Exception as error:  # noqa: BLE001 - one model's failure is reported, not fatal
            results[model["name"]] = failure(error)
    return results


if __name__ == "__main__":
    serve(run)
