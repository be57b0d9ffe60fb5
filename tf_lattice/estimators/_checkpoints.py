"""Checkpoints of a streaming fit, so that a killed fit resumes where it stopped.

A checkpoint directory holds

- ``fit.json``: what is being fitted (the estimator's class and parameters
  and a description of the data), the seed and the statistics (keypoints,
  vocabularies, target scaling, row counts), with ``sample.npz`` (the rows
  the model structure was chosen from); written once, before training;
- ``step-<n>.npz``: the weights, the optimizer's moments and step count
  after optimizer step ``n``;
- ``latest.json``: the newest step file, the loss history and the running
  sum of the unfinished epoch.

Only the chief writes, and every file is written under a temporary name and
renamed into place, so a fit killed at any moment leaves the previous
checkpoint whole; the step file before the newest is kept as well. A fit
started on a directory with a ``fit.json`` resumes from ``latest.json``:
the statistics and seed are read back (never recomputed: sketches are
randomized), the weights restored, and each shard's stream restarts at the
row the interrupted fit had reached, so the result is the uninterrupted
fit's. The chief reads the directory and sends its content to the other
workers, which need no access to it.
"""

import json
import os
import time

import numpy as np

from tf_lattice.estimators._statistics import DataStatistics

FIT_FILE = "fit.json"
SAMPLE_FILE = "sample.npz"
LATEST_FILE = "latest.json"
#: Seconds between checkpoints within an epoch (one is also written after every epoch).
CHECKPOINT_SECONDS = 600.0


def _write_atomically(path, write):
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _canonical(value):
    return json.dumps(value, sort_keys=True, default=repr)


class Checkpoints:
    """The checkpoint directory of one fit.

    Args:
      directory: where checkpoints go (created by the chief if missing).
      workers: the fit's :class:`~tf_lattice.estimators._distributed.Workers`.
      seconds: the most seconds between checkpoints within an epoch.
    """

    def __init__(self, directory, workers, seconds=CHECKPOINT_SECONDS):
        self.directory = os.fspath(directory)
        self.workers = workers
        self.seconds = float(seconds)
        self.last = time.monotonic()

    def _path(self, name):
        return os.path.join(self.directory, name)

    # -- starting or resuming ------------------------------------------------------------

    def open(self, fingerprint):
        """The ``(seed, statistics, state)`` of an interrupted fit, or None.

        ``state`` is None when the fit stopped before its first checkpoint,
        else ``(step, arrays, history, partial)``.

        Raises:
          ValueError: the directory holds a fit of other parameters or data.
        """
        found, error = None, None
        if self.workers.is_chief:
            try:
                found = self._read(fingerprint)
            except Exception as problem:  # the other workers wait for the content
                error = problem
        self.workers.raise_any(error)
        return self.workers.broadcast(found)

    def _read(self, fingerprint):
        path = self._path(FIT_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            record = json.load(handle)
        if _canonical(record["fingerprint"]) != _canonical(fingerprint):
            raise ValueError(f"{self.directory} holds the checkpoints of a fit of other "
                             "parameters or data; resume that fit as it was, or use another "
                             "checkpoint_dir")
        with np.load(self._path(SAMPLE_FILE), allow_pickle=False) as arrays:
            y = arrays["y"]
            if y.dtype.kind == "U":
                y = np.array([json.loads(v) for v in y], dtype=object)
            sample = (arrays["x"], y)
        statistics = DataStatistics.from_json(record["statistics"], sample)
        state = None
        latest = self._path(LATEST_FILE)
        if os.path.exists(latest):
            with open(latest) as handle:
                meta = json.load(handle)
            with np.load(self._path(meta["file"]), allow_pickle=False) as arrays:
                values = [arrays[f"arr_{k}"] for k in range(len(arrays.files))]
            state = (int(meta["step"]), values, meta["history"], float(meta["partial"]))
        return int(record["seed"]), statistics, state

    def begin(self, fingerprint, seed, statistics):
        """Records what is fitted (chief only; before the first step)."""
        if not self.workers.is_chief:
            return
        os.makedirs(self.directory, exist_ok=True)
        x, y = statistics.sample if statistics.sample is not None else (np.zeros((0, 0)), [])
        y = np.asarray(y)
        if y.dtype.kind == "O":
            y = np.array([json.dumps(v.item() if isinstance(v, np.generic) else v) for v in y])

        def write_sample(handle):
            np.savez(handle, x=np.asarray(x, np.float32), y=y)

        _write_atomically(self._path(SAMPLE_FILE), write_sample)
        record = {"fingerprint": fingerprint, "seed": int(seed),
                  "statistics": statistics.to_json()}
        _write_atomically(self._path(FIT_FILE), lambda h: h.write(_canonical(record).encode()))

    # -- saving ----------------------------------------------------------------------------

    def due(self):
        """Whether the time for an in-epoch checkpoint has come."""
        return time.monotonic() - self.last >= self.seconds

    def save(self, step, variables, history, partial):
        """Writes the state after optimizer ``step`` (chief only)."""
        self.last = time.monotonic()
        if not self.workers.is_chief:
            return
        name = f"step-{int(step)}.npz"
        arrays = [np.asarray(v.numpy()) for v in variables]
        _write_atomically(self._path(name), lambda h: np.savez(h, *arrays))
        previous = None
        latest = self._path(LATEST_FILE)
        if os.path.exists(latest):
            with open(latest) as handle:
                previous = json.load(handle)["file"]
        meta = {"step": int(step), "file": name, "previous": previous,
                "history": history, "partial": float(partial)}
        _write_atomically(latest, lambda h: h.write(_canonical(meta).encode()))
        keep = {name, previous}
        for entry in os.listdir(self.directory):
            if entry.startswith("step-") and entry.endswith(".npz") and entry not in keep:
                os.remove(self._path(entry))
