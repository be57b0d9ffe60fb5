"""Smoke test of benchmarks/ops.py on tiny inputs, without TensorFlow Lattice.

Checks the report's schema, the operation counts against brute-force counts,
the target bookkeeping, and that the kernel, the twin and the XLA-compiled
twin compute the same outputs and gradients. No timing is asserted.
"""

import json

import numpy as np
import pytest

from benchmarks import _cases, ops
from tf_lattice import _native

TINY_CASES = [
    _cases.lattice_case(3, 2, "hypercube", batch=16),
    _cases.lattice_case(2, 3, "simplex", batch=16),
    _cases.calibration_case(3, 5, batch=16),
]
TIMING = {"warmup": 1, "repeats": 1, "min_repeats": 1, "budget_seconds": None}


KERNEL_OPS = {"lattice": "tf_lattice_lattice_interpolation",
              "calibration": "tf_lattice_pwl_calibration"}


def _kernel_built(op):
    try:
        return hasattr(_native.load_ops(), KERNEL_OPS[op])
    except _native.OpsNotBuiltError:
        return False


@pytest.fixture(scope="module")
def report():
    return ops.run_benchmark(TINY_CASES, quick=True, tfl=False, threads=0,
                             measure_throughput=False, timing=TIMING, log=lambda *_: None)


def test_report_schema(report, tmp_path):
    json_path, md_path = ops.write_report(report, str(tmp_path))
    with open(json_path) as handle:
        loaded = json.load(handle)
    assert loaded["schema_version"] == ops.SCHEMA_VERSION
    for key in ("created", "machine", "machine_throughput", "timing", "tfl", "cases"):
        assert key in loaded, key
    assert loaded["tfl"]["status"] == "skipped"
    assert loaded["machine"]["tensorflow"]
    assert [case["name"] for case in loaded["cases"]] == [c["name"] for c in TINY_CASES]
    for case in loaded["cases"]:
        assert set(case["results"]) == set(ops.IMPLEMENTATIONS)
        for implementation in ("twin_graph", "twin_xla"):
            result = case["results"][implementation]
            assert result["examples_per_second"] > 0, result
            assert len(result["timing"]["seconds"]) == 1
        assert set(case["ratios"]) == {"kernel_vs_tfl", "kernel_vs_twin_xla",
                                       "kernel_vs_twin_graph"}
        assert case["ratios"]["kernel_vs_tfl"] is None
        assert case["operations_per_example"]["total"] == (
            case["operations_per_example"]["forward"]
            + case["operations_per_example"]["backward"])
        assert all(target["status"] == "n/a" for target in case["targets"]
                   if target["against"] == "tfl")
    with open(md_path) as handle:
        table = handle.read()
    for case in TINY_CASES:
        assert f"| {case['name']} |" in table


def test_xla_twin_agrees_with_graph_twin(report):
    for case in report["cases"]:
        differences = case["agreement"]["max_abs_difference"]["twin_xla_vs_twin_graph"]
        assert differences is not None, case["name"]
        for name, value in differences.items():
            assert value < 1e-5, (case["name"], name, value)


@pytest.mark.parametrize("index", range(len(TINY_CASES)))
def test_kernel_agrees_with_twin(report, index):
    case = report["cases"][index]
    if not _kernel_built(case["op"]):
        pytest.skip(f"the {case['op']} kernel is not built")
    assert "error" not in case["results"]["kernel"], case["results"]["kernel"]
    differences = case["agreement"]["max_abs_difference"]["kernel_vs_twin_graph"]
    for name, value in differences.items():
        assert value < 1e-5, (case["name"], name, value)
    assert case["ratios"]["kernel_vs_twin_xla"] > 0


def test_kernel_error_is_reported_not_raised(monkeypatch):
    def broken(*_args, **_kwargs):
        raise _native.OpsNotBuiltError("kernels missing")

    monkeypatch.setattr(ops, "build_step", broken)
    case = TINY_CASES[0]
    result, outputs = ops.run_implementation(case, _cases.make_inputs(case), "kernel", TIMING)
    assert outputs is None
    assert result["error"] == "OpsNotBuiltError: kernels missing"


def test_same_seed_same_inputs_and_different_seed_different_inputs():
    case = TINY_CASES[2]
    first, again = _cases.make_inputs(case, seed=1), _cases.make_inputs(case, seed=1)
    other = _cases.make_inputs(case, seed=2)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["inputs"], other["inputs"])
    keypoints = first["keypoints"]
    assert keypoints[0] == 0.0 and keypoints[-1] == 1.0 and np.all(np.diff(keypoints) > 0)


def test_lattice_inputs_fill_the_lattice_range():
    case = _cases.lattice_case(3, 4, "hypercube", batch=2000)
    arrays = _cases.make_inputs(case)
    assert arrays["inputs"].shape == (2000, 4)
    assert arrays["params"].shape == (1, 81)
    assert arrays["inputs"].min() >= 0.0 and arrays["inputs"].max() <= 2.0
    assert arrays["inputs"].max() > 1.9


def _hypercube_operations_by_simulation(d):
    """Counts the operations of a literal product-tree + dot implementation."""
    forward = d  # 1 - r_k
    partial = 1
    for level in range(d):
        if level > 0:
            forward += 2 * partial
        partial *= 2
    forward += 2 * partial  # multiply-add per corner
    return forward


@pytest.mark.parametrize("dims", [1, 2, 4, 8])
def test_hypercube_forward_count_matches_simulation(dims):
    case = _cases.lattice_case(2, dims, "hypercube")
    assert _cases.operation_counts(case)["forward"] == _hypercube_operations_by_simulation(dims)


def test_operation_counts_scale_with_units():
    one = _cases.operation_counts(_cases.calibration_case(1, 100))
    sixteen = _cases.operation_counts(_cases.calibration_case(16, 100))
    assert sixteen == {key: 16 * value for key, value in one.items()}


@pytest.mark.parametrize("ratio, status", [(35.0, "met"), (10.0, "missed"), (None, "n/a")])
def test_targets(ratio, status):
    targets = ops.evaluate_targets("lattice/hypercube/3^8",
                                   {"kernel_vs_tfl": ratio, "kernel_vs_twin_xla": 2.5})
    by_baseline = {target["against"]: target for target in targets}
    assert by_baseline["tfl"]["min_ratio"] == 30.0
    assert by_baseline["tfl"]["status"] == status
    assert by_baseline["twin_xla"]["status"] == "met"


def test_targets_of_a_case_without_a_tfl_target():
    targets = ops.evaluate_targets("calibration/units=1/K=10",
                                   {"kernel_vs_tfl": 1.0, "kernel_vs_twin_xla": 1.0})
    assert [(t["against"], t["status"]) for t in targets] == [("twin_xla", "missed")]


def test_quick_cases_exist_in_full_list():
    names = {case["name"] for case in _cases.all_cases()}
    assert set(_cases.QUICK_CASE_NAMES) <= names
    assert len(names) == 16


def test_on_knots_marks_keypoints_and_integer_coordinates():
    calibration = _cases.calibration_case(2, 3, batch=2)
    arrays = {"inputs": np.array([[0.5, 0.25], [1.0, 0.7]], np.float32),
              "keypoints": np.array([0.0, 0.5, 1.0], np.float32)}
    np.testing.assert_array_equal(ops.on_knots(calibration, arrays),
                                  [[True, False], [True, False]])
    lattice = _cases.lattice_case(3, 2, "hypercube", batch=2)
    arrays = {"inputs": np.array([[1.0, 0.5], [0.25, 2.0]], np.float32)}
    np.testing.assert_array_equal(ops.on_knots(lattice, arrays),
                                  [[True, False], [False, True]])


def test_max_differences_off_knots_ignores_only_knot_entries():
    zeros = {name: np.zeros((2, 2)) for name in ("outputs", "grad_inputs", "grad_params")}
    other = {**zeros, "grad_inputs": np.array([[5.0, 0.0], [0.0, 0.5]])}
    knots = np.array([[True, False], [False, False]])
    differences = ops.max_differences(other, zeros, knots)
    assert differences["grad_inputs"] == 5.0
    assert differences["grad_inputs_off_knots"] == 0.5
    assert differences["outputs"] == 0.0
    assert ops.max_differences(None, zeros) is None
