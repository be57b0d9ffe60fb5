"""Fits on files and datasets: the same model as a DataFrame fit, streaming, resuming."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.estimators._data import FAST
from tests.estimators._random_state import assert_fit_ignores_global_seeds
from tf_lattice import estimators
from tf_lattice.estimators import DataError, FileSource
from tf_lattice.estimators._feed import ShardStream, WorkerFeed, allocate
from tf_lattice.estimators._sources import FrameSource

pytest.importorskip("pyarrow")
pytest.importorskip("datasketches")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x0": rng.uniform(0, 1, n), "x1": rng.normal(size=n),
                          "color": rng.choice(["red", "green", "blue"], n).astype(object)})
    y = 2 * frame["x0"] + np.sin(frame["x1"]) + (frame["color"] == "red") + rng.normal(0, .1, n)
    return frame, y.rename("y")


def _shards(frame, y, folder, parts, suffix=".parquet"):
    table = frame.assign(y=y)
    for k, rows in enumerate(np.array_split(np.arange(len(table)), parts)):
        path = os.path.join(folder, f"part-{k}{suffix}")
        if suffix == ".parquet":
            table.iloc[rows].to_parquet(path, index=False, row_group_size=100)
        else:
            table.iloc[rows].to_csv(path, index=False, float_format="%.6f")
    return os.path.join(folder, f"part-*{suffix}")


# l2 fixed at 0: three epochs leave the automatic l2 (1.5 / n) fits still
# moving, so the streamed and in-memory paths agree less (correlation 0.95).
PARAMS = dict(FAST, monotonicity={"x0": "increasing"}, epochs=3, batch_size=50, l2=0.0)


def _fitted_attributes(model):
    return sorted(name for name in vars(model) if name.endswith("_") and not name.startswith("_"))


@pytest.mark.parametrize("cls", [estimators.CalibratedLatticeRegressor,
                                 estimators.CalibratedLatticeEnsembleClassifier])
def test_files_and_a_frame_with_the_same_keypoints_predict_the_same(tmp_path, cls):
    frame, y = _data()
    if "Classifier" in cls.__name__:
        y = pd.Series(np.where(y > y.median(), "high", "low"), name="y")
    pattern = _shards(frame, y, tmp_path, 3)
    in_memory = cls(**PARAMS).fit(frame, y)
    from_files = cls(**PARAMS).fit(FileSource(pattern, target="y", encoding=in_memory))
    predict = "predict_proba" if hasattr(in_memory, "predict_proba") else "predict"
    np.testing.assert_array_equal(getattr(from_files, predict)(frame),
                                  getattr(in_memory, predict)(frame))
    assert _fitted_attributes(from_files) == _fitted_attributes(in_memory)
    # 600 rows: the sketches still hold every value, so they learn today's exact
    # keypoints, and the fit is the DataFrame fit.
    learned = cls(**PARAMS).fit(pattern, "y")
    assert learned.feature_specs_ == in_memory.feature_specs_
    np.testing.assert_array_equal(getattr(learned, predict)(frame),
                                  getattr(in_memory, predict)(frame))


def test_a_streamed_fit_trains_a_certified_model(tmp_path):
    frame, y = _data(1200)
    pattern = _shards(frame, y, tmp_path, 4, ".csv")
    source = FileSource(pattern, target="y", shuffle_rows=300, read_rows=128)
    model = estimators.CalibratedLatticeRegressor(**PARAMS).fit(source)
    assert len(model.history_["loss"]) == 3 and model.history_["loss"][-1] < 0.3
    assert model.certify().holds
    in_memory = estimators.CalibratedLatticeRegressor(**PARAMS).fit(frame, y)
    assert _fitted_attributes(model) == _fitted_attributes(in_memory)
    assert np.corrcoef(model.predict(frame), in_memory.predict(frame))[0, 1] > 0.97
    with pytest.raises(ValueError, match="early_stopping"):
        estimators.CalibratedLatticeRegressor(**dict(PARAMS, early_stopping=True)).fit(source)


def test_a_streamed_fit_neither_reads_nor_changes_the_global_random_state(tmp_path, monkeypatch):
    frame, y = _data(300)
    pattern = _shards(frame, y, tmp_path, 2)
    assert_fit_ignores_global_seeds(
        lambda: estimators.DeepLatticeNetworkRegressor(**PARAMS).fit(pattern, "y").predict(frame),
        monkeypatch)


def test_a_dataset_fit():
    tf = pytest.importorskip("tensorflow")
    frame, y = _data(400)
    columns = {"x0": frame["x0"].to_numpy(), "x1": frame["x1"].to_numpy(),
               "color": frame["color"].to_numpy(str)}
    labels = (y > y.median()).astype(np.int64).to_numpy()
    dataset = tf.data.Dataset.from_tensor_slices((columns, labels)).batch(64)
    model = estimators.CalibratedLinearClassifier(**PARAMS).fit(dataset)
    assert list(model.classes_) == [0, 1] and model.certify().holds
    assert model.score(frame, labels) > 0.8


def test_a_malformed_shard_stops_the_fit_naming_file_and_row(tmp_path):
    frame, y = _data(300)
    pattern = _shards(frame, y, tmp_path, 3, ".csv")
    path = os.path.join(tmp_path, "part-2.csv")
    lines = open(path).read().splitlines()
    lines[41] = lines[41].replace(lines[41].split(",")[1], "bad", 1)
    open(path, "w").write("\n".join(lines) + "\n")
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(DataError, match=r"part-2.csv, row 40: column 'x1' has the non-number"):
        estimators.CalibratedLinearRegressor(**PARAMS).fit(
            FileSource(pattern, target="y"), checkpoint_dir=checkpoints)
    assert not checkpoints.exists()  # stopped before writing anything


def _stream(source, statistics, shard, window=40):
    pieces = [p for p in source.pieces() if p.index % 3 == shard]
    return ShardStream(source, pieces, statistics, window, 7, shard,
                       lambda chunk: (chunk.features["x0"].to_numpy(),))


def test_shard_streams_restart_at_any_row_and_give_workers_the_same_batches():
    frame, y = _data(500)
    source = FrameSource(frame, y, read_rows=32).bind(False)
    rows = [p.rows for p in source.pieces()]
    stream = _stream(source, rows, 0)
    stream.seek(0)
    whole = stream.take(700)[0]  # more than a pass: the next pass is reshuffled
    assert len(np.unique(whole[:stream.rows])) == stream.rows
    for offset in (0, 1, 39, 40, 171, stream.rows + 3):
        again = _stream(source, rows, 0)
        again.seek(offset)
        np.testing.assert_array_equal(again.take(50)[0], whole[offset:offset + 50])
    sizes = allocate(30, [sum(rows[p.index] for p in source.pieces() if p.index % 3 == s)
                          for s in range(3)])
    assert sizes.sum() == 30

    def feed(shards):
        result = WorkerFeed([_stream(source, rows, s) for s in shards], [sizes[s] for s in shards])
        result.seek(5)
        return result.take(4, None)[0].reshape(4, -1)

    one, (first, second) = feed([0, 1, 2]), (feed([0, 2]), feed([1]))
    for step in range(4):  # the same rows in each global batch
        assert sorted(one[step]) == sorted(np.concatenate([first[step], second[step]]))


def RESUMED(**params):
    """The estimator of the resume test (also fitted by ``_killed_fit``)."""
    return estimators.CalibratedLatticeRegressor(**dict(PARAMS, epochs=5, batch_size=40, **params))


def resumed_source(pattern, cls=FileSource, **options):
    return cls(pattern, target="y", shuffle_rows=200, read_rows=50, **options)


def test_a_killed_fit_resumes_to_the_uninterrupted_result(tmp_path):
    frame, y = _data(1000)
    pattern = _shards(frame, y, tmp_path, 4, ".csv")
    uninterrupted = RESUMED().fit(resumed_source(pattern), checkpoint_dir=tmp_path / "whole")
    checkpoints = str(tmp_path / "checkpoints")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    killed = subprocess.run([sys.executable, "-m", "tests.estimators._killed_fit", pattern,
                             checkpoints, "60"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-3000:]
    with open(os.path.join(checkpoints, "latest.json")) as handle:
        stopped_at = json.load(handle)["step"]
    assert 0 < stopped_at < 5 * 25
    # A shard that turned bad stops the resumed fit; the checkpoints stay.
    path = os.path.join(tmp_path, "part-3.csv")
    original = open(path).read()
    lines = original.splitlines()
    field = lines[101].split(",")[0]
    lines[101] = lines[101].replace(field, "x" * len(field), 1)
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"part-3.csv, row 100: column 'x0' has the non-number"):
        RESUMED().fit(resumed_source(pattern), checkpoint_dir=checkpoints)
    with open(os.path.join(checkpoints, "latest.json")) as handle:
        latest = json.load(handle)
    assert latest["step"] >= stopped_at and os.path.exists(os.path.join(checkpoints,
                                                                        latest["file"]))
    open(path, "w").write(original)
    resumed = RESUMED().fit(resumed_source(pattern), checkpoint_dir=checkpoints)
    for ours, theirs in zip(resumed.model_.get_weights(), uninterrupted.model_.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert resumed.history_ == uninterrupted.history_
    # 1000 rows: the sketches hold every value, so both fits learned the same keypoints
    # (larger data: the resumed fit reads its statistics back from the checkpoint).
    assert resumed.feature_specs_ == uninterrupted.feature_specs_
    with pytest.raises(ValueError, match="other parameters or data"):
        RESUMED(learning_rate=0.5).fit(resumed_source(pattern), checkpoint_dir=checkpoints)
