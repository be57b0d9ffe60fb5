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
    kernel = next(i for i, v in enumerate(layer.weights) if v.path.split("/")[-1] == "kernel")
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


def test_deep_lattice_network_options_reach_the_estimator(tmp_path):
    from tf_lattice.estimators import DeepLatticeNetworkRegressor

    data = tmp_path / "train.csv"
    _regression_frame(40).drop(columns=["kind"]).to_csv(data, index=False)
    out = tmp_path / "m.keras"
    code = cli.main(_fit_args(data, out, "--target", "y", "--task", "regression",
                              "--increasing", "a", "--model", "dln", "--num-layers", "2",
                              "--monotone-dims", "3", "--free-dims", "2", "--num-lattices", "4"))
    assert code == 0
    estimator = DeepLatticeNetworkRegressor.load(out)
    assert (estimator.num_layers, estimator.monotone_dims, estimator.free_dims) == (2, 3, 2)
    assert [block["num_lattices"] for block in estimator.layers_] == [4, 4]
    assert estimator.layers_[0]["monotone_dims"] == 3 and estimator.layers_[0]["free_dims"] == 2


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


# -- outputs are checked before any work --------------------------------------------------


def test_predict_never_overwrites_an_input(regression_model, tmp_path, capsys):
    out, data = regression_model
    copy = tmp_path / "data.csv"
    copy.write_bytes(data.read_bytes())
    before = copy.read_bytes()
    for target in (copy, out):
        code, err = _error(capsys, ["predict", str(out), str(copy), "--out", str(target),
                                    "--force"])
        assert code == 2 and "is the input file" in err and str(target) in err
    assert copy.read_bytes() == before
    # The same file through another path.
    os.symlink(copy, tmp_path / "link.csv")
    code, err = _error(capsys, ["predict", str(out), str(copy), "--out",
                                str(tmp_path / "link.csv")])
    assert code == 2 and "is the input file" in err
    assert copy.read_bytes() == before


def test_an_existing_output_needs_force(regression_model, tmp_path, capsys):
    out, data = regression_model
    target = tmp_path / "p.csv"
    target.write_text("keep me\n")
    code, err = _error(capsys, ["predict", str(out), str(data), "--out", str(target)])
    assert code == 2 and "already exists" in err and "--force" in err
    assert target.read_text() == "keep me\n"
    assert cli.main(["predict", str(out), str(data), "--out", str(target), "--force"]) == 0
    assert pd.read_csv(target).columns[0] == "prediction"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tf-lattice-")]


def test_output_paths_are_checked_before_reading_anything(tmp_path, capsys, monkeypatch):
    def no_work(path):
        raise AssertionError("read the data before checking the output")
    monkeypatch.setattr(cli, "read_table", no_work)
    data = tmp_path / "train.csv"
    data.write_text("a,y\n1,2\n")
    cases = [
        (tmp_path / "nowhere" / "m.keras", "the output directory"),
        (tmp_path, "is a directory"),
        (tmp_path / "m.txt", "must end in .keras"),
    ]
    for out, message in cases:
        code, err = _error(capsys, ["fit", str(data), "--target", "y", "--out", str(out)])
        assert code == 2 and message in err and str(out) in err, err
    code, err = _error(capsys, ["plot", str(data), "--out", str(tmp_path / "x.gif")])
    assert code == 2 and "must end in" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes to read-only directories")
def test_an_unwritable_output_directory(regression_model, tmp_path, capsys):
    out, data = regression_model
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = _error(capsys, ["predict", str(out), str(data), "--out",
                                    str(locked / "p.csv")])
    finally:
        locked.chmod(0o700)
    assert code == 2 and "not writable" in err


# -- every error is one line with exit code 2 ----------------------------------------------


def _one_error_line(err, path):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "Traceback" not in err
    return lines[0]


def test_a_truncated_model_file(regression_model, tmp_path, capsys):
    out, _ = regression_model
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    code, err = _error(capsys, ["certify", str(truncated)])
    assert code == 2
    assert "not a zip archive or is truncated" in _one_error_line(err, truncated)


def test_corrupt_weights_in_a_valid_archive(regression_model, tmp_path, capsys):
    import zipfile

    out, data = regression_model
    corrupt = tmp_path / "corrupt.keras"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(corrupt, "w") as target:
        for name in source.namelist():
            payload = source.read(name)
            if name == "model.weights.h5":
                payload = payload[:200] + b"\0" * 64
            target.writestr(name, payload)
    for argv in (["certify", str(corrupt)], ["predict", str(corrupt), str(data)]):
        code, err = _error(capsys, argv)
        assert code == 2
        assert "cannot read the model" in _one_error_line(err, corrupt)


def test_a_description_of_another_estimator_class(regression_model, tmp_path, capsys):
    import json
    import zipfile

    out, _ = regression_model
    for claimed, message in (("CalibratedLinearClassifier", "lacks the field 'fitted.classes_'"),
                             ("CalibratedLatticeEnsembleRegressor", "lacks the field "
                                                                    "'fitted.lattices_'"),
                             ("Pipeline", "unknown estimator class 'Pipeline'")):
        relabelled = tmp_path / f"{claimed}.keras"
        with zipfile.ZipFile(out) as source, zipfile.ZipFile(relabelled, "w") as target:
            for name in source.namelist():
                payload = source.read(name)
                if name == cli.ESTIMATOR_MEMBER:
                    payload = json.dumps(dict(json.loads(payload), **{"class": claimed}))
                target.writestr(name, payload)
        code, err = _error(capsys, ["certify", str(relabelled)])
        assert code == 2
        assert message in _one_error_line(err, relabelled)


def test_an_unexpected_exception_is_one_line(regression_model, capsys, monkeypatch):
    out, _ = regression_model

    def broken(path):
        raise RuntimeError("first line\nsecond line")
    monkeypatch.setattr(cli, "load_estimator", broken)
    code, err = _error(capsys, ["certify", str(out)])
    assert code == 2
    line = _one_error_line(err, out)
    assert "unexpected RuntimeError: first line second line" in line


# -- options and defaults ---------------------------------------------------------------------


def test_help_shows_the_defaults(capsys):
    assert cli.main(["fit", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in ("--lattice-size LATTICE_SIZE vertices per lattice dimension (default: 2)",
                     "--num-keypoints NUM_KEYPOINTS keypoints per numeric calibrator (default: "
                     "automatic", "--calibration-hessian AMOUNT",
                     "(default: automatic, from the number of rows)",
                     "--learning-rate LEARNING_RATE Adam step size (default: 0.01)",
                     "--early-stopping", "--valley COLS", "--trust MAIN:COND:DIR[:KIND]"):
        assert expected in text, expected


def test_defaults_mirror_the_estimators():
    import inspect

    from tf_lattice import estimators

    signatures = {kind: inspect.signature(cls).parameters for kind, cls in (
        ("ensemble", estimators.CalibratedLatticeEnsembleRegressor),
        ("dln", estimators.DeepLatticeNetworkClassifier))}
    for name, value in cli.ESTIMATOR_DEFAULTS.items():
        kinds = cli.MODEL_OPTIONS.get(name, tuple(signatures))
        for kind in kinds:
            assert signatures[kind][name].default == value, name
        for kind in set(signatures) - set(kinds):
            assert name not in signatures[kind], (name, kind)
    base = inspect.signature(estimators.CalibratedLinearRegressor).parameters
    shared = set(base) - {"monotonicity", "convexity", "unimodality", "trust", "dominance",
                          "category_order", "verbose", "distribute_strategy"}
    assert shared <= set(cli.ESTIMATOR_DEFAULTS)
    args = cli.build_parser().parse_args(["fit", "d.csv", "--target", "y", "--out", "m.keras"])
    for name, value in cli.ESTIMATOR_DEFAULTS.items():
        assert getattr(args, name) == value, name


def test_every_option_reaches_the_estimator():
    frame = _regression_frame(10)
    args = cli.build_parser().parse_args([
        "fit", "d.csv", "--target", "y", "--out", "m.keras", "--model", "ensemble",
        "--increasing", "a,b", "--peak", "c", "--trust", "a:b:decreasing:trapezoid",
        "--dominance", "a:b", "--category-order", "kind=x<y", "--calibration-laplacian", "0.5",
        "--lattice-torsion", "0.25", "--l2", "1e-3", "--early-stopping",
        "--validation-fraction", "0.2", "--num-keypoints", "7", "--interpolation", "simplex",
        "--random-state", "3", "--num-lattices", "5", "--lattice-rank", "2",
        "--implementation", "portable", "--categorical-features", "c", "--quiet"])
    params = cli._estimator_params(args, frame, "regression")
    assert params["categorical_features"] == ["c"]
    assert params["monotonicity"] == {"a": "increasing", "b": "increasing"}
    assert params["unimodality"] == {"c": "peak"} and params["convexity"] is None
    assert params["trust"] == [("a", "b", "decreasing", "trapezoid")]
    assert params["dominance"] == [("a", "b")]
    assert params["category_order"] == {"kind": [("x", "y")]}
    assert (params["calibration_laplacian"], params["lattice_torsion"], params["l2"]) == \
        (0.5, 0.25, 1e-3)
    assert params["early_stopping"] is True and params["validation_fraction"] == 0.2
    assert (params["num_keypoints"], params["interpolation"], params["random_state"]) == \
        (7, "simplex", 3)
    assert (params["num_lattices"], params["lattice_rank"], params["implementation"]) == \
        (5, 2, "portable")
    from tf_lattice import estimators
    estimators.CalibratedLatticeEnsembleRegressor(**params)._check_params()


def test_class_weight_option_reaches_classifiers_only():
    argv = ["fit", "d.csv", "--target", "y", "--out", "m.keras", "--class-weight", "balanced"]
    args = cli.build_parser().parse_args(argv)
    params = cli._estimator_params(args, _classification_frame(10), "classification")
    assert params["class_weight"] == "balanced"
    from tf_lattice import estimators
    estimators.CalibratedLinearClassifier(**params)._check_params()
    with pytest.raises(cli.UsageError, match="--class-weight balanced weighs classes"):
        cli._estimator_params(args, _regression_frame(10), "regression")
    default = cli.build_parser().parse_args(argv[:-2])
    assert "class_weight" not in cli._estimator_params(default, _classification_frame(10),
                                                       "classification")


def test_categorical_features_option_checks_its_columns():
    args = cli.build_parser().parse_args(["fit", "d.csv", "--target", "y", "--out", "m.keras",
                                          "--categorical-features", "a,nope"])
    with pytest.raises(cli.UsageError, match=r"--categorical-features names column\(s\) \['nope'\]"):
        cli._estimator_params(args, _regression_frame(10), "regression")


def test_fit_prints_training_metrics_and_uses_the_new_options(tmp_path, capsys):
    from tf_lattice.estimators import CalibratedLatticeRegressor

    data = tmp_path / "train.csv"
    _regression_frame(60).drop(columns=["kind"]).to_csv(data, index=False)
    out = tmp_path / "m.keras"
    capsys.readouterr()
    code = cli.main(_fit_args(data, out, "--target", "y", "--task", "regression",
                              "--increasing", "a,b", "--trust", "a:b:increasing",
                              "--early-stopping", "--calibration-wrinkle", "0.1",
                              "--random-state", "0"))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "final training loss" in printed and "training RMSE" in printed
    assert "best validation loss" in printed
    estimator = CalibratedLatticeRegressor.load(out)
    assert estimator.trust == [("a", "b", "increasing")] and estimator.early_stopping
    assert estimator.calibration_wrinkle == 0.1
    assert any("trust" in check.name for check in estimator.certify().checks)


def test_a_failed_fit_leaves_no_output(tmp_path, capsys):
    data = tmp_path / "train.csv"
    _regression_frame(20).to_csv(data, index=False)
    out = tmp_path / "m.keras"
    code, err = _error(capsys, _fit_args(data, out, "--target", "y", "--valley", "a",
                                         "--model", "linear"))
    assert code == 2 and "unimodality" in err and str(data) in err
    assert not out.exists() and os.listdir(tmp_path) == ["train.csv"]


def test_a_real_process_prints_only_the_error_line(regression_model, tmp_path):
    """TensorFlow's native start-up logs do not pile up before the message."""
    import zipfile

    out, _ = regression_model
    corrupt = tmp_path / "corrupt.keras"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(corrupt, "w") as target:
        for name in source.namelist():
            payload = source.read(name)
            target.writestr(name, payload[:100] if name == "model.weights.h5" else payload)
    env = dict(os.environ)
    env.pop("TF_LATTICE_NATIVE_LOGS", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "tf_lattice", "certify", str(corrupt)],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("tf-lattice")]
    _one_error_line(result.stderr, corrupt)


def test_the_command_line_offers_the_library_vocabularies():
    """The parser keeps its choice lists as literals (``--help`` loads no
    TensorFlow); they must be the library's own."""
    from tf_lattice.estimators import _defaults
    from tf_lattice.layers import _common
    from tf_lattice.models import ensembles

    assert set(cli.ENSEMBLES) == set(ensembles.ENSEMBLES)
    assert cli.MODELS == _defaults.MODELS
    assert cli.IMPLEMENTATIONS == _common.IMPLEMENTATIONS
    assert set(cli.TASKS) == {"auto", *_defaults.TASKS}
