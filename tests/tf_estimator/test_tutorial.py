"""Runs the Estimator tutorial, which needs this lane's TensorFlow 2.15 (the
main lane's tests/tutorials runs the others and leaves it out)."""

import os

from tests.tf_estimator.conftest import ONE_WORKER
from tests.tutorials import test_notebooks

pytestmark = ONE_WORKER

NOTEBOOK = os.path.join(test_notebooks.TUTORIALS, "07_tf_estimator.ipynb")


def test_tutorial_is_left_to_this_lane():
    assert os.path.basename(NOTEBOOK) in test_notebooks.LANE_NOTEBOOKS
    assert NOTEBOOK in test_notebooks.ALL_NOTEBOOKS
    assert NOTEBOOK not in test_notebooks.NOTEBOOKS


def test_tutorial_runs(tmp_path):
    test_notebooks.test_notebook_runs(NOTEBOOK, tmp_path)
