"""Tests of tf_lattice.ops.lattice_projection (portable twin, fused kernel, exact)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.oracles import lattice_constraints as oracle
from tf_lattice.constraints import certify_lattice
from tf_lattice.ops import lattice_projection
from tf_lattice.specs import LatticeSpec

INC, DEC, NONE = "increasing", "decreasing", "none"

# (lattice_sizes, constraints): every family alone and combined.
CASES = {
    "mono_2x2": ([2, 2], dict(monotonicities=[INC, INC])),
    "mono_3x3x2": ([3, 3, 2], dict(monotonicities=[INC, DEC, NONE])),
    "mono_2^6": ([2] * 6, dict(monotonicities=[INC] * 6)),
    "bounds_3x3x2": ([3, 3, 2], dict(output_min=-0.3, output_max=0.4)),
    "unimodal_3x3x2": ([3, 3, 2], dict(unimodalities=["valley", "peak", NONE])),
    "edgeworth_3x3x2": ([3, 3, 2], dict(edgeworth_trusts=[(0, 1, INC), (2, 1, DEC)])),
    "trapezoid_3x3x2": ([3, 3, 2], dict(monotonicities=[INC, NONE, NONE],
                                        trapezoid_trusts=[(0, 1, INC)])),
    "mdom_2x2": ([2, 2], dict(monotonicities=[INC, INC], monotonic_dominances=[(0, 1)])),
    "mdom_3x3x2": ([3, 3, 2], dict(monotonicities=[INC, INC, NONE],
                                   monotonic_dominances=[(1, 0)])),
    # Cells (i, j) and (i + 1, j - 1) share a vertex: half-space groups split.
    "mdom_4x4x2": ([4, 4, 2], dict(monotonicities=[INC, INC, NONE],
                                   monotonic_dominances=[(0, 1)])),
    "rdom_3x3x2": ([3, 3, 2], dict(monotonicities=[INC, INC, NONE],
                                   range_dominances=[(0, 1)])),
    "joint_3x3x2": ([3, 3, 2], dict(joint_monotonicities=[(0, 2)])),
    "joint_2^6": ([2] * 6, dict(joint_monotonicities=[(0, 1), (2, 3)])),
    "combined_3x3x2": ([3, 3, 2], dict(
        monotonicities=[INC, INC, DEC], edgeworth_trusts=[(0, 1, INC)],
        trapezoid_trusts=[(1, 2, DEC)], output_min=-1.0, output_max=1.0)),
    "combined_dom_2^6": ([2] * 6, dict(
        monotonicities=[INC] * 4 + [NONE, NONE], monotonic_dominances=[(0, 1)],
        range_dominances=[(2, 3)], joint_monotonicities=[(4, 5)], output_max=0.5)),
    "combined_uni_3x3x2": ([3, 3, 2], dict(
        unimodalities=["valley", NONE, NONE], monotonicities=[NONE, INC, INC],
        joint_monotonicities=[(1, 2)], edgeworth_trusts=[(1, 2, INC)], output_min=-0.5)),
    # Chains of lengths 5 to 10 (the kernel's closed forms and its pooling).
    "mono_5x7x2": ([5, 7, 2], dict(monotonicities=[INC, DEC, INC])),
    "mono_10x3_bounds": ([10, 3], dict(monotonicities=[INC, INC], output_max=0.5)),
    "unimodal_9x2": ([9, 2], dict(unimodalities=["peak", NONE], monotonicities=[NONE, INC])),
}


def _params(sizes, units=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(units, int(np.prod(sizes)))).astype(dtype)


@pytest.fixture(scope="module")
def projected():
    """Portable projections (float64) and cvxpy's exact ones for every case."""
    results = {}
    for name, (sizes, kw) in CASES.items():
        x = _params(sizes)
        p = lattice_projection(x, sizes, implementation="portable", **kw).numpy()
        e = lattice_projection(x, sizes, exact=True, **kw).numpy()
        results[name] = (x, p, e)
    return results


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_satisfies_every_constraint(case, projected):
    sizes, kw = CASES[case]
    _, p, _ = projected[case]
    assert oracle.max_violation(p, sizes, **kw) == 0.0
    assert certify_lattice(p, sizes, **kw).holds


@pytest.mark.parametrize("case", sorted(CASES))
def test_close_to_exact_projection(case, projected):
    # Measured per unit: ||P(x) - P*(x)|| <= 1% of ||P*(x) - x||, P* from cvxpy.
    sizes, _ = CASES[case]
    x, p, e = projected[case]
    for unit in range(x.shape[0]):
        moved = np.linalg.norm(e[unit] - x[unit])
        assert np.linalg.norm(p[unit] - e[unit]) <= 0.01 * moved + 1e-9


@pytest.mark.parametrize("case", sorted(CASES))
def test_idempotent(case, projected):
    sizes, kw = CASES[case]
    _, p, _ = projected[case]
    again = lattice_projection(p, sizes, implementation="portable", **kw).numpy()
    np.testing.assert_allclose(again, p, atol=1e-9)


@pytest.mark.parametrize("case", ["mono_3x3x2", "combined_3x3x2", "joint_3x3x2", "rdom_3x3x2"])
def test_non_expansive(case):
    sizes, kw = CASES[case]
    x, y = _params(sizes, seed=1), _params(sizes, seed=2)
    px = lattice_projection(x, sizes, implementation="portable", **kw).numpy()
    py = lattice_projection(y, sizes, implementation="portable", **kw).numpy()
    for unit in range(x.shape[0]):
        assert (np.linalg.norm(px[unit] - py[unit])
                <= np.linalg.norm(x[unit] - y[unit]) * (1 + 1e-3) + 1e-9)


def test_feasible_input_unchanged():
    sizes = [3, 3, 2]
    grid = np.indices(sizes).sum(axis=0).astype(np.float64).reshape(1, -1)
    out = lattice_projection(grid, sizes, monotonicities=[INC, INC, INC],
                             implementation="portable").numpy()
    np.testing.assert_array_equal(out, grid)


def test_known_small_cases():
    # 2x2 increasing in both: [3, 0, 2, 5] (row-major 00, 01, 10, 11): pool 00 and 01.
    out = lattice_projection([[3.0, 0.0, 2.0, 5.0]], [2, 2], monotonicities=[INC, INC],
                             implementation="portable").numpy()
    np.testing.assert_allclose(out, [[1.5, 1.5, 2.0, 5.0]], atol=1e-9)
    # 1-D chain with bounds: isotonic then clip.
    out = lattice_projection([[2.0, 0.0, 1.0, -3.0]], [4], monotonicities=[DEC],
                             output_min=-1.0, implementation="portable").numpy()
    np.testing.assert_allclose(out, [[2.0, 0.5, 0.5, -1.0]], atol=1e-9)
    # Edgeworth on a 2x2: slope along 0 must grow with 1. theta = [0, 1, 1, 0]:
    # growth = (t11 - t01) - (t10 - t00) = -2 -> each corner moves by 1/2.
    out = lattice_projection([[0.0, 1.0, 1.0, 0.0]], [2, 2], edgeworth_trusts=[(0, 1, INC)],
                             implementation="portable").numpy()
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.5, 0.5]], atol=1e-9)
    # Peak on size 3 with center 1: [1, 0, 1] -> pool at the center.
    # (Two chain families: Dykstra converges linearly, so ask for a tight stop.)
    out = lattice_projection(np.array([[1.0, 0.0, 1.0]]), [3], unimodalities=["peak"],
                             tolerance=1e-13, implementation="portable").numpy()
    assert out[0, 1] >= out[0, 0] and out[0, 1] >= out[0, 2]
    np.testing.assert_allclose(out, [[2 / 3, 2 / 3, 2 / 3]], atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64_strictly_feasible(dtype):
    sizes, kw = CASES["combined_3x3x2"]
    x = _params(sizes, units=4, dtype=dtype) * 100
    out = lattice_projection(x, sizes, implementation="portable", **kw)
    assert out.dtype == tf.as_dtype(dtype)
    assert certify_lattice(out.numpy(), sizes, **kw).holds


def test_empty_units():
    out = lattice_projection(np.zeros((0, 4)), [2, 2], monotonicities=[INC, INC],
                             implementation="portable")
    assert out.shape == (0, 4)


def _kernel_available():
    try:
        from tf_lattice import _native
        return hasattr(_native.load_ops(), "tf_lattice_lattice_projection")
    except ImportError:
        return False


needs_kernel = pytest.mark.skipif(not _kernel_available(), reason="fused kernel not built")


def _is_constant(row):
    return np.ptp(row) == 0


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_twin(case, dtype, device):
    sizes, kw = CASES[case]
    x = _params(sizes, dtype=dtype)
    # A tight stop, so that both run the same cycles (with the default one, a
    # last-bit difference can stop one of them a cycle earlier).
    tolerance = 1e-7 if dtype == np.float32 else 1e-12
    with tf.device(device):
        kernel = lattice_projection(x, sizes, tolerance=tolerance, implementation="kernel",
                                    **kw).numpy()
    twin = lattice_projection(x, sizes, tolerance=tolerance, implementation="portable",
                              **kw).numpy()
    assert kernel.dtype == dtype
    assert certify_lattice(kernel, sizes, **kw).holds
    assert oracle.max_violation(kernel, sizes, **kw) == 0.0
    atol = 1e-4 if dtype == np.float32 else 1e-9
    assert oracle.max_violation(twin, sizes, **kw) == 0.0
    for unit in range(x.shape[0]):
        if dtype == np.float32 and _is_constant(kernel[unit]) != _is_constant(twin[unit]):
            # A cone without interior (margin 0) leaves the finalize no slack:
            # float32 rounding of Dykstra's iterate (which differs between the
            # two in the last bits) decides whether the sweep or the constant
            # fallback answers. Both are feasible (above); the non-constant
            # one is the accurate one: no farther from the input.
            swept, constant = ((kernel[unit], twin[unit]) if _is_constant(twin[unit])
                               else (twin[unit], kernel[unit]))
            assert (np.linalg.norm(swept - x[unit])
                    <= np.linalg.norm(constant - x[unit]) + atol)
        else:
            np.testing.assert_allclose(kernel[unit], twin[unit], atol=atol)


@needs_kernel
@pytest.mark.parametrize("case", ["mono_2^6", "mono_5x7x2", "combined_3x3x2"])
def test_kernel_unit_result_does_not_depend_on_its_batch(case):
    # Units of a batch run their cycles together; units far from feasible
    # (scaled) converge later than the others, and each must still get
    # exactly the result it gets alone.
    sizes, kw = CASES[case]
    x = _params(sizes, units=21, seed=5, dtype=np.float32)
    x[::3] *= 50.0
    together = lattice_projection(x, sizes, implementation="kernel", **kw).numpy()
    for unit in range(x.shape[0]):
        alone = lattice_projection(x[unit:unit + 1], sizes, implementation="kernel", **kw)
        np.testing.assert_array_equal(together[unit], alone.numpy()[0])


@needs_kernel
@pytest.mark.parametrize("case", ["mono_3x3x2", "combined_dom_2^6", "combined_uni_3x3x2"])
def test_kernel_close_to_exact_projection(case, projected):
    sizes, kw = CASES[case]
    x, _, e = projected[case]
    k = lattice_projection(x, sizes, implementation="kernel", **kw).numpy()
    for unit in range(x.shape[0]):
        assert np.linalg.norm(k[unit] - e[unit]) <= 0.01 * np.linalg.norm(e[unit] - x[unit]) + 1e-9


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_large_values_strictly_feasible(dtype):
    sizes, kw = CASES["combined_dom_2^6"]
    x = _params(sizes, units=5, seed=3, dtype=dtype) * 1e3
    out = lattice_projection(x, sizes, implementation="kernel", **kw).numpy()
    assert certify_lattice(out, sizes, **kw).holds


@needs_kernel
def test_kernel_inside_tf_function():
    sizes, kw = CASES["combined_3x3x2"]
    x = _params(sizes, units=4)
    variable = tf.Variable(x)

    @tf.function
    def project():
        value = lattice_projection(variable, sizes, implementation="kernel", **kw)
        variable.assign(value)
        return value

    out = project().numpy()
    np.testing.assert_array_equal(
        out, lattice_projection(x, sizes, implementation="kernel", **kw).numpy())
    assert certify_lattice(variable.numpy(), sizes, **kw).holds
    # Retracing with another shape of units reuses the cached tables.
    traced = tf.function(lambda p: lattice_projection(p, sizes, implementation="kernel", **kw))
    assert traced(x[:1]).shape == (1, 18)
    assert traced(tf.zeros((0, 18), tf.float64)).shape == (0, 18)


@needs_kernel
def test_kernel_empty_units_and_no_constraints():
    out = lattice_projection(np.zeros((0, 4), np.float32), [2, 2], monotonicities=[INC, INC])
    assert out.shape == (0, 4) and out.dtype == tf.float32
    x = _params([2, 3])
    np.testing.assert_array_equal(lattice_projection(x, [2, 3]).numpy(), x)


@needs_kernel
def test_kernel_feasible_input_unchanged():
    sizes = [3, 3, 2]
    grid = np.indices(sizes).sum(axis=0).astype(np.float32).reshape(1, -1)
    out = lattice_projection(grid, sizes, monotonicities=[INC, INC, INC]).numpy()
    np.testing.assert_array_equal(out, grid)


def _raw_kernel_inputs(sizes, **kw):
    import sys
    from tf_lattice.ops import _lattice_constraints
    module = sys.modules["tf_lattice.ops.lattice_projection"]
    constraints = LatticeSpec.parse(sizes, **kw)
    program = _lattice_constraints.compile_constraints(constraints)
    bounds = _lattice_constraints.working_bounds(constraints, np.float64)
    return dict(module._kernel_inputs(program, bounds, tf.float64))


def _raw_projection(params, inputs):
    from tf_lattice import _native
    return _native.load_ops().tf_lattice_lattice_projection(
        params=tf.constant(params, tf.float64), num_iterations=10, tolerance=1e-6, **inputs)


@needs_kernel
@pytest.mark.parametrize("name, value, match", [
    ("chain_index", [0, 1, 2, 99], r"chain_index\[3\] = 99"),
    ("chain_families", [[0, 5, 2]], r"chain_families\[0\]"),
    ("halfspace_groups", [0, 5], "halfspace_groups"),
    ("row_offsets", [0, 0, 0, 0], r"row_offsets must have shape \[5\]"),
    ("row_offsets", [0, 1, 1, 2, 4], "row_index.*must lie in"),
    ("row_coef", [[3.0, -1.0, 0, 0]] * 4, r"row_coef\[0, 0\]"),
    ("interior_direction", [0.0], "interior_direction must have shape"),
    ("bounds", [1.0, 0.0], "output_min <= output_max"),
    ("params", np.zeros((2, 5)), "row_offsets must have shape"),
])
def test_kernel_rejects_invalid_inputs(name, value, match):
    inputs = _raw_kernel_inputs([2, 2], monotonicities=[INC, INC])
    inputs[name] = tf.constant(value, inputs[name].dtype) if name != "params" else value
    params = inputs.pop("params", np.zeros((2, 4)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        _raw_projection(params, inputs)


@needs_kernel
@pytest.mark.parametrize("tables, match", [
    (dict(halfspace_index=[[0, 7, 0, 0]], halfspace_coef=[[1.0, 1.0, 0, 0]]),
     r"halfspace_index\[0, 1\] = 7 is not a vertex in \[0, 4\)"),
    (dict(halfspace_index=[[0, 1, 0, 0]], halfspace_coef=[[1.0, np.nan, 0, 0]]),
     r"halfspace_coef\[0, 1\] = nan is not finite"),
    (dict(halfspace_index=[[0, 1, 0, 0]], halfspace_coef=[[0.0, 0.0, 0, 0]]),
     r"halfspace_coef\[0\] is all zeros"),
    (dict(row_index=[[1, 9, 1, 1]] + [[2, 0, 2, 2], [3, 1, 3, 3], [3, 2, 3, 3]]),
     r"row_index\[0, 1\] = 9 must lie in"),
])
def test_kernel_names_bad_halfspace_and_row_terms(tables, match):
    inputs = _raw_kernel_inputs([2, 2], monotonicities=[INC, INC])
    if "halfspace_index" in tables:
        tables = dict(tables, halfspace_groups=[0, 1])
    inputs.update({name: tf.constant(value, inputs[name].dtype) for name, value in tables.items()})
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        _raw_projection(np.zeros((2, 4)), inputs)


@needs_kernel
@pytest.mark.parametrize("tables, match", [
    # 2x2 increasing in both: family 0 is the chains [0, 2], [1, 3]; here
    # its second chain is [0, 3].
    (dict(chain_index=[0, 2, 0, 3, 0, 1, 2, 3]),
     r"chain_index: vertex 0 is in chains 0 and 1 of chain family 0"),
    (dict(chain_index=[0, 0, 1, 3, 0, 1, 2, 3]),
     r"chain_index: vertex 0 is in chains 0 and 0 of chain family 0"),
])
def test_kernel_rejects_overlapping_chains(device, tables, match):
    # A chain family's projection assumes that its chains are disjoint:
    # tables that break this are refused on every device, before any
    # projection.
    inputs = _raw_kernel_inputs([2, 2], monotonicities=[INC, INC])
    inputs.update({name: tf.constant(value, inputs[name].dtype) for name, value in tables.items()})
    with tf.device(device), pytest.raises(tf.errors.InvalidArgumentError, match=match):
        _raw_projection(np.zeros((2, 4)), inputs)


@needs_kernel
def test_kernel_checks_new_tables_of_a_shape_it_has_seen():
    # A kernel prepares a set of table tensors once; other tensors of the
    # same shapes are checked again.
    inputs = _raw_kernel_inputs([2, 2], monotonicities=[INC, INC])
    params = np.array([[1.0, 0.0, 0.5, -1.0]])
    first = _raw_projection(params, inputs).numpy()
    np.testing.assert_array_equal(_raw_projection(params, inputs).numpy(), first)
    bad = dict(inputs, chain_index=tf.constant([0, 2, 1, 99, 0, 1, 2, 3], tf.int64))
    for _ in range(2):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"chain_index\[3\] = 99"):
            _raw_projection(params, bad)
    np.testing.assert_array_equal(_raw_projection(params, inputs).numpy(), first)


@needs_kernel
def test_kernel_checks_a_variable_table_again_after_it_is_assigned():
    inputs = _raw_kernel_inputs([2, 2], monotonicities=[INC, INC])
    with tf.device("/cpu:0"):
        chains = tf.Variable(inputs["chain_index"])
    params = np.array([[1.0, 0.0, 0.5, -1.0]])
    _raw_projection(params, dict(inputs, chain_index=chains))
    chains.assign(tf.constant([0, 2, 1, 99, 0, 1, 2, 3], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"chain_index\[3\] = 99"):
        _raw_projection(params, dict(inputs, chain_index=chains))


@needs_kernel
def test_kernel_results_do_not_depend_on_the_tables_it_prepared_before():
    # More table sets than a kernel keeps, cycled twice through one kernel
    # (the same attrs): every call equals the set's first projection.
    rng = np.random.default_rng(3)
    cases = []
    for sizes in ([2, 2], [3, 2], [2, 3], [3, 3], [4, 2], [2, 4]):
        inputs = _raw_kernel_inputs(sizes, monotonicities=[INC, INC])
        params = rng.normal(size=(3, int(np.prod(sizes))))
        first = _raw_projection(params, inputs).numpy()
        assert oracle.max_violation(first, sizes, monotonicities=[INC, INC]) == 0.0
        cases.append((params, inputs, first))
    for params, inputs, first in cases * 2:
        np.testing.assert_array_equal(_raw_projection(params, inputs).numpy(), first)


@needs_kernel
@pytest.mark.parametrize("num_iterations, tolerance, match", [
    (-1, 1e-6, "num_iterations must be >= 0, got -1"),
    (10, -1.0, "tolerance must be >= 0, got -1"),
    (10, float("nan"), "tolerance must be >= 0, got nan"),
])
def test_kernels_reject_bad_iteration_attrs(num_iterations, tolerance, match):
    from tf_lattice import _native
    inputs = _raw_kernel_inputs([2, 2], monotonicities=[INC, INC])
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=match):
        _native.load_ops().tf_lattice_lattice_projection(
            params=tf.zeros((1, 4), tf.float64), num_iterations=num_iterations,
            tolerance=tolerance, **inputs)
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=match):
        _raw_sets_projection(np.zeros((1, 4)), [inputs], [0, 1], num_iterations=num_iterations,
                             tolerance=tolerance)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lattice_sizes=[2, 1]), r"lattice_sizes\[1\]"),
    (dict(monotonicities=[INC]), "monotonicities must have one entry"),
    (dict(monotonicities=[INC, "up"]), r"monotonicities\[1\]"),
    (dict(unimodalities=["valley"]), "unimodalities must have one entry"),
    (dict(lattice_sizes=[3, 3], monotonicities=[INC, NONE], unimodalities=["valley", NONE]),
     r"unimodalities\[0\].*also monotone"),
    (dict(unimodalities=["valley", NONE]), r"lattice_sizes\[0\] >= 3"),
    (dict(edgeworth_trusts=[(0, 2, INC)]), r"edgeworth_trusts\[0\].*out of range"),
    (dict(edgeworth_trusts=[(1, 1, INC)]), r"edgeworth_trusts\[0\].*twice"),
    (dict(trapezoid_trusts=[(0, 0, INC)]), r"trapezoid_trusts\[0\].*twice"),
    (dict(trapezoid_trusts=[(0, 1, INC)]), r"trapezoid_trusts\[0\].*monotone"),
    (dict(edgeworth_trusts=[(0, 1, "up")]), r"edgeworth_trusts\[0\] direction"),
    (dict(monotonicities=[INC, DEC], monotonic_dominances=[(0, 1)]),
     r"monotonic_dominances\[0\].*both dimensions increasing"),
    (dict(monotonicities=[INC, NONE], range_dominances=[(0, 1)]),
     r"range_dominances\[0\].*both dimensions increasing"),
    (dict(joint_monotonicities=[(0, 5)]), r"joint_monotonicities\[0\].*out of range"),
    (dict(output_min=1.0, output_max=0.0), "output_min=1.0 > output_max=0.0"),
    (dict(num_iterations=-1), "num_iterations"),
    (dict(implementation="fast"), "implementation"),
])
def test_invalid_arguments(kwargs, match):
    args = dict(lattice_sizes=[2, 2])
    args.update(kwargs)
    sizes = args.pop("lattice_sizes")
    x = np.zeros((1, int(np.prod(sizes, dtype=np.int64)) if min(sizes) > 0 else 1))
    with pytest.raises(ValueError, match=match):
        lattice_projection(x, sizes, **args)


def test_params_shape_mismatch():
    with pytest.raises(ValueError, match=r"params must have shape \[units, 4\]"):
        lattice_projection(np.zeros((1, 5)), [2, 2], implementation="portable")
    with pytest.raises(ValueError, match="params must have shape"):
        lattice_projection(np.zeros((4,)), [2, 2], implementation="portable")
    huge = [2 ** 20] * 4  # prod overflows int64 arithmetic in int32
    with pytest.raises(ValueError, match=str(2 ** 80)[:6]):
        lattice_projection(np.zeros((1, 4)), huge, implementation="portable")


IMPLEMENTATIONS = ["kernel", "portable"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_params_are_a_clear_error(device, implementation, bad):
    sizes, kw = CASES["combined_3x3x2"]
    x = _params(sizes, units=2, dtype=np.float32)
    x[1, 4] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match="needs finite parameters"):
        lattice_projection(x, sizes, implementation=implementation, **kw)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype, exponent", [(np.float32, 126), (np.float64, 1020)])
@pytest.mark.parametrize("case", ["mono_3x3x2", "combined_3x3x2", "mdom_3x3x2"])
def test_values_near_the_dtype_limit_project_like_scaled_values(
        device, implementation, dtype, exponent, case):
    # Projections onto cones commute with scaling: P(2^e x) = 2^e P(x). With
    # values near the dtype's largest, unscaled sums would overflow (a single
    # pool of two such values is inf).
    sizes, kw = CASES[case]
    kw = {k: v for k, v in kw.items() if k not in ("output_min", "output_max")}
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, size=(3, int(np.prod(sizes))))
    x[0] = np.linspace(1.0, -1.0, x.shape[1])  # decreasing: everything pools
    big = (x * 2.0**exponent).astype(dtype)
    out = lattice_projection(big, sizes, implementation=implementation, **kw).numpy()
    assert np.all(np.isfinite(out))
    assert certify_lattice(out, sizes, **kw).holds
    # Compared at scale 1 (squares of values near the limit overflow) with
    # the projection of the unscaled values.
    scaled_back = out.astype(np.float64) / 2.0**exponent
    start = big.astype(np.float64) / 2.0**exponent
    expected = lattice_projection(start, sizes, implementation=implementation, **kw).numpy()
    for unit in range(x.shape[0]):
        moved = np.linalg.norm(expected[unit] - start[unit])
        assert np.linalg.norm(scaled_back[unit] - expected[unit]) <= 0.01 * moved


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_large_values_with_bounds_stay_feasible(implementation):
    sizes, kw = CASES["combined_3x3x2"]
    kw = dict(kw, output_min=-1e38, output_max=3e38)
    x = (np.clip(_params(sizes, units=4, seed=9), -3, 3) * 1e38).astype(np.float32)
    out = lattice_projection(x, sizes, implementation=implementation, **kw).numpy()
    assert np.all(np.isfinite(out)) and certify_lattice(out, sizes, **kw).holds


@needs_kernel
def test_kernel_and_twin_agree_on_large_values():
    sizes, kw = CASES["mono_5x7x2"]
    x = (_params(sizes, units=3, seed=11) * 1e37).astype(np.float32)
    kernel = lattice_projection(x, sizes, tolerance=1e-7, **kw).numpy()
    twin = lattice_projection(x, sizes, tolerance=1e-7, implementation="portable", **kw).numpy()
    np.testing.assert_allclose(kernel, twin, rtol=1e-4, atol=1e33)


def _infeasible_tables(dtype=tf.float64):
    """Hand-made tables for sizes [2] whose row theta_0 + theta_1 >= 0 no point
    within the bounds [-1, -0.5] satisfies (the public constraints always admit
    the constant lattice, so only raw tables can contradict each other)."""
    return dict(
        chain_index=tf.zeros([0], tf.int64), chain_families=tf.zeros([0, 3], tf.int64),
        halfspace_index=tf.constant([[0, 1, 0, 0]], tf.int64),
        halfspace_coef=tf.constant([[1.0, 1.0, 0.0, 0.0]], dtype),
        halfspace_groups=tf.constant([0, 1], tf.int64),
        row_index=tf.constant([[0, 1, 0, 0]], tf.int64),
        row_coef=tf.constant([[1.0, 1.0, 0.0, 0.0]], dtype),
        row_offsets=tf.constant([0, 0, 1], tf.int64), row_family=tf.constant([0], tf.int64),
        interior_direction=tf.zeros([2], tf.float64),
        interior_margin=tf.constant(0.0, tf.float64),
        bounds=tf.constant([-1.0, -0.5], dtype))


@needs_kernel
def test_kernel_reports_contradictory_tables_naming_the_constraints(device):
    from tf_lattice import _native
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"no point that satisfies every constraint exactly for unit 0: "
                             r"even the constant lattice violates sum_rule"):
        _native.load_ops().tf_lattice_lattice_projection(
            params=tf.constant([[1.0, 2.0], [-3.0, -3.0]]), num_iterations=10,
            tolerance=1e-6, family_names=["sum_rule"], **_infeasible_tables(tf.float32))


def test_twin_reports_an_infeasible_result_naming_the_constraints():
    import sys
    module = sys.modules["tf_lattice.ops.lattice_projection"]
    from tf_lattice.ops import _lattice_constraints
    program = _lattice_constraints.compile_constraints(
        LatticeSpec.parse([2, 2], monotonicities=[INC, INC],
                                               output_min=0.0, output_max=1.0))
    bounds = module._Bounds.of((np.float64(0.0), np.float64(1.0)), tf.float64)
    # Decreasing along dimension 1 and out of the bounds: what a contradiction
    # would leave behind.
    x = tf.constant([[0.5], [0.25], [0.75], [2.0]], tf.float64)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"for unit 0: even the constant lattice violates "
                             r"monotonicity\[1\]=increasing, output bounds \(these"):
        module._assert_feasible(x, program, bounds)


@needs_kernel
@pytest.mark.parametrize("name, value, match", [
    ("row_family", [-1], r"row_family\[0\] = -1 must be >= 0"),
    ("row_family", [0, 0], r"row_family must have shape \[1\]"),
    ("row_offsets", [0, 2, 1], r"row_offsets must be non-decreasing, got 2 then 1 at vertex 1"),
    ("row_offsets", [1, 1, 1], r"row_offsets must run from 0 to 1"),
    ("chain_index", [0, 5], r"chain_index\[1\] = 5 is not a vertex in \[0, 2\)"),
    ("interior_direction", [0.0, np.nan], r"interior_direction\[1\] = nan is not finite"),
])
def test_kernel_names_bad_raw_inputs(device, name, value, match):
    from tf_lattice import _native
    inputs = _infeasible_tables()
    inputs["bounds"] = tf.constant([-np.inf, np.inf], tf.float64)
    inputs[name] = tf.constant(value, inputs[name].dtype)
    if name == "chain_index":
        inputs["chain_families"] = tf.constant([[0, 1, 2]], tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        _native.load_ops().tf_lattice_lattice_projection(
            params=tf.zeros([1, 2], tf.float64), num_iterations=10, tolerance=1e-6,
            family_names=["sum_rule"], **inputs)


@needs_kernel
def test_kernel_shape_function_names_the_input():
    from tf_lattice import _native
    inputs = _infeasible_tables()
    inputs["row_offsets"] = tf.TensorSpec([None, None], tf.int64)

    def project(row_offsets):
        return _native.load_ops().tf_lattice_lattice_projection(
            params=tf.zeros([1, 2], tf.float64), num_iterations=10, tolerance=1e-6,
            **dict(inputs, row_offsets=row_offsets))

    with pytest.raises((ValueError, tf.errors.InvalidArgumentError),
                       match="row_offsets must have rank 1"):
        tf.function(project).get_concrete_function(tf.TensorSpec([None, None], tf.int64))


def test_interior_program_size_bound_is_checked_before_any_work():
    import time
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"V x R = .* exceeds the limit.*reduce lattice_sizes"):
        lattice_projection(np.zeros((1, 2**18)), [2] * 18, monotonicities=[INC] * 18,
                           joint_monotonicities=[(0, 1)], implementation="portable")
    assert time.perf_counter() - start < 5.0
    with pytest.raises(ValueError, match=r"exact=True .* use exact=False"):
        lattice_projection(np.zeros((1, 2**12)), [2] * 12, monotonicities=[INC] * 12,
                           exact=True)


def test_monotone_lattices_need_no_linear_program():
    # 2^16 vertices, 16 monotone dimensions: the direction is closed-form.
    from tf_lattice.ops import _lattice_constraints
    constraints = LatticeSpec.parse([2] * 16, monotonicities=[INC] * 16)
    _lattice_constraints.check_projection_size(constraints)
    program = _lattice_constraints.compile_constraints(constraints)
    q, margin = _lattice_constraints.interior_direction(program)
    index, coef, _ = program.all_rows
    assert np.max(np.abs(q)) <= 1.0 and margin == pytest.approx(2 / 16)
    assert np.min(np.sum(coef * q[index], axis=1)) >= margin * (1 - 1e-12)


def _reference_levels(program):
    """The finalize levels by a vertex-by-vertex loop (the definition)."""
    index, coef, target = program.all_rows
    n = program.constraints.num_vertices
    depth = np.zeros(n, np.int64)
    for t in range(n):
        rows = target == t
        others = index[rows][(coef[rows] != 0) & (index[rows] != t)]
        depth[t] = 1 + depth[others].max() if others.size else 0
    return [np.flatnonzero(depth == level) for level in range(int(depth.max()) + 1)]


@pytest.mark.parametrize("case", ["combined_3x3x2", "combined_dom_2^6", "combined_uni_3x3x2",
                                  "unimodal_9x2"])
def test_finalize_levels_match_their_definition(case):
    from tf_lattice.ops import _lattice_constraints
    sizes, kw = CASES[case]
    program = _lattice_constraints.compile_constraints(
        LatticeSpec.parse(sizes, **kw))
    levels = program.finalize_tables[3]
    expected = _reference_levels(program)
    assert len(levels) == len(expected)
    for a, b in zip(levels, expected):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Several constraint sets in one call (a sequence of specs).

SETS_SIZES = [3, 3, 2]
#: Blocks of units with constraints of their own, on the same lattice sizes.
SETS = (
    dict(units=2),
    dict(units=3, monotonicities=[INC, NONE, DEC], output_min=-0.5),
    dict(units=1, unimodalities=["valley", NONE, NONE], monotonicities=[NONE, INC, INC],
         edgeworth_trusts=[(1, 2, INC)]),
    dict(units=4, monotonicities=[INC, INC, NONE], monotonic_dominances=[(1, 0)],
         output_min=-1.0, output_max=1.0),
)


def _set_specs():
    return [LatticeSpec.parse(SETS_SIZES, **block) for block in SETS]


def _each_set_alone(x, specs, **kw):
    parts, begin = [], 0
    for spec in specs:
        parts.append(lattice_projection(x[begin:begin + spec.units], spec=spec, **kw).numpy())
        begin += spec.units
    return np.concatenate(parts)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_several_specs_project_each_block_as_alone(implementation, dtype, device):
    specs = _set_specs()
    x = _params(SETS_SIZES, units=10, seed=5, dtype=dtype) * 2
    with tf.device(device):
        together = lattice_projection(x, spec=specs, implementation=implementation).numpy()
        alone = _each_set_alone(x, specs, implementation=implementation)
    np.testing.assert_array_equal(together, alone)
    begin = 0
    for spec in specs:
        block = together[begin:begin + spec.units]
        assert certify_lattice(block, spec=spec).holds
        assert oracle.max_violation(block, SETS_SIZES, **{
            k: v for k, v in SETS[specs.index(spec)].items() if k != "units"}) == 0.0
        begin += spec.units


@needs_kernel
def test_several_specs_in_a_tf_function_match_eager():
    specs = _set_specs()
    x = _params(SETS_SIZES, units=10, seed=6)
    project = tf.function(lambda values: lattice_projection(values, spec=specs))
    eager = lattice_projection(x, spec=specs).numpy()
    np.testing.assert_array_equal(project(tf.constant(x)).numpy(), eager)
    np.testing.assert_array_equal(project(tf.constant(x)).numpy(), eager)


def test_several_specs_exact_projection_holds_each_block():
    specs = _set_specs()
    x = _params(SETS_SIZES, units=10, seed=7)
    exact = lattice_projection(x, spec=specs, exact=True).numpy()
    begin = 0
    for spec in specs:
        assert certify_lattice(exact[begin:begin + spec.units], spec=spec).holds
        np.testing.assert_array_equal(
            exact[begin:begin + spec.units],
            lattice_projection(x[begin:begin + spec.units], spec=spec, exact=True).numpy())
        begin += spec.units


@pytest.mark.parametrize("specs, match, error", [
    ([], "at least one spec", ValueError),
    ([LatticeSpec.parse([2, 2], units=2), LatticeSpec.parse([2, 3], units=2)],
     r"spec\[1\] has \[2, 3\], spec\[0\] \[2, 2\]", ValueError),
    ([LatticeSpec.parse([2, 2], units=2), LatticeSpec.parse([2, 2])],
     r"spec\[1\] needs units", ValueError),
    ([LatticeSpec.parse([2, 2], units=2), LatticeSpec.parse([2, 2], units=1)],
     r"params has 4 rows but the specs' units sum to 3 \(\[2, 1\]\)", ValueError),
    ([LatticeSpec.parse([2, 2], units=2), "monotone"], r"spec\[1\] must be a LatticeSpec",
     TypeError),
])
def test_several_specs_are_checked(specs, match, error):
    with pytest.raises(error, match=match):
        lattice_projection(np.zeros((4, 4)), spec=specs)


def test_several_specs_refuse_raw_constraint_arguments():
    with pytest.raises(TypeError, match="either spec or lattice_sizes"):
        lattice_projection(np.zeros((2, 4)), spec=[LatticeSpec.parse([2, 2], units=2)],
                           monotonicities=[INC, INC])


def _raw_sets_projection(params, sets, unit_offsets, **attrs):
    from tf_lattice import _native
    attrs = {"num_iterations": 10, "tolerance": 1e-6, **attrs}
    return _native.load_ops().tf_lattice_lattice_projection_sets(
        params=tf.constant(params, tf.float64), unit_offsets=tf.constant(unit_offsets, tf.int64),
        **{name: [each[name] for each in sets] for name in sets[0]}, **attrs)


@needs_kernel
@pytest.mark.parametrize("unit_offsets, match", [
    ([0, 1], r"unit_offsets must have shape \[3\]"),
    ([1, 1, 3], r"unit_offsets must rise from 0 to 3 \(the params rows\) without decreasing, "
                r"got \[1, 1, 3\]"),
    ([0, 2, 1], r"got \[0, 2, 1\]"),
    ([0, 1, 2], r"rise from 0 to 3"),
])
def test_sets_kernel_checks_its_unit_offsets(unit_offsets, match):
    sets = [_raw_kernel_inputs([2, 2], monotonicities=[INC, INC]),
            _raw_kernel_inputs([2, 2], monotonicities=[INC, NONE])]
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=match):
        _raw_sets_projection(np.zeros((3, 4)), sets, unit_offsets)


@needs_kernel
def test_sets_kernel_projects_an_empty_block_and_one_set_like_the_single_set_kernel():
    sets = [_raw_kernel_inputs([2, 2], monotonicities=[INC, INC]),
            _raw_kernel_inputs([2, 2], monotonicities=[INC, NONE], output_max=0.5)]
    x = _params([2, 2], units=3, seed=8)
    alone = _raw_projection(x, sets[1]).numpy()
    np.testing.assert_array_equal(_raw_sets_projection(x, sets, [0, 0, 3]).numpy(), alone)
    np.testing.assert_array_equal(_raw_sets_projection(x, sets[1:], [0, 3]).numpy(), alone)


@needs_kernel
def test_sets_kernel_names_the_set_of_a_bad_table(device):
    sets = [_raw_kernel_inputs([2, 2], monotonicities=[INC, INC]),
            _raw_kernel_inputs([2, 2], monotonicities=[INC, NONE])]
    sets[1]["bounds"] = tf.constant([1.0, 0.0], tf.float64)
    with tf.device(device), pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"constraint set 1: bounds must satisfy output_min <= output_max"):
        _raw_sets_projection(np.zeros((3, 4)), sets, [0, 1, 3])
    sets[1] = _raw_kernel_inputs([2, 2], monotonicities=[INC, NONE])
    sets[1]["chain_index"] = tf.constant([0, 1, 2, 99], tf.int64)
    with tf.device(device), pytest.raises(
            tf.errors.InvalidArgumentError, match=r"constraint set 1: chain_index\[3\] = 99"):
        _raw_sets_projection(np.zeros((3, 4)), sets, [0, 1, 3])


@needs_kernel
def test_sets_kernel_names_the_unit_and_constraints_of_its_set(device):
    from tf_lattice import _native
    feasible = {name: tf.identity(value) for name, value in _infeasible_tables().items()}
    feasible["bounds"] = tf.constant([-np.inf, np.inf], tf.float64)
    sets = [feasible, _infeasible_tables()]
    with tf.device(device), pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"constraint set 1: lattice projection found no point that satisfies every "
                  r"constraint exactly for unit 2: even the constant lattice violates "
                  r"second_rule"):
        _native.load_ops().tf_lattice_lattice_projection_sets(
            params=tf.constant([[1.0, 2.0], [0.0, 1.0], [-3.0, -3.0]], tf.float64),
            unit_offsets=tf.constant([0, 2, 3], tf.int64), num_iterations=10, tolerance=1e-6,
            family_names=["first_rule", "second_rule"], family_counts=[1, 1],
            **{name: [each[name] for each in sets] for name in sets[0]})


@needs_kernel
@pytest.mark.parametrize("family_counts", [[2], [3, -1], [1, 2]])
def test_sets_kernel_checks_its_family_counts(family_counts):
    sets = [_raw_kernel_inputs([2, 2], monotonicities=[INC, INC])] * 2
    listed = ", ".join(str(count) for count in family_counts)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"family_counts must hold one count >= 0 per constraint set \(2\) "
                             rf"summing to the 2 family_names, got \[{listed}\]"):
        _raw_sets_projection(np.zeros((2, 4)), sets, [0, 1, 2], family_names=["a", "b"],
                             family_counts=family_counts)
