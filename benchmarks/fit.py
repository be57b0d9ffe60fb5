"""Fit time, training speed, memory and latency of tf_lattice's estimators.

Five sections, each run in one process run side by side with its
comparisons, so every ratio quoted compares numbers measured in the same run:

* ``heart``: UCI Heart split as in the README (``train_test_split(X, y,
  random_state=0)``): the README example ensemble and every estimator family
  with the demo's settings (``tf_lattice/demo.py``: default parameters, the
  demo's Heart constraints), each against scikit-learn's
  ``HistGradientBoostingClassifier`` with the same monotonic constraints.
  Targets: each fit under ``HEART_FIT_SECONDS`` and at most
  ``HEART_MAX_RATIO_TO_HGB`` times HGB's fit time.
* ``adult``: UCI Adult official split, the default ensemble of
  ``benchmarks/estimators.py`` against HGB and LightGBM (when installed).
  Targets: fit time <= HGB's (stretch: <= LightGBM's), AUC >=
  ``ADULT_MIN_AUC`` for the timed fit's seed and as the mean over the
  ``ADULT_SEEDS`` (one seed's AUC moves by about 0.0005 with the seed).
* ``tfl``: the same models with the same schedule as TensorFlow Lattice
  2.1.1's premade models on ``make_monotone_regression`` data (16 features,
  every one increasing): calibrated linear, calibrated lattice 2^8 and 3^8
  (the first 8 features), random and RTL ensembles of 16 rank-4 lattices;
  hypercube interpolation, ``TFL_NUM_KEYPOINTS`` quantile keypoints, shared
  calibrators, no regularization, Adam at 0.01, batch 256, a fixed number of
  epochs over every row (early stopping off: TFL's premade fit holds out no
  validation rows and scores none between epochs). Our side is the
  scikit-learn regressor; TFL's side runs in its own environment through
  ``_tfl_fit_runner.py``. Both read the clock when their
  epochs start and after every epoch; the training speed counts the epochs
  after the first (which holds the one-time tracing), see
  `_cases.epoch_throughput`. Target: ours at least ``TFL_MIN_SPEEDUP`` times
  TFL's examples per second in every case.
* ``scale``: a ``CalibratedLatticeEnsembleRegressor`` with 32 lattices on
  ``--rows`` rows of 16 features, in a subprocess: rows per second over the
  whole ``fit`` (its data preparation and every epoch), and the process's
  peak resident memory (``ru_maxrss``) against the raw float64 data. The
  data is generated in chunks into one array, so that generating it needs
  little beyond the data itself. Targets: >= ``SCALE_MIN_ROWS_PER_SECOND``
  rows/s; peak <= ``SCALE_MAX_MEMORY_RATIO`` x the raw size plus a constant,
  the peak of the same subprocess at ``SCALE_BASELINE_ROWS`` rows.
* ``predict``: single-row ``predict_proba`` latency of the README model
  (median of 50 calls after 5 warm-ups), target < ``PREDICT_MAX_SECONDS``;
  ``import tf_lattice.estimators`` against ``import tensorflow`` alone, each
  in a fresh interpreter (median of 3), target <= ``IMPORT_MAX_RATIO`` x.

Every fit is timed with ``time.perf_counter`` (wall) and
``time.process_time`` (CPU of every thread of the process), after the
imports; each model is fitted twice from scratch, and both fits are reported:
the first fit in the process includes tracing its training step. Targets are
judged on the first fit. Results go to ``benchmarks/results/fit.json`` and
``fit.md`` (with ``--quick``: small sizes, to a temporary directory unless
``--output-dir`` is given). Targets are reported, never asserted.

Usage::

    python benchmarks/fit.py [--quick] [--no-tfl] [--only heart,adult,tfl,scale,predict]
                             [--rows 1000000] [--threads 2] [--tfl-python PATH]
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import _cases, _report  # noqa: E402
from benchmarks import estimators as est  # noqa: E402
from benchmarks._tfl_env import ensure_tfl_environment, run_runner  # noqa: E402

TFL_FIT_RUNNER = os.path.join(REPO_ROOT, "benchmarks", "_tfl_fit_runner.py")
OUTPUT_DIR = _report.OUTPUT_DIR
SECTIONS = ("heart", "adult", "tfl", "scale", "predict")
SEED = 0
TF_LATTICE, BASELINE = est.TF_LATTICE, est.BASELINE

#: The README example's constraints (the demo's Heart models take the demo's).
README_MONOTONICITY = {"ca": "increasing", "thalach": "decreasing"}
README_CONVEXITY = {"oldpeak": "convex"}
README_MODEL = "README example ensemble (6 lattices, rank 3)"
HEART_FIT_SECONDS = 2.0
HEART_MAX_RATIO_TO_HGB = 3.0

ADULT_MIN_AUC = 0.920
#: Seeds (``random_state``) of the default ensemble's Adult AUC over seeds,
#: full and --quick; the first is the seed of the timed fits.
ADULT_SEEDS = {"full": (SEED, 1, 2, 3, 4), "quick": (SEED, 1)}
#: Training and test rows of Adult with --quick (a random subset of each).
QUICK_ADULT_ROWS = 2000

TFL_FEATURES = 16
TFL_LATTICE_FEATURES = 8
TFL_NUM_KEYPOINTS = 10
TFL_BATCH_SIZE = 256
TFL_LEARNING_RATE = 0.01
TFL_NUM_LATTICES = 16
TFL_LATTICE_RANK = 4
TFL_MIN_SPEEDUP = 5.0
#: ``(rows, epochs)`` of the TFL comparison, full and --quick. The speed is
#: measured over the epochs after the first: nine epochs of 78 steps per fit
#: (four gave our calibrated linear model a window of 0.15 s, short enough
#: for the machine's load to swing its ratio between 3.8x and 7.3x).
TFL_SIZES = {"full": (20_000, 10), "quick": (2_000, 3)}
TFL_CASES = (
    {"name": "calibrated linear, 16 features", "kind": "linear", "features": TFL_FEATURES},
    {"name": "calibrated lattice 2^8", "kind": "lattice", "features": TFL_LATTICE_FEATURES,
     "lattice_size": 2},
    {"name": "calibrated lattice 3^8", "kind": "lattice", "features": TFL_LATTICE_FEATURES,
     "lattice_size": 3},
    {"name": "random ensemble, 16 x 2^4", "kind": "ensemble", "features": TFL_FEATURES,
     "ensemble": "random"},
    {"name": "RTL ensemble, 16 x 2^4", "kind": "ensemble", "features": TFL_FEATURES,
     "ensemble": "rtl"},
)
TFL_ENSEMBLES = {"random": "random", "rtl": "rtl_layer"}

SCALE_FEATURES = 16
SCALE_LATTICES = 32
SCALE_ROWS = {"full": 1_000_000, "quick": 20_000}
SCALE_BASELINE_ROWS = 1_000
SCALE_CHUNK_ROWS = 100_000
SCALE_MIN_ROWS_PER_SECOND = 100_000
SCALE_MAX_MEMORY_RATIO = 1.5

PREDICT_CALLS = {"full": (5, 50), "quick": (2, 10)}
PREDICT_MAX_SECONDS = 0.005
IMPORT_REPEATS = {"full": 3, "quick": 1}
IMPORT_MAX_RATIO = 1.5

FITS = 2


# -- timing ----------------------------------------------------------------------

def timed(fn):
    """``(result, wall_seconds, cpu_seconds)`` of ``fn()``."""
    start, cpu_start = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu_start


def _error(error):
    return f"{type(error).__name__}: {error}"[:500]


def auc_of(model, X, y):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.asarray(model.predict_proba(X))[:, 1]))


def measure_classifier(factory, data, threads, fits=FITS):
    """Fits ``factory()`` ``fits`` times from scratch on ``data``.

    Args:
      factory: returns an unfitted classifier.
      data: ``(X_train, y_train, X_test, y_test)``.
      threads: BLAS / OpenMP threads (`threadpoolctl`).

    Returns:
      ``(result, last_model)``: ``result`` holds ``fits`` (per fit
      ``wall_seconds``, ``cpu_seconds``, ``auc``) and ``auc`` (the first
      fit's), or ``error``; the model is None after an error.
    """
    from threadpoolctl import threadpool_limits

    X_train, y_train, X_test, y_test = data
    runs, model = [], None
    try:
        for _ in range(fits):
            model = factory()
            with threadpool_limits(threads):
                _, wall, cpu = timed(lambda: model.fit(X_train, y_train))
            runs.append({"wall_seconds": wall, "cpu_seconds": cpu,
                         "auc": auc_of(model, X_test, y_test)})
    except Exception as error:  # noqa: BLE001 - one model's failure is reported, not fatal
        return {"error": _error(error), "fits": runs}, None
    return {"fits": runs, "auc": runs[0]["auc"]}, model


def first_wall(result):
    """The first fit's wall seconds, or None."""
    fits = (result or {}).get("fits") or []
    return fits[0]["wall_seconds"] if fits and "error" not in result else None


def ratio(a, b):
    return a / b if a is not None and b else None


# -- Heart -----------------------------------------------------------------------

def heart_data():
    """The README's split of UCI Heart: ``(X_train, y_train, X_test, y_test)``."""
    from sklearn.model_selection import train_test_split

    from tf_lattice.datasets import load_heart

    X, y = load_heart()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=SEED)
    return X_train, y_train, X_test, y_test


def readme_model():
    from tf_lattice.estimators import CalibratedLatticeEnsembleClassifier

    return CalibratedLatticeEnsembleClassifier(
        monotonicity=README_MONOTONICITY, convexity=README_CONVEXITY, num_lattices=6,
        lattice_rank=3, random_state=SEED, verbose=0)


def heart_models():
    """``(name, family, baseline name or None, factory)`` in run order."""
    from tf_lattice.demo import HEART_MONOTONICITY

    kind = est.default_ensemble_kind()
    readme_hgb = "HistGradientBoosting (README constraints)"
    demo_hgb = "HistGradientBoosting (demo constraints)"
    return [
        (README_MODEL, TF_LATTICE, readme_hgb, readme_model),
        (readme_hgb, BASELINE, None, lambda: est.hist_gradient_boosting(README_MONOTONICITY)),
        ("CalibratedLinear", TF_LATTICE, demo_hgb,
         lambda: est.ours("linear", HEART_MONOTONICITY)),
        ("CalibratedLattice", TF_LATTICE, demo_hgb,
         lambda: est.ours("lattice", HEART_MONOTONICITY)),
        (f"CalibratedLatticeEnsemble ({kind})", TF_LATTICE, demo_hgb,
         lambda: est.ours("ensemble", HEART_MONOTONICITY)),
        ("DeepLatticeNetwork", TF_LATTICE, demo_hgb, lambda: est.ours("dln", HEART_MONOTONICITY)),
        (demo_hgb, BASELINE, None, lambda: est.hist_gradient_boosting(HEART_MONOTONICITY)),
    ]


def run_heart(threads, log=print):
    """The Heart section; returns ``(section, fitted README model or None)``."""
    data = heart_data()
    models, readme = {}, None
    for name, family, baseline, factory in heart_models():
        result, model = measure_classifier(factory, data, threads)
        models[name] = {"family": family, "baseline": baseline, **result}
        if name == README_MODEL:
            readme = model
        log(f"heart {name}: {_brief(result)}")
    return {"split": "train_test_split(X, y, random_state=0)", "train_rows": len(data[0]),
            "test_rows": len(data[2]), "models": models}, readme


# -- Adult -----------------------------------------------------------------------

def adult_data(quick):
    split = est.dataset_splits("adult", quick)[1][0]
    data = [split["X_train"], split["y_train"], split["X_test"], split["y_test"]]
    if quick:
        rng = np.random.default_rng(SEED)
        for x, y in ((0, 1), (2, 3)):
            rows = np.sort(rng.choice(len(data[x]), QUICK_ADULT_ROWS, replace=False))
            data[x], data[y] = data[x].iloc[rows].reset_index(drop=True), data[y][rows]
    return tuple(data)


def seed_aucs(factory, data, seeds, threads):
    """``{seed: test AUC}`` of ``factory()`` fitted once with each
    ``random_state`` (`measure_classifier`); a failed fit raises RuntimeError."""
    aucs = {}
    for seed in seeds:
        result, _ = measure_classifier(lambda: factory().set_params(random_state=seed), data,
                                       threads, fits=1)
        if "error" in result:
            raise RuntimeError(f"seed {seed}: {result['error']}")
        aucs[str(seed)] = result["auc"]
    return aucs


def run_adult(quick, threads, log=print):
    data = adult_data(quick)
    monotonicity = est.MONOTONICITY["adult"]
    kind = est.default_ensemble_kind()
    contenders = [(f"CalibratedLatticeEnsemble ({kind})", TF_LATTICE,
                   lambda: est.ours("ensemble", monotonicity)),
                  ("HistGradientBoosting (monotonic_cst)", BASELINE,
                   lambda: est.hist_gradient_boosting(monotonicity))]
    lightgbm = est.lightgbm_available()
    if lightgbm:
        contenders.append(("LightGBM (monotone_constraints)", BASELINE,
                           lambda: est.lightgbm_model(monotonicity, list(data[0].columns),
                                                      threads)))
    else:
        log(f"WARNING: {est.LIGHTGBM_MISSING}")
    models = {}
    for name, family, factory in contenders:
        result, _ = measure_classifier(factory, data, threads)
        models[name] = {"family": family, **result}
        log(f"adult {name}: {_brief(result)}")
    ours = models[contenders[0][0]]
    if "error" not in ours:
        seeds = ADULT_SEEDS["quick" if quick else "full"]
        ours["seed_aucs"] = {str(seeds[0]): ours["auc"]}
        ours["seed_aucs"].update(seed_aucs(contenders[0][2], data, seeds[1:], threads))
        log(f"adult default ensemble AUC by seed: {ours['seed_aucs']}")
    return {"split": "official train/test split" + (
                f", {QUICK_ADULT_ROWS} random rows of each (--quick)" if quick else ""),
            "train_rows": len(data[0]), "test_rows": len(data[2]),
            "monotonicity": monotonicity, "lightgbm": lightgbm, "models": models}


# -- the TensorFlow Lattice comparison ------------------------------------------

class _EpochClock:
    """Stands in for the training loop's progress bar: reads the clock when
    the epochs start and after each epoch."""

    def __init__(self, *args, **kwargs):
        self.train_begin, self.epoch_ends = None, []

    def on_train_begin(self, logs=None):
        self.train_begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ends.append(time.perf_counter())

    def on_train_end(self, logs=None):
        pass


@contextlib.contextmanager
def epoch_clocks():
    """Yields a list that collects an `_EpochClock` per ``fit`` run inside.

    The estimators' training loop reports each epoch to its progress bar;
    the bar is replaced by the clock for the duration. The loop runs many
    epochs per traced call (``STEPS_PER_CALL`` steps), reporting them when
    the call returns; for the duration it runs one epoch per call, as TFL's
    Keras loop does, so that the clock reads after every epoch. That adds a
    call per epoch (a fraction of a millisecond each) to our side's times.
    When the loop offers no such hook the list stays empty.
    """
    from tf_lattice.estimators import _training

    clocks = []
    if not (hasattr(_training, "EpochProgress") and hasattr(_training, "progress_enabled")):
        yield clocks
        return

    def clock(*args, **kwargs):
        clocks.append(_EpochClock())
        return clocks[-1]

    saved = _training.EpochProgress, _training.progress_enabled
    saved_steps = getattr(_training, "STEPS_PER_CALL", None)
    _training.EpochProgress, _training.progress_enabled = clock, lambda *a, **k: True
    if saved_steps is not None:
        _training.STEPS_PER_CALL = 1
    try:
        yield clocks
    finally:
        _training.EpochProgress, _training.progress_enabled = saved
        if saved_steps is not None:
            _training.STEPS_PER_CALL = saved_steps


def tfl_case_regressor(case, epochs):
    """Our regressor configured like TFL's premade model of ``case``."""
    from tf_lattice import estimators

    common = dict(monotonicity={f"x{i}": "increasing" for i in range(case["features"])},
                  num_keypoints=TFL_NUM_KEYPOINTS, interpolation="hypercube",
                  calibration_hessian=0.0, early_stopping=False, epochs=epochs,
                  batch_size=TFL_BATCH_SIZE,
                  learning_rate=TFL_LEARNING_RATE, random_state=SEED, verbose=0)
    if case["kind"] == "linear":
        return estimators.CalibratedLinearRegressor(**common)
    if case["kind"] == "lattice":
        return estimators.CalibratedLatticeRegressor(lattice_size=case["lattice_size"], **common)
    return estimators.CalibratedLatticeEnsembleRegressor(
        num_lattices=TFL_NUM_LATTICES, lattice_rank=TFL_LATTICE_RANK, ensemble=case["ensemble"],
        **common)


def tfl_case_model(case):
    """TFL's premade model of ``case``, as `_tfl_fit_runner.py` takes it."""
    model = {"name": case["name"], "kind": case["kind"],
             "features": [f"x{i}" for i in range(case["features"])],
             "lattice_size": case.get("lattice_size", 2), "interpolation": "hypercube"}
    if case["kind"] == "ensemble":
        model.update(lattices=TFL_ENSEMBLES[case["ensemble"]], separate_calibrators=False)
    return model


def pooled_speed(fits):
    """Examples per second over the later epochs of every fit together."""
    spans = [f["throughput"] for f in fits if f.get("throughput")
             and f["throughput"]["later_epochs_seconds"]]
    if not spans:
        return None
    examples = sum(s["examples_per_epoch"] * (s["epochs"] - 1) for s in spans)
    return examples / sum(s["later_epochs_seconds"] for s in spans)


def run_ours_on_tfl_cases(X, y, epochs, threads, fits, cases=TFL_CASES, log=print):
    from threadpoolctl import threadpool_limits

    results = {}
    for case in cases:
        columns = [f"x{i}" for i in range(case["features"])]
        runs = []
        try:
            for _ in range(fits):
                model = tfl_case_regressor(case, epochs)
                with epoch_clocks() as clocks, threadpool_limits(threads):
                    _, wall, cpu = timed(lambda: model.fit(X[columns], y))
                run = {"wall_seconds": wall, "cpu_seconds": cpu, "throughput": None}
                if clocks and clocks[-1].epoch_ends:
                    run["throughput"] = _cases.epoch_throughput(
                        clocks[-1].train_begin, clocks[-1].epoch_ends,
                        (len(X) // TFL_BATCH_SIZE) * TFL_BATCH_SIZE)
                runs.append(run)
            results[case["name"]] = {"fits": runs, "examples_per_second": pooled_speed(runs)}
        except Exception as error:  # noqa: BLE001
            results[case["name"]] = {"error": _error(error), "fits": runs}
        log(f"tfl-case ours {case['name']}: {_brief(results[case['name']])}")
    return results


def run_tfl_cases(X, y, epochs, threads, fits, python, work_dir, cases=TFL_CASES, log=print):
    """TFL's side of ``cases``; returns ``(versions, {case name: result})``."""
    data_path = os.path.join(work_dir, "tfl_fit.npz")
    np.savez(data_path, train_label=np.asarray(y, np.float32),
             **{f"train_{c}": X[c].to_numpy(np.float32) for c in X.columns})
    request = {"threads": threads, "data_path": data_path, "fits": fits,
               "features": [{"name": c, "kind": "numeric", "monotonicity": "increasing"}
                            for c in X.columns],
               "models": [tfl_case_model(case) for case in cases],
               "settings": {"num_keypoints": TFL_NUM_KEYPOINTS, "num_lattices": TFL_NUM_LATTICES,
                            "lattice_rank": TFL_LATTICE_RANK, "epochs": epochs,
                            "batch_size": TFL_BATCH_SIZE, "learning_rate": TFL_LEARNING_RATE,
                            "seed": SEED}}
    answer = run_runner(python, TFL_FIT_RUNNER, request, log=log)
    results = {}
    for name, result in answer["results"].items():
        if "error" not in result:
            result["examples_per_second"] = pooled_speed(result["fits"])
        results[name] = result
    return answer["versions"], results


def run_tfl_section(quick, threads, tfl, tfl_python, log=print):
    """Our premade-model equivalents and TensorFlow Lattice's, case by case:
    each case's fits, ours then TFL's, run back to back so that both sides
    of its ratio see the same load on the machine."""
    from tf_lattice.datasets import make_monotone_regression

    rows, epochs = TFL_SIZES["quick" if quick else "full"]
    X, y = make_monotone_regression(n_samples=rows, n_features=TFL_FEATURES, random_state=SEED)
    section = {"rows": rows, "epochs": epochs, "batch_size": TFL_BATCH_SIZE,
               "num_keypoints": TFL_NUM_KEYPOINTS, "learning_rate": TFL_LEARNING_RATE,
               "interpolation": "hypercube", "fits": FITS, "tfl_status": "skipped",
               "tfl_versions": None, "ours": {}, "tfl": {}}
    python, tfl_running = tfl_python, tfl
    for case in TFL_CASES:
        section["ours"].update(run_ours_on_tfl_cases(X, y, epochs, threads, FITS, [case], log))
        if not tfl_running:
            continue
        try:
            python = python or ensure_tfl_environment(log=log)[0]
            with tempfile.TemporaryDirectory() as work_dir:
                section["tfl_versions"], results = run_tfl_cases(
                    X, y, epochs, threads, FITS, python, work_dir, [case], log)
            section["tfl"].update(results)
            section["tfl_status"] = "ok"
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
            # TFL's side stops at its first failure; ours runs every case.
            section["tfl_status"] = f"failed: {error}"[:2000]
            log(f"TensorFlow Lattice part failed: {error}")
            tfl_running = False
    for name, ours in section["ours"].items():
        theirs = section["tfl"].get(name, {})
        ours["speedup"] = ratio(ours.get("examples_per_second"),
                                theirs.get("examples_per_second"))
        ours["whole_fit_speedup"] = ratio(first_wall(theirs), first_wall(ours))
    return section


# -- scale -----------------------------------------------------------------------

def scale_data(rows, features=SCALE_FEATURES, chunk=SCALE_CHUNK_ROWS):
    """``make_monotone_regression`` rows generated chunk by chunk into one
    float64 array: ``(DataFrame over that array, y)``."""
    import pandas as pd

    from tf_lattice.datasets import make_monotone_regression

    values = np.empty((rows, features), np.float64)
    target = np.empty(rows, np.float64)
    for index, start in enumerate(range(0, rows, chunk)):
        stop = min(rows, start + chunk)
        X, y = make_monotone_regression(n_samples=stop - start, n_features=features,
                                        random_state=SEED + index)
        values[start:stop], target[start:stop] = X.to_numpy(), y.to_numpy()
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(features)], copy=False), target


def _status_bytes(key):
    """``VmRSS`` or ``VmHWM`` of this process from ``/proc/self/status``, or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Resets the process's ``VmHWM`` to its current resident size (Linux
    4.0+); returns whether it could."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def scale_worker(rows, threads):
    """Runs in a fresh process: generates the data, fits, prints JSON.

    Besides ``ru_maxrss`` (the peak of the whole process, imports included)
    it records the resident size just before ``fit`` and, where Linux lets
    the peak be reset there, the peak during ``fit`` alone.
    """
    import tensorflow as tf

    from tf_lattice.estimators import CalibratedLatticeEnsembleRegressor

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    (X, y), generate_seconds, _ = timed(lambda: scale_data(rows))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model = CalibratedLatticeEnsembleRegressor(
        num_lattices=SCALE_LATTICES, monotonicity={c: "increasing" for c in X.columns},
        random_state=SEED, verbose=0)
    rss_before = _status_bytes("VmRSS")
    reset = _reset_peak_rss()
    _, wall, cpu = timed(lambda: model.fit(X, y))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    fit_peak = _status_bytes("VmHWM") if reset else None
    print(json.dumps({"rows": rows, "generate_seconds": generate_seconds,
                      "fit_wall_seconds": wall, "fit_cpu_seconds": cpu,
                      "rows_per_second": rows / wall, "epochs": len(model.history_["loss"]),
                      "lattice_rank": len(model.lattices_[0]),
                      "peak_bytes_before_fit": before, "peak_bytes": peak,
                      "rss_bytes_before_fit": rss_before, "fit_peak_bytes": fit_peak,
                      "raw_bytes": rows * SCALE_FEATURES * 8}))


def _subprocess_env():
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=REPO_ROOT + (os.pathsep + path if path else ""))


def run_scale_worker(rows, threads):
    process = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--scale-worker", str(rows),
         "--threads", str(threads)], capture_output=True, text=True, env=_subprocess_env())
    if process.returncode != 0:
        raise RuntimeError(f"scale worker ({rows} rows) failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def run_scale(rows, threads, log=print):
    section = {"features": SCALE_FEATURES, "num_lattices": SCALE_LATTICES}
    try:
        baseline = run_scale_worker(SCALE_BASELINE_ROWS, threads)
        log(f"scale {SCALE_BASELINE_ROWS} rows: {baseline}")
        run = run_scale_worker(rows, threads)
        log(f"scale {rows} rows: {run}")
    except (RuntimeError, OSError, ValueError) as error:
        section["error"] = _error(error)
        return section
    limit = SCALE_MAX_MEMORY_RATIO * run["raw_bytes"] + baseline["peak_bytes"]
    section.update(baseline=baseline, run=run, constant_bytes=baseline["peak_bytes"],
                   memory_limit_bytes=limit,
                   peak_over_raw=run["peak_bytes"] / run["raw_bytes"],
                   peak_above_constant_over_raw=(run["peak_bytes"] - baseline["peak_bytes"])
                   / run["raw_bytes"],
                   fit_peak_above_resident_over_raw=(
                       (run["fit_peak_bytes"] - run["rss_bytes_before_fit"]) / run["raw_bytes"]
                       if run["fit_peak_bytes"] and run["rss_bytes_before_fit"] else None))
    return section


# -- predict and import ----------------------------------------------------------

def single_row_latency(model, row, warmup, calls):
    for _ in range(warmup):
        model.predict_proba(row)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        model.predict_proba(row)
        seconds.append(time.perf_counter() - start)
    return {"warmup": warmup, "calls": calls, "median_seconds": statistics.median(seconds),
            "seconds": seconds}


IMPORT_PROBE = ("import time\nstart = time.perf_counter()\nimport {module}\n"
                "print(time.perf_counter() - start)")


def import_seconds(module):
    """Seconds ``import module`` takes in a fresh interpreter (the import
    alone, timed inside it)."""
    process = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(module=module)],
                             capture_output=True, text=True, env=_subprocess_env())
    if process.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{process.stderr[-2000:]}")
    return float(process.stdout.strip().splitlines()[-1])


def run_predict(quick, threads, readme, log=print):
    size = "quick" if quick else "full"
    section = {}
    try:
        X_train, y_train, X_test, _ = heart_data()
        if readme is None:
            readme = readme_model().fit(X_train, y_train)
        warmup, calls = PREDICT_CALLS[size]
        section["predict_proba"] = single_row_latency(readme, X_test.iloc[[0]], warmup, calls)
    except Exception as error:  # noqa: BLE001
        section["predict_proba"] = {"error": _error(error)}
    times = {"tensorflow": [], "tf_lattice.estimators": []}
    try:
        for _ in range(IMPORT_REPEATS[size]):
            for module in times:
                times[module].append(import_seconds(module))
        section["import"] = {module: {"median_seconds": statistics.median(values),
                                      "seconds": values} for module, values in times.items()}
        section["import"]["ratio"] = (section["import"]["tf_lattice.estimators"]["median_seconds"]
                                      / section["import"]["tensorflow"]["median_seconds"])
    except (RuntimeError, OSError, ValueError) as error:
        section["import"] = {"error": _error(error)}
    log(f"predict: {section.get('predict_proba', {}).get('median_seconds')} s, "
        f"import ratio {section['import'].get('ratio')}")
    return section


# -- targets and report ----------------------------------------------------------

def _status(value, ok):
    return "n/a" if value is None else "met" if ok else "missed"


def _target(name, value, status):
    return {"name": name, "value": value, "status": status}


def _seconds(value):
    return "-" if value is None else f"{value:.2f} s"


def target_status(report):
    """Every target of the run's sections: ``{"name", "value", "status"}``
    with status "met", "missed" or "n/a"."""
    targets = []
    sections = report["sections"]
    heart = sections.get("heart")
    if heart:
        for name, model in heart["models"].items():
            if model["family"] != TF_LATTICE:
                continue
            ours, hgb = first_wall(model), first_wall(heart["models"].get(model["baseline"]))
            repeated = model["fits"][1]["wall_seconds"] if len(model.get("fits", [])) > 1 else None
            targets.append(_target(
                f"Heart {name}: fit < {HEART_FIT_SECONDS:g} s",
                f"{_seconds(ours)} (repeated fit {_seconds(repeated)})",
                _status(ours, ours is not None and ours < HEART_FIT_SECONDS)))
            r = ratio(ours, hgb)
            targets.append(_target(
                f"Heart {name}: fit <= {HEART_MAX_RATIO_TO_HGB:g}x HGB's",
                "-" if r is None else f"{r:.1f}x ({_seconds(ours)} vs {_seconds(hgb)})",
                _status(r, r is not None and r <= HEART_MAX_RATIO_TO_HGB)))
    adult = sections.get("adult")
    if adult:
        models = adult["models"]
        name = next((n for n, m in models.items() if m["family"] == TF_LATTICE), None)
        ours = first_wall(models.get(name))
        for baseline, label in (("HistGradientBoosting (monotonic_cst)", "HGB's"),
                                ("LightGBM (monotone_constraints)", "LightGBM's (stretch)")):
            theirs = first_wall(models.get(baseline))
            r = ratio(ours, theirs)
            targets.append(_target(
                f"Adult default ensemble: fit <= {label}",
                "not run" if r is None else f"{_seconds(ours)} vs {_seconds(theirs)} ({r:.1f}x)",
                _status(r, r is not None and r <= 1.0)))
        auc = models.get(name, {}).get("auc")
        targets.append(_target(f"Adult default ensemble: AUC >= {ADULT_MIN_AUC:.3f}",
                               "-" if auc is None else f"{auc:.4f} (seed {SEED}, the timed fit)",
                               _status(auc, auc is not None and auc >= ADULT_MIN_AUC)))
        by_seed = models.get(name, {}).get("seed_aucs")
        if by_seed:
            mean, spread = _report.mean_and_standard_error(by_seed.values())
            targets.append(_target(
                f"Adult default ensemble: mean AUC over {len(by_seed)} seeds >= "
                f"{ADULT_MIN_AUC:.3f}", f"{mean:.4f} ± {spread:.4f} (seeds "
                + ", ".join(f"{seed}: {a:.4f}" for seed, a in by_seed.items()) + ")",
                _status(mean, mean >= ADULT_MIN_AUC)))
    tfl = sections.get("tfl")
    if tfl:
        speedups = {name: r["speedup"] for name, r in tfl["ours"].items()}
        measured = [s for s in speedups.values() if s is not None]
        value = ", ".join(f"{name} {s:.1f}x" if s is not None else f"{name} -"
                          for name, s in speedups.items())
        complete = len(measured) == len(speedups)
        targets.append(_target(
            f"same model as TFL: ours >= {TFL_MIN_SPEEDUP:g}x TFL's examples/s in every case",
            value if measured else f"TFL {tfl['tfl_status']}",
            "n/a" if not measured else "missed" if min(measured) < TFL_MIN_SPEEDUP
            else "met" if complete else "n/a"))
    scale = sections.get("scale")
    if scale:
        run = scale.get("run")
        speed = run["rows_per_second"] if run else None
        targets.append(_target(
            f"scale: >= {SCALE_MIN_ROWS_PER_SECOND:,} rows/s end to end",
            f"{speed:,.0f} rows/s at {run['rows']:,} rows" if run else scale.get("error", "-"),
            _status(speed, speed is not None and speed >= SCALE_MIN_ROWS_PER_SECOND)))
        targets.append(_target(
            f"scale: peak memory <= {SCALE_MAX_MEMORY_RATIO:g}x raw float64 + constant",
            (f"{_mib(run['peak_bytes'])} vs limit {_mib(scale['memory_limit_bytes'])} "
             f"(raw {_mib(run['raw_bytes'])}, constant {_mib(scale['constant_bytes'])})")
            if run else "-",
            _status(run, run is not None
                    and run["peak_bytes"] <= scale["memory_limit_bytes"])))
    predict = sections.get("predict")
    if predict:
        latency = predict.get("predict_proba", {}).get("median_seconds")
        targets.append(_target(
            f"single-row predict_proba < {PREDICT_MAX_SECONDS * 1e3:g} ms (README model)",
            "-" if latency is None else f"{latency * 1e3:.2f} ms",
            _status(latency, latency is not None and latency < PREDICT_MAX_SECONDS)))
        imports = predict.get("import", {})
        r = imports.get("ratio")
        targets.append(_target(
            f"import tf_lattice.estimators <= {IMPORT_MAX_RATIO:g}x import tensorflow",
            "-" if r is None else
            f"{r:.2f}x ({_seconds(imports['tf_lattice.estimators']['median_seconds'])} vs "
            f"{_seconds(imports['tensorflow']['median_seconds'])})",
            _status(r, r is not None and r <= IMPORT_MAX_RATIO)))
    return targets


def _versions_text(versions):
    return ", ".join(f"{name} {version}" for name, version in (versions or {}).items())


def _mib(value):
    return f"{value / 2**20:,.0f} MiB"


def _fit_cell(result, index):
    fits = result.get("fits") or []
    if len(fits) <= index:
        return "-"
    return f"{fits[index]['wall_seconds']:.2f} ({fits[index]['cpu_seconds']:.2f})"


def _ratio_cell(value):
    return "-" if value is None else f"{value:.1f}x"


def _speed_cell(value):
    if value is None:
        return "-"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k"


def _classifier_table(models, baselines):
    """Rows of one classifier table; ``baselines(name, model)`` gives the
    ``(label, baseline result)`` pairs to quote ratios against."""
    lines = ["| model | first fit s (CPU s) | repeated fit s (CPU s) | fit time vs | test AUC |",
             "|---|---|---|---|---|"]
    for name, model in models.items():
        if "error" in model:
            lines.append(f"| {name} | failed: {model['error'][:80]} | - | - | - |")
            continue
        ratios = [f"{label} {ratio(first_wall(model), first_wall(base)):.1f}x"
                  for label, base in baselines(name, model) if first_wall(base)]
        lines.append(f"| {name} | {_fit_cell(model, 0)} | {_fit_cell(model, 1)} | "
                     f"{', '.join(ratios) or '-'} | {model['auc']:.4f} |")
    return lines


def markdown(report):
    """The report as Markdown: one table per section, then the targets."""
    machine = report["machine"]
    lines = ["# Fit benchmark", "",
             f"{report['date']}, {machine.get('cpu_model')}, {report['threads']} threads "
             f"(load average {machine['load_average'][0]:.1f} at the start, "
             f"{machine['load_average_end'][0]:.1f} at the end); tf_lattice "
             f"{report['versions']['tf_lattice']}, TensorFlow {report['versions']['tensorflow']}, "
             f"scikit-learn {report['versions']['scikit-learn']}, LightGBM "
             f"{report['versions']['lightgbm'] or 'not installed'}."
             + (" **Quick run: reduced sizes, the targets do not apply.**" if report["quick"]
                else ""), "",
             "Fit times are wall seconds (`perf_counter`) with the process's CPU seconds in "
             "brackets; each model is fitted twice from scratch in one process after the "
             "imports (the first fit includes tracing). Targets are judged on the first fit."]
    sections = report["sections"]
    if "heart" in sections:
        heart = sections["heart"]
        models = heart["models"]
        lines += ["", f"## Heart ({heart['split']}: {heart['train_rows']} training, "
                      f"{heart['test_rows']} test rows)", ""]
        lines += _classifier_table(
            models, lambda name, m: [("HGB", models.get(m["baseline"]))] if m["baseline"] else [])
    if "adult" in sections:
        adult = sections["adult"]
        models = adult["models"]
        lines += ["", f"## Adult ({adult['split']}: {adult['train_rows']} training, "
                      f"{adult['test_rows']} test rows)", ""]
        lines += _classifier_table(models, lambda name, m: [
            (label, models.get(base)) for label, base in
            (("HGB", "HistGradientBoosting (monotonic_cst)"),
             ("LightGBM", "LightGBM (monotone_constraints)"))
            if m["family"] == TF_LATTICE])
    if "tfl" in sections:
        tfl = sections["tfl"]
        lines += ["", f"## Same models as TensorFlow Lattice's premade models "
                      f"({tfl['rows']:,} rows, {tfl['epochs']} epochs, batch {tfl['batch_size']}, "
                      f"{tfl['num_keypoints']} keypoints)", "",
                  "TensorFlow Lattice: "
                  f"{_versions_text(tfl['tfl_versions']) or tfl['tfl_status']}. Training speed: "
                  "examples per second over epochs 2 to the last (the first holds the "
                  f"tracing), pooled over the {tfl['fits']} fits; each case's fits, ours then "
                  "TFL's, run back to back. Whole fit: the first fit's wall seconds, set-up and "
                  "tracing included.", "",
                  "| model | ours examples/s | TFL examples/s | ours/TFL | ours whole fit s | "
                  "TFL whole fit s | whole fit TFL/ours |", "|---|---|---|---|---|---|---|"]
        for name, ours in tfl["ours"].items():
            theirs = tfl["tfl"].get(name, {})
            if "error" in ours or "error" in theirs:
                failed = ours.get("error") or f"TFL: {theirs['error']}"
                lines.append(f"| {name} | failed: {failed[:80]} | - | - | - | - | - |")
                continue
            lines.append(
                f"| {name} | {_speed_cell(ours['examples_per_second'])} | "
                f"{_speed_cell(theirs.get('examples_per_second'))} | "
                f"{_ratio_cell(ours['speedup'])} | {_seconds(first_wall(ours))} | "
                f"{_seconds(first_wall(theirs))} | {_ratio_cell(ours['whole_fit_speedup'])} |")
    if "scale" in sections:
        scale = sections["scale"]
        lines += ["", f"## Scale ({scale['features']} features, {scale['num_lattices']}-lattice "
                      "ensemble regressor, default schedule, in a subprocess)", ""]
        if "error" in scale:
            lines.append(f"Failed: {scale['error']}")
        else:
            lines += ["| rows | epochs | fit s (CPU s) | rows/s | peak memory | raw float64 | "
                      "resident before fit | fit's own peak above it / raw |",
                      "|---|---|---|---|---|---|---|---|"]
            for run in (scale["baseline"], scale["run"]):
                rss, fit_peak = run.get("rss_bytes_before_fit"), run.get("fit_peak_bytes")
                extra = ("-" if rss is None or fit_peak is None
                         else f"{(fit_peak - rss) / run['raw_bytes']:.2f}")
                lines.append(
                    f"| {run['rows']:,} | {run['epochs']} | {run['fit_wall_seconds']:.2f} "
                    f"({run['fit_cpu_seconds']:.2f}) | {run['rows_per_second']:,.0f} | "
                    f"{_mib(run['peak_bytes'])} | {_mib(run['raw_bytes'])} | "
                    f"{'-' if rss is None else _mib(rss)} | {extra} |")
            lines += ["", "Peak memory: `ru_maxrss`, the whole process (interpreter, "
                          "TensorFlow, data, fit); the target's constant is that peak at "
                          f"{SCALE_BASELINE_ROWS:,} rows ({_mib(scale['constant_bytes'])}). "
                          "The fit's own peak is `VmHWM`, reset just before `fit`. Generating "
                          f"the data took {scale['run']['generate_seconds']:.1f} s (not "
                          "counted)."]
    if "predict" in sections:
        predict = sections["predict"]
        latency, imports = predict.get("predict_proba", {}), predict.get("import", {})
        lines += ["", "## Prediction latency and import time", "",
                  "| measure | value |", "|---|---|"]
        if "median_seconds" in latency:
            lines.append(f"| single-row predict_proba, README model (median of "
                         f"{latency['calls']} after {latency['warmup']} warm-ups) | "
                         f"{latency['median_seconds'] * 1e3:.2f} ms |")
        if "ratio" in imports:
            count = len(imports["tensorflow"]["seconds"])
            for module in ("tensorflow", "tf_lattice.estimators"):
                lines.append(f"| import {module} (fresh interpreter, median of {count}) | "
                             f"{imports[module]['median_seconds']:.2f} s |")
    lines += ["", "## Targets", "", "| target | value | status |", "|---|---|---|"]
    lines += [f"| {t['name']} | {t['value']} | {t['status']} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"


def _brief(result):
    if "error" in result:
        return result["error"]
    walls = ", ".join(f"{f['wall_seconds']:.2f}" for f in result.get("fits", []))
    auc = result.get("auc")
    return f"fits {walls} s" + (f", AUC {auc:.4f}" if auc is not None else "")


# -- main ------------------------------------------------------------------------

def _versions():
    from importlib import metadata

    import tensorflow as tf

    import tf_lattice

    lightgbm = metadata.version("lightgbm") if est.lightgbm_available() else None
    return {"tf_lattice": tf_lattice.__version__, "tensorflow": tf.__version__,
            "scikit-learn": metadata.version("scikit-learn"), "numpy": np.__version__,
            "lightgbm": lightgbm, "python": sys.version.split()[0]}


def run_benchmark(sections=SECTIONS, *, quick=False, tfl=True, rows=None, threads=2,
                  tfl_python=None, log=print):
    """Runs the chosen sections; returns the report (targets included)."""
    from benchmarks.ops import machine_info

    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    import tensorflow as tf

    try:
        _report.configure_threads(threads)
    except RuntimeError as error:  # TensorFlow already ran in this process (e.g. under pytest)
        log(f"WARNING: TensorFlow's thread pools are already set up, kept as they are: {error}")
    import tf_lattice.estimators  # noqa: F401 - imports before any timing

    size = "quick" if quick else "full"
    report = {"date": _report.now(),
              "machine": machine_info(threads), "threads": threads, "quick": quick,
              "tensorflow_threads": {
                  "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
              "versions": _versions(), "sections": {}}
    start = time.perf_counter()
    readme = None
    if "heart" in sections:
        report["sections"]["heart"], readme = run_heart(threads, log)
    if "adult" in sections:
        report["sections"]["adult"] = run_adult(quick, threads, log)
    if "tfl" in sections:
        report["sections"]["tfl"] = run_tfl_section(quick, threads, tfl, tfl_python, log)
    if "scale" in sections:
        report["sections"]["scale"] = run_scale(rows or SCALE_ROWS[size], threads, log)
    if "predict" in sections:
        report["sections"]["predict"] = run_predict(quick, threads, readme, log)
    report["total_seconds"] = time.perf_counter() - start
    report["machine"]["load_average_end"] = list(os.getloadavg())
    report["targets"] = target_status(report)
    return report


def write_report(report, output_dir):
    _report.write(output_dir, "fit", report, markdown(report))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--no-tfl", action="store_true", help="without TensorFlow Lattice")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default: {','.join(SECTIONS)})")
    parser.add_argument("--rows", type=int, default=None,
                        help=f"rows of the scale section (default {SCALE_ROWS['full']:,}, "
                             f"--quick {SCALE_ROWS['quick']:,})")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tfl-python", default=None,
                        help="Python of an existing TensorFlow Lattice environment")
    parser.add_argument("--output-dir", default=None,
                        help=f"default: {OUTPUT_DIR} (a temporary directory with --quick)")
    parser.add_argument("--scale-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_worker is not None:
        scale_worker(args.scale_worker, args.threads)
        return
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    report = run_benchmark(sections, quick=args.quick, tfl=not args.no_tfl, rows=args.rows,
                           threads=args.threads, tfl_python=args.tfl_python,
                           log=lambda line: print(line, flush=True))
    output_dir = _report.output_dir(args.output_dir, "fit-quick-" if args.quick else None)
    write_report(report, output_dir)
    print(markdown(report))
    print(f"results written to {output_dir} ({report['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
