"""Writes ``07_tf_estimator.ipynb`` (outputs stripped) from the cells below.

The notebook runs in the TensorFlow 2.15 lane (``make test-tf-estimator``
executes it there); the other notebooks come from ``build_notebooks.py``,
whose helpers this reuses. Run ``python tutorials/build_tf_estimator_notebook.py``
after editing it.
"""

import os

import nbformat

from build_notebooks import HERE, build, code, md

NAME = "07_tf_estimator.ipynb"

CELLS = [
    md("""
    # Canned TensorFlow Estimators (TensorFlow 2.15)

    Pipelines built on `tf.estimator` (TFX trainers, serving from
    `tf.Example` protos) can train tf_lattice's calibrated models as
    Estimators: `tf_lattice.tf_estimator` has `CalibratedLinearEstimator`,
    `CalibratedLatticeEstimator` and `CalibratedLatticeEnsembleEstimator`,
    each with a binary, multiclass or regression head.

    `tf.estimator` exists up to TensorFlow 2.15, so this notebook runs in its
    own environment: `make test-tf-estimator` creates `.venv-tf215` with
    `tensorflow-cpu==2.15.1`, `tensorflow-estimator==2.15.0`, `numpy<2`,
    Keras 3.10 (tf_lattice's layers) and `tf-keras==2.15.1` (the Estimator
    heads), builds the kernels for TensorFlow 2.15 and runs this notebook.
    Importing `tf_lattice.tf_estimator` sets `TF_USE_LEGACY_KERAS=1`, so the
    two Keras versions share the process; set it in the environment if your
    code touches `tf.estimator` before that import.
    """),
    code("""
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import json
    import subprocess
    import sys
    import tempfile
    import warnings
    warnings.filterwarnings("ignore", message="IProgress not found")
    import numpy as np
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    from tf_lattice import tf_estimator
    from tf_lattice.datasets import load_auto_mpg, load_heart
    print("TensorFlow", tf.__version__)
    workdir = tempfile.mkdtemp()
    """),
    md("""
    ## Inputs

    The Estimators read what an `input_fn` yields: a dict of feature tensors
    (numbers and strings), with labels. Features are declared by name or as
    `tf.feature_column` numeric and vocabulary columns. A
    `feature_analysis_input_fn` is read once, when the Estimator is
    constructed: it places each numeric feature's keypoints at quantiles,
    collects the vocabulary of each string feature and starts the model from
    the label prior. That plan is saved in `model_dir` with the checkpoints.
    """),
    code("""
    def columns(frame):
        \"\"\"A DataFrame as the dict of NumPy columns an input_fn yields.\"\"\"
        return {name: (frame[name].astype(str).to_numpy() if frame[name].dtype.name == "category"
                       else frame[name].to_numpy(np.float32)) for name in frame.columns}

    def input_fn(features, labels, epochs=1, shuffle=False):
        def fn():
            data = tf.data.Dataset.from_tensor_slices((features, labels))
            if shuffle:
                data = data.shuffle(len(labels), seed=0)
            return data.repeat(epochs).batch(32)
        return fn

    X, y = load_heart()
    rng = np.random.default_rng(0)
    test_rows = rng.permutation(len(X))[:90]
    is_test = np.isin(np.arange(len(X)), test_rows)
    heart_train, heart_test = columns(X[~is_test]), columns(X[is_test])
    heart_y_train, heart_y_test = y[~is_test].to_numpy(), y[is_test].to_numpy()
    print({name: values[:3] for name, values in heart_train.items() if name in ("age", "thal")})
    """),
    md("""
    ## A calibrated linear model, binary head

    The constraints use the scikit-learn estimators' vocabulary and defaults,
    named by feature. Bad names and directions fail at construction, before
    any data is read:
    """),
    code("""
    try:
        tf_estimator.CalibratedLinearEstimator(
            ["age", "ca"], input_fn(heart_train, heart_y_train),
            monotonicity={"cca": "increasing"})
    except ValueError as error:
        print(error)
    """),
    code("""
    SHAPES = {"ca": "increasing", "oldpeak": "increasing", "thalach": "decreasing",
              "trestbps": "increasing", "chol": "increasing"}
    linear = tf_estimator.CalibratedLinearEstimator(
        list(heart_train), input_fn(heart_train, heart_y_train), head="binary",
        monotonicity=SHAPES, learning_rate=0.03, random_state=0,
        model_dir=os.path.join(workdir, "linear"))
    linear.train(input_fn(heart_train, heart_y_train, epochs=15, shuffle=True))
    metrics = linear.evaluate(input_fn(heart_test, heart_y_test))
    print({k: round(float(metrics[k]), 3) for k in ("accuracy", "auc", "average_loss")})
    assert metrics["auc"] > 0.8, metrics
    """),
    md("""
    Every optimizer step is followed, inside the train op, by the projection
    of each constrained weight, so every checkpoint satisfies the declared
    constraints. `certify()` checks them exactly on the latest checkpoint:
    """),
    code("""
    certificate = linear.certify()
    print(certificate)
    assert certificate.holds
    """),
    md("""
    ## A calibrated lattice model, regression head

    Miles per gallon fall with weight and horsepower and rise with the model
    year. `Horsepower` has missing values (NaN), which get a learned output;
    `Origin` is a string feature with one learned value per category. The
    lattice makes the features interact. `finalize()` runs the exact final
    projection the scikit-learn estimators run after `fit` and writes it as
    the latest checkpoint.
    """),
    code("""
    cars, mpg = load_auto_mpg()
    cars = cars[["Weight_in_lbs", "Horsepower", "Year", "Origin"]]
    car_test = np.isin(np.arange(len(cars)), rng.permutation(len(cars))[:100])
    cars_train, cars_test = columns(cars[~car_test]), columns(cars[car_test])
    mpg_train = mpg[~car_test].to_numpy(np.float32)
    mpg_test = mpg[car_test].to_numpy(np.float32)

    lattice = tf_estimator.CalibratedLatticeEstimator(
        list(cars_train), input_fn(cars_train, mpg_train), head="regression",
        monotonicity={"Weight_in_lbs": "decreasing", "Horsepower": "decreasing", "Year": "increasing"},
        lattice_size=3, learning_rate=0.05, random_state=0, model_dir=os.path.join(workdir, "lattice"))
    lattice.train(input_fn(cars_train, mpg_train, epochs=20, shuffle=True))
    print(lattice.finalize())
    metrics = lattice.evaluate(input_fn(cars_test, mpg_test))
    rmse = float(np.sqrt(metrics["average_loss"]))
    print(f"test RMSE {rmse:.2f} mpg (the standard deviation is {mpg_test.std():.2f})")
    assert rmse < 0.6 * mpg_test.std()
    """),
    md("""
    The constraints hold for every input, not only on the data: predictions
    along a grid of weights, from a few real cars, never rise.
    """),
    code("""
    weights = np.linspace(1500, 5500, 41, dtype=np.float32)
    curves = []
    for row in range(5):
        grid = {name: np.repeat(values[row:row + 1], len(weights)) for name, values in cars_test.items()}
        grid["Weight_in_lbs"] = weights
        curves.append([p["predictions"][0] for p in lattice.predict(input_fn(grid, np.zeros(len(weights))))])
    curves = np.array(curves)
    print(np.round(curves[:, ::10], 1))
    assert np.all(np.diff(curves, axis=1) <= 1e-5)
    """),
    md("""
    ## A calibrated lattice ensemble from feature columns

    The ensemble's lattices read `lattice_rank` features each; `crystals`
    groups the features that interact on the analysis pass. Here the
    features come as `tf.feature_column`s: numeric columns and a vocabulary
    column, whose list fixes the category order (out-of-vocabulary values
    share a default bucket with missing ones).
    """),
    code("""
    feature_columns = [tf.feature_column.numeric_column(name)
                       for name in ("age", "trestbps", "chol", "thalach", "oldpeak", "ca")]
    feature_columns.append(tf.feature_column.categorical_column_with_vocabulary_list(
        "thal", sorted(set(heart_train["thal"]))))
    ensemble = tf_estimator.CalibratedLatticeEnsembleEstimator(
        feature_columns, input_fn(heart_train, heart_y_train), ensemble="crystals",
        num_lattices=5, lattice_rank=3, monotonicity=SHAPES, learning_rate=0.03,
        random_state=0, model_dir=os.path.join(workdir, "ensemble"))
    print("lattices:", ensemble.lattices)
    ensemble.train(input_fn(heart_train, heart_y_train, epochs=15, shuffle=True))
    ensemble.finalize()
    metrics = ensemble.evaluate(input_fn(heart_test, heart_y_test))
    print({k: round(float(metrics[k]), 3) for k in ("accuracy", "auc")})
    assert metrics["auc"] > 0.8, metrics
    assert ensemble.certify().holds
    """),
    md("""
    `head="multiclass"` with `n_classes` (and `label_vocabulary` for string
    labels) gives one score per class; every constraint then holds on each
    class's score.

    ## Export for serving

    `export()` writes a SavedModel that parses serialized `tf.Example`
    protos, with the `serving_default` signature (classify or regress) and
    `predict`. By default it is portable: tf_lattice's kernels are replaced
    by their pure-TensorFlow twins, so TensorFlow Serving or any TensorFlow
    loads it without tf_lattice's op library (`portable=False` keeps the
    kernels; loading then needs the library). The model's plan rides along
    in `assets.extra/`.
    """),
    code("""
    exports = {name: estimator.export(os.path.join(workdir, "export", name))
               for name, estimator in (("linear", linear), ("lattice", lattice), ("ensemble", ensemble))}
    for name, path in exports.items():
        print(name, sorted(tf.saved_model.load(path).signatures), os.listdir(os.path.join(path, "assets.extra")))
    """),
    md("""
    A fresh process with TensorFlow only serves the ensemble from `tf.Example`
    protos:
    """),
    code('''
    def example(row):
        feature = {}
        for name, value in row.items():
            if isinstance(value, str):
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            elif not np.isnan(value):  # an absent feature is a missing value
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    rows = [{name: values[i] for name, values in heart_test.items()} for i in range(8)]
    with open(os.path.join(workdir, "examples.json"), "w") as handle:
        json.dump([example(row).hex() for row in rows], handle)

    SERVER = """
    import json, sys
    import tensorflow as tf
    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    examples = [bytes.fromhex(e) for e in json.load(open(sys.argv[2]))]
    scores = serve(inputs=tf.constant(examples))["scores"].numpy()
    assert not any(name.startswith("tf_lattice") for name in sys.modules)
    print(json.dumps(scores[:, 1].tolist()))
    """
    result = subprocess.run([sys.executable, "-c", SERVER, exports["ensemble"],
                             os.path.join(workdir, "examples.json")],
                            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    served = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    expected = [p["probabilities"][1] for p in ensemble.predict(
        input_fn({k: v[:8] for k, v in heart_test.items()}, heart_y_test[:8]))]
    print(np.round(served, 3))
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)
    '''),
    code("""
    import shutil
    shutil.rmtree(workdir)
    """),
]


def main():
    nbformat.write(build(NAME, CELLS), os.path.join(HERE, NAME))
    print("wrote", NAME)


if __name__ == "__main__":
    main()
