"""Loads tf_lattice's compiled TensorFlow kernel library, lazily.

Importing :mod:`tf_lattice` never touches the shared library: the first op call
does, through :func:`load_ops`. When the library is missing, or was built
against another TensorFlow than the one running, :class:`OpsNotBuiltError`
says so and names the command that fixes it.

Each TensorFlow release gets its own library and build record, named by the
release (``_tf_lattice_ops_tf2_21`` and ``_build_info_tf2_21.py``), so kernels
built for TensorFlow 2.21 and for TensorFlow 2.15 sit side by side and each
interpreter loads its own. A library built before the names carried the
release (``_tf_lattice_ops`` with ``_build_info.py``) is still loaded when no
library of the running release exists.
"""

import ast
import functools
import glob
import importlib.machinery
import os
import re

import tensorflow as tf

LIBRARY_NAME = "_tf_lattice_ops"
REBUILD_COMMAND = "pip install --no-build-isolation --force-reinstall --no-deps -e ."

#: Every op the library registers; checked after loading.
OP_NAMES = (
    "TfLattice>PwlCalibration",
    "TfLattice>PwlCalibrationGrad",
    "TfLattice>LatticeInterpolation",
    "TfLattice>LatticeInterpolationGrad",
    "TfLattice>IsotonicProjection",
    "TfLattice>LatticeProjection",
    "TfLattice>LatticeProjectionSets",
    "TfLattice>PolyhedronProjection",
    "TfLattice>AdamUpdate",
)


class OpsNotBuiltError(ImportError):
    """The compiled kernel library is missing or does not match TensorFlow."""


def version_tag(tf_version=None):
    """``"tf2_21"`` for TensorFlow ``2.21.x`` (default: the running one): the
    suffix of the library's and the build record's names."""
    tf_version = tf.__version__ if tf_version is None else tf_version
    match = re.match(r"(\d+)\.(\d+)", tf_version)
    if match is None:
        raise OpsNotBuiltError(f"cannot read a release from the TensorFlow version {tf_version!r}")
    return f"tf{match.group(1)}_{match.group(2)}"


def _directory():
    return os.path.dirname(os.path.abspath(__file__))


def _find(name):
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = os.path.join(_directory(), name + suffix)
        if os.path.exists(candidate):
            return candidate
    return None


def _library_name():
    """The library to load: the running release's, else an unversioned one."""
    versioned = f"{LIBRARY_NAME}_{version_tag()}"
    if _find(versioned) is not None or _find(LIBRARY_NAME) is None:
        return versioned
    return LIBRARY_NAME


def library_path():
    """Returns the path of the compiled kernel library, or None if absent."""
    return _find(_library_name())


def _read_record(path):
    """``(tensorflow_version, cuda_enabled)`` from a build record, or Nones."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None, None
    values = dict(line.split(" = ", 1) for line in lines if " = " in line)
    return (ast.literal_eval(values.get("TENSORFLOW_VERSION", "None")),
            ast.literal_eval(values.get("CUDA_ENABLED", "None")))


def build_info():
    """Returns ``(tensorflow_version, cuda_enabled)`` recorded at build time."""
    name = _library_name()
    return _read_record(os.path.join(_directory(), "_build_info" + name[len(LIBRARY_NAME):] + ".py"))


def other_builds():
    """TensorFlow versions of the libraries built for other releases."""
    current = os.path.join(_directory(), f"_build_info_{version_tag()}.py")
    paths = sorted(glob.glob(os.path.join(_directory(), "_build_info_tf*.py")))
    return [_read_record(path)[0] for path in paths if path != current]


def _check_versions(built_version):
    if built_version is not None and built_version != tf.__version__:
        raise OpsNotBuiltError(
            f"tf_lattice's kernels were built against TensorFlow {built_version} but "
            f"TensorFlow {tf.__version__} is running; custom ops must be rebuilt for "
            f"each TensorFlow release. Rebuild with `{REBUILD_COMMAND}` (or "
            "`make install`) in the tf_lattice source tree, or install TensorFlow "
            f"{built_version}."
        )


@functools.cache
def load_ops():
    """Loads the kernel library once and returns its op module.

    Returns:
      The module returned by ``tf.load_op_library``; its attributes are the
      generated op wrappers (``tf_lattice_pwl_calibration`` and so on).

    Raises:
      OpsNotBuiltError: the library is absent, was built against another
        TensorFlow version, or fails to load.
    """
    path = library_path()
    if path is None:
        others = other_builds()
        built_for = (f" (kernels built for TensorFlow {', '.join(others)} are there; TensorFlow "
                     f"{tf.__version__} is running)" if others else "")
        raise OpsNotBuiltError(
            f"tf_lattice's compiled kernels ({LIBRARY_NAME}_{version_tag()}.so) were not found in "
            f"{_directory()}{built_for}. Build them with "
            f"`{REBUILD_COMMAND}` (or `make install`) in the tf_lattice source "
            "tree; set TF_LATTICE_CUDA=1 to also build the CUDA kernels. Without "
            "the kernels, pass implementation='portable' to use the pure-TensorFlow ops."
        )
    built_version, _ = build_info()
    _check_versions(built_version)
    try:
        return tf.load_op_library(path)
    except tf.errors.NotFoundError as error:
        raise OpsNotBuiltError(
            f"tf_lattice's kernel library {path} failed to load ({error}); it was "
            f"built against TensorFlow {built_version or 'unknown'} and TensorFlow "
            f"{tf.__version__} is running. Rebuild with `{REBUILD_COMMAND}`."
        ) from error
