"""Fitted estimators: constraints, multiclass, persistence, sklearn tooling."""

import io
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.estimators._data import FAST, IMPLEMENTATION, mixed_frame
from tf_lattice import estimators

ALL = [estimators.CalibratedLinearRegressor, estimators.CalibratedLinearClassifier,
       estimators.CalibratedLatticeRegressor, estimators.CalibratedLatticeClassifier,
       estimators.CalibratedLatticeEnsembleRegressor, estimators.CalibratedLatticeEnsembleClassifier,
       estimators.DeepLatticeNetworkRegressor, estimators.DeepLatticeNetworkClassifier]


def _against_the_constraint(n=200, seed=0):
    """y falls with ``up`` (declared increasing) and rises with ``down``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"up": rng.uniform(0, 1, n), "down": rng.uniform(0, 1, n),
                          "free": rng.uniform(0, 1, n)})
    y = -2 * frame["up"] + 2 * frame["down"] + np.sin(6 * frame["free"]) + rng.normal(0, .1, n)
    return frame, y.to_numpy()


def _scores(model, frame):
    if hasattr(model, "classes_"):
        scores = model.decision_function(frame)
        return scores.reshape(len(frame), -1)
    return model.predict(frame).reshape(-1, 1)


@pytest.mark.parametrize("cls", [
    cls if "Calibrated" in cls.__name__ and "Ensemble" not in cls.__name__
    else pytest.param(cls, marks=pytest.mark.slow) for cls in ALL], ids=lambda c: c.__name__)
def test_constraints_hold_when_data_pushes_against_them(cls):
    frame, y = _against_the_constraint()
    if cls.__name__.endswith("Classifier"):
        y = (y > np.median(y)).astype(int)
    model = cls(monotonicity={"up": "increasing", "down": "decreasing"}, **FAST).fit(frame, y)
    certificate = model.certify()
    assert certificate.holds, str(certificate)
    names = " ".join(check.name for check in certificate.checks)
    assert "calibrator 'up'" in names and "calibrator 'down'" in names
    grid = pd.DataFrame({"up": np.linspace(-0.1, 1.1, 41), "down": 0.5, "free": 0.3})
    assert np.all(np.diff(_scores(model, grid), axis=0) >= -1e-5)
    grid = pd.DataFrame({"up": 0.5, "down": np.linspace(-0.1, 1.1, 41), "free": 0.3})
    assert np.all(np.diff(_scores(model, grid), axis=0) <= 1e-5)


def test_multiclass_scores_each_respect_the_constraints():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.uniform(0, 3, 300), "z": rng.normal(size=300)})
    labels = np.array(["low", "mid", "high"])[np.clip(frame["x"].astype(int), 0, 2)]
    model = estimators.CalibratedLatticeClassifier(
        monotonicity={"x": "increasing"}, **{**FAST, "epochs": 20}).fit(frame, labels)
    assert set(model.classes_) == {"low", "mid", "high"}
    proba = model.predict_proba(frame)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(model.predict(frame) == labels) > 0.6
    grid = pd.DataFrame({"x": np.linspace(0, 3, 31), "z": 0.0})
    assert np.all(np.diff(model.decision_function(grid), axis=0) >= -1e-5)
    assert model.certify().holds


def test_convexity_and_category_order_are_certified():
    frame, y = mixed_frame(200)
    model = estimators.CalibratedLinearRegressor(
        convexity={"x": "concave"}, category_order={"color": [("red", "blue"), ("blue", "green")]},
        **FAST).fit(frame, -y)
    certificate = model.certify()
    assert certificate.holds, str(certificate)
    curves = {c["name"]: c for c in model.calibrator_curves()}
    slopes = np.diff(curves["x"]["outputs"]) / np.diff(curves["x"]["keypoints"])
    assert np.all(np.diff(slopes) <= 1e-4)
    vocabulary = list(model.feature_specs_[2].vocabulary)
    outputs = curves["color"]["outputs"]
    red, blue, green = (outputs[vocabulary.index(c)] for c in ("red", "blue", "green"))
    assert red <= blue + 1e-5 and blue <= green + 1e-5


@pytest.mark.slow
def test_unimodality_in_a_lattice():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"t": rng.uniform(-1, 1, 300)})
    y = frame["t"].to_numpy() ** 2 + rng.normal(0, 0.05, 300)
    model = estimators.CalibratedLatticeRegressor(
        unimodality={"t": "valley"}, lattice_size=5, **{**FAST, "epochs": 30}).fit(frame, y)
    assert model.certify().holds
    values = model.predict(pd.DataFrame({"t": np.linspace(-1, 1, 41)}))
    turn = int(np.argmin(values))
    assert np.all(np.diff(values[:turn + 1]) <= 1e-5) and np.all(np.diff(values[turn:]) >= -1e-5)


def test_save_load_and_pickle_predict_the_same(tmp_path):
    frame, y = mixed_frame(120)
    labels = np.where(y > np.median(y), "yes", "no")
    model = estimators.CalibratedLatticeEnsembleClassifier(
        monotonicity={"x": "increasing"}, num_lattices=3, **FAST).fit(frame, labels)
    expected = model.predict_proba(frame)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = estimators.CalibratedLatticeEnsembleClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_proba(frame), expected, rtol=1e-5, atol=1e-6)
    assert list(loaded.classes_) == ["no", "yes"] and loaded.lattices_ == model.lattices_
    assert loaded.certify().holds
    with pytest.raises(ValueError, match="holds a CalibratedLatticeEnsembleClassifier"):
        estimators.CalibratedLinearClassifier.load(path)
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(unpickled.predict_proba(frame), expected, rtol=1e-5, atol=1e-6)


def test_export_serves_the_same_scores(tmp_path):
    import tensorflow as tf
    frame, y = mixed_frame(80)
    model = estimators.CalibratedLinearRegressor(**FAST).fit(frame, y)
    model.export(tmp_path / "saved", portable=True)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    encoded = model.transform_features(frame)
    scores = np.asarray(served.serve(tf.constant(encoded))).reshape(-1)
    np.testing.assert_allclose(scores * model.target_scale_ + model.target_mean_,
                               model.predict(frame), rtol=1e-4, atol=1e-4)


def test_clone_grid_search_and_pipeline():
    frame, y = mixed_frame(90)
    base = estimators.CalibratedLinearRegressor(monotonicity={"x": "increasing"}, **FAST)
    copy = clone(base)
    assert copy.get_params() == base.get_params() and not hasattr(copy, "model_")
    search = GridSearchCV(base, {"num_keypoints": [3, 6]}, cv=2).fit(frame, y)
    assert search.best_params_["num_keypoints"] in (3, 6)
    pipeline = make_pipeline(FunctionTransformer(lambda X: X.assign(x2=X["x"] * 2)), clone(base))
    assert pipeline.fit(frame, y).predict(frame).shape == (90,)


def test_same_random_state_same_predictions():
    frame, y = mixed_frame(100)
    first = estimators.CalibratedLatticeEnsembleRegressor(num_lattices=3, **FAST).fit(frame, y)
    second = estimators.CalibratedLatticeEnsembleRegressor(num_lattices=3, **FAST).fit(frame, y)
    np.testing.assert_allclose(first.predict(frame), second.predict(frame), rtol=1e-5, atol=1e-6)


def test_sample_weight_changes_the_fit():
    frame, y = mixed_frame(100)
    weights = np.where(frame["flag"], 10.0, 0.1)
    plain = estimators.CalibratedLinearRegressor(**FAST).fit(frame, y)
    weighted = estimators.CalibratedLinearRegressor(**FAST).fit(frame, y, sample_weight=weights)
    assert not np.allclose(plain.predict(frame), weighted.predict(frame))


def test_progress_bar_on_and_off(capsys):
    frame, y = mixed_frame(60)
    estimators.CalibratedLinearRegressor(**{**FAST, "verbose": 2, "epochs": 3}).fit(frame, y)
    shown = capsys.readouterr().err
    assert "epoch" in shown and "loss" in shown
    estimators.CalibratedLinearRegressor(**{**FAST, "verbose": 0, "epochs": 3}).fit(frame, y)
    estimators.CalibratedLinearRegressor(**{**FAST, "verbose": 1, "epochs": 3}).fit(frame, y)
    assert capsys.readouterr().err == ""  # not a terminal: quiet unless verbose=2


def test_plots_return_figures():
    from matplotlib.figure import Figure
    frame, y = mixed_frame(60)
    model = estimators.CalibratedLinearRegressor(**FAST).fit(frame, y)
    figure = model.plot_calibrators()
    assert isinstance(figure, Figure) and len(figure.axes) == frame.shape[1]
    figure.savefig(io.BytesIO(), format="png")
    assert isinstance(model.plot_feature("color"), Figure)
    with pytest.raises(ValueError, match="'nope'"):
        model.plot_feature("nope")


def test_training_under_a_mirrored_strategy():
    """Logical CPU devices must be set before TensorFlow starts: a subprocess."""
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tests.estimators._data import mixed_frame
        from tf_lattice.estimators import CalibratedLatticeClassifier
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        frame, y = mixed_frame(120)
        model = CalibratedLatticeClassifier(
            monotonicity={{"x": "increasing"}}, epochs=3, batch_size=32, verbose=0,
            random_state=0, implementation="{IMPLEMENTATION}", distribute_strategy=strategy)
        model.fit(frame, (y > np.median(y)).astype(int))
        assert model.certify().holds
        print("replicas", strategy.num_replicas_in_sync, model.predict_proba(frame).shape)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2 (120, 2)" in result.stdout

