"""Shape-constrained models on two public data sets, beside scikit-learn.

Run ``python -m tf_lattice.demo``. Every tf_lattice model family is fitted
with its default parameters (the settings it chooses from the data, printed
after each table) and the data set's known monotonicity, beside
scikit-learn's HistGradientBoostingClassifier (with the same monotonic
constraints) and a logistic regression:

- UCI Adult, official train/test split (income > 50K): a calibrated linear
  model and a lattice ensemble, increasing in ``education_num``,
  ``capital_gain`` and ``hours_per_week``, the ensemble with a concave
  calibrator of ``age`` (the effect of age levels off);
- UCI Heart, a stratified 70/30 split: every family (calibrated linear,
  calibrated lattice, lattice ensemble, deep lattice network), increasing in
  ``ca``, ``oldpeak``, ``age``, ``trestbps``, ``chol`` and decreasing in
  ``thalach``.

Each table ends with a plain verdict: which model has the best test AUC and
by how much, boosting and logistic regression included. One split of 91 test
rows (Heart) moves AUC by a few hundredths between splits; the repeated
cross-validation in ``benchmarks/results/quality.md`` is the fairer
comparison. Then each tf_lattice model's constraint certificate is
summarized. Models and calibrator plots go to ``demo_output/``.
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from tf_lattice import datasets  # noqa: E402
from tf_lattice.estimators import (  # noqa: E402
    CalibratedLatticeClassifier, CalibratedLatticeEnsembleClassifier,
    CalibratedLinearClassifier, DeepLatticeNetworkClassifier)

ADULT_MONOTONICITY = {"education_num": "increasing", "capital_gain": "increasing",
                      "hours_per_week": "increasing"}
ADULT_CONVEXITY = {"age": "concave"}
HEART_MONOTONICITY = {"ca": "increasing", "thalach": "decreasing", "oldpeak": "increasing",
                      "age": "increasing", "trestbps": "increasing", "chol": "increasing"}

_SIGN = {"increasing": 1, "decreasing": -1}
#: Resolved settings shown after each table (the rest are in ``resolved_params_``).
_SHOWN_SETTINGS = ("num_keypoints", "num_lattices", "lattice_rank", "calibration_wrinkle",
                   "lattice_torsion", "l2", "epochs", "early_stopping")


def logistic_regression(X):
    """Standardized numbers and one-hot categories, missing values imputed."""
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)]
    numeric = [c for c in X.columns if c not in categorical]
    encode = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        (make_pipeline(SimpleImputer(strategy="most_frequent"),
                       OneHotEncoder(handle_unknown="ignore")), categorical))
    return make_pipeline(encode, LogisticRegression(max_iter=2000))


def gradient_boosting(monotonicity):
    """HistGradientBoosting with the same monotonic constraints."""
    return HistGradientBoostingClassifier(
        monotonic_cst={column: _SIGN[d] for column, d in monotonicity.items()},
        categorical_features="from_dtype", random_state=0)


def evaluate(name, model, X_train, y_train, X_test, y_test):
    """Fits ``model`` and returns a result row."""
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    scores = model.predict_proba(X_test)[:, 1]
    return {"model": name, "auc": roc_auc_score(y_test, scores),
            "accuracy": accuracy_score(y_test, model.predict(X_test)), "fit_s": seconds,
            "estimator": model}


def print_table(title, rows):
    print(f"\n{title}")
    print(f"  {'model':<42} {'test AUC':>9} {'accuracy':>9} {'fit (s)':>8}")
    for row in rows:
        print(f"  {row['model']:<42} {row['auc']:>9.4f} {row['accuracy']:>9.4f} "
              f"{row['fit_s']:>8.1f}")


def verdict(rows, ours):
    """One plain sentence: the best model, and how ours compare with each baseline."""
    best = max(rows, key=lambda r: r["auc"])
    our_best = max((r for r in rows if r["model"] in ours), key=lambda r: r["auc"])
    lines = [f"best test AUC: {best['model']} ({best['auc']:.4f})."]
    for row in rows:
        if row["model"] in ours:
            continue
        gap = row["auc"] - our_best["auc"]
        if gap > 0:
            lines.append(f"{row['model']} wins here: {gap:.4f} AUC above our best "
                         f"({our_best['model']}).")
        else:
            lines.append(f"our {our_best['model']} is {-gap:.4f} AUC above {row['model']}.")
    return lines


def run_case(title, lattice_models, monotonicity, splits, output, stem):
    """Fits the tf_lattice models and the two baselines; prints the table,
    the verdict, the resolved settings and the certificates."""
    X_train, y_train, X_test, y_test = splits
    rows = [evaluate(name, model, X_train, y_train, X_test, y_test)
            for name, model in lattice_models]
    rows += [evaluate("HistGradientBoosting (same monotonic_cst)",
                      gradient_boosting(monotonicity), X_train, y_train, X_test, y_test),
             evaluate("LogisticRegression", logistic_regression(X_train),
                      X_train, y_train, X_test, y_test)]
    print_table(title, rows)
    ours = {name for name, _ in lattice_models}
    for line in verdict(rows, ours):
        print(f"  {line}")
    print("\n  settings the defaults chose (resolved_params_):")
    for name, model in lattice_models:
        shown = {k: v for k, v in model.resolved_params_.items() if k in _SHOWN_SETTINGS}
        text = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in shown.items())
        print(f"    {name}: {text}")
    print("\n  certificates:")
    for name, model in lattice_models:
        certificate = model.certify()
        failed = [check for check in certificate.checks if not check.holds]
        print(f"    {name}: {'every declared constraint holds' if certificate.holds else 'VIOLATED'} "
              f"({len(certificate.checks)} checks)")
        for check in failed:
            print(f"      {check.name}: worst violation {check.worst_violation:.2e}")
    name, model = lattice_models[-1]
    model.save(os.path.join(output, f"{stem}.keras"))
    model.plot_calibrators().savefig(os.path.join(output, f"{stem}_calibrators.png"), dpi=90)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="demo_output", help="folder for models and plots")
    parser.add_argument("--implementation", default="kernel", choices=("kernel", "portable"))
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    common = dict(random_state=0, verbose=args.verbose, implementation=args.implementation)

    X_train, y_train = datasets.load_adult("train")
    X_test, y_test = datasets.load_adult("test")
    run_case("UCI Adult, official split (32,561 train / 16,281 test rows)",
             [("CalibratedLinearClassifier",
               CalibratedLinearClassifier(monotonicity=ADULT_MONOTONICITY,
                                          convexity=ADULT_CONVEXITY, **common)),
              ("CalibratedLatticeEnsembleClassifier",
               CalibratedLatticeEnsembleClassifier(monotonicity=ADULT_MONOTONICITY,
                                                   convexity=ADULT_CONVEXITY, **common))],
             ADULT_MONOTONICITY, (X_train, y_train, X_test, y_test), args.output,
             "adult_lattice_ensemble")

    X, y = datasets.load_heart()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    heart = dict(monotonicity=HEART_MONOTONICITY, **common)
    run_case("UCI Heart, stratified 70/30 split (212 train / 91 test rows)",
             [("CalibratedLinearClassifier", CalibratedLinearClassifier(**heart)),
              ("CalibratedLatticeClassifier", CalibratedLatticeClassifier(**heart)),
              ("DeepLatticeNetworkClassifier", DeepLatticeNetworkClassifier(**heart)),
              ("CalibratedLatticeEnsembleClassifier",
               CalibratedLatticeEnsembleClassifier(**heart))],
             HEART_MONOTONICITY, (X_train, y_train, X_test, y_test), args.output,
             "heart_lattice_ensemble")
    print("\nOne split is noisy; benchmarks/results/quality.md compares every model over "
          "repeated cross-validation on six data sets.")
    print(f"Models and calibrator plots saved in {args.output}/")


if __name__ == "__main__":
    main()
