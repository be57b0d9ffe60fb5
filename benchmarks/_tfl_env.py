"""The virtual environment that runs TensorFlow Lattice 2.1.1 for comparisons.

TensorFlow Lattice needs ``tf-keras`` (Keras 2), which cannot share a process
with tf_lattice's Keras 3, so every benchmark runs TensorFlow Lattice in a
subprocess of its own environment, ``.venv-tfl`` at the repository root
(ignored by git). `ensure_tfl_environment` reuses it when it imports
``tensorflow_lattice`` and otherwise builds it from PyPI, trying each package
set of `TFL_REQUIREMENTS` in turn.
"""

import json
import os
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFL_VENV = os.path.join(REPO_ROOT, ".venv-tfl")
#: Package sets tried in order when the environment is built.
TFL_REQUIREMENTS = (
    ("tensorflow==2.21.*", "tf-keras==2.21.*", "tensorflow-lattice==2.1.1"),
    ("tensorflow==2.17.*", "tf-keras==2.17.*", "tensorflow-lattice==2.1.1"),
    ("tensorflow==2.16.*", "tf-keras==2.16.*", "tensorflow-lattice==2.1.1"),
)


def tfl_python(venv=TFL_VENV):
    """The path of the environment's Python interpreter."""
    return os.path.join(venv, "bin", "python")


def tfl_importable(python):
    """Whether ``python`` can import ``tensorflow_lattice``."""
    probe = subprocess.run([python, "-c", "import tensorflow_lattice"], capture_output=True,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return probe.returncode == 0


def ensure_tfl_environment(venv=TFL_VENV, log=print):
    """Returns the Python of a virtual environment with TensorFlow Lattice.

    Args:
      venv: the environment's directory; reused when it already imports
        ``tensorflow_lattice``, otherwise (re)created.
      log: called with one line of progress per attempt.

    Returns:
      ``(python_path, requirements)``: the environment's interpreter, and the
      package set installed now (None when an existing environment was
      reused).

    Raises:
      RuntimeError: when no package set of `TFL_REQUIREMENTS` installs and
        imports (the message holds the end of each pip error).
    """
    python = tfl_python(venv)
    if os.path.exists(python) and tfl_importable(python):
        return python, None
    errors = []
    base_python = getattr(sys, "_base_executable", sys.executable)
    for requirements in TFL_REQUIREMENTS:
        log(f"creating {venv} with {' '.join(requirements)} (takes a few minutes)")
        subprocess.run([base_python, "-m", "venv", "--clear", venv], check=True)
        install = subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             *requirements], capture_output=True, text=True)
        if install.returncode == 0 and tfl_importable(python):
            return python, list(requirements)
        errors.append(f"{requirements}: {install.stderr.strip()[-500:]}")
    raise RuntimeError("could not build a TensorFlow Lattice environment:\n" + "\n".join(errors))


def run_runner(python, runner, request, log=print, env=None):
    """Runs a TensorFlow Lattice runner script and returns its answer.

    The runner reads ``request`` as JSON on stdin and prints its answer as one
    JSON object on the last line of stdout (see `_tfl_serve`); its stderr
    lines that start with ``tfl `` are progress, passed to ``log`` as they
    come. ``env``: the runner's environment (default: this process's).

    Raises:
      RuntimeError: when the runner exits with an error (the message holds
        the end of its stderr).
    """
    with tempfile.TemporaryFile("w+") as stdout:
        process = subprocess.Popen([python, runner], stdin=subprocess.PIPE, stdout=stdout,
                                   stderr=subprocess.PIPE, text=True, env=env)
        process.stdin.write(json.dumps(request))
        process.stdin.close()
        errors = []
        for line in process.stderr:
            if line.startswith("tfl "):
                log(line.rstrip())
            else:
                errors.append(line)
        returncode = process.wait()
        stdout.seek(0)
        output = stdout.read()
    if returncode != 0:
        raise RuntimeError(f"{os.path.basename(runner)} failed ({returncode}):\n"
                           + "".join(errors)[-3000:])
    return json.loads(output.strip().splitlines()[-1])
