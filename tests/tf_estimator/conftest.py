"""The Estimator tests run only where tf.estimator exists (TensorFlow <= 2.15).

``make test-tf-estimator`` runs them in ``.venv-tf215``; under the main
lane's newer TensorFlow this directory is not collected (the package it
tests cannot be imported there; ``tests/test_tf_estimator_lane.py`` checks
the error that import gives).
"""

import dataclasses
import os
import re

import pytest
import tensorflow as tf

from tests.tf_estimator import _data

_RELEASE = tuple(int(p) for p in re.match(r"(\d+)\.(\d+)", tf.__version__).groups())
if _RELEASE <= (2, 15):
    # Before any test touches tf.estimator (whose heads load tf.keras).
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def pytest_ignore_collect(collection_path, config):
    if _RELEASE > (2, 15):
        return True
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): tests that share one xdist worker")


#: Every test module here carries it: the tests share trained models (the
#: session fixture below), so under pytest-xdist with --dist loadgroup one
#: worker runs them all.
ONE_WORKER = pytest.mark.xdist_group("tf_estimator")


#: Every estimator with every head; the ensembles cover the three structures.
CASES = [
    ("linear", "binary"), ("linear", "multiclass"), ("linear", "regression"),
    ("lattice", "binary"), ("lattice", "multiclass"), ("lattice", "regression"),
    ("ensemble-rtl", "binary"), ("ensemble-random", "multiclass"),
    ("ensemble-crystals", "regression"),
]
#: The declared shapes (unimodality needs the single lattice; the others
#: make "bowl" convex instead).
SHAPES = dict(monotonicity={"up": "increasing", "down": "decreasing"},
              category_order={"color": [("red", "green"), ("green", "blue")]})


def case_id(case):
    return "-".join(case)


@dataclasses.dataclass
class Trained:
    """A trained estimator and the data around it."""

    estimator: object
    head: str
    test_features: dict
    test_labels: object
    train_labels: object
    _predictions: object = None

    def predictions(self):
        """The estimator's predictions on the test features (computed once)."""
        if self._predictions is None:
            self._predictions = list(self.estimator.predict(_data.input_fn(self.test_features)))
        return self._predictions


def estimator_for(model, head, model_dir, **overrides):
    """The estimator of a case, constructed over the training data."""
    from tf_lattice import tf_estimator

    features, score = _data.make_data(600, seed=1)
    labels = _data.labels_for(head, score)
    kwargs = dict(SHAPES, head=head, learning_rate=0.05, random_state=0, model_dir=str(model_dir))
    if head == "multiclass":
        kwargs["n_classes"] = 3
    if model == "lattice":
        cls = tf_estimator.CalibratedLatticeEstimator
        kwargs.update(unimodality={"bowl": "valley"}, lattice_size=3)
    elif model == "linear":
        cls = tf_estimator.CalibratedLinearEstimator
        kwargs.update(convexity={"bowl": "convex"})
    else:
        cls = tf_estimator.CalibratedLatticeEnsembleEstimator
        kwargs.update(convexity={"bowl": "convex"}, ensemble=model.split("-")[1], num_lattices=3,
                      lattice_rank=2)
    kwargs.update(overrides)
    analysis = _data.input_fn(features, labels)
    return cls(_data.FEATURES, analysis, **kwargs), features, score, labels


def train(case, model_dir, epochs=6):
    model, head = case
    estimator, features, score, labels = estimator_for(model, head, model_dir)
    estimator.train(_data.input_fn(features, labels, epochs=epochs, shuffle=True))
    test_features, test_score = _data.make_data(300, seed=2)
    return Trained(estimator, head, test_features,
                   _data.labels_for(head, test_score, reference=score), labels)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``trained(case)``: the case's estimator trained once per session."""
    cache = {}

    def get(case):
        if case not in cache:
            cache[case] = train(case, tmp_path_factory.mktemp(case_id(case)))
        return cache[case]

    return get
