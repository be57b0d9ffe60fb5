"""The estimators' SavedModel reads raw columns: in-graph encoding, REST
requests, a process without tf_lattice, ONNX."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.estimators._data import FAST
from tf_lattice import estimators
from tf_lattice.estimators._columns import CATEGORICAL, FeatureSpec
from tf_lattice.estimators._serving import DESCRIPTION_FILE, category_keys, input_names

# A TensorFlow Serving stand-in: it parses a REST predict body as
# tensorflow_model_server does (row format: per-row objects stacked into one
# tensor per named input; columnar format: one list per input; NaN tokens
# accepted), calls the signature and answers in Serving's response format. It
# imports only TensorFlow, so the SavedModel must serve without tf_lattice.
SERVING_SCRIPT = r"""
import json, sys
import tensorflow as tf


def predict(loaded, body):
    signature = loaded.signatures[body.get("signature_name", "serving_default")]
    specs = signature.structured_input_signature[1]
    if "instances" in body:
        rows = body["instances"]
        inputs = {name: tf.constant([row[name] for row in rows], spec.dtype)
                  for name, spec in specs.items()}
    else:
        inputs = {name: tf.constant(body["inputs"][name], spec.dtype) for name, spec in specs.items()}
    outputs = {name: value.numpy().tolist() for name, value in signature(**inputs).items()}
    single = next(iter(outputs.values())) if len(outputs) == 1 else outputs
    return {"predictions": single} if "instances" in body else {"outputs": single}


loaded = tf.saved_model.load(sys.argv[1])
responses = [predict(loaded, json.loads(open(request).read())) for request in sys.argv[2:]]
assert not [name for name in sys.modules if name.startswith("tf_lattice")], "tf_lattice was imported"
print(json.dumps(responses))
"""


def serving_frame(n=150, seed=0):
    """Columns whose names need mapping, numbers with NaN, strings with None,
    integer categories, booleans; a binary and a three-class label."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 80, n)
    city = rng.choice(["Oslo", "Paris", "Rome"], n).astype(object)
    grade = rng.choice([1, 2, 3], n)
    member = rng.random(n) < 0.5
    frame = pd.DataFrame({
        "Age (years)": age,
        "city": city,
        "2nd grade": pd.Categorical(grade),
        "member": member,
        "AGE_years": rng.normal(size=n),
        "code": rng.integers(0, 4, n),
    })
    frame.loc[::6, "Age (years)"] = np.nan
    frame.loc[::9, "city"] = None
    frame.loc[::10, "2nd grade"] = np.nan
    score = 0.05 * np.nan_to_num(age - 50) + (city == "Rome") + 0.5 * member + rng.normal(0, 0.3, n)
    binary = np.where(score > np.median(score), "yes", "no")
    three = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return frame, binary, three, score


def unseen_rows(frame):
    """Rows with missing values and categories never seen in training."""
    rows = frame.iloc[:12].copy()
    rows["city"] = ["Lima", None, "Oslo", "", "Rome", "Paris"] * 2
    rows["2nd grade"] = pd.Categorical([1, 2, 3, 7, np.nan, 1] * 2)
    rows.loc[rows.index[::3], "Age (years)"] = np.nan
    rows["code"] = [0, 1, 2, 3, 9, 0] * 2  # 9: an integer code never seen
    return rows


def _served(model, frame):
    if hasattr(model, "classes_"):
        return model.predict_proba(frame)
    return model.predict(frame)


def _columns(model, frame):
    """``{input name: list of values}`` as a client sends them: numbers with
    NaN, categories as text ("" for missing)."""
    columns = {}
    for column, (name, dtype) in model.serving_inputs().items():
        values = frame[column]
        if dtype == "float64":
            columns[name] = [float(v) for v in values.astype("float64")]
        else:
            columns[name] = ["" if pd.isna(v) else str(v) for v in values.astype(object)]
    return columns


ESTIMATORS = [
    (estimators.CalibratedLatticeClassifier, {}, "binary"),
    (estimators.CalibratedLatticeEnsembleClassifier,
     dict(num_lattices=3, lattice_rank=3, interpolation="simplex"), "three"),
    (estimators.CalibratedLinearRegressor, dict(categorical_features=["code"]), "score"),
    (estimators.DeepLatticeNetworkRegressor, {}, "score"),
]


_FITTED = {}


def _fit(estimator, params, target):
    """The estimator fitted on `serving_frame` (once per module)."""
    key = (estimator.__name__, target)
    if key not in _FITTED:
        frame, binary, three, score = serving_frame()
        y = {"binary": binary, "three": three, "score": score}[target]
        _FITTED[key] = estimator(**params, **FAST).fit(frame, y), frame
    return _FITTED[key]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A binary classifier, exported once for the tests below."""
    model, frame = _fit(*ESTIMATORS[0])
    path = str(tmp_path_factory.mktemp("serving") / "model" / "1")
    assert model.export(path) == path
    return model, frame, path


def test_input_names_are_signature_safe_and_distinct():
    names = input_names(["Age (years)", "age_years", "2nd", "", "x", "X", "café", "a-b"])
    assert names == ["age__years_", "age_years", "col_2nd", "col_", "x", "x_2", "caf_", "a_b"]


def test_category_texts_must_be_distinct():
    spec = FeatureSpec("code", CATEGORICAL, vocabulary=(3, "3", 4.0, 0.5, True))
    with pytest.raises(ValueError, match=r"column 'code' has the categories 3 and '3'"):
        category_keys(spec)
    assert category_keys(FeatureSpec("code", CATEGORICAL, vocabulary=(3, 4.0, 0.5, "a"))) == [
        "3", "4", "0.5", "a"]


def test_encoder_equals_transform_encoding():
    """The graph's encoding equals `encode` on the same values: numbers with
    NaN, string, integer and float categories, unseen and missing ones, and a
    column that had no category in training."""
    import tensorflow as tf
    from tf_lattice.estimators._columns import NUMERIC, encode
    from tf_lattice.estimators._serving import ColumnEncoder
    specs = [FeatureSpec("x", NUMERIC, keypoints=(0.0, 1.0)),
             FeatureSpec("s", CATEGORICAL, vocabulary=("a", "b", "")),
             FeatureSpec("i", CATEGORICAL, vocabulary=(1, 2, 10)),
             FeatureSpec("f", CATEGORICAL, vocabulary=(0.5, 2.0)),
             FeatureSpec("none", CATEGORICAL)]
    frame = pd.DataFrame({
        "x": [0.25, np.nan, 3e38, -3.0, 0.1 + 1e-12, 7.0],
        "s": ["b", None, "", "c", "a", "B"],
        "i": [10, 1, None, 3, 2, 1],
        "f": [2.0, 0.5, 1.0, None, 0.5, 2.0],
        "none": ["q", None, "", "a", "b", "c"],
    }).astype({"s": object, "i": object, "f": object, "none": object})
    # "" is a category of "s" here, so a missing value is sent as another text.
    texts = {name: ["<missing>" if pd.isna(v) else category_key_of(v) for v in frame[name]]
             for name in ("s", "i", "f", "none")}
    inputs = {"x": tf.constant(frame["x"].to_numpy(np.float64)),
              **{name: tf.constant(values) for name, values in texts.items()}}
    encoded = ColumnEncoder(specs)(inputs).numpy()
    expected = encode(frame, specs)
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, expected)  # NaN where NaN, buckets exact
    assert encoded[2, 1] == 2 and encoded[1, 1] == 3 and encoded[3, 1] == 3


def category_key_of(value):
    """A client's text for a category: integral numbers without ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("estimator, params, target", ESTIMATORS,
                         ids=[e[0].__name__ for e in ESTIMATORS])
def test_raw_signature_matches_predict(tmp_path, estimator, params, target):
    import tensorflow as tf
    model, frame = _fit(estimator, params, target)
    if "categorical_features" in params:
        assert model.serving_inputs()["code"] == ("code", "string")
    model.export(str(tmp_path))
    signature = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    rows = unseen_rows(frame)
    inputs = {name: tf.constant(values, tf.float64 if isinstance(values[0], float) else tf.string)
              for name, values in _columns(model, rows).items()}
    outputs = signature(**inputs)
    key = "probabilities" if hasattr(model, "classes_") else "predictions"
    assert list(outputs) == [key]
    served = outputs[key].numpy()
    assert served.dtype == np.float64
    np.testing.assert_allclose(served, _served(model, rows), rtol=1e-5, atol=1e-6)
    # The encoded-matrix signature is kept: raw scores of the encoded rows.
    scores = tf.saved_model.load(str(tmp_path)).signatures["serve"](
        features=tf.constant(model.transform_features(rows)))["output_0"].numpy()
    np.testing.assert_allclose(scores, model._raw_scores(rows), rtol=1e-5, atol=1e-5)


def test_description_file_names_the_inputs(exported):
    model, _, path = exported
    with open(os.path.join(path, "assets.extra", DESCRIPTION_FILE), encoding="utf-8") as handle:
        description = json.load(handle)
    mapping = {entry["column"]: (entry["input"], entry["dtype"]) for entry in description["inputs"]}
    assert mapping == model.serving_inputs()
    assert mapping["Age (years)"] == ("age__years_", "float64")
    assert mapping["2nd grade"] == ("col_2nd_grade", "string")
    assert mapping["code"] == ("code", "float64")  # numeric unless categorical_features names it
    city = next(entry for entry in description["inputs"] if entry["column"] == "city")
    assert city["categories"] == ["Oslo", "Paris", "Rome"]
    assert description["outputs"]["probabilities"]["classes"] == ["no", "yes"]


def test_rest_requests_served_in_a_process_without_tf_lattice(tmp_path, exported):
    """TensorFlow Serving REST ``predict`` bodies, in the row (``instances``)
    and the columnar (``inputs``) layout, parsed and answered as the model
    server does, by a process that imports only TensorFlow.

    The ``tensorflow_model_server`` binary is not installed here (it is not
    a PyPI package), so the server itself is not run: ``SERVING_SCRIPT``
    parses the JSON bodies the way its REST handler does (``NaN`` tokens,
    per-row objects stacked into one tensor per input, or one list per
    input), calls the named signature through the SavedModel loader and
    answers in Serving's response layout.
    """
    model, frame, path = exported
    rows = unseen_rows(frame)
    columns = _columns(model, rows)
    bodies = {"instances": [dict(zip(columns, values)) for values in zip(*columns.values())],
              "inputs": columns}
    requests = []
    for layout, content in bodies.items():
        text = json.dumps({layout: content})  # NaN becomes the token NaN, which Serving accepts
        assert "NaN" in text and "Lima" in text
        requests.append(tmp_path / f"{layout}.json")
        requests[-1].write_text(text)
    result = subprocess.run([sys.executable, "-c", SERVING_SCRIPT, path] + [str(r) for r in requests],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": ""}, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    rows_response, columns_response = json.loads(result.stdout.strip().splitlines()[-1])
    expected = model.predict_proba(rows)
    np.testing.assert_allclose(np.asarray(rows_response["predictions"]), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(columns_response["outputs"]), expected, rtol=1e-5, atol=1e-6)


ONNX_SCRIPT = r"""
import json, subprocess, sys
import numpy as np
import onnxruntime

saved, target, feeds = sys.argv[1], sys.argv[2], json.loads(open(sys.argv[3]).read())
subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved,
                "--signature_def", "serving_default", "--output", target],
               check=True, capture_output=True)
session = onnxruntime.InferenceSession(target, providers=["CPUExecutionProvider"])
types = {i.name: i.type for i in session.get_inputs()}
arrays = {name: np.array(values, dtype=np.float64 if types[name] == "tensor(double)" else object)
          for name, values in feeds.items()}
outputs = session.run(None, arrays)
assert not [name for name in sys.modules if name.startswith("tf_lattice")], "tf_lattice was imported"
print(json.dumps({"names": [o.name for o in session.get_outputs()], "values": outputs[0].tolist()}))
"""


@pytest.mark.parametrize("estimator, params, target", [ESTIMATORS[1], ESTIMATORS[3]],
                         ids=[ESTIMATORS[1][0].__name__, ESTIMATORS[3][0].__name__])
def test_onnx_conversion_runs_in_onnxruntime(tmp_path, estimator, params, target):
    """tf2onnx converts the raw-column signature (hash-table lookups become
    ``CategoryMapper``) and onnxruntime gives ``predict``'s values, and the
    SavedModel's on infinite inputs (which ``predict`` refuses; calibrators
    are flat beyond their keypoints)."""
    pytest.importorskip("tf2onnx", reason="tf2onnx is not installed (make test installs it)")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (make test installs it)")
    import tensorflow as tf
    model, frame = _fit(estimator, params, target)
    model.export(str(tmp_path / "saved"))
    rows = unseen_rows(frame)
    columns = _columns(model, rows)
    numeric = [name for name, dtype in model.serving_inputs().values() if dtype == "float64"]
    for name, values in columns.items():  # two more rows: every number +inf, then -inf
        values += [np.inf, -np.inf] if name in numeric else values[:2]
    signature = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    saved = next(iter(signature(**{name: tf.constant(values, tf.float64 if name in numeric else tf.string)
                                   for name, values in columns.items()}).values())).numpy()
    assert np.all(np.isfinite(saved))
    np.testing.assert_allclose(saved[:len(rows)], _served(model, rows), rtol=1e-5, atol=1e-6)
    feeds = tmp_path / "feeds.json"
    feeds.write_text(json.dumps(columns))
    result = subprocess.run(
        [sys.executable, "-c", ONNX_SCRIPT, str(tmp_path / "saved"), str(tmp_path / "model.onnx"),
         str(feeds)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": ""}, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["names"] == ["probabilities" if hasattr(model, "classes_") else "predictions"]
    np.testing.assert_allclose(np.asarray(answer["values"]), saved, rtol=1e-5, atol=1e-5)
