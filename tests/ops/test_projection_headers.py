"""Tests of the TensorFlow-free projection headers (``tf_lattice/ops/cc/lib``).

``tests/ops/cc/projection_headers.cc`` is compiled with the host C++ compiler
(the one that builds the kernel library) and run on inputs written here:

* the isotonic regression of ``isotonic.h`` (weighted pooling, unweighted
  pooling and the max-min form of short chains) against the NumPy oracle;
* the lattice projection of ``lattice_dykstra.h`` in the CPU kernel's layout
  (``BatchLanes``, all units in one batch) and in the GPU kernel's layout
  (``ThreadLane``, one unit per thread; here each phase runs for every
  thread before the next, so a thread that touched another's values would
  show): the same steps, so the same bits.
"""

import importlib
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from tests.oracles.isotonic import isotonic_oracle
from tf_lattice.ops import _lattice_constraints
from tf_lattice.specs import LatticeSpec

# The module (tf_lattice.ops exports the function of the same name).
lattice_projection_module = importlib.import_module("tf_lattice.ops.lattice_projection")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "ops" / "cc" / "projection_headers.cc"

INC, DEC, NONE = "increasing", "decreasing", "none"


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    compiler = os.environ.get("CXX", "g++")
    assert shutil.which(compiler), f"no C++ compiler {compiler!r} (set CXX)"
    binary = tmp_path_factory.mktemp("headers") / "projection_headers"
    subprocess.run([compiler, "-std=c++17", "-O2", "-Wall", "-Werror", "-Wno-unknown-pragmas",
                    f"-I{ROOT}", str(DRIVER), "-o", str(binary)], check=True)
    return binary


def _run(driver, mode, text):
    result = subprocess.run([str(driver), mode], input=text, capture_output=True, text=True,
                            check=True)
    return [np.array([float(v) for v in line.split()]) for line in result.stdout.splitlines()]


def _array(values):
    values = np.asarray(values).reshape(-1)
    return " ".join([str(values.size)] + [repr(float(v)) if values.dtype.kind == "f"
                                          else str(int(v)) for v in values])


def test_isotonic_forms_match_the_oracle(driver):
    rng = np.random.default_rng(0)
    cases = []
    for size in list(range(1, 13)) * 4:
        # Rounded values give ties, which pooling must keep.
        values = np.round(rng.normal(size=size) * 4) / 4
        weights = rng.uniform(0.1, 3.0, size=size)
        cases.append((values, weights))
    text = f"{len(cases)}\n" + "\n".join(f"{_array(v)}\n{_array(w)}" for v, w in cases)
    rows = _run(driver, "isotonic", text)
    assert len(rows) == 3 * len(cases)
    for c, (values, weights) in enumerate(cases):
        weighted, pooled, short = rows[3 * c:3 * c + 3]
        np.testing.assert_allclose(weighted, isotonic_oracle(values, weights, True, None, None),
                                   rtol=1e-12, atol=1e-12)
        unweighted = isotonic_oracle(values, np.ones_like(values), True, None, None)
        np.testing.assert_allclose(pooled, unweighted, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(short, unweighted, rtol=1e-12, atol=1e-12)
        for fit in (weighted, pooled, short):
            assert np.all(np.diff(fit) >= 0), (values, fit)


LAYOUT_CASES = {
    "mono_3x3x2": ([3, 3, 2], dict(monotonicities=[INC, DEC, NONE])),
    "mono_10x3_bounds": ([10, 3], dict(monotonicities=[INC, INC], output_max=0.5)),
    "unimodal_9x2": ([9, 2], dict(unimodalities=["peak", NONE], monotonicities=[NONE, INC])),
    "combined_3x3x2": ([3, 3, 2], dict(
        monotonicities=[INC, INC, DEC], edgeworth_trusts=[(0, 1, INC)],
        trapezoid_trusts=[(1, 2, DEC)], output_min=-1.0, output_max=1.0)),
    "combined_dom_2^6": ([2] * 6, dict(
        monotonicities=[INC] * 4 + [NONE, NONE], monotonic_dominances=[(0, 1)],
        range_dominances=[(2, 3)], joint_monotonicities=[(4, 5)], output_max=0.5)),
    "bounds_only": ([3, 2], dict(output_min=-0.3, output_max=0.4)),
}


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_cpu_and_gpu_layouts_give_the_same_bits(driver, case):
    sizes, kw = LAYOUT_CASES[case]
    constraints = LatticeSpec.parse(sizes, **kw)
    program = _lattice_constraints.compile_constraints(constraints)
    low, high = _lattice_constraints.working_bounds(constraints, np.float64)
    tables = lattice_projection_module.kernel_tables(program)
    direction, margin = _lattice_constraints.interior_direction(program)
    units, num_vertices = 7, int(np.prod(sizes))
    params = np.random.default_rng(3).normal(size=(units, num_vertices)) * 2.0
    header = (f"{num_vertices} {units} 30 1e-12 {float(low)!r} {float(high)!r} "
              f"{float(margin)!r}")
    arrays = [
        tables["chain_index"], tables["chain_families"], tables["halfspace_index"],
        np.asarray(tables["halfspace_coef"], np.float64), tables["halfspace_groups"],
        tables["row_index"], np.asarray(tables["row_coef"], np.float64),
        tables["row_offsets"], np.asarray(program.row_families, np.int64),
        np.asarray(direction, np.float64), params,
    ]
    rows = _run(driver, "layouts", "\n".join([header] + [_array(a) for a in arrays]))
    batch, threads = np.array(rows[:units]), np.array(rows[units:2 * units])
    masks = np.array(rows[2 * units:])
    np.testing.assert_array_equal(batch, threads)
    np.testing.assert_array_equal(masks, 0)
    # And both are the op's answer (float64 tables, the same cycles).
    expected = lattice_projection_module.lattice_projection(
        params, sizes, num_iterations=30, tolerance=1e-12, implementation="portable",
        **kw).numpy()
    np.testing.assert_allclose(batch, expected, atol=1e-9)
