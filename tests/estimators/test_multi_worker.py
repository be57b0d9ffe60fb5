"""Two loopback workers under MultiWorkerMirroredStrategy against one worker."""

import io
import json
import os
import sys

import numpy as np
import pytest

from tests.estimators._worker_fit import main as fit_one_worker
from tf_lattice import distribute
from tf_lattice.datasets import make_monotone_regression

pytest.importorskip("pyarrow")
pytest.importorskip("datasketches")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: Monotone, convex and trust constraints: every projection the ensemble has.
OPTIONS = {"monotonicity": {"x0": "increasing", "x1": "increasing"},
           "convexity": {"x2": "convex"}, "trust": [["x0", "x1", "increasing"]],
           "num_lattices": 4, "batch_size": 128, "random_state": 0,
           "implementation": "kernel"}


def _uneven_shards(folder, n, sizes, seed=0, row_group_size=400):
    """Parquet files of very different sizes, in row groups of ``row_group_size``."""
    X, y = make_monotone_regression(n, 4, random_state=seed)
    table = X.assign(y=y)
    edges = np.concatenate([[0], np.cumsum(sizes)])
    for k in range(len(sizes)):
        table.iloc[edges[k]:edges[k + 1]].to_parquet(os.path.join(folder, f"part-{k}.parquet"),
                                                     index=False, row_group_size=row_group_size)
    return os.path.join(folder, "part-*.parquet")


def _launch(data, out, options, workers=2, timeout=420):
    log = io.StringIO()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = distribute.launch([sys.executable, "-m", "tests.estimators._worker_fit", data,
                              str(out), json.dumps(options)], workers, environ=env,
                             timeout=timeout, cwd=ROOT, out=log)
    assert code == 0, log.getvalue()[-4000:]


def _result(out, rank):
    with np.load(os.path.join(out, f"worker-{rank}.npz")) as arrays:
        weights = [arrays[f"arr_{k}"] for k in range(len(arrays.files))]
    with open(os.path.join(out, f"worker-{rank}.json")) as handle:
        return weights, json.load(handle)


def _compare(one_out, two_out, tolerance):
    reference, reference_report = _result(one_out, 0)
    (first, report), (second, second_report) = _result(two_out, 0), _result(two_out, 1)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # the workers hold bitwise the same weights
    assert report["holds"] and second_report["holds"] and reference_report["holds"]
    assert report["lattices"] == second_report["lattices"] == reference_report["lattices"]
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(first, reference))
    assert worst <= tolerance, worst


def _fit_two_ways(tmp_path, data, options):
    """One worker in this process (saving its encoding), then two loopback workers
    reading the files with that encoding (sketches are randomized: computed once)."""
    encoding = str(tmp_path / "one.keras")
    source = options.pop("source")
    fit_one_worker(data, str(tmp_path / "one"), dict(options, source=source, save=encoding))
    _launch(data, tmp_path / "two", dict(options, source=dict(source, encoding=encoding)))
    _compare(tmp_path / "one", tmp_path / "two", 1e-5)


def test_two_workers_train_the_one_worker_model_on_uneven_shards(tmp_path):
    data = _uneven_shards(tmp_path, 1500, [500, 15, 600, 85, 300])
    _fit_two_ways(tmp_path, data, dict(OPTIONS, epochs=2, source={"shuffle_rows": 256}))


@pytest.mark.slow
def test_two_workers_over_a_longer_fit(tmp_path):
    data = _uneven_shards(tmp_path, 20000, [6000, 200, 9000, 800, 4000])
    _fit_two_ways(tmp_path, data, dict(OPTIONS, epochs=6, source={"shuffle_rows": 4096}))


@pytest.mark.slow
def test_workers_agree_on_a_seed_drawn_by_the_chief(tmp_path):
    data = _uneven_shards(tmp_path, 3000, [1000, 2000])
    options = dict(OPTIONS, random_state=None, epochs=2, num_lattices=6,
                   source={"shuffle_rows": 512})
    _launch(data, tmp_path / "two", options)
    (first, report), (second, second_report) = _result(tmp_path / "two", 0), \
        _result(tmp_path / "two", 1)
    assert report["lattices"] == second_report["lattices"]
    assert report["holds"] and second_report["holds"]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_a_worker_without_rows_still_steps_with_the_other(tmp_path):
    # One file of one row group: one piece, so worker 1 reads nothing.
    data = _uneven_shards(tmp_path, 800, [800], row_group_size=800)
    options = dict(OPTIONS, epochs=2, batch_size=64, source={"shuffle_rows": 128})
    _launch(data, tmp_path / "two", options)
    (first, report), (second, _) = _result(tmp_path / "two", 0), _result(tmp_path / "two", 1)
    assert report["holds"] and len(report["history"]["loss"]) == 2
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
