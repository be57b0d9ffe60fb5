"""Tests of the lazy kernel-library loader in tf_lattice._native."""

import importlib.machinery
import os
import re

import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

from tf_lattice import _native

CALIBRATION_OPS = ("TfLattice>PwlCalibration", "TfLattice>PwlCalibrationGrad")


def _wrapper_name(op_name):
    """The generated Python name: 'TfLattice>PwlCalibration' -> 'tf_lattice_pwl_calibration'."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", op_name.replace(">", "")).lower()


@pytest.mark.parametrize("op_name", CALIBRATION_OPS)
def test_calibration_ops_are_listed_and_registered(op_name):
    assert op_name in _native.OP_NAMES
    module = _native.load_ops()
    assert op_def_registry.get(op_name) is not None
    assert callable(getattr(module, _wrapper_name(op_name)))


def test_every_listed_op_is_registered_with_a_wrapper():
    module = _native.load_ops()
    for name in _native.OP_NAMES:
        assert op_def_registry.get(name) is not None, name
        assert callable(getattr(module, _wrapper_name(name))), name


def test_missing_library_names_the_remedy(monkeypatch):
    monkeypatch.setattr(_native, "library_path", lambda: None)
    with pytest.raises(_native.OpsNotBuiltError) as error:
        _native.load_ops.__wrapped__()
    message = str(error.value)
    assert "were not found" in message
    assert _native.REBUILD_COMMAND in message
    assert "implementation='portable'" in message


def test_version_mismatch_names_both_versions(monkeypatch):
    monkeypatch.setattr(_native, "build_info", lambda: ("1.2.3", False))
    with pytest.raises(_native.OpsNotBuiltError) as error:
        _native.load_ops.__wrapped__()
    message = str(error.value)
    assert "1.2.3" in message
    assert tf.__version__ in message
    assert _native.REBUILD_COMMAND in message


def _fake_build(folder, name, record, version):
    """An empty 'library' and its build record, as setup.py names them."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (folder / f"{name}{suffix}").write_bytes(b"")
    (folder / f"{record}.py").write_text(
        f"TENSORFLOW_VERSION = {version!r}\nCUDA_ENABLED = False\n", encoding="utf-8")


def test_built_library_is_named_by_release():
    path = _native.library_path()
    assert path is not None
    assert os.path.basename(path).startswith(f"_tf_lattice_ops_{_native.version_tag()}.")
    assert _native.build_info()[0] == tf.__version__


@pytest.mark.parametrize("version, tag", [("2.15.1", "tf2_15"), ("2.21.0", "tf2_21"),
                                          ("2.21.0rc1", "tf2_21"), ("10.2.3", "tf10_2")])
def test_version_tag(version, tag):
    assert _native.version_tag(version) == tag


def test_each_release_loads_its_own_library(tmp_path, monkeypatch):
    monkeypatch.setattr(_native, "_directory", lambda: str(tmp_path))
    _fake_build(tmp_path, "_tf_lattice_ops_tf1_0", "_build_info_tf1_0", "1.0.0")
    _fake_build(tmp_path, f"_tf_lattice_ops_{_native.version_tag()}",
                f"_build_info_{_native.version_tag()}", tf.__version__)
    assert os.path.basename(_native.library_path()).startswith(f"_tf_lattice_ops_{_native.version_tag()}.")
    assert _native.build_info() == (tf.__version__, False)
    assert _native.other_builds() == ["1.0.0"]


def test_only_another_release_built_names_both(tmp_path, monkeypatch):
    monkeypatch.setattr(_native, "_directory", lambda: str(tmp_path))
    _fake_build(tmp_path, "_tf_lattice_ops_tf1_0", "_build_info_tf1_0", "1.0.0")
    assert _native.library_path() is None
    with pytest.raises(_native.OpsNotBuiltError) as error:
        _native.load_ops.__wrapped__()
    message = str(error.value)
    assert "were not found" in message
    assert "TensorFlow 1.0.0" in message and tf.__version__ in message
    assert f"_tf_lattice_ops_{_native.version_tag()}" in message
    assert _native.REBUILD_COMMAND in message


def test_unversioned_library_is_loaded_when_no_release_library(tmp_path, monkeypatch):
    monkeypatch.setattr(_native, "_directory", lambda: str(tmp_path))
    _fake_build(tmp_path, "_tf_lattice_ops", "_build_info", "1.0.0")
    assert os.path.basename(_native.library_path()).startswith("_tf_lattice_ops.")
    assert _native.build_info() == ("1.0.0", False)
    with pytest.raises(_native.OpsNotBuiltError, match="built against TensorFlow 1.0.0"):
        _native.load_ops.__wrapped__()
