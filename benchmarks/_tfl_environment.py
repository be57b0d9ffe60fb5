"""The virtual environment in which TensorFlow Lattice 2.1.1 runs for comparisons.

TensorFlow Lattice needs its own packages (tf-keras), so the benchmarks run it
in a subprocess from ``.venv-tfl`` at the repository root, created on first
use.
"""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFL_VENV = os.path.join(REPO_ROOT, ".venv-tfl")

# Package sets tried in order when the TensorFlow Lattice environment is built.
TFL_REQUIREMENTS = (
    ("tensorflow==2.21.*", "tf-keras==2.21.*", "tensorflow-lattice==2.1.1"),
    ("tensorflow==2.17.*", "tf-keras==2.17.*", "tensorflow-lattice==2.1.1"),
    ("tensorflow==2.16.*", "tf-keras==2.16.*", "tensorflow-lattice==2.1.1"),
)


def _tfl_python(venv):
    return os.path.join(venv, "bin", "python")


def _tfl_importable(python):
    probe = subprocess.run(
        [python, "-c", "import tensorflow_lattice"], capture_output=True, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return probe.returncode == 0


def ensure_tfl_environment(venv=TFL_VENV, log=print):
    """Returns the Python of a virtual environment with TensorFlow Lattice.

    Creates ``venv`` when it is absent or cannot import
    ``tensorflow_lattice``, trying each set of ``TFL_REQUIREMENTS`` from PyPI
    in turn.

    Args:
      venv: the environment's directory.
      log: called with one progress line per package set tried.

    Returns:
      ``(python_path, requirements)``; ``requirements`` is the package set
      installed now, or None when an existing environment was reused.

    Raises:
      RuntimeError: no package set installs and imports.
    """
    python = _tfl_python(venv)
    if os.path.exists(python) and _tfl_importable(python):
        return python, None
    errors = []
    base_python = getattr(sys, "_base_executable", sys.executable)
    for requirements in TFL_REQUIREMENTS:
        log(f"creating {venv} with {' '.join(requirements)} (takes a few minutes)")
        subprocess.run([base_python, "-m", "venv", "--clear", venv], check=True)
        install = subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             *requirements], capture_output=True, text=True)
        if install.returncode == 0 and _tfl_importable(python):
            return python, list(requirements)
        errors.append(f"{requirements}: {install.stderr.strip()[-500:]}")
    raise RuntimeError("could not build a TensorFlow Lattice environment:\n" + "\n".join(errors))
