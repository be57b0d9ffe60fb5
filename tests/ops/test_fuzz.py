"""Fuzz tests of every public op: no crash, no hang, no silent NaN, clear errors.

Hypothesis draws op arguments (shapes with zeros, both dtypes, NaN and
infinite values, values near the dtype's limit, huge lattice sizes, random
attrs and implementations). Each case runs in a worker process
(``_fuzz_worker.py``) that may crash: one worker serves many cases, and a
case that kills it, or does not answer within ``CASE_TIMEOUT_S``, fails the
test naming the case. A case passes when the op returns without NaN (NaN is
allowed only when some float input was not finite) or raises one of
``CLEAR_ERRORS``.

The default profile runs a few dozen cases per op; ``-m slow`` runs the long
profile (``test_fuzz_long``).
"""

import json
import os
import selectors
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORKER = os.path.join(os.path.dirname(__file__), "_fuzz_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: A case slower than this is a hang (the first case also imports TensorFlow).
CASE_TIMEOUT_S = 180
#: Exceptions that count as a clear answer to bad arguments.
CLEAR_ERRORS = {"ValueError", "TypeError", "InvalidArgumentError", "ResourceExhaustedError"}

DTYPES = ["float32", "float64"]
SPECIAL_NAMES = ["nan", "inf", "-inf", "max", "-max"]


class Worker:
    """A worker process answering one case per line; restarted after a crash."""

    def __init__(self):
        self.process = None

    def _start(self):
        env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
        self.process = subprocess.Popen(
            [sys.executable, WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1)

    def run(self, case, timeout_s=CASE_TIMEOUT_S):
        """Returns the worker's answer; fails the test on a crash or a hang."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps(case) + "\n")
        self.process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            while True:
                if not selector.select(timeout=timeout_s):
                    self.stop()
                    pytest.fail(f"hang: no answer within {timeout_s} s for case {case}")
                line = self.process.stdout.readline()
                if not line:
                    code = self.process.wait()
                    self.process = None
                    pytest.fail(f"crash: the worker died (exit status {code}) on case {case}")
                if line.startswith("FUZZ-RESULT "):
                    return json.loads(line[len("FUZZ-RESULT "):])
        finally:
            selector.close()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def worker():
    process = Worker()
    yield process
    process.stop()


def check(worker, case, timeout_s=CASE_TIMEOUT_S):
    result = worker.run(case, timeout_s)
    if result["status"] == "silent_nan":
        pytest.fail(f"silent NaN: NaN output from finite inputs for case {case}")
    if result["status"] == "error":
        assert result["type"] in CLEAR_ERRORS, (
            f"unclear error {result['type']}: {result['message']} for case {case}")


# ---------------------------------------------------------------------------
# Strategies: one case (a JSON-able dict) per op.


@st.composite
def arrays(draw, shape, dtype, fill="normal", scale=None, specials=True, **extra):
    spec = dict(shape=list(shape), dtype=dtype, fill=fill, **extra)
    spec["scale"] = scale if scale is not None else draw(st.sampled_from([1.0, 1e3, 1e30]))
    if specials and draw(st.integers(0, 3)) == 0:
        spec["specials"] = [[draw(st.integers(0, 1000)), draw(st.sampled_from(SPECIAL_NAMES))]
                            for _ in range(draw(st.integers(1, 2)))]
    return spec


implementations = st.sampled_from(["kernel", "portable"])
seeds = st.integers(0, 2**31 - 1)


@st.composite
def lattice_interpolation_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["small", "small", "small", "huge_empty", "long_dim"]))
    if kind == "huge_empty":  # many vertices, no units: nothing may be allocated
        sizes = draw(st.sampled_from([[2] * 62, [2] * 40, [2**31], [3] * 30]))
        units = 0
    elif kind == "long_dim":  # sizes past float32's integers, one small unit
        sizes = [2**24 + draw(st.integers(-2, 6))] if draw(st.booleans()) else [2, 2**20]
        units = 1
    else:
        sizes = [draw(st.integers(2, 5)) for _ in range(draw(st.integers(1, 5)))]
        units = draw(st.integers(0, 3))
    batch = draw(st.integers(0, 4))
    d = len(sizes)
    per_unit = draw(st.booleans())
    vertices = 1
    for m in sizes:
        vertices *= m
    vertices += draw(st.sampled_from([0, 0, 0, 0, 1]))  # sometimes a shape error
    in_shape = [batch, units, d] if per_unit else [batch, d]
    top = float(max(sizes))
    return dict(
        op="lattice_interpolation", seed=draw(seeds),
        arrays=dict(inputs=draw(arrays(in_shape, dtype, fill="uniform", scale=1.0,
                                       range=[-1.0, top])),
                    params=draw(arrays([units, vertices], dtype,
                                       scale=draw(st.sampled_from([1.0, 1e30]))))),
        kwargs=dict(lattice_sizes=sizes,
                    interpolation=draw(st.sampled_from(["hypercube", "simplex", "cubic"])),
                    implementation=draw(implementations)))


@st.composite
def pwl_calibration_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    batch, units = draw(st.integers(0, 4)), draw(st.integers(0, 3))
    k = draw(st.integers(1, 6))
    shared = draw(st.booleans())
    keypoints = draw(arrays([k] if shared else [units, k], dtype,
                            fill=draw(st.sampled_from(["increasing", "increasing", "normal"])),
                            specials=False, scale=draw(st.sampled_from([1.0, 1e37]))))
    if draw(st.integers(0, 2)) == 0:  # infinite ends, the documented flat extrapolation
        keypoints["specials"] = [[0, "-inf"]] if draw(st.booleans()) else [[-1, "inf"]]
    return dict(
        op="pwl_calibration", seed=draw(seeds),
        arrays=dict(inputs=draw(arrays([batch, units], dtype)), keypoints=keypoints,
                    outputs=draw(arrays([units, k], dtype, scale=draw(st.sampled_from(
                        [1.0, 1e3]))))),
        kwargs=dict(implementation=draw(implementations)))


@st.composite
def isotonic_projection_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    units, k = draw(st.integers(0, 3)), draw(st.integers(0, 8))
    data = dict(values=draw(arrays([units, k], dtype, scale=draw(st.sampled_from([1.0, 1e3])))))
    if draw(st.booleans()):
        data["weights"] = draw(arrays([units, k], dtype, fill="positive", scale=1.0))
    bound = st.one_of(st.none(), st.floats(-2.0, 2.0))
    return dict(op="isotonic_projection", seed=draw(seeds), arrays=data,
                kwargs=dict(increasing=draw(st.booleans()), lower=draw(bound),
                            upper=draw(bound), implementation=draw(implementations)))


DIRECTIONS = ["increasing", "decreasing", "none"]


@st.composite
def lattice_projection_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    d = draw(st.integers(1, 3))
    sizes = [draw(st.integers(2, 4)) for _ in range(d)]
    mono = [draw(st.sampled_from(DIRECTIONS)) for _ in range(d)]
    kwargs = dict(lattice_sizes=sizes, monotonicities=mono,
                  implementation=draw(implementations),
                  num_iterations=draw(st.sampled_from([0, 1, 30])))
    pairs = [(a, b) for a in range(d) for b in range(d) if a != b]
    if pairs and draw(st.booleans()):
        a, b = draw(st.sampled_from(pairs))
        family = draw(st.sampled_from(["edgeworth_trusts", "joint_monotonicities",
                                       "monotonic_dominances", "range_dominances",
                                       "trapezoid_trusts"]))
        if family in ("edgeworth_trusts", "trapezoid_trusts"):
            kwargs[family] = [(a, b, draw(st.sampled_from(["increasing", "decreasing"])))]
        else:
            kwargs[family] = [(a, b)]  # may be rejected (dimensions not increasing)
    if draw(st.booleans()):
        low = draw(st.floats(-2.0, 1.0))
        kwargs.update(output_min=low, output_max=low + draw(st.floats(0.0, 2.0)))
    vertices = 1
    for m in sizes:
        vertices *= m
    params = draw(arrays([draw(st.integers(0, 3)), vertices], dtype,
                         scale=draw(st.sampled_from([1.0, 1e3, 1e37]))))
    return dict(op="lattice_projection", seed=draw(seeds), arrays=dict(params=params),
                kwargs=kwargs)


@st.composite
def calibrator_projection_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    units, k = draw(st.integers(1, 3)), draw(st.integers(2, 8))
    bound = st.one_of(st.none(), st.floats(-2.0, 2.0))
    return dict(
        op="calibrator_projection", seed=draw(seeds),
        arrays=dict(outputs=draw(arrays([units, k], dtype, scale=draw(st.sampled_from(
                        [1.0, 1e3])))),
                    keypoints=draw(arrays([k], dtype, fill="increasing", specials=False))),
        kwargs=dict(monotonicity=draw(st.sampled_from(DIRECTIONS)),
                    convexity=draw(st.sampled_from(["convex", "concave", "none"])),
                    output_min=draw(bound), output_max=draw(bound)))


@st.composite
def partial_order_projection_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    units, c = draw(st.integers(1, 3)), draw(st.integers(2, 5))
    pairs = draw(st.lists(st.tuples(st.integers(0, c - 1), st.integers(0, c - 1)),
                          max_size=4))
    bound = st.one_of(st.none(), st.floats(-2.0, 2.0))
    return dict(op="partial_order_projection", seed=draw(seeds),
                arrays=dict(values=draw(arrays([units, c], dtype, scale=1.0))),
                kwargs=dict(pairs=pairs, output_min=draw(bound), output_max=draw(bound)))


@st.composite
def linear_projection_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    d, units = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    kwargs = dict(monotonicities=[draw(st.sampled_from(DIRECTIONS)) for _ in range(d)])
    if d >= 2 and draw(st.booleans()):
        kwargs["monotonic_dominances"] = [(0, 1)]
    if draw(st.booleans()):
        kwargs["normalization_order"] = 1
    return dict(op="linear_projection", seed=draw(seeds),
                arrays=dict(weights=draw(arrays([d, units], dtype, scale=1.0))), kwargs=kwargs)


@st.composite
def raw_lattice_interpolation_cases(draw):
    """The raw kernel op with random attrs: sizes may be 0, negative or huge."""
    sizes = draw(st.lists(st.sampled_from([-1, 0, 1, 2, 3, 2**31, 2**62]), min_size=0,
                          max_size=4))
    d = max(len(sizes), 1)
    return dict(op="raw_lattice_interpolation", seed=draw(seeds),
                arrays=dict(inputs=draw(arrays([draw(st.integers(0, 2)), d], "float32",
                                               scale=1.0)),
                            params=draw(arrays([draw(st.integers(0, 2)),
                                                draw(st.integers(0, 8))], "float32",
                                               scale=1.0))),
                kwargs=dict(lattice_sizes=sizes,
                            interpolation=draw(st.sampled_from(["hypercube", "simplex", ""]))))


@st.composite
def raw_isotonic_projection_cases(draw):
    units, k = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    return dict(op="raw_isotonic_projection", seed=draw(seeds),
                arrays=dict(values=draw(arrays([units, k], "float64", scale=1.0)),
                            weights=draw(arrays([units, k], "float64", fill="positive",
                                                scale=1.0)),
                            lower=draw(arrays([], "float64", scale=1.0)),
                            upper=draw(arrays([], "float64", scale=1.0))),
                kwargs=dict(increasing=[draw(st.booleans()) for _ in range(units)]))


CASES = {
    "lattice_interpolation": lattice_interpolation_cases(),
    "pwl_calibration": pwl_calibration_cases(),
    "isotonic_projection": isotonic_projection_cases(),
    "lattice_projection": lattice_projection_cases(),
    "calibrator_projection": calibrator_projection_cases(),
    "partial_order_projection": partial_order_projection_cases(),
    "linear_projection": linear_projection_cases(),
    "raw_lattice_interpolation": raw_lattice_interpolation_cases(),
    "raw_isotonic_projection": raw_isotonic_projection_cases(),
}
#: Cases per op in the default run (the solver-based projections cost more).
DEFAULT_EXAMPLES = {"lattice_projection": 6, "calibrator_projection": 4,
                    "partial_order_projection": 4, "linear_projection": 4}


def _settings(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("op", sorted(CASES))
def test_fuzz(worker, op):
    @_settings(DEFAULT_EXAMPLES.get(op, 12))
    @given(case=CASES[op])
    def run(case):
        check(worker, case)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("op", sorted(CASES))
def test_fuzz_long(worker, op):
    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(case=CASES[op])
    def run(case):
        check(worker, case)

    run()


def test_harness_reports_crash_hang_and_silent_nan(worker):
    finite = dict(x=dict(shape=[2], dtype="float64", fill="normal", scale=1.0))
    with pytest.raises(pytest.fail.Exception, match="crash: the worker died"):
        check(worker, dict(op="harness_abort", seed=0))
    with pytest.raises(pytest.fail.Exception, match="hang: no answer within 5 s"):
        check(worker, dict(op="harness_sleep", seed=0, seconds=60), timeout_s=5)
    with pytest.raises(pytest.fail.Exception, match="silent NaN"):
        check(worker, dict(op="harness_nan", seed=0, arrays=finite))
    with pytest.raises(AssertionError, match="unclear error KeyError"):
        check(worker, dict(op="no_such_op", seed=0))
    # NaN from a NaN input is not silent.
    finite["x"]["specials"] = [[0, "nan"]]
    check(worker, dict(op="harness_nan", seed=0, arrays=finite))
