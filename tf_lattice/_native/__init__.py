"""Loads tf_lattice's compiled TensorFlow kernel library, lazily.

Importing :mod:`tf_lattice` never touches the shared library: the first op call
does, through :func:`load_ops`. When the library is missing, or was built
against another TensorFlow than the one running, :class:`OpsNotBuiltError`
says so and names the command that fixes it.
"""

import functools
import importlib.machinery
import os

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
    "TfLattice>PolyhedronProjection",
)


class OpsNotBuiltError(ImportError):
    """The compiled kernel library is missing or does not match TensorFlow."""


def library_path():
    """Returns the path of the compiled kernel library, or None if absent."""
    directory = os.path.dirname(os.path.abspath(__file__))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = os.path.join(directory, LIBRARY_NAME + suffix)
        if os.path.exists(candidate):
            return candidate
    return None


def build_info():
    """Returns ``(tensorflow_version, cuda_enabled)`` recorded at build time."""
    try:
        from tf_lattice._native import _build_info
    except ImportError:
        return None, None
    return _build_info.TENSORFLOW_VERSION, _build_info.CUDA_ENABLED


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
        raise OpsNotBuiltError(
            f"tf_lattice's compiled kernels ({LIBRARY_NAME}.so) were not found in "
            f"{os.path.dirname(os.path.abspath(__file__))}. Build them with "
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
