"""The same model, trained through the Estimator and through the scikit-learn
estimator on the same data, ends up with the same encoding and comparable
metrics."""

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score

from tests.tf_estimator import _data
from tests.tf_estimator.conftest import ONE_WORKER, SHAPES

from tf_lattice import estimators, tf_estimator

pytestmark = ONE_WORKER

EPOCHS, BATCH = 8, 50


def _frame(features):
    frame = pd.DataFrame({name: values for name, values in features.items()})
    frame["color"] = frame["color"].replace("", None)  # missing, as the Estimator reads ""
    return frame


def _split(head):
    train, train_score = _data.make_data(1500, seed=3)
    test, test_score = _data.make_data(500, seed=4)
    return (train, _data.labels_for(head, train_score),
            test, _data.labels_for(head, test_score, reference=train_score))


def _specs_match(sklearn_model, estimator):
    ours = estimator.feature_specs
    theirs = sklearn_model.feature_specs_
    assert [s.name for s in ours] == [s.name for s in theirs]
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        assert a.vocabulary == b.vocabulary


def test_ensemble_classifier_matches_the_scikit_learn_estimator(tmp_path):
    train, labels, test, test_labels = _split("binary")
    params = dict(SHAPES, convexity={"bowl": "convex"}, num_lattices=4, lattice_rank=2,
                  ensemble="rtl", random_state=0)
    reference = estimators.CalibratedLatticeEnsembleClassifier(
        epochs=EPOCHS, batch_size=BATCH, verbose=0, **params).fit(_frame(train), labels)
    estimator = tf_estimator.CalibratedLatticeEnsembleEstimator(
        _data.FEATURES, _data.input_fn(train, labels), model_dir=str(tmp_path), **params)
    estimator.train(_data.input_fn(train, labels, epochs=EPOCHS, batch_size=BATCH, shuffle=True))
    _specs_match(reference, estimator)
    assert estimator.lattices == reference.lattices_
    reference_auc = roc_auc_score(test_labels, reference.predict_proba(_frame(test))[:, 1])
    ours = np.array([p["logistic"][0] for p in estimator.predict(_data.input_fn(test))])
    auc = roc_auc_score(test_labels, ours)
    assert reference_auc > 0.95 and auc > 0.95
    assert abs(auc - reference_auc) < 0.01, (auc, reference_auc)
    assert estimator.certify().holds and reference.certify().holds


def test_linear_regressor_matches_the_scikit_learn_estimator(tmp_path):
    train, labels, test, test_labels = _split("regression")
    params = dict(SHAPES, convexity={"bowl": "convex"}, random_state=0)
    reference = estimators.CalibratedLinearRegressor(
        epochs=EPOCHS, batch_size=BATCH, verbose=0, **params).fit(_frame(train), labels)
    estimator = tf_estimator.CalibratedLinearEstimator(
        _data.FEATURES, _data.input_fn(train, labels), head="regression",
        model_dir=str(tmp_path), **params)
    estimator.train(_data.input_fn(train, labels, epochs=EPOCHS, batch_size=BATCH, shuffle=True))
    _specs_match(reference, estimator)
    reference_r2 = r2_score(test_labels, reference.predict(_frame(test)))
    r2 = r2_score(test_labels,
                  [p["predictions"][0] for p in estimator.predict(_data.input_fn(test))])
    assert reference_r2 > 0.85 and r2 > 0.85
    assert abs(r2 - reference_r2) < 0.02, (r2, reference_r2)
