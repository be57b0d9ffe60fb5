"""Trains TensorFlow Lattice 2.1.1's premade models for ``quality.py`` (runs in the TFL environment).

Imports ``tensorflow_lattice``, never ``tf_lattice``. Reads a JSON request on
stdin::

    {"threads": int, "jobs": [{"name": str, "task": "classification"|"regression",
      "data_path": str, "save_dir": str, "features": [...], "models": [...],
      "settings": {...}}]}

with ``features``, ``models`` and ``settings`` as in
``_tfl_estimator_runner.py`` (whose training loop this reuses). A
classification job trains the logit with the binary cross-entropy; a
regression job trains on the label as given (the caller standardizes it) with
the mean squared error. Test and probe outputs are saved as
``<save_dir>/<model>__test.npy`` and ``<model>__probe__<probed>.npy``. The
last stdout line is one JSON object ``{"versions": {...}, "results": {job:
{model: {"fit_seconds": float} or {"error": str}}}}``; progress lines on
stderr start with ``tfl ``.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tfl_estimator_runner import run_job  # noqa: E402
from _tfl_serve import serve  # noqa: E402


def run(request, tf, keras, tfl, premade_lib):
    return {job["name"]: run_job(tf, keras, tfl, premade_lib, job, task=job["task"],
                                 clear_session=True)
            for job in request["jobs"]}


if __name__ == "__main__":
    serve(run)
