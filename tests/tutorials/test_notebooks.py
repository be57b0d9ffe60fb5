"""The committed tutorials: built by tutorials/build_notebooks.py, executed, runnable.

Three checks per notebook: its cells are exactly the ones the generator
builds (so an edit made only in the ``.ipynb``, or only in the generator,
fails); it was committed executed, with outputs and without errors; and it
runs again end to end in a fresh kernel. The notebooks assert what they claim
(certificates hold, metrics above a floor), so running them checks the
tutorials' statements too.
"""

import glob
import importlib.util
import os
import re

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIALS = os.path.join(ROOT, "tutorials")
ALL_NOTEBOOKS = sorted(glob.glob(os.path.join(TUTORIALS, "[0-9]*.ipynb")))
#: Notebooks that need another environment; their lane builds and runs them
#: (07: TensorFlow 2.15 with tf.estimator, built by
#: tutorials/build_tf_estimator_notebook.py and run by
#: tests/tf_estimator/test_tutorial.py under `make test-tf-estimator`).
LANE_NOTEBOOKS = ("07_tf_estimator.ipynb",)
NOTEBOOKS = [path for path in ALL_NOTEBOOKS if os.path.basename(path) not in LANE_NOTEBOOKS]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", os.path.join(TUTORIALS, "build_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def test_every_tutorial_is_built_by_the_generator():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert names == sorted(GENERATOR.NOTEBOOKS), "run make tutorials"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_committed_cells_are_the_generated_ones(path):
    committed = nbformat.read(path, as_version=4)
    built = GENERATOR.build(os.path.basename(path), GENERATOR.NOTEBOOKS[os.path.basename(path)])
    assert [(c.cell_type, c.source) for c in committed.cells] == \
        [(c.cell_type, c.source) for c in built.cells], f"{path}: run make tutorials"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebooks_are_committed_executed_with_outputs(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{path}: committed without running every cell in order; run make tutorials"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any(c.outputs for c in code), path
    if re.search(r"plot\w*\(|Display\.from_estimator", _sources(code)):  # it draws: show it
        assert [o for c in code for o in c.outputs if "image/png" in o.get("data", {})], path


def _sources(cells):
    return "\n".join(c.source for c in cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    GENERATOR.execute(notebook, tmp_path)
