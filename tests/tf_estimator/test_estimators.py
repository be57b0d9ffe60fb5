"""Train, evaluate, predict and export every Estimator with every head."""

import numpy as np
import pytest
import tensorflow as tf

from tests.tf_estimator import _data
from tests.tf_estimator.conftest import CASES, ONE_WORKER, case_id

pytestmark = [ONE_WORKER, pytest.mark.parametrize("case", CASES, ids=case_id)]


def test_evaluate_beats_the_constant_model(case, trained):
    run = trained(case)
    metrics = run.estimator.evaluate(_data.input_fn(run.test_features, run.test_labels))
    assert metrics["global_step"] == 72
    if run.head == "binary":
        assert metrics["auc"] > 0.9, metrics
    elif run.head == "multiclass":
        # Three balanced classes: a constant model is right a third of the time
        # (the random ensemble, whose lattices happen to skip "up", gets 0.57).
        assert metrics["accuracy"] > 0.5, metrics
    else:
        variance = float(np.var(run.test_labels))
        assert metrics["average_loss"] < 0.3 * variance, (metrics, variance)


def test_predict_gives_the_head_outputs(case, trained):
    run = trained(case)
    predictions = run.predictions()
    assert len(predictions) == len(run.test_labels)
    first = predictions[0]
    if run.head == "regression":
        assert first["predictions"].shape == (1,)
        values = np.array([p["predictions"][0] for p in predictions])
        assert np.corrcoef(values, run.test_labels)[0, 1] > 0.8
        return
    classes = 2 if run.head == "binary" else 3
    assert first["probabilities"].shape == (classes,)
    probabilities = np.array([p["probabilities"] for p in predictions])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    class_ids = np.array([p["class_ids"][0] for p in predictions])
    np.testing.assert_array_equal(class_ids, probabilities.argmax(axis=1))
    assert np.mean(class_ids == run.test_labels) > 0.5


def test_checkpoint_certifies_every_declared_constraint(case, trained):
    run = trained(case)
    certificate = run.estimator.certify()
    assert certificate.holds, certificate.violations
    names = " ".join(check.name for check in certificate.checks)
    for expected in ("calibrator 'up'", "calibrator 'down'", "calibrator 'color'",
                     "calibrator 'bowl'", "declared monotonicity['up']=increasing",
                     "declared monotonicity['down']=decreasing", "declared category_order['color']"):
        assert expected in names


def test_export_serves_tf_examples_like_predict(case, trained, tmp_path):
    run = trained(case)
    path = run.estimator.export(str(tmp_path), portable=True)
    loaded = tf.saved_model.load(path)
    assert {"serving_default", "predict"} <= set(loaded.signatures)
    examples = tf.constant(_data.serialized_examples(run.test_features))
    served = loaded.signatures["predict"](examples=examples)
    predictions = run.predictions()
    if run.head == "regression":
        expected = np.array([p["predictions"] for p in predictions])
        np.testing.assert_allclose(served["predictions"].numpy(), expected, rtol=1e-4, atol=1e-5)
        default = loaded.signatures["serving_default"](inputs=examples)["outputs"].numpy()
    else:
        expected = np.array([p["probabilities"] for p in predictions])
        np.testing.assert_allclose(served["probabilities"].numpy(), expected, rtol=1e-4, atol=1e-5)
        default = loaded.signatures["serving_default"](inputs=examples)["scores"].numpy()
    np.testing.assert_allclose(default, expected, rtol=1e-4, atol=1e-5)
