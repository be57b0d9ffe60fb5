"""Benchmarks fits on data larger than memory: rows per second and peak memory.

Data: ``make_monotone_regression`` with 16 features (all increasing),
written as Parquet shards of ``SHARD_ROWS`` rows (row groups of
``ROW_GROUP_ROWS``) at each size (default 1e5 and 1e6 rows; 1e7 with
``--sizes 1e5,1e6,1e7``), generated a million rows at a time.

Model: ``CalibratedLatticeEnsembleRegressor`` with every feature increasing,
default structure (32 lattices of rank 3), ``EPOCHS`` epochs of the default
batch (1024 rows), ``random_state=0``.

Cases, each in a fresh process (so that its peak resident memory is its own):

* ``frame``: the shards read into one DataFrame, then ``fit(frame, y)`` (the
  in-memory path; its peak includes the frame, as a user's would);
* ``files``: ``fit(FileSource(shards, target="y"))`` on one worker: one
  streaming pass of statistics, then training from the files;
* ``files x2``: the same on two loopback workers started by
  ``tf_lattice.distribute.launch`` (``MultiWorkerMirroredStrategy``), on the
  same machine: each worker reports its own time, memory and rows per
  second (its half of every step's rows).

Rows per second: rows x epochs / fit seconds (the whole ``fit`` call:
statistics, encoding and training). Peak memory: the process's maximum
resident set (``ru_maxrss``), TensorFlow's own included.

Targets (reported, not asserted): the files fit's peak memory flat (within
20%) from 1e6 to 1e7 rows; one worker's rows per second from files at least
80% of the in-memory fit's. Results go to ``benchmarks/results/scale.json``
and ``scale.md``. Not a test.

Usage::

    python benchmarks/scale.py [--sizes 1e5,1e6] [--worker-sizes 1e5,1e6] [--data-dir DIR]
"""

import argparse
import glob
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import _report  # noqa: E402

OUTPUT_DIR = _report.OUTPUT_DIR
FEATURES = 16
SHARD_ROWS = 500_000
ROW_GROUP_ROWS = 131_072
GENERATE_ROWS = 1_000_000
EPOCHS = 2
SEED = 0
MEMORY_FLATNESS = 0.20
SPEED_RATIO = 0.80
CASE_TIMEOUT = 3 * 3600


def _size(text):
    return int(float(text))


def write_shards(rows, folder):
    """Parquet shards of ``rows`` rows of make_monotone_regression; returns the glob."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tf_lattice.datasets import make_monotone_regression

    pattern = os.path.join(folder, "part-*.parquet")
    if len(glob.glob(pattern)) and os.path.exists(os.path.join(folder, "DONE")):
        return pattern
    os.makedirs(folder, exist_ok=True)
    shard, writer, in_shard, written = 0, None, 0, 0
    while written < rows:
        count = min(GENERATE_ROWS, rows - written)
        X, y = make_monotone_regression(count, FEATURES, random_state=SEED + written)
        table = pa.Table.from_pandas(X.assign(y=y), preserve_index=False)
        offset = 0
        while offset < count:
            if writer is None:
                writer = pq.ParquetWriter(os.path.join(folder, f"part-{shard:04d}.parquet"),
                                          table.schema)
            take = min(count - offset, SHARD_ROWS - in_shard)
            writer.write_table(table.slice(offset, take), row_group_size=ROW_GROUP_ROWS)
            offset, in_shard = offset + take, in_shard + take
            if in_shard == SHARD_ROWS:
                writer.close()
                writer, in_shard, shard = None, 0, shard + 1
        written += count
    if writer is not None:
        writer.close()
    open(os.path.join(folder, "DONE"), "w").close()
    return pattern


def _estimator(strategy=None):
    from tf_lattice.estimators import CalibratedLatticeEnsembleRegressor

    return CalibratedLatticeEnsembleRegressor(
        monotonicity={f"x{j}": "increasing" for j in range(FEATURES)}, epochs=EPOCHS,
        random_state=SEED, verbose=0, distribute_strategy=strategy)


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_case(case):
    """Runs one case in this process; prints a JSON line with its measurements."""
    from tf_lattice import distribute

    strategy = distribute.strategy()  # before TensorFlow starts
    import pandas as pd

    from tf_lattice.estimators import FileSource

    model = _estimator(strategy)
    if case["kind"] == "frame":
        frame = pd.concat([pd.read_parquet(path) for path in sorted(glob.glob(case["data"]))],
                          ignore_index=True)
        y = frame.pop("y")
        start = time.perf_counter()
        model.fit(frame, y)
    else:
        start = time.perf_counter()
        model.fit(FileSource(case["data"], target="y"))
    seconds = time.perf_counter() - start
    workers = distribute.num_workers()
    rows = case["rows"] * EPOCHS
    result = {"kind": case["kind"], "rows": case["rows"], "workers": workers,
              "rank": distribute.worker_rank(), "fit_seconds": seconds,
              "rows_per_second": rows / seconds,
              "rows_per_second_per_worker": rows / workers / seconds,
              "peak_mb": _peak_mb(), "final_loss": model.history_["loss"][-1]}
    print("RESULT " + json.dumps(result), flush=True)


def _measure(case, workers=1):
    """Runs ``case`` in fresh processes; returns the workers' results."""
    command = [sys.executable, os.path.abspath(__file__), "--run-case", json.dumps(case)]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if workers == 1:
        completed = subprocess.run(command, capture_output=True, text=True, env=env,
                                   timeout=CASE_TIMEOUT)
        output, code = completed.stdout + completed.stderr, completed.returncode
    else:
        import io

        from tf_lattice import distribute

        log = io.StringIO()
        code = distribute.launch(command, workers, environ=env, timeout=CASE_TIMEOUT, out=log)
        output = log.getvalue()
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in output.splitlines()
               if "RESULT " in line]
    if code != 0 or len(results) != workers:
        raise RuntimeError(f"case {case} failed (exit {code}):\n{output[-4000:]}")
    return sorted(results, key=lambda r: r["rank"])


def _markdown(report):
    lines = ["# Scale benchmark", "",
             f"{report['date']}, {report['machine']}, {report['cpus']} CPUs (load average "
             f"{report['load'][0]:.1f} at the start, {report['load'][1]:.1f} at the end); "
             f"`CalibratedLatticeEnsembleRegressor`, {FEATURES} features, {EPOCHS} epochs, "
             f"Parquet shards of {SHARD_ROWS:,} rows.", "",
             "| rows | case | worker | fit s | rows/s | rows/s per worker | peak MB | final loss |",
             "|---|---|---|---|---|---|---|---|"]
    for entry in report["results"]:
        case = entry["case"] if entry["workers"] == 1 else f"{entry['case']} x{entry['workers']}"
        lines.append(f"| {entry['rows']:,} | {case} | {entry['rank']} | {entry['fit_seconds']:.1f} "
                     f"| {entry['rows_per_second']:,.0f} | "
                     f"{entry['rows_per_second_per_worker']:,.0f} | {entry['peak_mb']:,.0f} | "
                     f"{entry['final_loss']:.4f} |")
    lines += ["", "## Targets", ""]
    for check in report["checks"]:
        lines.append(f"- {check}")
    return "\n".join(lines) + "\n"


def _checks(results):
    checks = []
    files = {r["rows"]: r for r in results if r["case"] == "files" and r["workers"] == 1}
    frames = {r["rows"]: r for r in results if r["case"] == "frame"}
    for rows in sorted(set(files) & set(frames)):
        ratio = files[rows]["rows_per_second"] / frames[rows]["rows_per_second"]
        checks.append(f"{rows:,} rows: files at {ratio:.0%} of the in-memory rows per second "
                      f"(target >= {SPEED_RATIO:.0%}): {'met' if ratio >= SPEED_RATIO else 'MISSED'}")
    if 1_000_000 in files and 10_000_000 in files:
        growth = files[10_000_000]["peak_mb"] / files[1_000_000]["peak_mb"] - 1.0
        checks.append(f"peak memory from 1e6 to 1e7 rows: {growth:+.0%} (target within "
                      f"{MEMORY_FLATNESS:.0%}): "
                      f"{'met' if abs(growth) <= MEMORY_FLATNESS else 'MISSED'}")
    else:
        checks.append("peak memory flatness from 1e6 to 1e7 rows: not measured (1e7 not run)")
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6", help="rows, comma-separated")
    parser.add_argument("--worker-sizes", default="1e5,1e6",
                        help="rows of the two-worker runs (empty: none)")
    parser.add_argument("--frame-sizes", default="1e5,1e6",
                        help="rows of the in-memory runs (empty: none)")
    parser.add_argument("--data-dir", default=None, help="where the shards go (kept between runs)")
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    parser.add_argument("--run-case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_case:
        run_case(json.loads(args.run_case))
        return 0
    sizes = [_size(s) for s in args.sizes.split(",") if s]
    two = {_size(s) for s in args.worker_sizes.split(",") if s}
    frames = {_size(s) for s in args.frame_sizes.split(",") if s}
    data_dir = args.data_dir or os.path.join(tempfile.gettempdir(), "tf_lattice_scale")
    load_start = os.getloadavg()[0]
    results = []
    for rows in sizes:
        pattern = write_shards(rows, os.path.join(data_dir, f"rows-{rows}"))
        plan = [("frame", 1)] if rows in frames else []
        plan += [("files", 1)] + ([("files", 2)] if rows in two else [])
        for kind, workers in plan:
            for result in _measure({"kind": kind, "data": pattern, "rows": rows}, workers):
                result["case"] = kind
                results.append(result)
                print(f"{rows:>10,} {kind:6} x{workers} worker {result['rank']}: "
                      f"{result['fit_seconds']:7.1f} s, {result['rows_per_second']:>9,.0f} rows/s, "
                      f"{result['rows_per_second_per_worker']:>9,.0f} rows/s per worker, "
                      f"{result['peak_mb']:,.0f} MB", flush=True)
    report = {"date": _report.now(),
              "machine": platform.machine(), "cpus": os.cpu_count(),
              "load": [load_start, os.getloadavg()[0]], "epochs": EPOCHS, "features": FEATURES,
              "results": results, "checks": _checks(results)}
    _report.write(args.output_dir, "scale", report, _markdown(report), indent=1)
    for check in report["checks"]:
        print(check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
