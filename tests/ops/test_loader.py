"""Tests of the lazy kernel-library loader in tf_lattice._native."""

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


def test_every_registered_listed_op_has_a_wrapper():
    module = _native.load_ops()
    registered = [name for name in _native.OP_NAMES if op_def_registry.get(name) is not None]
    assert set(CALIBRATION_OPS) <= set(registered)
    for name in registered:
        assert hasattr(module, _wrapper_name(name)), name


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
