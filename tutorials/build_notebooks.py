"""Writes the tutorial notebooks from the cells below, executed, with outputs.

Run ``make tutorials`` (``python tutorials/build_notebooks.py``) after editing
a tutorial here: every notebook is executed top to bottom in a fresh kernel
running this interpreter and written with its outputs, so the committed
``.ipynb`` files show their figures and numbers when browsed.
``--no-execute`` writes them without outputs (quick, for drafting).
``tests/tutorials`` checks that the committed cells are the ones built here
and runs every notebook again.
"""

import argparse
import json
import os
import sys
import tempfile
import textwrap

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = """\
import warnings
warnings.filterwarnings("ignore", category=UserWarning)
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt"""


def md(text):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip())


def code(text):
    return nbformat.v4.new_code_cell(textwrap.dedent(text).strip())


QUICK_START = [
    md("""
    # Quick start: a monotonic model of heart disease in ten lines

    A calibrated lattice model passes every feature through a learned
    one-dimensional piecewise-linear function (a *calibrator*) and combines
    the calibrated values with interpolated look-up tables (*lattices*). Each
    parameter has a meaning, so domain knowledge such as "the risk never falls
    as the number of blocked vessels rises" is a constraint on the parameters,
    and it holds for every input, not only on the training data.

    This notebook fits a calibrated lattice ensemble on the Cleveland heart
    disease data (303 patients, bundled with the library), reads its
    calibrators and checks its constraints exactly.
    """),
    code(SETUP),
    md("## Ten lines"),
    code("""
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from tf_lattice.datasets import load_heart
    from tf_lattice.estimators import CalibratedLatticeEnsembleClassifier

    X, y = load_heart()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = CalibratedLatticeEnsembleClassifier(
        monotonicity={"ca": "increasing", "oldpeak": "increasing", "thalach": "decreasing",
                      "trestbps": "increasing", "chol": "increasing"},
        num_lattices=6, lattice_rank=3, epochs=40, batch_size=32, random_state=0, verbose=0)
    model.fit(X_train, y_train)
    probability = model.predict_proba(X_test)[:, 1]
    print(f"test accuracy {accuracy_score(y_test, model.predict(X_test)):.3f}, "
          f"ROC AUC {roc_auc_score(y_test, probability):.3f}")
    """),
    md("""
    The estimator follows scikit-learn's conventions (`fit`, `predict`,
    `predict_proba`, `score`, `clone`, pipelines, grid search) and reads pandas
    DataFrames directly: numeric columns get piecewise-linear calibrators with
    keypoints at quantiles of the training data, categorical columns (here
    `thal`) get one learned value per category, and missing values get a
    learned output of their own.

    A floor on the test metrics keeps this notebook honest:
    """),
    code("""
    auc = roc_auc_score(y_test, probability)
    assert auc > 0.80, auc
    assert accuracy_score(y_test, model.predict(X_test)) > 0.70
    """),
    md("""
    ## Reading the calibrator plots

    Each panel shows one feature's calibrator: the horizontal axis is the raw
    feature, the dots are the keypoints (at quantiles of the training data),
    the vertical axis is the calibrated value the lattices read. Because every
    lattice is increasing in each calibrated monotone feature, an increasing
    calibrator means an increasing effect on the predicted risk, and a
    decreasing one a decreasing effect. Outside the range of the keypoints a
    calibrator is flat, so the model does not extrapolate trends beyond the
    data. The dashed line is the output used for a missing value.

    On this small training set (212 rows of 13 columns) the default keypoint
    count keeps ten rows per calibrator slope, which leaves two keypoints per
    column: each calibrator is a straight, clipped line, and the lattices carry
    the non-linear effects. `model.resolved_params_["num_keypoints"]` shows the
    count chosen; pass `num_keypoints=` for finer calibrators on more data.
    """),
    code("""
    figure = model.plot_calibrators()
    figure
    """),
    md("""
    The same numbers are available as data. The calibrator of `thalach`
    (maximum heart rate) must never rise, and that of `ca` (vessels coloured
    by fluoroscopy) never fall:
    """),
    code("""
    curves = {curve["name"]: curve for curve in model.calibrator_curves()}
    for name in ("thalach", "ca"):
        print(name, np.round(curves[name]["outputs"], 3))
    assert np.all(np.diff(curves["thalach"]["outputs"]) <= 1e-6)
    assert np.all(np.diff(curves["ca"]["outputs"]) >= -1e-6)
    model.plot_feature("thalach")
    """),
    md("""
    ## Certifying the constraints

    `certify()` checks every declared constraint exactly on the fitted
    parameters of every layer (each calibrator, each lattice, the combining
    weights) and reports the worst violation of each. Since the constraints
    are on parameters, a certificate that holds means the model is monotone
    for *every* input, including ones it never saw.
    """),
    code("""
    certificate = model.certify()
    print(certificate)
    assert certificate.holds
    """),
    md("""
    The guarantee can also be seen directly: raise `ca` for every test patient,
    holding everything else fixed, and no predicted risk goes down.
    """),
    code("""
    more_vessels = X_test.assign(ca=np.minimum(X_test["ca"] + 1, 3))
    change = model.predict_proba(more_vessels)[:, 1] - model.predict_proba(X_test)[:, 1]
    print(f"smallest change in risk: {change.min():.2e}")
    assert change.min() >= -1e-6
    """),
    md("""
    Next: `02_shape_constraints.ipynb` walks through every kind of shape
    constraint and what each does to the learned function.
    """),
]


SHAPE_CONSTRAINTS = [
    md("""
    # Shape constraints on restaurant click-through rates

    `tf_lattice.datasets.make_restaurant_ctr` simulates restaurant search
    results with a known click-through rate (CTR):

    * `avg_rating` (1 to 5): the CTR rises with it;
    * `num_reviews` (0 to 200): the CTR rises with it, with diminishing
      returns (concave);
    * `dollar_rating` (D to DDDD): the CTR peaks at DD.

    The true CTR is available (`restaurant_ctr`), so we can measure how far
    each model is from the truth *everywhere*, including where the training
    data is thin. Training data in practice is skewed: we keep mostly
    restaurants with few reviews, as a search log would, and then evaluate on
    a uniform grid over all inputs.
    """),
    code(SETUP),
    code("""
    from tf_lattice.datasets import make_restaurant_ctr, restaurant_ctr
    from tf_lattice.estimators import CalibratedLatticeClassifier

    X, y = make_restaurant_ctr(3000, random_state=0)
    rng = np.random.default_rng(0)
    skewed = (X["num_reviews"] < 40) | (rng.random(len(X)) < 0.03)
    X_train, y_train = X[skewed].reset_index(drop=True), y[skewed].reset_index(drop=True)
    print(f"{len(X_train)} training rows; {np.mean(X_train['num_reviews'] >= 40):.1%} "
          "of them with 40 or more reviews")

    ratings, reviews = np.linspace(1, 5, 9), np.linspace(0, 200, 41)
    grid = pd.DataFrame([(r, n, d) for r in ratings for n in reviews for d in ("D", "DD", "DDD", "DDDD")],
                        columns=["avg_rating", "num_reviews", "dollar_rating"])
    grid["dollar_rating"] = pd.Categorical(grid["dollar_rating"], categories=["D", "DD", "DDD", "DDDD"])
    truth = restaurant_ctr(grid)
    """),
    md("""
    Helpers: the error against the true CTR on the grid, the share of grid
    steps along `num_reviews` where the prediction *falls* (a violation of the
    known monotonicity), and a plot of the CTR against `num_reviews` at a
    4-star, DD restaurant. The models below turn the default calibrator
    smoothing off (`calibration_hessian=0`), so that each difference comes
    from the constraints alone; the last section turns it back on.
    """),
    code("""
    # No calibrator smoothing (calibration_hessian=0): what the constraints do alone.
    TRAINING = dict(lattice_size=3, epochs=12, batch_size=64, calibration_hessian=0.0,
                    random_state=0, verbose=0)

    def evaluate(name, model):
        predicted = model.predict_proba(grid)[:, 1]
        along_reviews = predicted.reshape(len(ratings), len(reviews), 4)
        falls = float(np.mean(np.diff(along_reviews, axis=1) < -1e-6))
        rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
        print(f"{name:28s} RMSE to the true CTR {rmse:.4f}   falls along num_reviews {falls:.1%}")
        return {"rmse": rmse, "falls": falls}

    slice_rows = pd.DataFrame({"avg_rating": 4.0, "num_reviews": reviews,
                               "dollar_rating": pd.Categorical(["DD"] * len(reviews),
                                                               categories=["D", "DD", "DDD", "DDDD"])})

    def plot_reviews(models):
        figure, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(reviews, restaurant_ctr(slice_rows), "k--", label="true CTR")
        for name, model in models.items():
            ax.plot(reviews, model.predict_proba(slice_rows)[:, 1], label=name)
        ax.axvspan(40, 200, color="0.9", label="few training rows")
        ax.set_xlabel("num_reviews"); ax.set_ylabel("CTR (4 stars, DD)"); ax.legend(fontsize=8)
        return figure
    """),
    md("""
    ## No constraints

    A calibrated lattice without constraints is a flexible function. Where
    restaurants with many reviews are rare it follows the noise of the few it
    saw:
    """),
    code("""
    free = CalibratedLatticeClassifier(**TRAINING).fit(X_train, y_train)
    results = {"free": evaluate("no constraints", free)}
    """),
    md("""
    ## Monotonicity

    `monotonicity={"avg_rating": "increasing", "num_reviews": "increasing"}`:
    the calibrators of both features are increasing and the lattice is
    increasing along both, so the prediction can never fall when either rises,
    whatever the other inputs are.
    """),
    code("""
    MONOTONE = {"avg_rating": "increasing", "num_reviews": "increasing"}
    monotone = CalibratedLatticeClassifier(monotonicity=MONOTONE, **TRAINING).fit(X_train, y_train)
    results["monotone"] = evaluate("monotone", monotone)
    assert results["monotone"]["falls"] == 0.0
    assert monotone.certify().holds
    """),
    md("""
    ## Diminishing returns (concavity)

    `convexity={"num_reviews": "concave"}` makes the calibrator's slopes
    non-increasing: each extra review is worth at most as much as the one
    before. Together with monotonicity this is "more reviews help, less and
    less".
    """),
    code("""
    concave = CalibratedLatticeClassifier(monotonicity=MONOTONE, convexity={"num_reviews": "concave"},
                                          **TRAINING).fit(X_train, y_train)
    results["concave"] = evaluate("monotone + concave", concave)
    curve = next(c for c in concave.calibrator_curves() if c["name"] == "num_reviews")
    slopes = np.diff(curve["outputs"]) / np.diff(curve["keypoints"])
    print("slopes of the num_reviews calibrator:", np.round(slopes, 4))
    assert np.all(np.diff(slopes) <= 1e-5)
    assert concave.certify().holds
    plot_reviews({"no constraints": free, "monotone": monotone, "monotone + concave": concave})
    """),
    md("""
    ## Edgeworth trust and dominance

    A high rating from two reviewers says less than the same rating from two
    hundred. *Trust* encodes this: `trust=[("avg_rating", "num_reviews",
    "increasing")]` makes the effect of `avg_rating` grow (never shrink) as
    `num_reviews` rises (an Edgeworth constraint on the lattice: the slope
    along `avg_rating` is non-decreasing along `num_reviews`). It holds in the
    true CTR, where the rating's slope is proportional to the review factor.

    *Dominance*, `dominance=[("avg_rating", "num_reviews")]`, says that the
    rating matters at least as much as the number of reviews: along the
    lattice, a step in the calibrated rating moves the output at least as much
    as the same step in the calibrated reviews.
    """),
    code("""
    trusting = CalibratedLatticeClassifier(
        monotonicity=MONOTONE, convexity={"num_reviews": "concave"},
        trust=[("avg_rating", "num_reviews", "increasing")], dominance=[("avg_rating", "num_reviews")],
        **TRAINING).fit(X_train, y_train)
    results["trust"] = evaluate("+ trust + dominance", trusting)
    certificate = trusting.certify()
    print(certificate)
    assert certificate.holds

    def rating_effect(model, num_reviews):
        rows = pd.DataFrame({"avg_rating": [2.0, 4.0], "num_reviews": num_reviews,
                             "dollar_rating": pd.Categorical(["DD", "DD"], categories=["D", "DD", "DDD", "DDDD"])})
        low, high = model.decision_function(rows)
        return high - low

    effects = [rating_effect(trusting, n) for n in (0, 20, 60, 150)]
    print("effect of 2 -> 4 stars (logit) at 0, 20, 60, 150 reviews:", np.round(effects, 3))
    assert np.all(np.diff(effects) >= -1e-5)
    """),
    md("""
    ## Unimodality

    The CTR peaks at "DD". Read as a number of dollar signs (1 to 4), the
    price is a *unimodal* feature: `unimodality={"dollars": "peak"}` makes
    the lattice rise and then fall along it (a lattice constraint, so it needs
    `lattice_size >= 3`). The constraint fixes the shape only: where the top
    is and how sharp it is are learned from the data, and can come out
    flatter than the truth (compare the fitted CTR with the true one printed
    below it). What is guaranteed, for every input, is that the CTR never
    falls and then rises again along the price.
    """),
    code("""
    X_dollars = X_train.assign(dollars=X_train["dollar_rating"].cat.codes + 1.0).drop(columns=["dollar_rating"])
    peaked = CalibratedLatticeClassifier(monotonicity=MONOTONE, unimodality={"dollars": "peak"},
                                         num_keypoints=4, **TRAINING).fit(X_dollars, y_train)
    price_rows = pd.DataFrame({"avg_rating": 4.0, "num_reviews": 30.0, "dollars": [1.0, 2.0, 3.0, 4.0]})
    by_price = peaked.predict_proba(price_rows)[:, 1]
    print("CTR at 1..4 dollars:", np.round(by_price, 3), " truth:",
          np.round(restaurant_ctr(price_rows.assign(dollar_rating=["D", "DD", "DDD", "DDDD"])), 3))
    steps = np.sign(np.round(np.diff(by_price), 6))
    assert not np.any((steps[:-1] < 0) & (steps[1:] > 0)), "a peak never falls then rises"
    assert peaked.certify().holds
    """),
    md("""
    ## Regularizers

    Constraints restrict *which* functions are allowed; regularizers prefer
    simpler ones among them. `calibration_hessian` penalizes the second
    differences of each calibrator (curvature: prefers straight lines),
    `calibration_wrinkle` the third differences (prefers smooth curvature),
    `calibration_laplacian` the first differences (prefers flat calibrators),
    and `lattice_laplacian` / `lattice_torsion` make the lattice flatter or
    closer to additive (less interaction between features). The calibrator
    penalties are measured from keypoint to keypoint, not in the feature's
    units: rescaling a feature changes nothing, and with keypoints at
    quantiles a straight calibrator is straight in the feature's quantiles.
    """),
    code("""
    def roughness(model, column="num_reviews"):
        curve = next(c for c in model.calibrator_curves() if c["name"] == column)
        return float(np.sum(np.diff(curve["outputs"], 2) ** 2))  # from keypoint to keypoint

    smooth = CalibratedLatticeClassifier(**{**TRAINING, "calibration_hessian": 1.0},
                                         lattice_torsion=0.1).fit(X_train, y_train)
    results["regularized"] = evaluate("no constraints, regularized", smooth)
    print(f"roughness of the num_reviews calibrator: {roughness(free):.2e} -> {roughness(smooth):.2e}")
    assert roughness(smooth) < roughness(free)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, (name, model) in zip(axes, {"no constraints": free, "regularized": smooth}.items()):
        curve = next(c for c in model.calibrator_curves() if c["name"] == "num_reviews")
        ax.plot(curve["keypoints"], curve["outputs"], "-o", markersize=3)
        ax.set_title(name); ax.set_xlabel("num_reviews")
    """),
    md("""
    ## Summary

    Off the training distribution, the constrained models never rank a
    restaurant with more reviews lower than the same restaurant with fewer,
    and they are never worse off for it: the constraints cost nothing where
    the data is dense and help where it is thin.
    """),
    code("""
    summary = pd.DataFrame(results).T
    print(summary)
    assert summary.loc[["monotone", "concave", "trust"], "falls"].max() == 0.0
    assert summary.loc["monotone", "rmse"] <= summary.loc["free", "rmse"] * 1.10
    """),
]


KERAS_LAYERS = [
    md("""
    # Building lattice models from Keras layers

    The estimators are built from Keras 3 layers that you can use directly:

    | layer | what it computes |
    |---|---|
    | `PWLCalibration` | piecewise-linear calibration of numeric inputs |
    | `CategoricalCalibration` | one learned value per category |
    | `Lattice` | an interpolated look-up table over a few inputs |
    | `Linear` | a linear function with sign and dominance constraints |
    | `RTL` | an ensemble of random tiny lattices as one layer |
    | `KroneckerFactoredLattice` | a low-rank lattice for many inputs |
    | `ParallelCombination`, `Aggregation` | plumbing for per-feature and set inputs |

    Every layer projects its weights onto its constraints after each optimizer
    step, has `finalize_constraints()` (the strictest projection, for after
    training) and `certify()` (an exact check).

    The data: `make_monotone_regression` draws a target that is increasing in
    `x0`, decreasing in `x1` and unconstrained in `x2` (plus noise).
    """),
    code(SETUP),
    code("""
    from tf_lattice import layers  # first: tf_lattice keeps TensorFlow's start-up log quiet
    import keras
    from sklearn.metrics import r2_score
    from tf_lattice.datasets import make_monotone_regression, monotone_regression_function
    from tf_lattice.models import keypoints_from_quantiles

    DIRECTIONS = ["increasing", "decreasing", "none"]
    X, y = make_monotone_regression(3000, 3, monotonicity=DIRECTIONS, noise=0.1, random_state=0)
    X_test, y_test = X.iloc[2000:], y.iloc[2000:]
    X, y = X.iloc[:2000], y.iloc[:2000]
    columns = list(X.columns)

    def as_inputs(frame):
        return [frame[[c]].to_numpy(np.float32) for c in columns]

    def fit(model, epochs=10):
        model.compile(optimizer=keras.optimizers.Adam(0.03), loss="mse")
        model.fit(as_inputs(X), y.to_numpy(np.float32), batch_size=100, epochs=epochs, verbose=0)
        for layer in model.layers:
            if hasattr(layer, "finalize_constraints"):
                layer.finalize_constraints()
        score = r2_score(y_test, model.predict(as_inputs(X_test), verbose=0)[:, 0])
        print(f"{model.name}: test R^2 {score:.3f}")
        return score

    def certify(model):
        certificates = [layer.certify() for layer in model.layers if hasattr(layer, "certify")]
        for certificate in certificates:
            print(certificate)
        return all(certificate.holds for certificate in certificates)
    """),
    md("""
    ## A calibrated lattice

    One `PWLCalibration` per feature maps it into `[0, lattice_size - 1]`,
    the input range of the lattice. The decreasing feature gets a decreasing
    calibrator, so the lattice is *increasing* in both calibrated monotone
    inputs; `x2` is free.
    """),
    code("""
    LATTICE_SIZE = 3

    def calibrators(inputs):
        calibrated = []
        for name, tensor, direction in zip(columns, inputs, DIRECTIONS):
            calibrated.append(layers.PWLCalibration(
                keypoints_from_quantiles(X[name], 10), monotonicity=direction,
                output_min=0.0, output_max=LATTICE_SIZE - 1.0, name=f"calibrate_{name}")(tensor))
        return calibrated

    inputs = [keras.Input(shape=(1,), name=name) for name in columns]
    lattice = layers.Lattice([LATTICE_SIZE] * 3, monotonicities=["increasing", "increasing", "none"],
                             name="lattice")(keras.layers.Concatenate()(calibrators(inputs)))
    calibrated_lattice = keras.Model(inputs, lattice, name="calibrated_lattice")
    calibrated_lattice.summary()
    assert fit(calibrated_lattice) > 0.8
    assert certify(calibrated_lattice)
    """),
    md("""
    ## A four-layer deep lattice network

    Deep lattice networks (You et al., 2017) stack calibrators and lattice
    ensembles. Here: calibrators, then an `RTL` layer of six random tiny
    lattices of two inputs each, then a calibrator per lattice output, then
    one lattice over the six. Every layer is increasing in the signals that
    carry `x0` and `x1`, so the whole network is monotone in them, layer by
    layer.
    """),
    code("""
    inputs = [keras.Input(shape=(1,), name=name) for name in columns]
    signals = keras.layers.Concatenate()(calibrators(inputs))
    ensemble = layers.RTL(num_lattices=6, lattice_rank=2, lattice_size=LATTICE_SIZE,
                          monotonicities=["increasing", "increasing", "none"],
                          output_min=0.0, output_max=1.0, random_seed=0, name="rtl")(signals)
    recalibrated = layers.PWLCalibration(np.linspace(0.0, 1.0, 6), units=6, monotonicity="increasing",
                                         output_min=0.0, output_max=1.0, name="recalibrate")(ensemble)
    output = layers.Lattice([2] * 6, monotonicities=["increasing"] * 6, name="top_lattice")(recalibrated)
    deep_lattice = keras.Model(inputs, output, name="deep_lattice_network")
    assert fit(deep_lattice) > 0.7
    assert certify(deep_lattice)
    """),
    md("""
    ## Mixing with ordinary Dense layers

    Constraints only need to hold along the monotone features. The free
    feature `x2` can go through any network, here two `Dense` layers whose
    sigmoid output is scaled into the lattice's input range; the lattice keeps
    the model monotone in `x0` and `x1` whatever the dense layers learn.
    """),
    code("""
    inputs = [keras.Input(shape=(1,), name=name) for name in columns]
    calibrated = calibrators(inputs)[:2]
    hidden = keras.layers.Dense(16, activation="relu")(inputs[2])
    embedded = keras.layers.Dense(1, activation="sigmoid")(hidden)
    embedded = keras.layers.Rescaling(LATTICE_SIZE - 1.0)(embedded)
    lattice = layers.Lattice([LATTICE_SIZE] * 3, monotonicities=["increasing", "increasing", "none"],
                             name="lattice")(keras.layers.Concatenate()(calibrated + [embedded]))
    mixed = keras.Model(inputs, lattice, name="lattice_with_dense")
    assert fit(mixed, epochs=15) > 0.7
    assert certify(mixed)
    """),
    md("""
    An empirical check of the guarantee: for 200 random points, sweep `x0`
    over its range (and `x1`) and look for any decrease (increase) in the
    prediction.
    """),
    code("""
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, (200, 3)).astype(np.float32)
    sweep = np.linspace(0, 1, 21, dtype=np.float32)
    for model in (calibrated_lattice, deep_lattice, mixed):
        for k, sign in ((0, 1.0), (1, -1.0)):
            points = np.repeat(base, len(sweep), axis=0)
            points[:, k] = np.tile(sweep, len(base))
            values = model.predict([points[:, [j]] for j in range(3)], verbose=0, batch_size=4096)
            steps = sign * np.diff(values.reshape(len(base), len(sweep)), axis=1)
            assert steps.min() >= -1e-5, (model.name, k, steps.min())
        print(f"{model.name}: monotone along x0 and x1 at every sampled point")
    """),
]


ENSEMBLES = [
    md("""
    # Lattice ensembles on Adult, next to gradient boosting

    With more than a handful of features one lattice over all of them is too
    big (`2^d` vertices). Ensembles of small lattices share the calibrators
    and combine lattices over subsets of features:

    * `ensemble="random"`: every feature goes to one lattice at random, and
      the other slots are filled with features drawn at random;
    * `ensemble="rtl"`: random tiny lattices, balanced so every feature is
      used about equally often;
    * `ensemble="crystals"`: features that interact strongly (measured by
      binned means of the target over pairs of features) share lattices.

    We compare them with scikit-learn's `HistGradientBoostingClassifier`
    under the same monotonicity constraints (`monotonic_cst`) on the Adult
    census income data, on a subsample so the notebook runs in a minute or
    two; use all 32,561 rows and more epochs for the real comparison.
    """),
    code(SETUP),
    code("""
    import pickle
    import time
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from tf_lattice.datasets import load_adult
    from tf_lattice.estimators import CalibratedLatticeEnsembleClassifier

    X, y = load_adult("train")
    X_test, y_test = load_adult("test")
    rng = np.random.default_rng(0)
    train_rows = rng.choice(len(X), 4000, replace=False)
    test_rows = rng.choice(len(X_test), 4000, replace=False)
    X, y = X.iloc[train_rows].reset_index(drop=True), y.iloc[train_rows].reset_index(drop=True)
    X_test, y_test = X_test.iloc[test_rows].reset_index(drop=True), y_test.iloc[test_rows].reset_index(drop=True)
    X = X.drop(columns=["fnlwgt"]); X_test = X_test.drop(columns=["fnlwgt"])
    print(X.shape, f"positive rate {y.mean():.3f}")
    """),
    md("""
    The constraints, from domain knowledge: more education, capital gains and
    hours worked never lower the predicted chance of a high income.
    """),
    code("""
    MONOTONE = {"education_num": "increasing", "capital_gain": "increasing",
                "hours_per_week": "increasing"}
    results = {}

    def record(name, model, probability_of, fit_seconds):
        start = time.perf_counter()
        probability = probability_of(X_test)
        predict_seconds = time.perf_counter() - start
        results[name] = {
            "accuracy": accuracy_score(y_test, probability > 0.5),
            "roc_auc": roc_auc_score(y_test, probability),
            "size_kib": len(pickle.dumps(model)) / 1024,
            "fit_s": fit_seconds,
            "predict_ms_per_1k": 1000 * predict_seconds / len(X_test) * 1000,
        }
        print(name, {k: round(v, 3) for k, v in results[name].items()})
    """),
    code("""
    lattice_models = {}
    for kind in ("random", "crystals", "rtl"):
        model = CalibratedLatticeEnsembleClassifier(
            monotonicity=MONOTONE, ensemble=kind, num_lattices=8, lattice_rank=3,
            num_keypoints=8, epochs=6, batch_size=128, learning_rate=0.02, random_state=0, verbose=0)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        lattice_models[kind] = model
        record(f"lattice ensemble ({kind})", model, lambda Z, m=model: m.predict_proba(Z)[:, 1], seconds)
        assert model.certify().holds
    print("features of each crystals lattice:", lattice_models["crystals"].lattices_)
    """),
    code("""
    monotonic_cst = {column: 1 for column in MONOTONE}
    boosting = HistGradientBoostingClassifier(monotonic_cst=monotonic_cst, categorical_features="from_dtype",
                                              max_iter=200, random_state=0)
    start = time.perf_counter()
    boosting.fit(X, y)
    record("HistGradientBoosting (monotonic_cst)", boosting,
           lambda Z: boosting.predict_proba(Z)[:, 1], time.perf_counter() - start)
    """),
    md("""
    ## Side by side

    Accuracy on the official test split (subsampled), serialized size and
    time. The lattice models are small (a few thousand parameters) and their
    prediction cost is fixed by their structure; boosting's grows with the
    number of trees.
    """),
    code("""
    table = pd.DataFrame(results).T
    print(table.round(3).to_string())
    for kind in ("random", "crystals", "rtl"):
        assert table.loc[f"lattice ensemble ({kind})", "accuracy"] > 0.80
        assert table.loc[f"lattice ensemble ({kind})", "roc_auc"] > 0.85
    figure, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, column in zip(axes, ("accuracy", "size_kib", "fit_s")):
        table[column].plot.barh(ax=ax); ax.set_title(column)
    figure.tight_layout()
    """),
    md("""
    Both kinds of model honour the constraints on the test data. The lattice
    models also come with an exact certificate: their constraint holds for
    every input, not only for those we tried.
    """),
    code("""
    richer = X_test.assign(education_num=np.minimum(X_test["education_num"] + 2, 16))
    for name, model in list(lattice_models.items()) + [("boosting", boosting)]:
        change = model.predict_proba(richer)[:, 1] - model.predict_proba(X_test)[:, 1]
        print(f"{name:10s} smallest change with two more years of education: {change.min():.2e}")
        assert change.min() >= -1e-6
    """),
]


DEPLOYMENT = [
    md("""
    # Saving, loading and serving

    A fitted estimator can be

    * saved to one `.keras` file with `save()` and restored with `load()`
      (the file is also a valid Keras archive);
    * pickled (for scikit-learn tooling such as joblib);
    * exported as a TensorFlow SavedModel with `export()`. With
      `portable=True` (the default) the graph uses only stock TensorFlow
      ops, so TensorFlow Serving or any TensorFlow process can serve it
      without tf_lattice installed.
    """),
    code(SETUP),
    code("""
    import os
    import pickle
    import subprocess
    import sys
    import tempfile
    from pathlib import Path
    from tf_lattice.datasets import make_restaurant_ctr
    from tf_lattice.estimators import CalibratedLatticeClassifier

    X, y = make_restaurant_ctr(2000, random_state=0)
    model = CalibratedLatticeClassifier(
        monotonicity={"avg_rating": "increasing", "num_reviews": "increasing"},
        convexity={"num_reviews": "concave"}, lattice_size=3, epochs=10, batch_size=64,
        random_state=0, verbose=0).fit(X, y)
    workdir = Path(tempfile.mkdtemp(prefix="tf_lattice_tutorial_"))
    expected = model.predict_proba(X)
    """),
    md("## Save and load"),
    code("""
    path = workdir / "restaurants.keras"
    model.save(path)
    restored = CalibratedLatticeClassifier.load(path)
    np.testing.assert_allclose(restored.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    assert restored.certify().holds
    print(f"{path.name}: {path.stat().st_size / 1024:.1f} KiB, same predictions, certificate holds")
    """),
    md("""
    The file holds the model and the estimator's parameters and fitted
    encoding (keypoints, vocabularies, classes) as JSON, no pickle. The same
    file works with the command line:
    """),
    code("""
    result = subprocess.run([sys.executable, "-m", "tf_lattice", "certify", str(path)],
                            capture_output=True, text=True)
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    """),
    md("## Pickle"),
    code("""
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(unpickled.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    """),
    md("""
    ## A portable SavedModel that reads raw rows

    The SavedModel's `serving_default` signature takes one tensor per column,
    as a client has it: numbers as float64 (NaN for a missing value) and
    categories as strings (any text the model never saw, `""` included, reads
    the bucket of unseen and missing categories). The encoding (keypoints,
    vocabularies) runs inside the graph, and the output is `predict_proba`'s.
    `serving_inputs()` gives each column's input name and type;
    `tf_lattice.saved_model.custom_ops` lists any tf_lattice kernel left in the
    graph: none.
    """),
    code("""
    import json
    import tf_lattice.saved_model

    export_dir = workdir / "restaurants" / "1"
    model.export(str(export_dir), portable=True)
    assert tf_lattice.saved_model.custom_ops(str(export_dir)) == []
    print(model.serving_inputs())
    """),
    md("""
    ## A TensorFlow Serving request, served without tf_lattice

    TensorFlow Serving's REST API takes a JSON body of rows
    (`{"instances": [{...}, ...]}`) or of columns (`{"inputs": {...}}`); it
    accepts the token `NaN`, which Python's `json` writes for missing
    numbers. Here a fresh Python process that imports only TensorFlow plays
    the server: it stacks the rows into one tensor per input, as the model
    server does, and calls the signature.
    """),
    code("""
    rows = X.head(5).copy()
    rows.loc[rows.index[0], "avg_rating"] = np.nan      # a missing number
    rows["dollar_rating"] = rows["dollar_rating"].astype(object)
    rows.loc[rows.index[1], "dollar_rating"] = "DDDDD"   # a category never seen in training
    inputs = model.serving_inputs()
    instances = [{inputs[column][0]: (value if inputs[column][1] == "float64" else str(value))
                  for column, value in row.items()} for _, row in rows.iterrows()]
    body = json.dumps({"instances": instances})
    print(body)
    """),
    code('''
    SERVER = """
    import json, sys
    import tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    signature = loaded.signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    rows = json.loads(sys.argv[2])["instances"]
    inputs = {name: tf.constant([row[name] for row in rows], spec.dtype) for name, spec in specs.items()}
    (probabilities,) = signature(**inputs).values()
    assert not any(name.startswith("tf_lattice") for name in sys.modules), "tf_lattice was imported"
    print(json.dumps({"predictions": probabilities.numpy().tolist()}))
    """
    result = subprocess.run([sys.executable, "-c", SERVER, str(export_dir), body],
                            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    served = np.array(json.loads(result.stdout.splitlines()[-1])["predictions"])
    np.testing.assert_allclose(served, model.predict_proba(rows), rtol=1e-5, atol=1e-6)
    print(served.round(4))
    print("served probabilities match the estimator's")
    '''),
    md("""
    With TensorFlow Serving itself, point the server at the parent directory
    (`--model_name=restaurants --model_base_path=<workdir>/restaurants`) and
    POST the same body to `/v1/models/restaurants:predict`. The signature
    `serve` still takes the encoded float32 matrix of `transform_features`
    and returns the raw scores (logits), for clients that encode rows
    themselves.
    """),
    code("""
    import shutil
    shutil.rmtree(workdir)
    """),
]


SKLEARN_WORKFLOWS = [
    md("""
    # scikit-learn workflows: pipelines, grid search, missing values, figures

    The estimators are scikit-learn estimators, so the usual tools apply:
    pipelines (also behind a `ColumnTransformer` that outputs NumPy arrays,
    with constraints given by column position), grid search, cross-validation.
    This notebook fits a regressor on data with missing values, tunes it in a
    pipeline, then fits a classifier with integer-coded categories and class
    weights, and reads both with the figures of `tf_lattice.plotting`. The
    figures show themselves: no `%matplotlib inline` is needed, and importing
    the library prints nothing.
    """),
    code("""
    import numpy as np
    import pandas as pd
    from tf_lattice import plotting
    from tf_lattice.datasets import load_auto_mpg, load_heart
    from tf_lattice.estimators import CalibratedLatticeEnsembleClassifier, CalibratedLinearRegressor
    """),
    md("""
    ## A regressor on data with missing values

    Six cars of Auto MPG have no `Horsepower`. The calibrator of a numeric
    column learns an output for missing values, so no imputation is needed.
    Fuel economy falls with weight and power and rises with the model year.
    """),
    code("""
    from sklearn.model_selection import train_test_split

    X, y = load_auto_mpg()
    print("missing values per column:", X.isna().sum()[X.isna().sum() > 0].to_dict())
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    regressor = CalibratedLinearRegressor(
        monotonicity={"Weight_in_lbs": -1, "Horsepower": -1, "Year": 1},
        convexity={"Weight_in_lbs": "convex"}, epochs=60, random_state=0, verbose=0)
    regressor.fit(X_train, y_train)
    print(f"test R^2 {regressor.score(X_test, y_test):.3f}")
    assert regressor.score(X_test, y_test) > 0.8
    assert regressor.certify().holds
    """),
    md("""
    A calibrated linear model is a sum of one term per column, so its
    calibrators are drawn in miles per gallon: each curve is the column's
    exact contribution to the prediction. The dashed line is the contribution
    of a missing `Horsepower`; columns without missing values in training
    have none.
    """),
    code("""
    display = plotting.CalibratorDisplay.from_estimator(regressor)
    horsepower = display.axes_[list(X.columns).index("Horsepower")]
    assert [t.get_text() for t in horsepower.get_legend().get_texts()] == ["calibrator", "missing"]
    display
    """),
    md("""
    ## In a pipeline, constraints by position

    Behind a `ColumnTransformer` with its default NumPy output, the column
    names are gone. Constraints then take scikit-learn's positional form, one
    entry per column in the transformed order (here the scaled numeric
    columns, then `Origin`), as `monotonic_cst` does: 1 increasing, -1
    decreasing, 0 free. A grid search tunes the calibrators' smoothness.
    """),
    code("""
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    numeric = ["Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration", "Year"]
    pipeline = Pipeline([
        ("columns", ColumnTransformer([("scale", StandardScaler(), numeric)], remainder="passthrough")),
        ("model", CalibratedLinearRegressor(monotonicity=[0, 0, -1, -1, 0, 1, 0], epochs=40,
                                            random_state=0, verbose=0)),
    ])
    search = GridSearchCV(pipeline, {"model__calibration_hessian": [1e-4, 1e-1]}, cv=3)
    search.fit(X_train, y_train)
    print("best:", search.best_params_, f"cross-validated R^2 {search.best_score_:.3f}")
    print(f"test R^2 {search.score(X_test, y_test):.3f}")
    assert np.isfinite(search.best_score_) and search.score(X_test, y_test) > 0.75
    """),
    md("""
    ## A classifier with integer-coded categories and class weights

    In the heart data, `cp` (chest pain type), `restecg` and `slope` are
    category codes stored as integers: `categorical_features` gives them one
    learned value per code instead of a calibrator along the codes' order (as
    in `HistGradientBoostingClassifier`). The disease is the rarer class;
    `class_weight="balanced"` weighs both classes equally.
    """),
    code("""
    from sklearn.metrics import roc_auc_score

    X, y = load_heart()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    classifier = CalibratedLatticeEnsembleClassifier(
        monotonicity={"ca": 1, "oldpeak": 1, "thalach": -1},
        categorical_features=["cp", "restecg", "slope"], class_weight="balanced",
        num_lattices=8, lattice_rank=2, epochs=40, batch_size=32, random_state=0, verbose=0)
    classifier.fit(X_train, y_train)
    auc = roc_auc_score(y_test, classifier.predict_proba(X_test)[:, 1])
    print(f"test ROC AUC {auc:.3f}")
    assert auc > 0.8 and classifier.certify().holds
    assert {s.name: s.kind for s in classifier.feature_specs_}["cp"] == "categorical"
    """),
    md("""
    `feature_importances_` says how much the scores move with each column:
    the mean absolute change when the column is set to its median (or its
    most frequent category), normalized to sum 1.
    """),
    code("""
    importances = pd.Series(classifier.feature_importances_, index=X.columns).sort_values()
    assert abs(importances.sum() - 1) < 1e-9
    importances.plot.barh(title="feature importances", figsize=(5, 4));
    """),
    md("""
    ## Figures of the classifier

    Partial dependence averages the predicted probability over the training
    rows with one column set to each value, so it is in the probability's
    units.
    """),
    code("""
    plotting.PartialDependenceDisplay.from_estimator(classifier, X_train, ["ca", "thalach", "cp"])
    """),
    md("""
    Two columns at once: the output surface (the probability over a grid of
    both, averaged over the other columns), and the parameters of a lattice
    that reads exactly two columns.
    """),
    code("""
    plotting.LatticeDisplay.from_estimator(classifier, ["thalach", "oldpeak"], X_train)
    """),
    code("""
    pair = next(columns for columns in classifier.lattices_ if len(columns) == 2)
    plotting.LatticeDisplay.from_estimator(classifier, pair, kind="parameters")
    """),
    md("""
    And the model itself: columns, their calibrators, the lattices each
    reads, the combination and the output.
    """),
    code("""
    print(plotting.model_graph(classifier))
    plotting.ModelGraphDisplay.from_estimator(classifier)
    """),
]


NOTEBOOKS = {
    "01_quick_start.ipynb": QUICK_START,
    "02_shape_constraints.ipynb": SHAPE_CONSTRAINTS,
    "03_keras_layers.ipynb": KERAS_LAYERS,
    "04_ensembles.ipynb": ENSEMBLES,
    "05_deployment.ipynb": DEPLOYMENT,
    "06_sklearn_workflows.ipynb": SKLEARN_WORKFLOWS,
}


def build(name, cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{os.path.splitext(name)[0]}-{index:02d}"
    nbformat.validate(notebook)
    return notebook


#: Seconds one cell may run before the notebook fails.
CELL_TIMEOUT = 600
KERNEL_NAME = "tf-lattice-tutorials"


def _kernel_environment():
    root = os.path.dirname(HERE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def execute(notebook, working_dir):
    """Runs every cell of ``notebook`` in place, in a fresh kernel of this interpreter.

    The kernel spec is written to a temporary directory, so nothing beyond
    ipykernel needs to be installed or registered. A failing cell raises
    (``nbclient.exceptions.CellExecutionError``) naming the cell.

    Args:
      notebook: an ``nbformat`` notebook; its cells get their outputs.
      working_dir: the kernel's working directory.

    Returns:
      ``notebook``.
    """
    import nbclient
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory() as kernels:
        spec = os.path.join(kernels, KERNEL_NAME)
        os.mkdir(spec)
        with open(os.path.join(spec, "kernel.json"), "w") as handle:
            json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                "{connection_file}"],
                       "display_name": "tf_lattice", "language": "python"}, handle)
        manager = KernelManager(kernel_name=KERNEL_NAME,
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[kernels]))
        client = nbclient.NotebookClient(
            notebook, km=manager, timeout=CELL_TIMEOUT, allow_errors=False,
            resources={"metadata": {"path": str(working_dir)}})
        client.execute(env=_kernel_environment())
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to write (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write without outputs")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"no tutorial named {unknown}; choose from {sorted(NOTEBOOKS)}")
    for name in args.names or NOTEBOOKS:
        notebook = build(name, NOTEBOOKS[name])
        if not args.no_execute:
            with tempfile.TemporaryDirectory() as working_dir:
                execute(notebook, working_dir)
        nbformat.write(notebook, os.path.join(HERE, name))
        print("wrote", name, "(executed)" if not args.no_execute else "(no outputs)")


if __name__ == "__main__":
    main()
