"""Exported SavedModels served by fresh processes, with and without
tf_lattice's op library, from serialized tf.Example protos."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.tf_estimator import _data
from tests.tf_estimator.conftest import ONE_WORKER

from tf_lattice import _native
from tf_lattice.saved_model import custom_ops

pytestmark = ONE_WORKER

#: Loads each SavedModel of a JSON request file and calls one signature on
#: serialized examples; imports TensorFlow only (and, when given, loads the
#: op library by path).
SERVER = """
import json, sys
import numpy as np
import tensorflow as tf
request = json.load(open(sys.argv[1]))
if request["library"]:
    tf.load_op_library(request["library"])
answers = {}
for name, job in request["jobs"].items():
    examples = tf.constant([bytes.fromhex(e) for e in job["examples"]])
    try:
        signature = tf.saved_model.load(job["path"]).signatures[job["signature"]]
        answers[name] = signature(**{job["argument"]: examples})[job["output"]].numpy().tolist()
    except Exception as error:  # reported, and checked by the test
        answers[name] = f"{type(error).__name__}: {error}"
answers["modules"] = sorted(m for m in sys.modules if m.startswith("tf_lattice"))
json.dump(answers, open(sys.argv[2], "w"))
"""

CASES = [("ensemble-rtl", "binary"), ("lattice", "regression")]


def _serve(tmp_path, name, library, jobs):
    request = tmp_path / f"{name}.json"
    answer = tmp_path / f"{name}-answer.json"
    request.write_text(json.dumps({"library": library, "jobs": jobs}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run([sys.executable, "-c", SERVER, str(request), str(answer)],
                            cwd=str(tmp_path), env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(answer.read_text())


@pytest.fixture(scope="module")
def exports(trained, tmp_path_factory):
    """Per case: the estimator's predictions and its two exports."""
    folder = tmp_path_factory.mktemp("exports")
    made = {}
    for case in CASES:
        run = trained(case)
        rows = {name: values[:40] for name, values in run.test_features.items()}
        key = "predictions" if run.head == "regression" else "probabilities"
        expected = np.array([p[key] for p in run.estimator.predict(_data.input_fn(rows))])
        made[case] = dict(
            head=run.head, expected=expected,
            examples=[e.hex() for e in _data.serialized_examples(rows)],
            portable=run.estimator.export(str(folder / f"{'-'.join(case)}-portable")),
            kernel=run.estimator.export(str(folder / f"{'-'.join(case)}-kernel"), portable=False))
    return made


def _job(made, which, signature):
    regression = made["head"] == "regression"
    if signature == "predict":
        argument, output = "examples", "predictions" if regression else "probabilities"
    else:
        argument, output = "inputs", "outputs" if regression else "scores"
    return {"path": made[which], "signature": signature, "argument": argument, "output": output,
            "examples": made["examples"]}


def test_exports_differ_only_in_the_ops_they_need(exports):
    for made in exports.values():
        assert custom_ops(made["portable"]) == []
        assert custom_ops(made["kernel"])  # the compiled calibration and lattice ops


def test_portable_export_serves_without_tf_lattice(exports, tmp_path):
    jobs = {}
    for case, made in exports.items():
        for signature in ("serving_default", "predict"):
            jobs[f"{'-'.join(case)}-{signature}"] = _job(made, "portable", signature)
        jobs[f"{'-'.join(case)}-kernel"] = _job(made, "kernel", "predict")
    answers = _serve(tmp_path, "portable", None, jobs)
    assert answers.pop("modules") == []
    for case, made in exports.items():
        name = "-".join(case)
        for signature in ("serving_default", "predict"):
            np.testing.assert_allclose(np.array(answers[f"{name}-{signature}"]).reshape(
                made["expected"].shape), made["expected"], rtol=1e-4, atol=1e-5)
        # The kernel export needs the library this process did not load.
        assert "TfLattice>" in answers[f"{name}-kernel"]


def test_kernel_export_serves_with_the_op_library(exports, tmp_path):
    jobs = {f"{'-'.join(case)}-{signature}": _job(made, "kernel", signature)
            for case, made in exports.items() for signature in ("serving_default", "predict")}
    answers = _serve(tmp_path, "kernel", _native.library_path(), jobs)
    assert answers.pop("modules") == []
    for case, made in exports.items():
        for signature in ("serving_default", "predict"):
            np.testing.assert_allclose(np.array(answers[f"{'-'.join(case)}-{signature}"]).reshape(
                made["expected"].shape), made["expected"], rtol=1e-4, atol=1e-5)


def test_export_saved_model_takes_the_parsing_receiver(trained, tmp_path):
    # The plain Estimator API: export_saved_model with the estimator's
    # tf.Example receiver (this keeps the compiled kernels, loaded here).
    run = trained(("linear", "multiclass"))
    path = run.estimator.export_saved_model(str(tmp_path), run.estimator.serving_input_receiver_fn())
    loaded = tf.saved_model.load(path)
    assert {"serving_default", "predict", "classification"} <= set(loaded.signatures)
    rows = {name: values[:30] for name, values in run.test_features.items()}
    served = loaded.signatures["predict"](examples=tf.constant(_data.serialized_examples(rows)))
    expected = np.array([p["probabilities"] for p in run.predictions()[:30]])
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, rtol=1e-4, atol=1e-5)
    assert custom_ops(path.decode() if isinstance(path, bytes) else path)
