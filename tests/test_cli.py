"""Tests of the ``tf-lattice`` command line (``tf_lattice.cli.main``)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tf_lattice import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _regression_frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 1, n)
    b = rng.uniform(0, 1, n)
    c = rng.uniform(0, 1, n)
    kind = rng.choice(["x", "y"], n)
    y = 2 * a + b - c + 0.3 * (kind == "x") + 0.05 * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "kind": kind, "y": y})


def _classification_frame(n=60, seed=1):
    frame = _regression_frame(n, seed)
    frame["label"] = np.where(frame["y"] > frame["y"].median(), "high", "low")
    return frame.drop(columns=["y"])


def _fit_args(data, out, *extra):
    return ["fit", str(data), "--out", str(out), "--epochs", "2", "--quiet", *extra]


@pytest.fixture(scope="module")
def regression_model(tmp_path_factory):
    """A calibrated linear regressor fitted by the command line, and its data."""
    folder = tmp_path_factory.mktemp("cli")
    data = folder / "train.csv"
    _regression_frame().to_csv(data, index=False)
    out = folder / "model.keras"
    code = cli.main(_fit_args(data, out, "--target", "y", "--increasing", "a,b",
                              "--decreasing", "c", "--model", "linear"))
    assert code == 0
    return out, data


def test_infer_task():
    assert cli.infer_task(pd.Series(["a", "b", "a"])) == "classification"
    assert cli.infer_task(pd.Series([True, False])) == "classification"
    assert cli.infer_task(pd.Series([0, 1, 1, 0])) == "classification"
    assert cli.infer_task(pd.Series([0.0, 1.0, 1.0])) == "classification"
    assert cli.infer_task(pd.Series(np.linspace(0, 1, 50))) == "regression"
    assert cli.infer_task(pd.Series(np.arange(100))) == "regression"


def test_fit_saves_a_certified_model_with_the_declared_shapes(regression_model):
    from tf_lattice.estimators import CalibratedLinearRegressor

    out, _ = regression_model
    assert out.exists()
    estimator = CalibratedLinearRegressor.load(out)
    assert estimator.monotonicity == {"a": "increasing", "b": "increasing", "c": "decreasing"}
    assert list(estimator.feature_names_in_) == ["a", "b", "c", "kind"]
    assert estimator.certify().holds


def test_predict_writes_one_prediction_per_row(regression_model, tmp_path, capsys):
    out, data = regression_model
    frame = pd.read_csv(data)
    new = frame.drop(columns=["y"]).iloc[:17].assign(row_id=np.arange(17))
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    predictions = tmp_path / "predictions.csv"
    code = cli.main(["predict", str(out), str(new_path), "--out", str(predictions),
                     "--keep", "row_id"])
    assert code == 0
    result = pd.read_csv(predictions)
    assert list(result.columns) == ["row_id", "prediction"]
    assert np.array_equal(result["row_id"], np.arange(17))
    assert np.all(np.isfinite(result["prediction"]))
    # The saved model's own predictions on the same rows.
    from tf_lattice.estimators import CalibratedLinearRegressor
    expected = CalibratedLinearRegressor.load(out).predict(new.drop(columns=["row_id"]))
    np.testing.assert_allclose(result["prediction"], expected, rtol=1e-5, atol=1e-5)


def test_predict_to_stdout(regression_model, tmp_path, capsys):
    out, data = regression_model
    capsys.readouterr()
    assert cli.main(["predict", str(out), str(data)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0] == "prediction"
    assert len(printed) == 1 + len(pd.read_csv(data))


def test_certify_passes_then_fails_after_tampering(regression_model, tmp_path, capsys):
    from tf_lattice.estimators import CalibratedLinearRegressor

    out, _ = regression_model
    assert cli.main(["certify", str(out)]) == 0
    assert "holds" in capsys.readouterr().out

    estimator = CalibratedLinearRegressor.load(out)
    column = list(estimator.feature_names_in_).index("a")
    layer, unit = estimator._column_calibrators()[column]
    weights = layer.get_weights()
    kernel = next(i for i, w in enumerate(weights) if w.ndim == 2 and w.shape[-1] > 2)
    row = weights[kernel][unit]
    weights[kernel][unit] = row[::-1] - np.linspace(0, 1, row.shape[-1])
    layer.set_weights(weights)
    tampered = tmp_path / "tampered.keras"
    estimator.save(tampered)
    assert cli.main(["certify", str(tampered)]) == 1
    assert "VIOLATED" in capsys.readouterr().out


def test_plot_writes_a_png(regression_model, tmp_path):
    out, _ = regression_model
    image = tmp_path / "shapes.png"
    assert cli.main(["plot", str(out), "--out", str(image)]) == 0
    assert image.read_bytes()[:8] == PNG_MAGIC
    single = tmp_path / "a.png"
    assert cli.main(["plot", str(out), "--out", str(single), "--columns", "a"]) == 0
    assert single.read_bytes()[:8] == PNG_MAGIC


def test_plot_unknown_column_is_a_usage_error(regression_model, tmp_path, capsys):
    out, _ = regression_model
    code = cli.main(["plot", str(out), "--out", str(tmp_path / "x.png"), "--columns", "nope"])
    assert code == 2
    assert "nope" in capsys.readouterr().err


def test_classification_is_inferred_and_probabilities_written(tmp_path):
    from tf_lattice.estimators import CalibratedLinearClassifier

    data = tmp_path / "train.csv"
    _classification_frame().to_csv(data, index=False)
    out = tmp_path / "clf.keras"
    assert cli.main(_fit_args(data, out, "--target", "label", "--increasing", "a",
                              "--model", "linear")) == 0
    assert isinstance(CalibratedLinearClassifier.load(out), CalibratedLinearClassifier)
    predictions = tmp_path / "p.csv"
    assert cli.main(["predict", str(out), str(data), "--out", str(predictions)]) == 0
    result = pd.read_csv(predictions)
    assert set(result.columns) == {"prediction", "probability_high", "probability_low"}
    assert set(result["prediction"]) <= {"high", "low"}
    np.testing.assert_allclose(result["probability_high"] + result["probability_low"], 1.0,
                               atol=1e-6)


@pytest.mark.parametrize("model,expected", [
    ("lattice", "CalibratedLatticeRegressor"),
    ("ensemble", "CalibratedLatticeEnsembleRegressor"),
    ("dln", "DeepLatticeNetworkRegressor"),
])
def test_model_choice_picks_the_estimator(tmp_path, model, expected):
    data = tmp_path / "train.csv"
    _regression_frame(40).drop(columns=["kind"]).to_csv(data, index=False)
    out = tmp_path / "m.keras"
    extra = ["--num-lattices", "2", "--lattice-rank", "2"] if model in ("ensemble", "dln") else []
    code = cli.main(_fit_args(data, out, "--target", "y", "--task", "regression",
                              "--increasing", "a", "--model", model, *extra))
    assert code == 0
    assert cli.saved_class_name(out) == expected
    assert cli.main(["certify", str(out)]) == 0


def test_concave_and_task_override(tmp_path):
    from tf_lattice.estimators import CalibratedLinearClassifier

    frame = _regression_frame(40)
    frame["y"] = (frame["y"] > frame["y"].median()).astype(float)
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "m.keras"
    code = cli.main(_fit_args(data, out, "--target", "y", "--task", "classification",
                              "--increasing", "a", "--concave", "a", "--model", "linear",
                              "--drop", "kind"))
    assert code == 0
    estimator = CalibratedLinearClassifier.load(out)
    assert estimator.convexity == {"a": "concave"}
    assert list(estimator.feature_names_in_) == ["a", "b", "c"]


# -- errors ---------------------------------------------------------------------------------


def _error(capsys, argv):
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_unknown_constraint_column(tmp_path, capsys):
    data = tmp_path / "train.csv"
    _regression_frame(20).to_csv(data, index=False)
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "y",
                                         "--increasing", "a,missing_col"))
    assert code == 2
    assert "missing_col" in err and "--increasing" in err


def test_unknown_target(tmp_path, capsys):
    data = tmp_path / "train.csv"
    _regression_frame(20).to_csv(data, index=False)
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "price"))
    assert code == 2
    assert "'price'" in err


def test_constraint_on_target_and_conflicting_shapes(tmp_path, capsys):
    data = tmp_path / "train.csv"
    _regression_frame(20).to_csv(data, index=False)
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "y",
                                         "--increasing", "y"))
    assert code == 2 and "target" in err
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "y",
                                         "--increasing", "a", "--decreasing", "a"))
    assert code == 2 and "'a'" in err


def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    code, err = _error(capsys, _fit_args(missing, tmp_path / "m.keras", "--target", "y"))
    assert code == 2
    assert "nowhere.csv" in err and "no such file" in err
    code, err = _error(capsys, ["certify", str(tmp_path / "nothing.keras")])
    assert code == 2 and "nothing.keras" in err


def test_malformed_csv(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("a,b,y\n1,2,3\n4,5,6,7,8\n")
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "y"))
    assert code == 2
    assert "bad.csv" in err and "malformed" in err


def test_empty_csv(tmp_path, capsys):
    data = tmp_path / "empty.csv"
    data.write_text("")
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "y"))
    assert code == 2 and "empty" in err


def test_not_a_model_file(tmp_path, capsys):
    fake = tmp_path / "fake.keras"
    fake.write_text("not a zip archive")
    code, err = _error(capsys, ["certify", str(fake)])
    assert code == 2 and "not a saved tf_lattice model" in err


def test_predict_missing_feature_column(regression_model, tmp_path, capsys):
    out, data = regression_model
    partial = tmp_path / "partial.csv"
    pd.read_csv(data).drop(columns=["b"]).to_csv(partial, index=False)
    code, err = _error(capsys, ["predict", str(out), str(partial)])
    assert code == 2 and "'b'" in err


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    data = tmp_path / "train.parquet"
    data.write_bytes(b"PAR1")
    code, err = _error(capsys, _fit_args(data, tmp_path / "m.keras", "--target", "y"))
    assert code == 2
    assert "pyarrow" in err and "pip install pyarrow" in err


def test_parquet_round_trip_when_pyarrow_is_installed(regression_model, tmp_path):
    pytest.importorskip("pyarrow")
    out, data = regression_model
    parquet = tmp_path / "new.parquet"
    pd.read_csv(data).to_parquet(parquet)
    predictions = tmp_path / "p.parquet"
    assert cli.main(["predict", str(out), str(parquet), "--out", str(predictions)]) == 0
    assert len(pd.read_parquet(predictions)) == len(pd.read_csv(data))


def test_bad_usage_returns_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["fit", "data.csv"]) == 2  # --target and --out are required
    assert cli.main(["fit", "d.csv", "--target", "y", "--out", "m.keras", "--model", "tree"]) == 2
    assert "tree" in capsys.readouterr().err


def test_help_from_a_subprocess():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "tf_lattice", "--help"], capture_output=True,
                            text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    for command in ("fit", "predict", "certify", "plot"):
        assert command in result.stdout
