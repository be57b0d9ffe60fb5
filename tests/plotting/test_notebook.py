"""In a real Jupyter kernel: a quiet import, a progress bar by default, figures as images.

The notebook is built here and run with nbclient on a kernel of this
interpreter, without ``%matplotlib inline`` and without
``TF_CPP_MIN_LOG_LEVEL``, as a user's first notebook would run.
"""

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
KERNEL_NAME = "tf-lattice-display-tests"

CELLS = [
    "import tf_lattice.estimators\nfrom tf_lattice import plotting",
    "import numpy as np, pandas as pd\n"
    "X = pd.DataFrame({'a': np.linspace(0, 1, 60), 'kind': ['x', 'y', 'z'] * 20})\n"
    "model = tf_lattice.estimators.CalibratedLinearRegressor(epochs=2, random_state=0)\n"
    "model.fit(X, X['a'].to_numpy())",
    "plotting.CalibratorDisplay.from_estimator(model)",
    "model.plot_calibrators()",
    "plotting.PartialDependenceDisplay.from_estimator(model, X)",
]


def _run_notebook(tmp_path):
    folder = tmp_path / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tf_lattice display tests", "language": "python"}))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[str(tmp_path / "kernels")]))
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    client = nbclient.NotebookClient(notebook, km=manager, timeout=600, allow_errors=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    return notebook


def test_a_first_notebook(tmp_path):
    cells = _run_notebook(tmp_path).cells
    assert cells[0].outputs == []  # no start-up log, no widget warning
    streams = "".join(o.get("text", "") for o in cells[1].outputs if o.output_type == "stream")
    assert "epoch" in streams and "2/2" in streams  # the bar, drawn by default
    for cell in cells[2:]:
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1 and "image/png" in results[0].data, cell.source
