"""Benchmarks tf_lattice's classifiers against boosting, logistic regression and TFL.

Data sets and protocols:

* Adult (``load_adult``): the official split, 32,561 training and 16,281 test
  rows; ``education_num``, ``capital_gain`` and ``hours_per_week`` increasing.
* Heart (``load_heart``): ``HEART_SPLITS`` stratified 70/30 shuffle splits
  (seeded), reported as mean ± standard deviation; ``ca``, ``oldpeak``,
  ``age``, ``trestbps`` and ``chol`` increasing, ``thalach`` decreasing.

Contenders, all given the same monotonicity constraints where they take them:

* tf_lattice: ``CalibratedLinearClassifier``, ``CalibratedLatticeClassifier``,
  ``CalibratedLatticeEnsembleClassifier`` (``ensemble`` random, crystals, rtl)
  and ``DeepLatticeNetworkClassifier``, default settings, ``random_state=0``;
* scikit-learn's ``HistGradientBoostingClassifier`` (``monotonic_cst``,
  native categorical columns) and LightGBM's ``LGBMClassifier``
  (``monotone_constraints``, pandas categorical columns), default settings;
* logistic regression (median-imputed standardized numeric columns, one-hot
  categorical columns; it takes no constraints);
* TensorFlow Lattice 2.1.1's premade ``CalibratedLinear``,
  ``CalibratedLattice`` and ``CalibratedLatticeEnsemble`` (random, crystals,
  rtl_layer) configured like ours (keypoints, lattice size, interpolation,
  number and rank of lattices, monotone linear combination with bias, Adam
  learning rate), trained for ``TFL_SCHEDULES``; run by
  ``_tfl_estimator_runner.py`` in TFL's own environment (``.venv-tfl``, see
  ``_tfl_env.py``).

Metrics on the test rows: ROC AUC, accuracy at probability 0.5, fit seconds,
and monotonicity violations: for ``PROBE_ROWS`` test rows and every
constrained column, the column is swept over ``PROBE_GRID`` evenly spaced
values of its training range with the other columns held fixed; a row violates
when the predicted probability moves against the declared direction by more
than ``VIOLATION_TOLERANCE`` anywhere along the sweep. Every model is probed,
TFL's and the boosting models included.

Targets (reported, not asserted): on Adult our best AUC is at least TFL's best
and within 0.005 of the best constrained gradient boosting; the default
ensemble fits Adult in under 60 s; no violations for any tf_lattice model.
Results go to ``benchmarks/results/estimators.json`` and ``estimators.md``
(``--quick``: Heart only, one split, written to a temporary directory unless
``--output-dir`` is given). Not a test.

Usage::

    python benchmarks/estimators.py [--quick] [--no-tfl] [--tfl-python PATH] [--threads 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No OMP_WAIT_POLICY: the boosting models run with OpenMP's default, as their
# users' do. PASSIVE (threads sleep while they wait) made HistGradientBoosting's
# Adult fit about 5x slower (3.1 s against 0.6 s).

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks import _report  # noqa: E402
from benchmarks._tfl_env import ensure_tfl_environment, run_runner  # noqa: E402

TFL_RUNNER = os.path.join(REPO_ROOT, "benchmarks", "_tfl_estimator_runner.py")
OUTPUT_DIR = _report.OUTPUT_DIR
SEED = 0
HEART_SPLITS = 5
HEART_TEST_FRACTION = 0.3
PROBE_ROWS = 500
PROBE_GRID = 20
VIOLATION_TOLERANCE = 1e-6
AUC_MARGIN_TO_BOOSTING = 0.005
DEFAULT_ENSEMBLE_FIT_SECONDS = 60.0
MONOTONICITY = {
    "adult": {"education_num": "increasing", "capital_gain": "increasing",
              "hours_per_week": "increasing"},
    "heart": {"ca": "increasing", "oldpeak": "increasing", "thalach": "decreasing",
              "age": "increasing", "trestbps": "increasing", "chol": "increasing"},
}
#: TensorFlow Lattice's training schedule (our estimators choose their own).
TFL_SCHEDULES = {
    "adult": {"epochs": 10, "batch_size": 512, "prefitting_epochs": 2},
    "heart": {"epochs": 40, "batch_size": 32, "prefitting_epochs": 5},
}
ENSEMBLES = ("random", "crystals", "rtl")
TFL_LATTICES = {"random": "random", "crystals": "crystals", "rtl": "rtl_layer"}
LIGHTGBM_MISSING = ("LightGBM is not installed, so its rows are skipped: install it with "
                    "`pip install lightgbm` (make bench installs it).")

TF_LATTICE, BASELINE, TFL = "tf_lattice", "baseline", "tfl"


# -- monotonicity probing ------------------------------------------------------

def probe_grid(train_column, size=PROBE_GRID):
    """``size`` evenly spaced values from the column's training minimum to maximum."""
    values = pd.to_numeric(train_column, errors="coerce").to_numpy(np.float64)
    return np.linspace(np.nanmin(values), np.nanmax(values), size)


def probe_frame(rows, column, grid):
    """Each row repeated once per grid value, with ``column`` swept over ``grid``.

    Args:
      rows: DataFrame ``[N, F]``.
      column: the swept column's name.
      grid: ``[G]`` values.

    Returns:
      DataFrame ``[N * G, F]``; row ``i * G + g`` is ``rows`` row ``i`` with
      ``column = grid[g]`` (the other columns keep their values and dtypes).
    """
    repeated = rows.iloc[np.repeat(np.arange(len(rows)), len(grid))].reset_index(drop=True)
    repeated[column] = np.tile(np.asarray(grid, dtype=np.float64), len(rows))
    return repeated


def count_violations(scores, grid_size, direction, tolerance=VIOLATION_TOLERANCE):
    """Rows whose score moves against ``direction`` by more than ``tolerance``.

    Args:
      scores: ``[N * G]`` predictions on a `probe_frame` (row-major).
      grid_size: ``G``.
      direction: ``"increasing"`` or ``"decreasing"``.
      tolerance: the largest move against the direction that is not counted.

    Returns:
      The number of rows ``i`` with ``s * (scores[i, g + 1] - scores[i, g]) <
      -tolerance`` for some ``g``, where ``s`` is +1 (increasing) or -1.

    Raises:
      ValueError: for another direction or a size that is not a multiple of
        ``grid_size``.
    """
    signs = {"increasing": 1.0, "decreasing": -1.0}
    if direction not in signs:
        raise ValueError(f"direction must be 'increasing' or 'decreasing', got {direction!r}")
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if grid_size < 2 or scores.size % grid_size:
        raise ValueError(f"scores has {scores.size} entries, not a multiple of grid_size="
                         f"{grid_size} (>= 2)")
    steps = signs[direction] * np.diff(scores.reshape(-1, grid_size), axis=1)
    return int(np.count_nonzero(np.any(steps < -tolerance, axis=1)))


def monotonicity_violations(predict, rows, grids, monotonicity):
    """Violating rows per constrained column of a model given by ``predict``.

    Args:
      predict: maps a DataFrame to ``[n]`` scores.
      rows: the probed rows, DataFrame ``[N, F]``.
      grids: ``{column: [G] values}``.
      monotonicity: ``{column: "increasing" | "decreasing"}``.

    Returns:
      ``{column: violating rows}``.
    """
    return {column: count_violations(predict(probe_frame(rows, column, grids[column])),
                                     len(grids[column]), direction)
            for column, direction in monotonicity.items()}


# -- contenders ----------------------------------------------------------------

def _sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def _categorical_columns(frame):
    return [c for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype) or frame[c].dtype == object]


def _categories_as_strings(frame):
    frame = frame.copy()
    for column in _categorical_columns(frame):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "missing")
        frame[column] = frame[column].astype(str)
    return frame


def ours(kind, monotonicity, ensemble=None):
    """A tf_lattice classifier with default settings."""
    from tf_lattice import estimators

    classes = {"linear": estimators.CalibratedLinearClassifier,
               "lattice": estimators.CalibratedLatticeClassifier,
               "ensemble": estimators.CalibratedLatticeEnsembleClassifier,
               "dln": estimators.DeepLatticeNetworkClassifier}
    extra = {"ensemble": ensemble} if ensemble else {}
    return classes[kind](monotonicity=monotonicity, random_state=SEED, verbose=0, **extra)


def hist_gradient_boosting(monotonicity):
    from sklearn.ensemble import HistGradientBoostingClassifier

    signs = {"increasing": 1, "decreasing": -1}
    return HistGradientBoostingClassifier(
        monotonic_cst={c: signs[d] for c, d in monotonicity.items()},
        categorical_features="from_dtype", random_state=SEED)


def lightgbm_model(monotonicity, columns, threads):
    import lightgbm

    signs = {"increasing": 1, "decreasing": -1}
    return lightgbm.LGBMClassifier(
        monotone_constraints=[signs.get(monotonicity.get(c), 0) for c in columns],
        random_state=SEED, n_jobs=threads, verbose=-1)


def logistic_regression(frame):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    categorical = _categorical_columns(frame)
    numeric = [c for c in frame.columns if c not in categorical]
    columns = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)])
    return make_pipeline(FunctionTransformer(_categories_as_strings), columns,
                         LogisticRegression(max_iter=2000))


def lightgbm_available():
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        return False
    return True


def contenders(frame, monotonicity, threads, with_lightgbm):
    """``(name, family, factory)`` for every model run in this process."""
    models = [("CalibratedLinear", TF_LATTICE, lambda: ours("linear", monotonicity)),
              ("CalibratedLattice", TF_LATTICE, lambda: ours("lattice", monotonicity))]
    models += [(f"CalibratedLatticeEnsemble ({kind})", TF_LATTICE,
                lambda kind=kind: ours("ensemble", monotonicity, kind)) for kind in ENSEMBLES]
    models += [("DeepLatticeNetwork", TF_LATTICE, lambda: ours("dln", monotonicity)),
               ("HistGradientBoosting (monotonic_cst)", BASELINE,
                lambda: hist_gradient_boosting(monotonicity))]
    if with_lightgbm:
        models.append(("LightGBM (monotone_constraints)", BASELINE,
                       lambda: lightgbm_model(monotonicity, list(frame.columns), threads)))
    models.append(("LogisticRegression", BASELINE, lambda: logistic_regression(frame)))
    return models


def scores_of(model):
    return lambda frame: np.asarray(model.predict_proba(frame))[:, 1]


def evaluate(scores, labels):
    from sklearn.metrics import accuracy_score, roc_auc_score

    return {"auc": float(roc_auc_score(labels, scores)),
            "accuracy": float(accuracy_score(labels, scores >= 0.5))}


def run_in_process(name, family, factory, split, threads):
    """Fits one model on one split and measures it; errors are recorded."""
    from threadpoolctl import threadpool_limits

    try:
        model = factory()
        with threadpool_limits(threads):
            start = time.perf_counter()
            model.fit(split["X_train"], split["y_train"])
            fit_seconds = time.perf_counter() - start
            predict = scores_of(model)
            result = evaluate(predict(split["X_test"]), split["y_test"])
            result["violations"] = monotonicity_violations(
                predict, split["probe_rows"], split["grids"], split["monotonicity"])
    except Exception as error:  # noqa: BLE001 - one model's failure is reported, not fatal
        return {"error": f"{type(error).__name__}: {error}"[:500]}, None
    result["fit_seconds"] = fit_seconds
    if family == TF_LATTICE:
        result["certified"] = bool(model.certify())
    return result, model


# -- TensorFlow Lattice --------------------------------------------------------

def tfl_features(train, monotonicity):
    """How each column is given to TensorFlow Lattice: numeric, or categorical
    with its vocabulary (missing values in an extra last bucket)."""
    categorical = set(_categorical_columns(train))
    features = []
    for column in train.columns:
        feature = {"name": column, "monotonicity": monotonicity.get(column, "none")}
        if column in categorical:
            series = train[column]
            vocabulary = (list(series.cat.categories)
                          if isinstance(series.dtype, pd.CategoricalDtype)
                          else list(series.dropna().unique()))
            vocabulary = [str(v) for v in vocabulary]
            feature.update(kind="categorical", vocabulary=vocabulary,
                           num_buckets=len(vocabulary) + 1)
        else:
            feature.update(kind="numeric",
                           fill_value=float(np.nanmedian(train[column].astype(np.float64))))
        features.append(feature)
    return features


def tfl_columns(frame, features, prefix):
    """``{prefix + name: [n] array}``: float32 numbers (NaN filled with the
    training median) or int32 bucket indices."""
    arrays = {}
    for feature in features:
        values = frame[feature["name"]]
        if feature["kind"] == "categorical":
            keys = values.astype(object).map(lambda v: str(v) if pd.notna(v) else None)
            codes = pd.Index(feature["vocabulary"]).get_indexer(keys)
            codes[codes < 0] = len(feature["vocabulary"])
            arrays[prefix + feature["name"]] = codes.astype(np.int32)
        else:
            numbers = values.astype(np.float64).fillna(feature["fill_value"])
            arrays[prefix + feature["name"]] = numbers.to_numpy(np.float32)
    return arrays


def tfl_models(num_features, num_rows, lattice_size):
    """TFL's models, the lattice interpolated as ours with ``interpolation="auto"``."""
    from tf_lattice.estimators._defaults import automatic_interpolation

    interpolation = automatic_interpolation(num_features, lattice_size, num_rows)
    models = [{"name": "CalibratedLinear", "kind": "linear"},
              {"name": "CalibratedLattice", "kind": "lattice", "interpolation": interpolation}]
    models += [{"name": f"CalibratedLatticeEnsemble ({kind})", "kind": "ensemble",
                "lattices": TFL_LATTICES[kind]} for kind in ENSEMBLES]
    return models


def resolved_num_keypoints(num_keypoints, num_rows):
    """The keypoint count our estimator used: its parameter, or the automatic
    count for ``num_rows`` rows when the parameter is None."""
    from tf_lattice.models.keypoints import default_num_keypoints

    return int(num_keypoints) if num_keypoints is not None else default_num_keypoints(num_rows)


def tfl_job(name, dataset, split, ensemble, work_dir):
    """Writes one split's data for the TFL runner; returns its job."""
    features = tfl_features(split["X_train"], split["monotonicity"])
    arrays = {**tfl_columns(split["X_train"], features, "train_"),
              **tfl_columns(split["X_test"], features, "test_"),
              "train_label": np.asarray(split["y_train"], np.int32)}
    for column, grid in split["grids"].items():
        arrays.update(tfl_columns(probe_frame(split["probe_rows"], column, grid), features,
                                  f"probe_{column}__"))
    save_dir = os.path.join(work_dir, name.replace("/", "_"))
    os.makedirs(save_dir, exist_ok=True)
    data_path = os.path.join(save_dir, "data.npz")
    np.savez(data_path, **arrays)
    params = ensemble.get_params()
    settings = {"num_keypoints": resolved_num_keypoints(params["num_keypoints"],
                                                         len(split["X_train"])),
                "lattice_size": params["lattice_size"],
                "num_lattices": len(ensemble.lattices_),
                "lattice_rank": len(ensemble.lattices_[0]),
                "learning_rate": params["learning_rate"], "seed": SEED,
                **TFL_SCHEDULES[dataset]}
    return {"name": name, "data_path": data_path, "save_dir": save_dir,
            "features": [{k: f[k] for k in ("name", "kind", "monotonicity")}
                         | {"num_buckets": f.get("num_buckets", 0)} for f in features],
            "models": tfl_models(len(features), len(split["X_train"]),
                                 settings["lattice_size"]),
            "settings": settings}


def run_tfl(python, jobs, threads):
    """Runs the TFL runner on every job; returns ``(versions, results)``."""
    answer = run_runner(python, TFL_RUNNER, {"threads": threads, "jobs": jobs},
                        log=lambda line: print(line, flush=True))
    return answer["versions"], answer["results"]


def tfl_split_results(job, split, results):
    """Turns the runner's saved logits into the metrics of `run_in_process`."""
    measured = {}
    for model in job["models"]:
        answer = results[model["name"]]
        if "error" in answer:
            measured[model["name"]] = answer
            continue
        stem = os.path.join(job["save_dir"], model["name"])
        result = evaluate(_sigmoid(np.load(f"{stem}__test.npy")), split["y_test"])
        result["violations"] = {
            column: count_violations(_sigmoid(np.load(f"{stem}__probe__{column}.npy")),
                                     len(split["grids"][column]), direction)
            for column, direction in split["monotonicity"].items()}
        result["fit_seconds"] = answer["fit_seconds"]
        measured[model["name"]] = result
    return measured


# -- data ----------------------------------------------------------------------

def make_split(dataset, X_train, y_train, X_test, y_test, seed):
    """A split with its probe rows (at most `PROBE_ROWS` test rows) and grids."""
    rng = np.random.default_rng(seed)
    count = min(PROBE_ROWS, len(X_test))
    probe_rows = X_test.iloc[np.sort(rng.choice(len(X_test), count, replace=False))]
    monotonicity = MONOTONICITY[dataset]
    return {"X_train": X_train.reset_index(drop=True), "y_train": np.asarray(y_train),
            "X_test": X_test.reset_index(drop=True), "y_test": np.asarray(y_test),
            "probe_rows": probe_rows.reset_index(drop=True), "monotonicity": monotonicity,
            "grids": {c: probe_grid(X_train[c]) for c in monotonicity}}


def dataset_splits(dataset, quick):
    from sklearn.model_selection import StratifiedShuffleSplit

    from tf_lattice.datasets import load_adult, load_heart

    if dataset == "adult":
        X_train, y_train = load_adult(split="train")
        X_test, y_test = load_adult(split="test")
        return "official train/test split", [make_split(dataset, X_train, y_train, X_test,
                                                        y_test, SEED)]
    X, y = load_heart()
    count = 1 if quick else HEART_SPLITS
    splitter = StratifiedShuffleSplit(n_splits=count, test_size=HEART_TEST_FRACTION,
                                      random_state=SEED)
    splits = [make_split(dataset, X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test],
                         SEED + index)
              for index, (train, test) in enumerate(splitter.split(X, y))]
    return (f"{count} stratified {1 - HEART_TEST_FRACTION:.0%}/{HEART_TEST_FRACTION:.0%} "
            "shuffle split(s)"), splits


# -- summaries and report ------------------------------------------------------

def summed_violations(runs):
    """Violating probe rows per constrained column, summed over ``runs`` (results
    without an error, each with ``violations`` ``{column: rows}``)."""
    violations = {}
    for run in runs:
        for column, count in run["violations"].items():
            violations[column] = violations.get(column, 0) + int(count)
    return violations


def all_certified(runs):
    """Whether every run that carries ``certified`` holds it (None when none does)."""
    certified = [r["certified"] for r in runs if "certified" in r]
    return all(certified) if certified else None


def summarize(runs):
    """Aggregates one model's per-split results.

    Args:
      runs: list of dicts with ``auc``, ``accuracy``, ``fit_seconds``,
        ``violations`` ``{column: rows}`` and optionally ``certified``; or
        ``error``.

    Returns:
      dict with ``{"mean", "std"}`` of auc, accuracy and fit_seconds,
      ``violations`` summed over splits per column, ``total_violations``,
      ``splits``, ``certified`` (all splits, or None) and ``errors``.
    """
    good = [r for r in runs if "error" not in r]
    summary = {"splits": len(good), "errors": [r["error"] for r in runs if "error" in r]}
    for key in ("auc", "accuracy", "fit_seconds"):
        values = np.array([r[key] for r in good], dtype=np.float64)
        summary[key] = ({"mean": float(values.mean()), "std": float(values.std())}
                        if len(values) else None)
    violations = summed_violations(good)
    summary["violations"] = violations
    summary["total_violations"] = sum(violations.values()) if good else None
    summary["certified"] = all_certified(good)
    return summary


def _best(models, family):
    scored = [(m["auc"]["mean"], name) for name, m in models.items()
              if m["family"] == family and m["auc"] is not None]
    return max(scored) if scored else None


def target_status(report, default_ensemble):
    """The four targets: ``{"name", "value", "status"}`` with status "met",
    "missed" or "n/a"."""
    targets = []
    adult = report["datasets"].get("adult")
    if adult is None:
        targets.append({"name": "Adult targets", "value": "Adult not run", "status": "n/a"})
    else:
        models = adult["models"]
        ours_best, tfl_best = _best(models, TF_LATTICE), _best(models, TFL)
        boosting = [(m["auc"]["mean"], n) for n, m in models.items()
                    if m["family"] == BASELINE and m["auc"] is not None
                    and ("Boosting" in n or "LightGBM" in n)]
        boosting_best = max(boosting) if boosting else None
        if ours_best and tfl_best:
            targets.append({"name": "Adult: our best AUC >= TFL's best AUC",
                            "value": f"{ours_best[0]:.4f} ({ours_best[1]}) vs {tfl_best[0]:.4f} "
                                     f"({tfl_best[1]})",
                            "status": "met" if ours_best[0] >= tfl_best[0] else "missed"})
        else:
            targets.append({"name": "Adult: our best AUC >= TFL's best AUC",
                            "value": "TFL not run", "status": "n/a"})
        if ours_best and boosting_best:
            gap = boosting_best[0] - ours_best[0]
            targets.append({
                "name": f"Adult: our best AUC within {AUC_MARGIN_TO_BOOSTING} of constrained "
                        "boosting",
                "value": f"{ours_best[0]:.4f} vs {boosting_best[0]:.4f} ({boosting_best[1]}), "
                         f"gap {gap:+.4f}",
                "status": "met" if gap <= AUC_MARGIN_TO_BOOSTING else "missed"})
        ensemble = models.get(default_ensemble, {}).get("fit_seconds")
        targets.append({
            "name": f"Adult: default ensemble fit < {DEFAULT_ENSEMBLE_FIT_SECONDS:.0f} s",
            "value": f"{ensemble['mean']:.1f} s ({default_ensemble})" if ensemble else "not run",
            "status": ("n/a" if not ensemble else
                       "met" if ensemble["mean"] < DEFAULT_ENSEMBLE_FIT_SECONDS else "missed")})
    ours_violations = [m["total_violations"] for d in report["datasets"].values()
                       for m in d["models"].values() if m["family"] == TF_LATTICE]
    total = sum(v for v in ours_violations if v is not None)
    ran = [v for v in ours_violations if v is not None]
    targets.append({"name": "zero monotonicity violations for tf_lattice models",
                    "value": f"{total} violating rows",
                    "status": "n/a" if not ran else "met" if total == 0 else "missed"})
    return targets


def _mean_std(value, digits):
    if value is None:
        return "-"
    if value["std"] == 0.0:
        return f"{value['mean']:.{digits}f}"
    return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f}"


def _load(report, key):
    value = report["machine"].get(key)
    return f"{value[0]:.1f}" if value else "?"


def markdown(report):
    """The report as a short Markdown document: one table per data set, then
    the targets."""
    lines = ["# Estimator benchmark", "",
             f"{report['date']}, {report['machine']['processor']}, {report['threads']} threads "
             f"(load average {_load(report, 'load_average')} at the start, "
             f"{_load(report, 'load_average_end')} at the end); "
             f"TensorFlow Lattice: {report['tfl_versions'] or report['tfl_status']}; "
             f"LightGBM: {report['lightgbm']}.", "",
             f"Violations: rows (of {PROBE_ROWS} probed test rows or all test rows if fewer, "
             f"per constrained column and split) whose predicted probability moves against "
             f"the declared direction by more than {VIOLATION_TOLERANCE:g} over a "
             f"{PROBE_GRID}-point sweep of the column's training range."]
    for name, dataset in report["datasets"].items():
        constraints = ", ".join(f"{c} {d}" for c, d in dataset["monotonicity"].items())
        lines += ["", f"## {name} ({dataset['protocol']})", "", f"Constraints: {constraints}.",
                  "", "| model | family | test AUC | accuracy | fit s | violations | certified |",
                  "|---|---|---|---|---|---|---|"]
        for model, summary in dataset["models"].items():
            if summary["auc"] is None:
                lines.append(f"| {model} | {summary['family']} | failed: "
                             f"{summary['errors'][0][:80] if summary['errors'] else '?'} "
                             "| - | - | - | - |")
                continue
            certified = {None: "-", True: "yes", False: "NO"}[summary["certified"]]
            lines.append(f"| {model} | {summary['family']} | {_mean_std(summary['auc'], 4)} | "
                         f"{_mean_std(summary['accuracy'], 4)} | "
                         f"{_mean_std(summary['fit_seconds'], 1)} | "
                         f"{summary['total_violations']} | {certified} |")
    lines += ["", "## Targets", "", "| target | value | status |", "|---|---|---|"]
    lines += [f"| {t['name']} | {t['value']} | {t['status']} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"


# -- main ----------------------------------------------------------------------

def run_dataset(dataset, quick, threads, with_lightgbm, tfl_jobs, work_dir):
    """Runs every in-process model on every split of ``dataset``.

    Returns:
      ``(protocol, splits, runs)`` with ``runs[model] = (family, [result per
      split])``; appends this data set's TFL jobs to ``tfl_jobs``.
    """
    protocol, splits = dataset_splits(dataset, quick)
    runs = {}
    for index, split in enumerate(splits):
        ensemble = None
        for name, family, factory in contenders(split["X_train"], split["monotonicity"],
                                                threads, with_lightgbm):
            result, model = run_in_process(name, family, factory, split, threads)
            runs.setdefault(name, (family, []))[1].append(result)
            print(f"{dataset}[{index}] {name}: {result}", flush=True)
            if name == f"CalibratedLatticeEnsemble ({default_ensemble_kind()})":
                ensemble = model
        if ensemble is not None:
            tfl_jobs.append((dataset, index, split,
                             tfl_job(f"{dataset}-{index}", dataset, split, ensemble, work_dir)))
    return protocol, splits, runs


def default_ensemble_kind():
    from tf_lattice.estimators import CalibratedLatticeEnsembleClassifier

    return CalibratedLatticeEnsembleClassifier().get_params()["ensemble"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="Heart only, one split (a smoke run)")
    parser.add_argument("--no-tfl", action="store_true")
    parser.add_argument("--tfl-python", default=None,
                        help="Python of an existing TensorFlow Lattice environment")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output-dir", default=None,
                        help=f"default: {OUTPUT_DIR} (a temporary directory with --quick)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    _report.configure_threads(args.threads)
    with_lightgbm = lightgbm_available()
    if not with_lightgbm:
        print(f"WARNING: {LIGHTGBM_MISSING}", file=sys.stderr, flush=True)
    datasets = ("heart",) if args.quick else ("adult", "heart")
    report = {"date": _report.now(), "machine": _report.machine(),
              "threads": args.threads, "quick": args.quick, "tensorflow": tf.__version__,
              "lightgbm": _lightgbm_version() if with_lightgbm else LIGHTGBM_MISSING,
              "tfl_status": "skipped", "tfl_versions": None,
              "settings": {"seed": SEED, "probe_rows": PROBE_ROWS, "probe_grid": PROBE_GRID,
                           "violation_tolerance": VIOLATION_TOLERANCE,
                           "tfl_schedules": TFL_SCHEDULES},
              "datasets": {}}
    all_runs = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work_dir:
        tfl_jobs = []
        for dataset in datasets:
            protocol, _, runs = run_dataset(dataset, args.quick, args.threads, with_lightgbm,
                                            tfl_jobs, work_dir)
            all_runs[dataset] = runs
            report["datasets"][dataset] = {"protocol": protocol,
                                           "monotonicity": MONOTONICITY[dataset]}
        if not args.no_tfl and tfl_jobs:
            try:
                python = args.tfl_python or ensure_tfl_environment()[0]
                versions, results = run_tfl(python, [job for *_, job in tfl_jobs], args.threads)
                report["tfl_status"], report["tfl_versions"] = "ok", versions
                for dataset, _, split, job in tfl_jobs:
                    for name, result in tfl_split_results(job, split,
                                                          results[job["name"]]).items():
                        all_runs[dataset].setdefault(f"TFL {name}", (TFL, []))[1].append(result)
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
                report["tfl_status"] = f"failed: {error}"
                print(f"TensorFlow Lattice part failed: {error}", file=sys.stderr, flush=True)
    for dataset, runs in all_runs.items():
        report["datasets"][dataset]["models"] = {
            name: {"family": family, **summarize(results), "runs": results}
            for name, (family, results) in runs.items()}
    report["total_seconds"] = time.perf_counter() - start
    report["machine"]["load_average_end"] = os.getloadavg()
    report["targets"] = target_status(
        report, f"CalibratedLatticeEnsemble ({default_ensemble_kind()})")
    output_dir = _report.output_dir(args.output_dir, "estimators-quick-" if args.quick else None)
    _report.write(output_dir, "estimators", report, markdown(report))
    print(markdown(report))
    print(f"results written to {output_dir} ({report['total_seconds']:.0f} s)")


def _lightgbm_version():
    import lightgbm

    return lightgbm.__version__


if __name__ == "__main__":
    main()
