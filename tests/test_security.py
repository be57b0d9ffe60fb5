"""Loading a model file must not run code from it: tampered archives are refused."""

import json
import zipfile

import keras
import numpy as np
import pandas as pd
import pytest

from tests._archives import rewrite_archive
from tf_lattice import cli, estimators
from tf_lattice.estimators import _serialization


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("security")
    frame = pd.DataFrame({"a": np.linspace(0, 1, 30), "b": np.linspace(1, 0, 30)})
    model = estimators.CalibratedLinearRegressor(epochs=1, verbose=0, random_state=0)
    model.fit(frame, frame["a"])
    path = folder / "model.keras"
    model.save(path)
    return path


def _tamper(source, target, edit_config=None, extra_members=()):
    return rewrite_archive(source, target, {"config.json": edit_config},
                           extra_members=extra_members)


def _first_layer(config, class_name):
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)


def _refused(path, pattern):
    with pytest.raises(ValueError, match=pattern):
        estimators.CalibratedLinearRegressor.load(path)
    with pytest.raises(ValueError, match=pattern):
        _serialization.read_model(path)


def test_a_lambda_layer_with_bytecode_is_refused(saved, tmp_path):
    marker = tmp_path / "ran"
    # A real Keras Lambda layer: its config carries the function's bytecode.
    inputs = keras.Input((2,))
    # The marker's path is a constant of the function's code, not a closure.
    function = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")  # noqa: S307
    outputs = keras.layers.Lambda(function)(inputs)
    lambda_path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(lambda_path)
    marker.unlink()  # building the model ran the function once, here
    with zipfile.ZipFile(lambda_path) as archive:
        lambda_config = json.loads(archive.read("config.json"))
    lambda_layer = _first_layer(lambda_config, "Lambda")
    assert "__lambda__" in json.dumps(lambda_layer)

    def insert(config):
        config["config"]["layers"].append(lambda_layer)
    tampered = _tamper(saved, tmp_path / "t.keras", insert)
    _refused(tampered, r"'Lambda' .* carries Python code")
    with pytest.raises(ValueError, match=r"'Lambda' .* carries Python code"):
        _serialization.read_model(lambda_path)
    assert not marker.exists()


@pytest.mark.parametrize("edit, pattern", [
    (lambda layer: layer.update(class_name="os.system"), r"class 'os.system' .* not a plain"),
    (lambda layer: layer.update(module="subprocess", class_name="Popen", registered_name=None,
                                config={"args": ["touch", "ran"]}),
     r"'Popen' from module 'subprocess'"),
    (lambda layer: layer.update(module="builtins", class_name="eval"), r"module 'builtins'"),
    (lambda layer: layer.update(registered_name="os>system"), r"registers .* as 'os>system'"),
    (lambda layer: layer["config"].update(safe_mode=False), r"sets 'safe_mode'.*unsafe"),
    (lambda layer: layer["config"].update(
        hook={"module": "keras.config", "class_name": "enable_unsafe_deserialization",
              "config": {}}), r"unsafe deserialization"),
    (lambda layer: layer["config"].update(
        function={"class_name": "__lambda__", "config": {"code": "ZmFrZQ=="}}),
     r"'__lambda__' .* carries Python code"),
])
def test_code_execution_tricks_in_the_config_are_refused(saved, tmp_path, edit, pattern):
    def apply(config):
        edit(_first_layer(config, "PWLCalibration"))
    tampered = _tamper(saved, tmp_path / "t.keras", apply)
    _refused(tampered, pattern)


@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/absolute.txt", "assets/../../x.txt",
                                    "C:/windows.txt", "evil.py"])
def test_zip_slip_and_foreign_members_are_refused(saved, tmp_path, member):
    tampered = _tamper(saved, tmp_path / "t.keras", extra_members=[(member, b"print('hi')")])
    _refused(tampered, r"archive member .* refusing to load it")
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_the_command_line_reports_a_tampered_file_in_one_line(saved, tmp_path, capsys):
    def apply(config):
        _first_layer(config, "PWLCalibration").update(module="subprocess", class_name="Popen")
    tampered = _tamper(saved, tmp_path / "t.keras", apply)
    assert cli.main(["certify", str(tampered)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tampered) in err and "subprocess" in err


def test_an_untampered_file_loads(saved):
    assert estimators.CalibratedLinearRegressor.load(saved).certify().holds
