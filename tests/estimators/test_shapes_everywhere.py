"""Declared shapes hold on the model's output far from the training data.

Calibrated linear models extrapolate convex and concave columns linearly, so
a declared convexity holds on every class score for inputs anywhere on the
real line; lattice models state their convexity domain (between the first
and last keypoint) in the certificate. Monotonicity holds up to the float32
rounding of the network, a tolerance stated in ``certify``'s documentation
and checked here with a target of magnitude 1e6.
"""

import numpy as np
import pandas as pd
import pytest

from tests.estimators._data import FAST
from tf_lattice import estimators

WIDE = np.linspace(-3.0, 3.0, 601)


def _square(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.uniform(-1, 1, n), "z": rng.uniform(-1, 1, n)})
    return frame, frame["x"].to_numpy() ** 2 + 0.1 * frame["z"].to_numpy()


def _second_differences(scores):
    return np.diff(np.asarray(scores, np.float64).reshape(len(WIDE), -1), n=2, axis=0)


def test_convex_regressor_is_convex_far_beyond_its_keypoints():
    frame, y = _square()
    model = estimators.CalibratedLinearRegressor(convexity={"x": "convex"}, **FAST).fit(frame, y)
    grid = pd.DataFrame({"x": WIDE, "z": 0.0})
    predictions = model.predict(grid)
    assert _second_differences(predictions).min() >= -1e-5 * np.abs(predictions).max()
    # The fit is a bowl: beyond the data the prediction keeps rising on both sides.
    assert predictions[0] > predictions[200] and predictions[-1] > predictions[-201]
    certificate = model.certify()
    assert certificate.holds, str(certificate)
    assert any("calibrator, on the whole real line" in check.name for check in certificate.checks)


@pytest.mark.parametrize("convexity", ["convex", "concave"])
def test_every_class_score_keeps_the_declared_convexity(convexity):
    frame, y = _square(seed=1)
    target = y if convexity == "convex" else -y
    labels = np.digitize(target, np.quantile(target, [1 / 3, 2 / 3]))
    model = estimators.CalibratedLinearClassifier(convexity={"x": convexity}, **FAST)
    model.fit(frame, labels)
    scores = model.decision_function(pd.DataFrame({"x": WIDE, "z": 0.0}))
    sign = 1.0 if convexity == "convex" else -1.0
    second = sign * _second_differences(scores)
    assert second.min() >= -1e-5 * np.abs(scores).max(), second.min()
    assert model.certify().holds


def test_lattice_certificate_states_the_convexity_domain():
    frame, y = _square(n=120)
    model = estimators.CalibratedLatticeRegressor(convexity={"x": "convex"}, **FAST).fit(frame, y)
    certificate = model.certify()
    assert certificate.holds, str(certificate)
    names = [check.name for check in certificate.checks if check.name.startswith("declared")]
    assert "declared convexity['x']=convex: calibrator, between the first and last keypoint" in names


@pytest.mark.parametrize("estimator", [estimators.CalibratedLinearRegressor,
                                       estimators.CalibratedLatticeRegressor,
                                       estimators.CalibratedLatticeEnsembleRegressor])
def test_monotonicity_holds_within_the_stated_rounding_tolerance_at_scale_1e6(estimator):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.uniform(0, 1, 300), "b": rng.uniform(0, 1, 300)})
    y = 1e6 * (np.sqrt(frame["a"]) + frame["b"] ** 2) + 3e7
    model = estimator(monotonicity={"a": "increasing", "b": "increasing"}, **FAST).fit(frame, y)
    grid = pd.DataFrame({"a": np.linspace(-0.5, 1.5, 20001), "b": 0.37})
    predictions = model.predict(grid)
    tolerance = model.monotonicity_tolerance(grid)
    assert -np.diff(predictions).max() <= tolerance
    # A rounding allowance, not a loophole: far below the prediction's span.
    assert 0 < tolerance < 1e-4 * np.ptp(predictions)
