"""Shape-constrained classifiers on two public data sets, beside scikit-learn.

Run ``python -m tf_lattice.demo``. Fits

- a :class:`~tf_lattice.estimators.CalibratedLatticeEnsembleClassifier` on
  the UCI Adult official train/test split (income > 50K), increasing in
  ``education_num``, ``capital_gain`` and ``hours_per_week`` and with a
  concave calibrator of ``age`` (the effect of age levels off);
- a :class:`~tf_lattice.estimators.CalibratedLatticeClassifier` on UCI Heart
  (a stratified 70/30 split), increasing in ``ca``, ``oldpeak``, ``age``,
  ``trestbps``, ``chol`` and decreasing in ``thalach``;

and prints test AUC, accuracy and fit time beside scikit-learn's
HistGradientBoostingClassifier (with the same monotonic constraints) and a
logistic regression, then each model's constraint certificate. Models and
calibrator plots go to ``demo_output/``.
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
    CalibratedLatticeClassifier, CalibratedLatticeEnsembleClassifier)

ADULT_MONOTONICITY = {"education_num": "increasing", "capital_gain": "increasing",
                      "hours_per_week": "increasing"}
ADULT_CONVEXITY = {"age": "concave"}
HEART_MONOTONICITY = {"ca": "increasing", "thalach": "decreasing", "oldpeak": "increasing",
                      "age": "increasing", "trestbps": "increasing", "chol": "increasing"}

_SIGN = {"increasing": 1, "decreasing": -1}


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
            "accuracy": accuracy_score(y_test, model.predict(X_test)), "fit_s": seconds}


def print_table(title, rows):
    print(f"\n{title}")
    print(f"  {'model':<40} {'test AUC':>9} {'accuracy':>9} {'fit (s)':>8}")
    for row in rows:
        print(f"  {row['model']:<40} {row['auc']:>9.4f} {row['accuracy']:>9.4f} {row['fit_s']:>8.1f}")


def run_case(title, lattice_name, lattice_model, monotonicity, splits, output, stem):
    X_train, y_train, X_test, y_test = splits
    rows = [evaluate(lattice_name, lattice_model, X_train, y_train, X_test, y_test),
            evaluate("HistGradientBoosting (same monotonic_cst)", gradient_boosting(monotonicity),
                     X_train, y_train, X_test, y_test),
            evaluate("LogisticRegression", logistic_regression(X_train),
                     X_train, y_train, X_test, y_test)]
    print_table(title, rows)
    certificate = lattice_model.certify()
    print(f"\n  certificate: {'every declared constraint holds' if certificate.holds else 'VIOLATED'} "
          f"({len(certificate.checks)} checks)")
    for check in certificate.checks:
        shape = "monoton" in check.name or "conv" in check.name or "concav" in check.name
        if check.name.startswith("calibrator") and shape or not check.holds:
            print(f"    {check.name}: worst violation {check.worst_violation:.2e}")
    lattice_model.save(os.path.join(output, f"{stem}.keras"))
    lattice_model.plot_calibrators().savefig(os.path.join(output, f"{stem}_calibrators.png"), dpi=90)
    return rows, certificate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="demo_output", help="folder for models and plots")
    parser.add_argument("--implementation", default="kernel", choices=("kernel", "portable"))
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)

    X_train, y_train = datasets.load_adult("train")
    X_test, y_test = datasets.load_adult("test")
    adult = CalibratedLatticeEnsembleClassifier(
        monotonicity=ADULT_MONOTONICITY, convexity=ADULT_CONVEXITY, random_state=0,
        verbose=args.verbose, implementation=args.implementation)
    run_case("UCI Adult, official split (32,561 train / 16,281 test rows)",
             "CalibratedLatticeEnsembleClassifier", adult, ADULT_MONOTONICITY,
             (X_train, y_train, X_test, y_test), args.output, "adult_lattice_ensemble")

    X, y = datasets.load_heart()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    heart = CalibratedLatticeClassifier(
        monotonicity=HEART_MONOTONICITY, random_state=0, verbose=args.verbose,
        implementation=args.implementation)
    run_case("UCI Heart, stratified 70/30 split (212 train / 91 test rows)",
             "CalibratedLatticeClassifier", heart, HEART_MONOTONICITY,
             (X_train, y_train, X_test, y_test), args.output, "heart_lattice")
    print(f"\nModels and calibrator plots saved in {args.output}/")


if __name__ == "__main__":
    main()
