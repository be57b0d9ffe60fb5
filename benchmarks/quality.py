"""Repeated cross-validation of every estimator with its defaults, beside common baselines.

Data sets (all offline; licences in `DATASETS` and ``results/quality.md``):

* ``heart``: UCI Heart (bundled), 303 rows, classification.
* ``breast_cancer``: scikit-learn's Wisconsin diagnostic breast cancer data,
  569 rows, classification.
* ``auto_mpg``: UCI Auto MPG (bundled), 398 rows, regression.
* ``diabetes``: scikit-learn's diabetes data, 442 rows, regression.
* ``monotone``: ``make_monotone_regression`` (generated, a known monotone
  truth), ``MONOTONE_ROWS`` rows of 8 features, regression.
* ``adult``: UCI Adult (bundled, both official files), a stratified subsample
  of ``--adult-rows`` rows (default `ADULT_ROWS`), classification.

Protocol: ``--repeats`` (default 5) repeats of 2-fold cross-validation,
``RepeatedStratifiedKFold`` for classification and ``RepeatedKFold`` for
regression (seeded); every model sees the same folds. Reported per model: the
mean test ROC AUC (classification) or RMSE (regression) over the folds with
its standard error ``std / sqrt(folds)`` (the folds of one repeat share rows,
so this understates the uncertainty a little), the paired difference to the
best baseline, the mean fit seconds, and monotonicity violations found by
probing (as ``benchmarks/estimators.py``: up to `PROBE_ROWS` test rows per
fold, each constrained column swept over a `PROBE_GRID`-point grid of its
training range, a row counted when the prediction moves against the declared
direction by more than `tolerance`: `VIOLATION_TOLERANCE` in probability, or
in standard deviations of the training target for regression).

Models, every one given the data set's known monotonicity where it takes it:

* tf_lattice: calibrated linear, calibrated lattice (only up to
  `MAX_LATTICE_FEATURES` features: a lattice over all features is the wrong
  model beyond), lattice ensemble and deep lattice network, all with default
  parameters (``random_state=0``);
* ``HistGradientBoosting`` with the same ``monotonic_cst`` (native categorical
  columns), default parameters;
* ``RandomForest`` (`FOREST_TREES` trees, ordinal-encoded categories, no constraints);
* ``LogisticRegression`` / ``RidgeCV`` on median-imputed standardized numeric
  columns and one-hot categorical columns (no constraints);
* TensorFlow Lattice 2.1.1's premade calibrated linear, calibrated lattice
  (same feature limit) and RTL lattice ensemble, configured like our defaults
  resolved on the same fold (keypoints, number and rank of lattices, the
  lattice's interpolation), trained
  by Keras ``fit`` for `tfl_schedule`; run by ``_tfl_quality_runner.py`` in
  ``.venv-tfl`` (see ``_tfl_env.py``), on the folds of the first
  ``--tfl-repeats`` repeats (default `TFL_REPEATS`: every repeat, the same
  folds as every other model).
  When that environment cannot be built the results say so.

Targets (reported, never asserted): our best default estimator at least as
good as the best baseline within one standard error on every data set; ahead
of the random forest on average (AUC difference, or RMSE reduction relative
to the forest's); the default ensemble never below logistic/ridge regression
by more than one standard error.

Usage::

    python benchmarks/quality.py                                  # full run
    python benchmarks/quality.py --datasets heart,auto_mpg --repeats 1 --no-tfl
"""

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import _report  # noqa: E402
from benchmarks import estimators as est  # noqa: E402
from benchmarks._tfl_env import ensure_tfl_environment, run_runner  # noqa: E402

TFL_RUNNER = os.path.join(REPO_ROOT, "benchmarks", "_tfl_quality_runner.py")
OUTPUT_DIR = _report.OUTPUT_DIR
SEED = 0
FOLDS = 2
REPEATS = 5
#: TensorFlow Lattice runs on the folds of the first repeats: all of them by
#: default (its fits take 1 to 6 s each on 2 cores); fewer for quick looks.
TFL_REPEATS = REPEATS
ADULT_ROWS = 5000
MONOTONE_ROWS = 3000
PROBE_ROWS = 100
PROBE_GRID = 20
VIOLATION_TOLERANCE = 1e-6
MAX_LATTICE_FEATURES = 16
#: TensorFlow Lattice's one-lattice model runs up to this many features (slower beyond).
MAX_TFL_LATTICE_FEATURES = 8
FOREST_TREES = 200
TF_LATTICE, BASELINE, TFL = "tf_lattice", "baseline", "tfl"
CLASSIFICATION, REGRESSION = "classification", "regression"
UCI_LICENCE = "CC BY 4.0 (UCI Machine Learning Repository), bundled in tf_lattice.datasets"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set of the benchmark: its task, constraints, source and licence."""

    task: str
    monotonicity: dict
    source: str
    licence: str


MONOTONE_DIRECTIONS = ("increasing", "increasing", "decreasing", "increasing", "increasing",
                       "decreasing", "none", "none")

DATASETS = {
    "heart": Dataset(CLASSIFICATION, est.MONOTONICITY["heart"],
                     "UCI Heart Disease, Cleveland (303 rows, 13 features)", UCI_LICENCE),
    "breast_cancer": Dataset(
        CLASSIFICATION,
        # Larger and more irregular nuclei indicate malignancy (target 1 = benign).
        {"worst radius": "decreasing", "worst concave points": "decreasing",
         "mean concave points": "decreasing", "worst area": "decreasing"},
        "Wisconsin diagnostic breast cancer, scikit-learn's load_breast_cancer (569 rows, "
        "30 features)", "CC BY 4.0 (UCI Machine Learning Repository), shipped in scikit-learn"),
    "auto_mpg": Dataset(REGRESSION,
                        {"Weight_in_lbs": "decreasing", "Horsepower": "decreasing",
                         "Displacement": "decreasing", "Year": "increasing"},
                        "UCI Auto MPG (398 rows, 7 features)", UCI_LICENCE),
    "diabetes": Dataset(
        REGRESSION,
        # Body mass index, blood pressure and serum triglycerides raise progression.
        {"bmi": "increasing", "bp": "increasing", "s5": "increasing"},
        "Efron et al. (2004) diabetes progression, scikit-learn's load_diabetes (442 rows, "
        "10 features)", "BSD-3-Clause (scikit-learn distribution; the data are public)"),
    "monotone": Dataset(
        REGRESSION,
        {f"x{j}": d for j, d in enumerate(MONOTONE_DIRECTIONS) if d != "none"},
        f"tf_lattice.datasets.make_monotone_regression ({MONOTONE_ROWS} rows, 8 features, "
        "correlation 0.3, noise 0.5; a known monotone truth)",
        "generated (no licence needed)"),
    "adult": Dataset(CLASSIFICATION, est.MONOTONICITY["adult"],
                     "UCI Adult census income, train and test files pooled, stratified "
                     "subsample", UCI_LICENCE),
}


def load(name, adult_rows=ADULT_ROWS):
    """``(X, y)`` of a benchmark data set."""
    from sklearn import datasets as sk_datasets

    from tf_lattice import datasets

    if name == "heart":
        return datasets.load_heart()
    if name == "auto_mpg":
        return datasets.load_auto_mpg()
    if name == "breast_cancer":
        bunch = sk_datasets.load_breast_cancer(as_frame=True)
        return bunch.data, bunch.target
    if name == "diabetes":
        bunch = sk_datasets.load_diabetes(as_frame=True)
        return bunch.data, bunch.target.astype(np.float64)
    if name == "monotone":
        return datasets.make_monotone_regression(
            MONOTONE_ROWS, len(MONOTONE_DIRECTIONS), monotonicity=list(MONOTONE_DIRECTIONS),
            correlation=0.3, noise=0.5, random_state=SEED)
    if name == "adult":
        from sklearn.model_selection import train_test_split

        X, y = datasets.load_adult("all")
        if adult_rows < len(X):
            X, _, y, _ = train_test_split(X, y, train_size=adult_rows, stratify=y,
                                          random_state=SEED)
        return X.reset_index(drop=True), y.reset_index(drop=True)
    raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}")


def folds(X, y, task, repeats):
    """``(train, test)`` index pairs: ``repeats`` x `FOLDS` seeded folds."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    kind = RepeatedStratifiedKFold if task == CLASSIFICATION else RepeatedKFold
    return list(kind(n_splits=FOLDS, n_repeats=repeats, random_state=SEED).split(X, y))


# -- models ----------------------------------------------------------------------------


def ours(kind, task, monotonicity, params=None):
    """A tf_lattice estimator with default parameters (``params`` override some)."""
    from tf_lattice import estimators

    classes = {
        CLASSIFICATION: {"CalibratedLinear": estimators.CalibratedLinearClassifier,
                         "CalibratedLattice": estimators.CalibratedLatticeClassifier,
                         "CalibratedLatticeEnsemble": estimators.CalibratedLatticeEnsembleClassifier,
                         "DeepLatticeNetwork": estimators.DeepLatticeNetworkClassifier},
        REGRESSION: {"CalibratedLinear": estimators.CalibratedLinearRegressor,
                     "CalibratedLattice": estimators.CalibratedLatticeRegressor,
                     "CalibratedLatticeEnsemble": estimators.CalibratedLatticeEnsembleRegressor,
                     "DeepLatticeNetwork": estimators.DeepLatticeNetworkRegressor}}
    return classes[task][kind](monotonicity=monotonicity, random_state=SEED, verbose=0,
                               **(params or {}))


def hist_gradient_boosting(task, monotonicity):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    signs = {"increasing": 1, "decreasing": -1}
    kind = HistGradientBoostingClassifier if task == CLASSIFICATION else HistGradientBoostingRegressor
    return kind(monotonic_cst={c: signs[d] for c, d in monotonicity.items()},
                categorical_features="from_dtype", random_state=SEED)


def _encoded(frame, one_hot):
    """Median-imputed numeric columns (standardized for linear models) and
    one-hot or ordinal categorical columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler)

    categorical = est._categorical_columns(frame)
    numeric = [c for c in frame.columns if c not in categorical]
    numbers = (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()) if one_hot
               else SimpleImputer(strategy="median"))
    categories = (OneHotEncoder(handle_unknown="ignore") if one_hot else
                  OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1))
    return [FunctionTransformer(est._categories_as_strings),
            ColumnTransformer([("numeric", numbers, numeric),
                               ("categorical", categories, categorical)])]


def linear_baseline(task, frame):
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline

    model = (LogisticRegression(max_iter=5000) if task == CLASSIFICATION
             else RidgeCV(alphas=np.logspace(-3, 3, 13)))
    return make_pipeline(*_encoded(frame, one_hot=True), model)


def random_forest(task, frame, threads):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import make_pipeline

    kind = RandomForestClassifier if task == CLASSIFICATION else RandomForestRegressor
    return make_pipeline(*_encoded(frame, one_hot=False),
                         kind(n_estimators=FOREST_TREES, n_jobs=threads, random_state=SEED))


OURS = ("CalibratedLinear", "CalibratedLattice", "CalibratedLatticeEnsemble",
        "DeepLatticeNetwork")
LINEAR_BASELINE = {CLASSIFICATION: "LogisticRegression", REGRESSION: "RidgeCV"}
TFL_MODELS = ("CalibratedLinear", "CalibratedLattice", "CalibratedLatticeEnsemble (rtl)")


def contenders(dataset, frame, threads, params=None, only=None):
    """``(name, family, factory)`` of every model run in this process."""
    task, monotonicity = dataset.task, dataset.monotonicity
    models = [(name, TF_LATTICE, lambda name=name: ours(name, task, monotonicity, params))
              for name in OURS
              if name != "CalibratedLattice" or frame.shape[1] <= MAX_LATTICE_FEATURES]
    models += [("HistGradientBoosting (monotonic_cst)", BASELINE,
                lambda: hist_gradient_boosting(task, monotonicity)),
               ("RandomForest", BASELINE, lambda: random_forest(task, frame, threads)),
               (LINEAR_BASELINE[task], BASELINE, lambda: linear_baseline(task, frame))]
    if only:
        models = [m for m in models if m[0] in only]
    return models


# -- one fold ----------------------------------------------------------------------------


def score(task, y_true, predictions):
    """ROC AUC (classification, ``predictions`` the positive class's
    probability) or RMSE (regression)."""
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true)
    if task == CLASSIFICATION:
        return float(roc_auc_score(y_true, predictions))
    return float(np.sqrt(np.mean((np.asarray(predictions, np.float64) - y_true) ** 2)))


def predictor(task, model):
    if task == CLASSIFICATION:
        return lambda frame: np.asarray(model.predict_proba(frame))[:, 1]
    return lambda frame: np.asarray(model.predict(frame), np.float64)


def make_fold(dataset, X, y, train, test, index):
    """One fold's data, probe rows and probe grids."""
    rng = np.random.default_rng(SEED + index)
    X_train, X_test = X.iloc[train].reset_index(drop=True), X.iloc[test].reset_index(drop=True)
    count = min(PROBE_ROWS, len(X_test))
    probe_rows = X_test.iloc[np.sort(rng.choice(len(X_test), count, replace=False))]
    return {"index": index, "X_train": X_train, "y_train": np.asarray(y.iloc[train]),
            "X_test": X_test, "y_test": np.asarray(y.iloc[test]),
            "probe_rows": probe_rows.reset_index(drop=True),
            "monotonicity": dataset.monotonicity,
            "grids": {c: est.probe_grid(X_train[c], PROBE_GRID) for c in dataset.monotonicity}}


def tolerance(task, fold):
    """The largest move against the declared direction that is not a violation:
    `VIOLATION_TOLERANCE` in probability, or in standard deviations of the
    training target for regression (the models compute in float32, so a
    prediction of magnitude 150 moves by a few 1e-6 from rounding alone)."""
    if task == CLASSIFICATION:
        return VIOLATION_TOLERANCE
    return VIOLATION_TOLERANCE * float(np.std(fold["y_train"]))


def violations(task, predict, fold):
    """Violating probe rows per constrained column (see `tolerance`)."""
    return {column: est.count_violations(
                predict(est.probe_frame(fold["probe_rows"], column, fold["grids"][column])),
                len(fold["grids"][column]), direction, tolerance(task, fold))
            for column, direction in fold["monotonicity"].items()}


def run_model(task, family, factory, fold, threads):
    """Fits one model on one fold and measures it; an error is recorded, not raised."""
    from threadpoolctl import threadpool_limits

    try:
        model = factory()
        with threadpool_limits(threads):
            start = time.perf_counter()
            model.fit(fold["X_train"], fold["y_train"])
            seconds = time.perf_counter() - start
            predict = predictor(task, model)
            result = {"score": score(task, fold["y_test"], predict(fold["X_test"])),
                      "fit_seconds": seconds,
                      "violations": violations(task, predict, fold)}
    except Exception as error:  # noqa: BLE001 - one model's failure is reported, not fatal
        return {"error": f"{type(error).__name__}: {error}"[:400]}, None
    if family == TF_LATTICE:
        result["certified"] = bool(model.certify())
        result["resolved_params"] = getattr(model, "resolved_params_", None)
    return result, model


# -- TensorFlow Lattice --------------------------------------------------------------------


def tfl_schedule(num_rows):
    """TensorFlow Lattice's schedule: batches of ``clip(n // 16, 32, 512)``
    rows, ``clip(ceil(600 / steps per epoch), 10, 50)`` epochs (about the
    600 optimizer steps of our automatic schedule; Keras' per-epoch overhead
    makes more epochs on small data slow)."""
    batch = int(np.clip(num_rows // 16, 32, 512))
    steps = max(1, -(-num_rows // batch))
    return {"batch_size": batch, "epochs": int(np.clip(-(-600 // steps), 10, 50))}


def tfl_names(columns):
    """TensorFlow scope-safe names of the columns (``"mean radius"`` -> ``"mean_radius"``)."""
    return {column: re.sub(r"[^A-Za-z0-9_.-]", "_", str(column)) for column in columns}


def tfl_job(name, dataset, fold, ensemble, work_dir):
    """Writes one fold's data for the TFL runner; returns its job.

    Columns are renamed to `tfl_names` (TensorFlow Lattice names its layers
    after them, and TensorFlow refuses spaces in scope names).
    """
    names = tfl_names(fold["X_train"].columns)
    monotonicity = {names[c]: d for c, d in dataset.monotonicity.items()}
    train, test = fold["X_train"].rename(columns=names), fold["X_test"].rename(columns=names)
    features = est.tfl_features(train, monotonicity)
    label = np.asarray(fold["y_train"], np.float64)
    mean, scale = (0.0, 1.0) if dataset.task == CLASSIFICATION else (label.mean(), label.std())
    arrays = {**est.tfl_columns(train, features, "train_"),
              **est.tfl_columns(test, features, "test_"),
              "train_label": ((label - mean) / scale).astype(np.float32)}
    for column, grid in fold["grids"].items():
        probe = est.probe_frame(fold["probe_rows"], column, grid).rename(columns=names)
        arrays.update(est.tfl_columns(probe, features, f"probe_{names[column]}__"))
    save_dir = os.path.join(work_dir, name)
    os.makedirs(save_dir, exist_ok=True)
    data_path = os.path.join(save_dir, "data.npz")
    np.savez(data_path, **arrays)
    resolved = ensemble.resolved_params_
    settings = {"num_keypoints": int(resolved["num_keypoints"]),
                "lattice_size": int(resolved["lattice_size"]),
                "num_lattices": len(ensemble.lattices_),
                "lattice_rank": len(ensemble.lattices_[0]),
                "learning_rate": float(resolved["learning_rate"]), "seed": SEED,
                **tfl_schedule(len(fold["X_train"]))}
    from tf_lattice.estimators._defaults import automatic_interpolation

    interpolation = automatic_interpolation(len(features), settings["lattice_size"],
                                            len(fold["X_train"]))
    models = [{"name": "CalibratedLinear", "kind": "linear"}]
    if len(features) <= MAX_TFL_LATTICE_FEATURES:
        models.append({"name": "CalibratedLattice", "kind": "lattice",
                       "interpolation": interpolation})
    models.append({"name": "CalibratedLatticeEnsemble (rtl)", "kind": "ensemble",
                   "lattices": "rtl_layer"})
    return {"name": name, "task": dataset.task, "data_path": data_path, "save_dir": save_dir,
            "names": names,
            "label_mean": float(mean), "label_scale": float(scale),
            "features": [{k: f[k] for k in ("name", "kind", "monotonicity")}
                         | {"num_buckets": f.get("num_buckets", 0)} for f in features],
            "models": models, "settings": settings}


def tfl_fold_results(job, fold, answers):
    """The runner's saved outputs turned into fold results."""
    task = job["task"]

    def output(path):
        values = np.load(path).astype(np.float64)
        if task == CLASSIFICATION:
            return 1.0 / (1.0 + np.exp(-values))
        return values * job["label_scale"] + job["label_mean"]

    measured = {}
    for model in job["models"]:
        answer = answers[model["name"]]
        if "error" in answer:
            measured[model["name"]] = answer
            continue
        stem = os.path.join(job["save_dir"], model["name"])
        measured[model["name"]] = {
            "score": score(task, fold["y_test"], output(f"{stem}__test.npy")),
            "fit_seconds": answer["fit_seconds"],
            "violations": {column: est.count_violations(
                output(f"{stem}__probe__{job['names'][column]}.npy"), len(fold["grids"][column]),
                direction, tolerance(task, fold))
                for column, direction in fold["monotonicity"].items()}}
    return measured


# -- summaries ---------------------------------------------------------------------------


def higher_is_better(task):
    return task == CLASSIFICATION


def summarize(runs):
    """Mean and standard error of the score, mean fit seconds, summed violations."""
    good = [r for r in runs if "error" not in r]
    summary = {"folds": len(good), "errors": sorted({r["error"] for r in runs if "error" in r})}
    if not good:
        summary.update(score=None, fit_seconds=None, total_violations=None, certified=None)
        return summary
    mean, spread = _report.mean_and_standard_error(r["score"] for r in good)
    summary["score"] = {"mean": mean, "se": spread}
    summary["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in good]))
    violations = est.summed_violations(good)
    summary["violations"] = violations
    summary["total_violations"] = sum(violations.values())
    summary["certified"] = est.all_certified(good)
    return summary


def _best(models, task, family=None, names=None):
    """``(name, summary)`` of the best-scoring model of a family (or of ``names``)."""
    candidates = [(name, m) for name, m in models.items() if m["score"] is not None
                  and (family is None or m["family"] in family)
                  and (names is None or name in names)]
    if not candidates:
        return None
    sign = 1.0 if higher_is_better(task) else -1.0
    return max(candidates, key=lambda item: sign * item[1]["score"]["mean"])


def paired(a, b):
    """Mean and standard error of the fold-by-fold difference ``a - b`` of two models' scores."""
    pairs = [(x["score"], y["score"]) for x, y in zip(a["runs"], b["runs"])
             if "error" not in x and "error" not in y]
    if len(pairs) < 2:
        return None
    mean, spread = _report.mean_and_standard_error(x - y for x, y in pairs)
    return {"mean": mean, "se": spread}


def gain(task, ours_score, theirs_score):
    """How much better ``ours`` is: AUC difference, or relative RMSE reduction."""
    if task == CLASSIFICATION:
        return ours_score - theirs_score
    return (theirs_score - ours_score) / theirs_score


def targets(report):
    """The three targets, each with its measured values and ``met`` / ``missed``."""
    rows, forest_gains = [], []
    for name, data in report["datasets"].items():
        task, models = data["task"], data["models"]
        best_ours = _best(models, task, (TF_LATTICE,))
        best_base = _best(models, task, (BASELINE, TFL))
        ensemble = models.get("CalibratedLatticeEnsemble")
        linear = models.get(LINEAR_BASELINE[task])
        forest = models.get("RandomForest")
        sign = 1.0 if higher_is_better(task) else -1.0
        if best_ours and best_base:
            (on, o), (bn, b) = best_ours, best_base
            shortfall = sign * (b["score"]["mean"] - o["score"]["mean"])
            rows.append({"name": f"{name}: our best within 1 SE of the best baseline",
                         "value": f"{on} {o['score']['mean']:.4f} vs {bn} "
                                  f"{b['score']['mean']:.4f} (SE {b['score']['se']:.4f})",
                         "status": "met" if shortfall <= b["score"]["se"] else "missed"})
        if best_ours and forest and forest["score"]:
            forest_gains.append(gain(task, best_ours[1]["score"]["mean"],
                                     forest["score"]["mean"]))
        if ensemble and linear and ensemble["score"] and linear["score"]:
            shortfall = sign * (linear["score"]["mean"] - ensemble["score"]["mean"])
            rows.append({"name": f"{name}: default ensemble not below {LINEAR_BASELINE[task]} "
                                 "by more than 1 SE",
                         "value": f"{ensemble['score']['mean']:.4f} vs "
                                  f"{linear['score']['mean']:.4f} (SE "
                                  f"{linear['score']['se']:.4f})",
                         "status": "met" if shortfall <= linear["score"]["se"] else "missed"})
    if forest_gains:
        average = float(np.mean(forest_gains))
        rows.append({"name": "our best ahead of RandomForest on average (AUC difference; "
                             "relative RMSE reduction)",
                     "value": f"{average:+.4f} over {len(forest_gains)} data sets",
                     "status": "met" if average > 0 else "missed"})
    return rows


# -- report ------------------------------------------------------------------------------


def markdown(report):
    lines = ["# Quality benchmark: defaults on small tabular data", "",
             f"{report['date']}, {report['machine']['processor']}, {report['threads']} threads "
             f"(load average {report['machine']['load_average'][0]:.1f} at the start, "
             f"{report['machine']['load_average_end'][0]:.1f} at the end), "
             f"{report['total_seconds'] / 60:.0f} minutes; TensorFlow {report['tensorflow']}; "
             f"TensorFlow Lattice: {report['tfl_versions'] or report['tfl_status']}.", "",
             f"Protocol: {report['repeats']} x {FOLDS}-fold cross-validation (stratified for "
             "classification), the same folds for every model. Score: mean test ROC AUC "
             "(higher is better) or RMSE (lower is better) ± its standard error (std over "
             "folds / sqrt(folds)); `vs best baseline`: the fold-paired difference to the best "
             "baseline (HistGradientBoosting, RandomForest, logistic/ridge regression, "
             "TensorFlow Lattice) ± its standard error, positive = better than it. Violations: "
             f"probe rows (up to {PROBE_ROWS} test rows per fold and constrained column) whose "
             f"prediction moves against the declared direction by more than "
             f"{VIOLATION_TOLERANCE:g} (in probability, or in standard deviations of the "
             f"training target for regression) on a {PROBE_GRID}-point sweep of the column's "
             "training range. tf_lattice models use their defaults; `resolved` gives the settings the "
             "defaults chose (on the first fold). TensorFlow Lattice (`tfl`) runs on the "
             f"{report['tfl_repeats'] * FOLDS} folds of the first {report['tfl_repeats']} "
             "repeat(s)" + (" only, so its mean and SE come from those folds and its paired "
                            "difference compares those folds."
                            if report["tfl_repeats"] < report["repeats"] else
                            ", the same folds as every other model.")]
    for name, data in report["datasets"].items():
        task = data["task"]
        metric = "AUC" if task == CLASSIFICATION else "RMSE"
        constraints = ", ".join(f"{c} {d}" for c, d in data["monotonicity"].items())
        lines += ["", f"## {name} ({task}, {data['rows']} rows, {data['features']} features)",
                  "", f"{data['source']}; licence: {data['licence']}. Constraints: "
                  f"{constraints}.", "",
                  f"| model | family | {metric} ± SE | vs best baseline | fit s | violations "
                  "| certified |", "|---|---|---|---|---|---|---|"]
        models = data["models"]
        best_base = _best(models, task, (BASELINE, TFL))
        sign = 1.0 if higher_is_better(task) else -1.0
        for model, summary in models.items():
            if summary["score"] is None:
                error = summary["errors"][0][:90] if summary["errors"] else "?"
                lines.append(f"| {model} | {summary['family']} | failed: {error} | - | - | - | - |")
                continue
            difference = paired(summary, models[best_base[0]]) if best_base else None
            versus = ("-" if difference is None or model == best_base[0] else
                      f"{sign * difference['mean']:+.4f} ± {difference['se']:.4f}")
            certified = {None: "-", True: "yes", False: "NO"}[summary["certified"]]
            lines.append(f"| {model} | {summary['family']} | {summary['score']['mean']:.4f} ± "
                         f"{summary['score']['se']:.4f} | {versus} | "
                         f"{summary['fit_seconds']:.2f} | {summary['total_violations']} | "
                         f"{certified} |")
        for model, resolved in data.get("resolved", {}).items():
            if resolved:
                shown = ", ".join(f"{k}={v}" for k, v in resolved.items()
                                  if k not in ("learning_rate", "validation_fraction"))
                lines.append(f"\nresolved {model}: {shown}")
    lines += ["", "## Targets", "", "| target | value | status |", "|---|---|---|"]
    lines += [f"| {t['name']} | {t['value']} | {t['status']} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"


# -- main --------------------------------------------------------------------------------


def run_dataset(name, repeats, threads, adult_rows, tfl_jobs, work_dir, params=None, only=None,
                tfl_repeats=TFL_REPEATS):
    """Every in-process model on every fold of data set ``name``.

    Returns ``(info, runs)``, ``runs[model] = (family, [result per fold])``;
    appends the data set's TFL jobs to ``tfl_jobs`` (when it is a list).
    """
    dataset = DATASETS[name]
    X, y = load(name, adult_rows)
    info = {"task": dataset.task, "rows": len(X), "features": X.shape[1],
            "monotonicity": dataset.monotonicity, "source": dataset.source,
            "licence": dataset.licence, "resolved": {}}
    runs = {}
    for index, (train, test) in enumerate(folds(X, y, dataset.task, repeats)):
        fold = make_fold(dataset, X, y, train, test, index)
        ensemble = None
        for model, family, factory in contenders(dataset, fold["X_train"], threads, params, only):
            result, fitted = run_model(dataset.task, family, factory, fold, threads)
            runs.setdefault(model, (family, []))[1].append(result)
            if index == 0 and "resolved_params" in result:
                info["resolved"][model] = result["resolved_params"]
            shown = {k: v for k, v in result.items() if k != "resolved_params"}
            print(f"{name}[{index}] {model}: {shown}", flush=True)
            if model == "CalibratedLatticeEnsemble" and fitted is not None:
                ensemble = fitted
        if tfl_jobs is not None and ensemble is not None and index < tfl_repeats * FOLDS:
            tfl_jobs.append((name, fold, tfl_job(f"{name}-{index}", dataset, fold, ensemble,
                                                 work_dir)))
    return info, runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated subset of {','.join(DATASETS)}")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help="repeats of 2-fold cross-validation")
    parser.add_argument("--adult-rows", type=int, default=ADULT_ROWS)
    parser.add_argument("--models", default=None,
                        help="comma-separated model names to run in process (default: all)")
    parser.add_argument("--params", default=None,
                        help="JSON dict of parameters given to every tf_lattice model "
                             "(for experiments; the reported results use the defaults)")
    parser.add_argument("--no-tfl", action="store_true")
    parser.add_argument("--tfl-repeats", type=int, default=TFL_REPEATS,
                        help="repeats on which TensorFlow Lattice runs (its first folds)")
    parser.add_argument("--tfl-python", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output-dir", default=None,
                        help=f"default: {OUTPUT_DIR} for a full run, else a temporary directory")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data sets {unknown}; choose from {list(DATASETS)}")
    params = json.loads(args.params) if args.params else None
    only = set(args.models.split(",")) if args.models else None

    import tensorflow as tf

    _report.configure_threads(args.threads)
    report = {"date": _report.now(), "machine": _report.machine(),
              "threads": args.threads, "repeats": args.repeats, "adult_rows": args.adult_rows,
              "tfl_repeats": min(args.tfl_repeats, args.repeats),
              "params": params, "tensorflow": tf.__version__, "tfl_status": "skipped",
              "tfl_versions": None, "datasets": {}}
    start = time.perf_counter()
    all_runs = {}
    with tempfile.TemporaryDirectory() as work_dir:
        tfl_jobs = None if args.no_tfl else []
        for name in names:
            info, runs = run_dataset(name, args.repeats, args.threads, args.adult_rows, tfl_jobs,
                                     work_dir, params, only, args.tfl_repeats)
            report["datasets"][name] = info
            all_runs[name] = runs
        if tfl_jobs:
            try:
                python = args.tfl_python or ensure_tfl_environment()[0]
                answer = run_runner(python, TFL_RUNNER,
                                    {"threads": args.threads, "jobs": [j for *_, j in tfl_jobs]},
                                    log=lambda line: print(line, flush=True))
                report["tfl_status"], report["tfl_versions"] = "ok", answer["versions"]
                for name, fold, job in tfl_jobs:
                    for model, result in tfl_fold_results(job, fold,
                                                          answer["results"][job["name"]]).items():
                        all_runs[name].setdefault(f"TFL {model}", (TFL, []))[1].append(result)
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
                report["tfl_status"] = f"failed: {error}"[:2000]
                print(f"TensorFlow Lattice part failed: {error}", file=sys.stderr, flush=True)
    for name, runs in all_runs.items():
        report["datasets"][name]["models"] = {
            model: {"family": family, **summarize(results), "runs": results}
            for model, (family, results) in runs.items()}
    report["total_seconds"] = time.perf_counter() - start
    report["machine"]["load_average_end"] = os.getloadavg()
    report["targets"] = targets(report)
    full = set(names) == set(DATASETS) and args.repeats == REPEATS and not params and not only
    output_dir = _report.output_dir(args.output_dir, None if full else "quality-")
    _report.write(output_dir, "quality", report, markdown(report), default=str)
    print(markdown(report))
    print(f"results written to {output_dir} ({report['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
