"""Runs every tutorial notebook end to end; any failing cell fails the test.

The notebooks assert what they claim (certificates hold, metrics above a
floor), so running them checks the tutorials' statements too. The kernel is
the interpreter running the tests: a kernel spec pointing at
``sys.executable`` is written to a temporary directory, so no Jupyter
installation or registered kernel is needed beyond ipykernel itself.
"""

import glob
import json
import os
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIALS = os.path.join(ROOT, "tutorials")
NOTEBOOKS = sorted(glob.glob(os.path.join(TUTORIALS, "*.ipynb")))
KERNEL_NAME = "tf-lattice-tests"
#: Seconds one cell may run before the notebook fails.
CELL_TIMEOUT = 600


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernel spec directory whose one kernel runs this interpreter."""
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tf_lattice tests", "language": "python"}))
    return str(folder)


def _kernel_environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def test_every_tutorial_is_found():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert names == ["01_quick_start.ipynb", "02_shape_constraints.ipynb",
                     "03_keras_layers.ipynb", "04_ensembles.ipynb", "05_deployment.ipynb",
                     "06_sklearn_workflows.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_outputs_are_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path


@pytest.mark.parametrize("path", [pytest.param(p, id=os.path.basename(p)) for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_dir, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[kernel_dir]))
    client = nbclient.NotebookClient(
        notebook, km=manager, timeout=CELL_TIMEOUT, allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=_kernel_environment())
