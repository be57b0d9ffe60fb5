"""Benchmarks tf_lattice's lattice projection against TensorFlow Lattice 2.1.1.

For all-monotone lattices 2^8, 3^6 and 4^4 with 1 and 16 units (float32
parameters drawn from a standard normal, fixed seed) it times one projection
(median wall time of repeated calls inside a ``tf.function``) and measures its
distance to cvxpy's exact Euclidean projection, ``max_u ||P(x_u) - P*(x_u)|| /
||P*(x_u) - x_u||``, for:

* ``kernel``: ``lattice_projection(implementation="kernel")``, default settings;
* ``twin``: ``lattice_projection(implementation="portable")``, default settings;
* ``tfl``: TensorFlow Lattice 2.1.1's ``project_by_dykstra`` (10 cycles, its
  Lattice layer's default) then ``finalize_constraints``, run by
  ``_tfl_projection_runner.py`` in TFL's own virtual environment (``.venv-tfl``,
  created by ``_tfl_env.ensure_tfl_environment`` when absent).

Targets per case: the kernel takes at most TFL's time and is at least 10x
closer to the exact projection. Results go to ``benchmarks/results/
projections.json`` and ``projections.md``. Not a test.

Usage::

    python benchmarks/projections.py [--no-tfl] [--tfl-python PATH] [--threads 2]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import _report  # noqa: E402
from benchmarks._tfl_env import ensure_tfl_environment, run_runner  # noqa: E402

TFL_RUNNER = os.path.join(REPO_ROOT, "benchmarks", "_tfl_projection_runner.py")
OUTPUT_DIR = _report.OUTPUT_DIR
LATTICES = ((2, 8), (3, 6), (4, 4))
UNITS = (1, 16)
TFL_ITERATIONS = 10
SPEED_TARGET = 1.0      # kernel time <= TFL time
ACCURACY_TARGET = 10.0  # kernel at least 10x closer to the exact projection
SEED = 0


def cases():
    """Returns the benchmark cases: name, lattice sizes, units."""
    return [{"name": f"{size}^{dims}/units={units}", "sizes": [size] * dims, "units": units}
            for size, dims in LATTICES for units in UNITS]


def case_params(case, seed=SEED):
    rng = np.random.default_rng([seed, case["sizes"][0], len(case["sizes"]), case["units"]])
    return rng.standard_normal((case["units"], int(np.prod(case["sizes"])))).astype(np.float32)


def median_seconds(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def relative_distance(projected, exact, params):
    """max over units of ||projected - exact|| / ||exact - params|| (float64)."""
    projected, exact, params = (np.asarray(a, np.float64) for a in (projected, exact, params))
    moved = np.linalg.norm(exact - params, axis=1)
    return float(np.max(np.linalg.norm(projected - exact, axis=1) / np.maximum(moved, 1e-300)))


def run_ours(case, params, exact, implementation, repeats):
    import tensorflow as tf

    from tf_lattice.ops import lattice_projection

    monotonicities = ["increasing"] * len(case["sizes"])
    project = tf.function(lambda x: lattice_projection(
        x, case["sizes"], monotonicities=monotonicities, implementation=implementation))
    x = tf.constant(params)
    projected = project(x).numpy()
    seconds = median_seconds(lambda: project(x).numpy(), repeats)
    return {"median_seconds": seconds,
            "relative_distance": relative_distance(projected, exact, params)}


def exact_projection(case, params):
    from tf_lattice.ops import lattice_projection

    return lattice_projection(params.astype(np.float64), case["sizes"],
                              monotonicities=["increasing"] * len(case["sizes"]),
                              exact=True).numpy()


def run_tfl(python, all_cases, params, threads, repeats, work_dir):
    request = {"cases": [], "iterations": TFL_ITERATIONS, "repeats": repeats,
               "threads": threads, "save_dir": work_dir}
    for index, case in enumerate(all_cases):
        path = os.path.join(work_dir, f"params{index}.npy")
        np.save(path, params[index])
        request["cases"].append({"name": f"case{index}", "sizes": case["sizes"],
                                 "params_path": path})
    answer = run_runner(python, TFL_RUNNER, request)
    outputs = [np.load(os.path.join(work_dir, f"case{i}.npy")) for i in range(len(all_cases))]
    times = [answer["results"][f"case{i}"]["median_seconds"] for i in range(len(all_cases))]
    return answer["versions"], outputs, times


def markdown(report):
    lines = [
        "# Lattice projection benchmark",
        "",
        f"{report['date']}, {report['machine']['processor']}, {report['threads']} threads, "
        f"TFL: {report['tfl_versions'] or report['tfl_status']}.",
        "",
        "All-monotone lattices, float32, standard normal parameters. Time: median of "
        f"{report['repeats']} runs of one projection inside a tf.function. Distance: max over "
        "units of "
        "||P(x) - P*(x)|| / ||P*(x) - x||, P* from cvxpy. TFL: project_by_dykstra "
        f"({TFL_ITERATIONS} cycles) + finalize_constraints.",
        "",
        "| case | kernel ms | twin ms | TFL ms | kernel dist | twin dist | TFL dist | "
        "TFL/kernel time | TFL/kernel dist | targets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["cases"]:
        r = row["results"]

        def ms(key):
            return f"{r[key]['median_seconds'] * 1e3:.3f}" if key in r else "-"

        def dist(key):
            return f"{r[key]['relative_distance']:.1e}" if key in r else "-"

        ratios = row.get("ratios", {})
        time_ratio = f"{ratios['tfl_time_over_kernel']:.1f}x" if ratios else "-"
        dist_ratio = f"{ratios['tfl_distance_over_kernel']:.0f}x" if ratios else "-"
        met = "-" if "targets_met" not in row else ("met" if row["targets_met"] else "MISSED")
        lines.append(f"| {row['name']} | {ms('kernel')} | {ms('twin')} | {ms('tfl')} | "
                     f"{dist('kernel')} | {dist('twin')} | {dist('tfl')} | {time_ratio} | "
                     f"{dist_ratio} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tfl", action="store_true")
    parser.add_argument("--tfl-python", default=None,
                        help="Python of an existing TensorFlow Lattice environment")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--twin-repeats", type=int, default=3)
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    args = parser.parse_args(argv)

    import tensorflow as tf

    _report.configure_threads(args.threads)
    all_cases = cases()
    params = [case_params(case) for case in all_cases]
    exact = [exact_projection(case, p) for case, p in zip(all_cases, params)]
    rows = []
    for case, p, e in zip(all_cases, params, exact):
        results = {"kernel": run_ours(case, p, e, "kernel", args.repeats),
                   "twin": run_ours(case, p, e, "portable", args.twin_repeats)}
        rows.append({"name": case["name"], "sizes": case["sizes"], "units": case["units"],
                     "results": results})
        print(case["name"], results, flush=True)
    tfl_versions, tfl_status = None, "skipped"
    if not args.no_tfl:
        try:
            python = args.tfl_python or ensure_tfl_environment()[0]
            with tempfile.TemporaryDirectory() as work_dir:
                tfl_versions, outputs, times = run_tfl(
                    python, all_cases, params, args.threads, args.repeats, work_dir)
            tfl_status = "ok"
            for row, p, e, out, seconds in zip(rows, params, exact, outputs, times):
                row["results"]["tfl"] = {"median_seconds": seconds,
                                         "relative_distance": relative_distance(out, e, p)}
                kernel, tfl = row["results"]["kernel"], row["results"]["tfl"]
                row["ratios"] = {
                    "tfl_time_over_kernel": tfl["median_seconds"] / kernel["median_seconds"],
                    "tfl_distance_over_kernel":
                        tfl["relative_distance"] / max(kernel["relative_distance"], 1e-300)}
                row["targets_met"] = (
                    row["ratios"]["tfl_time_over_kernel"] >= SPEED_TARGET
                    and row["ratios"]["tfl_distance_over_kernel"] >= ACCURACY_TARGET)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            tfl_status = f"failed: {error}"
    report = {
        "date": _report.now(),
        "machine": _report.machine(),
        "threads": args.threads, "repeats": args.repeats, "tensorflow": tf.__version__,
        "tfl_status": tfl_status, "tfl_versions": tfl_versions,
        "targets": {"speed": f"kernel time <= TFL time x {SPEED_TARGET}",
                    "accuracy": f"kernel distance <= TFL distance / {ACCURACY_TARGET}"},
        "cases": rows,
    }
    _report.write(args.output_dir, "projections", report, markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
