"""Benchmarks tf_lattice's ops against their twins and TensorFlow Lattice.

For every case (see ``_cases.py``) one training step, forward and backward
(gradients with respect to the inputs and the parameters), is timed for:

* ``kernel``: ``implementation="kernel"`` inside a ``tf.function``;
* ``twin_graph``: ``implementation="portable"`` inside a ``tf.function``;
* ``twin_xla``: the same, compiled with ``jit_compile=True``;
* ``tfl``: TensorFlow Lattice 2.1.1's ``Lattice`` / ``PWLCalibration`` Keras
  layer inside a ``tf.function``, run in a subprocess from its own virtual
  environment (``.venv-tfl``, created on first use).

All sides draw the same inputs from the same seed and use the same timing
(median wall time of repeated calls after warm-up). Results go to
``benchmarks/results/ops.json`` and ``benchmarks/results/ops.md``.

Usage::

    python benchmarks/ops.py [--quick] [--no-tfl] [--threads 2] [--device cpu]
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import _cases, _report  # noqa: E402
from benchmarks._tfl_env import ensure_tfl_environment, run_runner  # noqa: E402

SCHEMA_VERSION = 1
IMPLEMENTATIONS = ("kernel", "twin_graph", "twin_xla")
ALL_IMPLEMENTATIONS = IMPLEMENTATIONS + ("tfl",)
TFL_RUNNER = os.path.join(REPO_ROOT, "benchmarks", "_tfl_runner.py")
DEFAULT_OUTPUT_DIR = _report.OUTPUT_DIR

# Speed-up targets: (case name or None for every case, baseline, minimum ratio).
TARGETS = (
    ("lattice/hypercube/3^8", "tfl", 30.0),
    ("lattice/hypercube/2^8", "tfl", 3.0),
    *((f"lattice/simplex/{size}^{dims}", "tfl", 3.0) for size, dims in _cases.LATTICE_SIZES),
    ("calibration/units=16/K=100", "tfl", 20.0),
    (None, "twin_xla", 2.0),
)


# ----------------------------------------------------------------------------
# Our side: kernel and twins.
# ----------------------------------------------------------------------------


def _op_function(case, implementation):
    """Returns ``f(x, params...) -> y`` of the case for one implementation."""
    from tf_lattice import ops

    if case["op"] == "lattice":
        def apply(x, params):
            return ops.lattice_interpolation(
                x, params, case["lattice_sizes"], interpolation=case["interpolation"],
                implementation=implementation)
    else:
        def apply(x, keypoints, outputs):
            return ops.pwl_calibration(x, keypoints, outputs, implementation=implementation)
    return apply


def param_names(case):
    """The names of the case's parameter arrays, in call order."""
    return ("params",) if case["op"] == "lattice" else ("keypoints", "outputs")


def build_step(case, implementation):
    """Returns a ``tf.function`` running one forward + backward step.

    The step computes ``y = f(x, params)``, the loss ``sum(y * upstream)`` and
    its gradients with respect to ``x`` and the trained parameters (lattice
    ``params``, calibration ``outputs``; calibration keypoints are fixed, as
    in TensorFlow Lattice). It returns ``(y, grad_inputs, grad_params)``.

    Args:
      case: a case dict.
      implementation: "kernel", "twin_graph" or "twin_xla".
    """
    import tensorflow as tf

    apply = _op_function(case, "kernel" if implementation == "kernel" else "portable")
    trained = 0 if case["op"] == "lattice" else 1

    def step(x, upstream, *params):
        with tf.GradientTape() as tape:
            tape.watch([x, params[trained]])
            y = apply(x, *params)
            loss = tf.reduce_sum(y * upstream)
        grad_x, grad_params = tape.gradient(loss, [x, params[trained]])
        return y, grad_x, grad_params

    return tf.function(step, jit_compile=implementation == "twin_xla")


def run_implementation(case, arrays, implementation, timing, device="cpu"):
    """Times one implementation on one case, on ``device`` ("cpu" or "gpu").

    Returns:
      ``(result, outputs)``: ``result`` holds ``timing`` and
      ``examples_per_second`` (or ``error``); ``outputs`` maps
      ``outputs``/``grad_inputs``/``grad_params`` to arrays (None on error).
    """
    import tensorflow as tf

    try:
        with tf.device(f"/{device}:0"):
            tensors = [tf.constant(arrays["inputs"]), tf.constant(arrays["upstream"])]
            tensors += [tf.constant(arrays[name]) for name in param_names(case)]
            step = build_step(case, implementation)

            def run():
                return [t.numpy() for t in step(*tensors)]

            outputs = dict(zip(("outputs", "grad_inputs", "grad_params"), run()))
            result = {"timing": _cases.time_callable(run, **timing)}
    except Exception as error:  # noqa: BLE001  (reported in the results)
        return {"error": describe_error(error)}, None
    result["examples_per_second"] = case["batch"] / result["timing"]["median_seconds"]
    return result, outputs


def describe_error(error):
    """One line naming an exception: its type and the last line of its message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = (lines[-1] if lines else "")[:400]
    name = type(error).__name__
    return last if last.startswith(name + ":") else f"{name}: {last}"


def on_knots(case, arrays):
    """Marks the input entries that sit exactly on a knot (``[batch, ...]``).

    Calibration: an input equal to a keypoint. Lattice: an integer coordinate
    (a cell boundary). There the derivative is one-sided by convention, and
    implementations that choose another convention differ in
    ``grad_inputs``.
    """
    inputs = arrays["inputs"]
    if case["op"] == "calibration":
        return np.isin(inputs, arrays["keypoints"])
    return inputs == np.floor(inputs)


def max_differences(outputs_a, outputs_b, knots=None):
    """Largest absolute difference of each output array (None if missing).

    With ``knots`` (a mask shaped like ``grad_inputs``) the result also holds
    ``grad_inputs_off_knots``: the largest ``grad_inputs`` difference over
    the entries that are not on a knot.
    """
    if outputs_a is None or outputs_b is None:
        return None
    differences = {
        name: np.abs(outputs_a[name].astype(np.float64) - outputs_b[name].astype(np.float64))
        for name in ("outputs", "grad_inputs", "grad_params")}
    result = {name: float(np.max(value, initial=0.0)) for name, value in differences.items()}
    if knots is not None:
        result["grad_inputs_off_knots"] = float(
            np.max(differences["grad_inputs"][~knots], initial=0.0))
    return result


# ----------------------------------------------------------------------------
# TensorFlow Lattice side: its own virtual environment and a subprocess.
# ----------------------------------------------------------------------------


def run_tfl(cases, seed, threads, timing, save_dir, python, device="cpu", log=print):
    """Runs ``_tfl_runner.py`` in the TFL environment; returns its JSON.

    The runner's progress lines (stderr lines starting with ``tfl ``) are
    passed to ``log`` as they come; the rest of its stderr is kept for the
    error message should it fail.
    """
    request = {"cases": cases, "seed": seed, "threads": threads, "timing": timing,
               "save_dir": save_dir, "device": device}
    return run_runner(python, TFL_RUNNER, request, log=log,
                      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


# ----------------------------------------------------------------------------
# Machine throughput.
# ----------------------------------------------------------------------------

_MATMUL_PROBE = """
import json, statistics, time
import numpy as np
n = {n}
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
a @ b
times = []
for _ in range({repeats}):
    start = time.perf_counter()
    a @ b
    times.append(time.perf_counter() - start)
print(json.dumps({{"median_seconds": statistics.median(times)}}))
"""


def measure_machine_throughput(threads, n=2048, repeats=7):
    """Measures float32 matmul GFLOP/s of NumPy's BLAS on ``threads`` threads.

    Runs in a subprocess so that the BLAS thread count can be fixed through
    the environment before NumPy loads. An ``n x n`` by ``n x n`` product
    counts ``2 n^3`` operations.
    """
    env = dict(os.environ)
    if threads:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS"):
            env[variable] = str(threads)
    completed = subprocess.run(
        [sys.executable, "-c", _MATMUL_PROBE.format(n=n, repeats=repeats)],
        capture_output=True, text=True, env=env, check=True)
    seconds = json.loads(completed.stdout)["median_seconds"]
    return {
        "method": f"numpy float32 matmul {n}x{n} @ {n}x{n}, median of {repeats}, "
                  f"2*n^3 operations, {threads or 'default'} BLAS threads",
        "threads": threads,
        "gflops": 2.0 * n ** 3 / seconds / 1e9,
    }


def measure_gpu_throughput(n=8192, repeats=7):
    """Measures float32 matmul GFLOP/s on the first GPU with TensorFlow."""
    import statistics
    import time

    import tensorflow as tf

    with tf.device("/gpu:0"):
        a = tf.random.stateless_normal((n, n), seed=(0, 1))
        b = tf.random.stateless_normal((n, n), seed=(0, 2))
        tf.linalg.matmul(a, b).numpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            tf.reduce_sum(tf.linalg.matmul(a, b)).numpy()
            times.append(time.perf_counter() - start)
    return {"method": f"TensorFlow float32 matmul {n}x{n} @ {n}x{n} on the GPU, median "
                      f"of {repeats}, 2*n^3 operations (TF32 may be on)",
            "threads": None, "gflops": 2.0 * n ** 3 / statistics.median(times) / 1e9}


def machine_info(threads, device="cpu"):
    """Describes the machine: CPU model, cores, platform, library versions."""
    import tensorflow as tf

    cpu_model = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": cpu_model,
        "logical_cpus": os.cpu_count(),
        "available_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads_used": threads,
        "device": device,
        "gpus": [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                 for gpu in tf.config.list_physical_devices("GPU")],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# ----------------------------------------------------------------------------
# Ratios, targets and reports.
# ----------------------------------------------------------------------------


def _speed(results, implementation):
    return results.get(implementation, {}).get("examples_per_second")


def ratios(results):
    """Kernel examples/s divided by each other implementation's."""
    kernel = _speed(results, "kernel")
    out = {}
    for other in ("tfl", "twin_xla", "twin_graph"):
        speed = _speed(results, other)
        out[f"kernel_vs_{other}"] = kernel / speed if kernel and speed else None
    return out


def evaluate_targets(case_name, case_ratios):
    """Returns the targets of a case with their status ("met", "missed", "n/a")."""
    targets = []
    for name, baseline, minimum in TARGETS:
        if name is not None and name != case_name:
            continue
        ratio = case_ratios.get(f"kernel_vs_{baseline}")
        status = "n/a" if ratio is None else ("met" if ratio >= minimum else "missed")
        targets.append({"against": baseline, "min_ratio": minimum, "ratio": ratio,
                        "status": status})
    return targets


def summarize_case(case, results, agreement, throughput_gflops):
    """Builds the JSON record of one case."""
    counts = _cases.operation_counts(case)
    case_ratios = ratios(results)
    kernel = _speed(results, "kernel")
    kernel_gflops = counts["total"] * kernel / 1e9 if kernel else None
    return {
        **case,
        "operations_per_example": counts,
        "results": results,
        "ratios": case_ratios,
        "kernel_gflops": kernel_gflops,
        "kernel_fraction_of_machine": (kernel_gflops / throughput_gflops
                                       if kernel_gflops and throughput_gflops else None),
        "agreement": agreement,
        "targets": evaluate_targets(case["name"], case_ratios),
    }


def _where(machine):
    if machine.get("device") == "gpu":
        return f"on {', '.join(machine['gpus']) or 'a GPU'}"
    return f"{machine['threads_used'] or 'default'} threads on {machine['cpu_model']}"


def _fmt_speed(value):
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def _fmt_ratio(value):
    return "-" if value is None else f"{value:.1f}x"


def _fmt_gflops(value):
    return "-" if value is None else f"{value:.2f}"


def _fmt_targets(targets):
    parts = []
    for target in targets:
        label = "TFL" if target["against"] == "tfl" else "XLA"
        parts.append(f"{label} >= {target['min_ratio']:g}x: {target['status']}")
    return "; ".join(parts)


def worst_relative_difference(cases, key):
    """Largest ``max |a - b| / max |b|`` over cases and arrays (None if none)."""
    worst = None
    for case in cases:
        agreement = case["agreement"]
        differences = agreement["max_abs_difference"].get(key)
        if differences is None:
            continue
        for name, difference in differences.items():
            if name == "grad_inputs" and "grad_inputs_off_knots" in differences:
                continue  # judged off the knots, where conventions agree.
            reference_name = "grad_inputs" if name == "grad_inputs_off_knots" else name
            scale = max(agreement["reference_max_abs"][reference_name], 1e-30)
            worst = max(worst or 0.0, difference / scale)
    return worst


def markdown_report(report):
    """Renders the short markdown summary of a report."""
    machine = report["machine"]
    throughput = report["machine_throughput"]
    lines = [
        "# tf_lattice ops benchmark",
        "",
        f"Forward + backward (gradients wrt inputs and parameters), float32, "
        f"examples per second (median of repeats after warm-up), "
        f"{_where(machine)}; "
        f"TensorFlow {machine['tensorflow']}; TensorFlow Lattice: "
        f"{report['tfl'].get('versions', {}).get('tensorflow-lattice') or report['tfl']['status']}."
        f"{' Quick run (subset, few repeats).' if report['quick'] else ''}",
        "",
        f"Machine arithmetic throughput: {_fmt_gflops(throughput['gflops'])} GFLOP/s "
        f"({throughput['method']}). 'kernel GFLOP/s' counts the algorithm's "
        "operations (formulas in benchmarks/_cases.py).",
        "",
        "| case | kernel | twin (graph) | twin (XLA) | TFL | kernel/TFL | kernel/XLA "
        "| kernel GFLOP/s (% machine) | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in report["cases"]:
        results = case["results"]
        speeds = [_fmt_speed(_speed(results, name)) for name in ALL_IMPLEMENTATIONS]
        gflops = case["kernel_gflops"]
        fraction = case["kernel_fraction_of_machine"]
        efficiency = _fmt_gflops(gflops)
        if fraction is not None:
            efficiency += f" ({100 * fraction:.1f}%)"
        lines.append(
            f"| {case['name']} | {' | '.join(speeds)} | "
            f"{_fmt_ratio(case['ratios']['kernel_vs_tfl'])} | "
            f"{_fmt_ratio(case['ratios']['kernel_vs_twin_xla'])} | {efficiency} | "
            f"{_fmt_targets(case['targets'])} |")
    for label, key in (("kernel", "kernel_vs_twin_graph"), ("TFL", "tfl_vs_twin_graph")):
        worst = worst_relative_difference(report["cases"], key)
        if worst is not None:
            where = "; input gradients compared off the knots" if label == "TFL" else ""
            lines += ["", f"Largest difference of {label} from the twin (outputs and "
                          f"gradients, relative to the largest magnitude{where}): {worst:.1e}."]
    knots = sum(case["agreement"]["inputs_on_knots"] for case in report["cases"])
    if knots:
        lines += ["", f"{knots} input values fall exactly on a knot (keypoint or integer "
                      "lattice coordinate); there tf_lattice takes the one-sided derivative "
                      "and TensorFlow Lattice may not (see `agreement` in ops.json)."]
    statuses = [t["status"] for case in report["cases"] for t in case["targets"]]
    lines += ["", f"Targets: {statuses.count('met')} met, {statuses.count('missed')} missed, "
                  f"{statuses.count('n/a')} not measured."]
    errors = [(case["name"], name, result["error"]) for case in report["cases"]
              for name, result in case["results"].items() if "error" in result]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {case} / {name}: {error}"
                                        for case, name, error in errors]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# Driver.
# ----------------------------------------------------------------------------


def run_benchmark(cases, *, quick=False, tfl=True, threads=2, device="cpu",
                  seed=_cases.DEFAULT_SEED,
                  implementations=IMPLEMENTATIONS, measure_throughput=True, timing=None,
                  log=print):
    """Runs every case and returns the report dict (see ``write_report``).

    Args:
      cases: case dicts from ``_cases``.
      quick: fewer repeats (``_cases.timing_settings``).
      tfl: also time TensorFlow Lattice (builds ``.venv-tfl`` when absent).
      threads: TensorFlow (and BLAS) threads on every side; 0 keeps defaults.
      device: "cpu" or "gpu": where every side runs its steps.
      seed: seed of the inputs.
      implementations: which of ``IMPLEMENTATIONS`` to time.
      measure_throughput: measure the matmul GFLOP/s (else recorded as None).
      timing: ``time_callable`` settings; default ``_cases.timing_settings(quick)``.
      log: progress printer.
    """
    timing = timing or _cases.timing_settings(quick)
    report = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "quick": quick,
        "seed": seed,
        "timing": {**timing, "statistic": "median wall time per step",
                   "step": "forward + gradients wrt inputs and parameters, results "
                           "copied to NumPy"},
        "machine": machine_info(threads, device),
        "machine_throughput": {"method": "not measured", "threads": threads, "gflops": None},
    }
    if measure_throughput:
        report["machine_throughput"] = (measure_gpu_throughput() if device == "gpu"
                                        else measure_machine_throughput(threads))
        log(f"machine throughput: {report['machine_throughput']['gflops']:.1f} GFLOP/s")

    ours = []
    for case in cases:
        arrays = _cases.make_inputs(case, seed)
        results, outputs = {}, {}
        for implementation in implementations:
            results[implementation], outputs[implementation] = run_implementation(
                case, arrays, implementation, timing, device)
            log(f"{case['name']:32s} {implementation:10s} "
                f"{_fmt_speed(results[implementation].get('examples_per_second'))} ex/s "
                f"{results[implementation].get('error', '')}")
        ours.append((results, outputs))

    report["tfl"] = {"status": "skipped"}
    tfl_outputs = [None] * len(cases)
    if tfl:
        with tempfile.TemporaryDirectory() as save_dir:
            try:
                python, installed = ensure_tfl_environment(log=log)
                log("running TensorFlow Lattice")
                answer = run_tfl(cases, seed, threads, timing, save_dir, python, device, log)
                report["tfl"] = {"status": "ok", "python": python, "installed_now": installed,
                                 "versions": answer["versions"]}
                for index, case in enumerate(cases):
                    result = answer["results"][case["name"]]
                    if "timing" in result:
                        result["examples_per_second"] = (
                            case["batch"] / result["timing"]["median_seconds"])
                        with np.load(os.path.join(save_dir, f"{index}.npz")) as saved:
                            tfl_outputs[index] = dict(saved)
                    ours[index][0]["tfl"] = result
            except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
                report["tfl"] = {"status": "failed", "error": str(error)[-2000:]}
                log(f"TensorFlow Lattice not measured: {error}")

    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_at_end"] = list(os.getloadavg())
    gflops = report["machine_throughput"]["gflops"]
    report["cases"] = []
    for case, (results, outputs), tfl_out in zip(cases, ours, tfl_outputs):
        reference = outputs.get("twin_graph")
        knots = on_knots(case, _cases.make_inputs(case, seed))
        agreement = {
            "reference": "twin_graph",
            "inputs_on_knots": int(knots.sum()),
            "reference_max_abs": (None if reference is None else
                                  {name: float(np.max(np.abs(value), initial=0.0))
                                   for name, value in reference.items()}),
            "max_abs_difference": {
                "kernel_vs_twin_graph": max_differences(outputs.get("kernel"), reference),
                "twin_xla_vs_twin_graph": max_differences(outputs.get("twin_xla"), reference),
                "tfl_vs_twin_graph": max_differences(tfl_out, reference, knots),
            }
        }
        report["cases"].append(summarize_case(case, results, agreement, gflops))
    return report


def write_report(report, output_dir):
    """Writes ``ops.json`` and ``ops.md`` into ``output_dir``; returns paths."""
    return _report.write(output_dir, "ops", report, markdown_report(report), indent=1,
                         final_newline=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a subset of cases and few repeats")
    parser.add_argument("--no-tfl", action="store_true",
                        help="skip TensorFlow Lattice (no .venv-tfl needed)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for TensorFlow and BLAS on every side (0: defaults)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="where every side runs (the targets are for 2 CPU cores)")
    parser.add_argument("--batch", type=int, default=4096, help="examples per step")
    parser.add_argument("--seed", type=int, default=_cases.DEFAULT_SEED)
    parser.add_argument("--cases", default="",
                        help="only cases whose name contains this string")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _report.configure_threads(args.threads)
    cases = [case for case in _cases.select_cases(args.quick, args.batch)
             if args.cases in case["name"]]
    if not cases:
        raise SystemExit(f"no case name contains {args.cases!r}")
    report = run_benchmark(cases, quick=args.quick, tfl=not args.no_tfl,
                           threads=args.threads, device=args.device, seed=args.seed)
    json_path, md_path = write_report(report, args.output_dir)
    print()
    print(markdown_report(report))
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
