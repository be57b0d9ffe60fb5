"""Tests of tf_lattice.ops.linear_projection."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_lattice.constraints import certify_linear
from tf_lattice.ops import linear_projection


@st.composite
def problems(draw):
    size = draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))
    monotonicities = [draw(st.sampled_from(["increasing", "decreasing", "none"]))
                      for _ in range(size)]
    increasing = [i for i, m in enumerate(monotonicities) if m == "increasing"]
    # Dominances point from lower to higher positions of a random order: acyclic.
    order = {i: r for r, i in enumerate(rng.permutation(increasing))}
    candidates = [(i, j) for i in increasing for j in increasing if order[i] > order[j]]
    chosen = rng.permutation(len(candidates))[:draw(st.integers(0, len(candidates)))]
    half = len(chosen) // 2
    constraints = dict(
        monotonicities=monotonicities,
        monotonic_dominances=[candidates[k] for k in chosen[:half]],
        range_dominances=[candidates[k] for k in chosen[half:]],
        input_ranges=[(float(lo), float(lo + w)) for lo, w in
                      zip(rng.normal(size=size), rng.uniform(0.2, 5.0, size=size))],
        normalization_order=draw(st.sampled_from([None, 1])))
    weights = rng.normal(size=(size, draw(st.integers(1, 3))))
    return weights, constraints


IMPLEMENTATIONS = ["kernel", "portable"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(deadline=None, max_examples=15)
@given(problem=problems())
def test_feasible_exactly_and_close_to_exact(implementation, dtype, problem):
    weights, constraints = problem
    projected = linear_projection(weights.astype(dtype), implementation=implementation,
                                  **constraints).numpy()
    assert projected.dtype == dtype
    certificate = certify_linear(projected, **constraints)
    assert certificate.holds, str(certificate)
    exact = linear_projection(weights, exact=True, **constraints).numpy()
    moved = np.linalg.norm(exact - weights, axis=0)
    slack = 1e-6 if dtype == np.float64 else 1e-5
    assert (np.linalg.norm(projected - exact, axis=0) <= 0.01 * moved + slack).all()
    again = linear_projection(projected, implementation=implementation, **constraints).numpy()
    np.testing.assert_allclose(again, projected, atol=1e-5)


#: Normalized problems whose Newton systems become singular to rounding
#: near convergence (the weights z / s of active rows swamp the identity):
#: the portable solver once raised on the first and stopped short on the
#: second in float32.
SINGULAR_NEAR_CONVERGENCE = [
    ([[0.72978409, 1.47238715], [-0.06317106, 1.45080081], [0.65124709, -0.42224059],
      [-0.05657625, 1.22596066], [-0.46445173, -0.41036896]],
     dict(monotonicities=["increasing"] * 5, monotonic_dominances=[(3, 2)],
          range_dominances=[(1, 0)],
          input_ranges=[(-0.48337799004692694, 3.0529397878507076),
                        (-1.088332472592828, 0.8462298903205085),
                        (0.0032720569765508118, 1.5005704079444004),
                        (-0.7298408177228637, 1.4527965983662334),
                        (-2.2616912259499973, 0.2160704261296642)],
          normalization_order=1)),
    ([[1.30284351, -1.19458684, -0.10487071], [0.55713237, 0.96995121, 0.72978409],
      [1.47238715, -0.06317106, 1.45080081], [0.65124709, -0.42224059, -0.05657625],
      [1.22596066, -0.46445173, -0.41036896]],
     dict(monotonicities=["increasing", "increasing", "decreasing", "increasing", "increasing"],
          monotonic_dominances=[(1, 0)], range_dominances=[(3, 1), (3, 4)],
          input_ranges=[(-0.4809867130412461, 1.636948309080097),
                        (1.1147280717062642, 4.008416456645512),
                        (-1.3245484169646555, 2.477218769057081),
                        (-0.841480349002614, 3.1736972134562524),
                        (-0.39643048100696016, 4.5735467295279015)],
          normalization_order=1)),
]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(SINGULAR_NEAR_CONVERGENCE)))
def test_newton_systems_singular_to_rounding_still_reach_the_projection(implementation, dtype,
                                                                        case):
    weights, constraints = SINGULAR_NEAR_CONVERGENCE[case]
    weights = np.array(weights)
    projected = linear_projection(weights.astype(dtype), implementation=implementation,
                                  **constraints).numpy()
    assert certify_linear(projected, **constraints).holds
    exact = linear_projection(weights, exact=True, **constraints).numpy()
    slack = 1e-6 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(projected, exact, atol=slack)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("monotonicities", [
    ["increasing"] * 4, ["decreasing"] * 4, ["increasing", "decreasing", "none", "increasing"],
    ["none"] * 4])
def test_signs_alone_clip_each_weight_in_its_own_dtype(dtype, monotonicities):
    weights = np.random.default_rng(3).normal(size=(4, 3)).astype(dtype)
    signs = np.array([{"increasing": 1, "decreasing": -1, "none": 0}[m] for m in monotonicities])
    oracle = np.where(signs[:, None] > 0, np.maximum(weights, 0),
                      np.where(signs[:, None] < 0, np.minimum(weights, 0), weights))
    projected = linear_projection(weights, monotonicities=monotonicities).numpy()
    assert projected.dtype == dtype
    np.testing.assert_array_equal(projected, oracle)
    graph = tf.function(lambda w: linear_projection(w, monotonicities=monotonicities))
    np.testing.assert_array_equal(graph(tf.constant(weights)).numpy(), oracle)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hand_cases(implementation):
    weights = np.array([[-1.0], [2.0], [0.5]])
    np.testing.assert_allclose(
        linear_projection(weights, monotonicities=["increasing", "decreasing", "none"]).numpy(),
        [[0.0], [0.0], [0.5]])
    # Dominance 0 over 1 with w0 < w1 pools both to their mean.
    np.testing.assert_allclose(
        linear_projection([[1.0], [3.0]], monotonicities="increasing",
                          monotonic_dominances=[(0, 1)], implementation=implementation).numpy(),
        [[2.0], [2.0]], atol=1e-8)
    # With normalization: w0 >= w1 >= 0 and w0 + w1 = 1 from (0.2, 0.6): (0.5, 0.5).
    np.testing.assert_allclose(
        linear_projection([[0.2], [0.6]], monotonicities="increasing",
                          monotonic_dominances=[(0, 1)], normalization_order=1,
                          implementation=implementation).numpy(),
        [[0.5], [0.5]], atol=1e-8)
    # Normalization alone on positive weights: the simplex projection.
    np.testing.assert_allclose(
        linear_projection([[0.5], [1.5]], monotonicities="increasing",
                          normalization_order=1).numpy(), [[0.0], [1.0]], atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalization_without_monotone_inputs_is_the_nearest_point_of_the_l1_sphere(dtype):
    # Outside the sphere: pull |w| = (0.5, 1.5) onto the simplex, keep signs.
    np.testing.assert_allclose(
        linear_projection(np.array([[0.5], [-1.5]], dtype), normalization_order=1).numpy(),
        [[0.0], [-1.0]], atol=1e-6)
    # Inside: push |w| = (0.2, 0.1) out by the same amount per weight.
    np.testing.assert_allclose(
        linear_projection(np.array([[0.2], [-0.1]], dtype), normalization_order=1).numpy(),
        [[0.55], [-0.45]], atol=1e-6)
    # Against a brute-force search over the sphere for a few random points.
    rng = np.random.default_rng(3)
    weights = rng.normal(scale=0.6, size=(3, 5))
    projected = linear_projection(weights.astype(dtype), normalization_order=1).numpy()
    np.testing.assert_allclose(np.abs(projected).sum(axis=0), 1.0, atol=1e-6)
    directions = rng.normal(size=(3, 200000))
    sphere = directions / np.abs(directions).sum(axis=0)
    for unit in range(weights.shape[1]):
        nearest = np.linalg.norm(sphere - weights[:, unit:unit + 1], axis=0).min()
        assert np.linalg.norm(projected[:, unit] - weights[:, unit]) <= nearest + 1e-6


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_graph_mode(implementation):
    project = tf.function(lambda w: linear_projection(
        w, monotonicities="increasing", monotonic_dominances=[(0, 1)],
        implementation=implementation))
    np.testing.assert_allclose(project(tf.constant([[1.0], [3.0]])).numpy(), [[2.0], [2.0]],
                               atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="needs both inputs declared 'increasing'"):
        linear_projection(np.ones((2, 1)), monotonicities=["increasing", "none"],
                          monotonic_dominances=[(0, 1)])
    with pytest.raises(ValueError, match="cycle"):
        linear_projection(np.ones((2, 1)), monotonicities="increasing",
                          monotonic_dominances=[(0, 1)], range_dominances=[(1, 0)],
                          input_ranges=[(0, 1), (0, 1)])
    with pytest.raises(ValueError, match="need input_ranges"):
        linear_projection(np.ones((2, 1)), monotonicities="increasing",
                          range_dominances=[(1, 0)])
    with pytest.raises(ValueError, match="min < max"):
        linear_projection(np.ones((2, 1)), monotonicities="increasing",
                          range_dominances=[(1, 0)], input_ranges=[(0, 1), (2, 2)])
    with pytest.raises(ValueError, match="normalization_order must be None or 1"):
        linear_projection(np.ones((2, 1)), monotonicities="increasing", normalization_order=2)
    with pytest.raises(ValueError, match="one direction per input"):
        linear_projection(np.ones((2, 1)), monotonicities=["increasing"])
    with pytest.raises(ValueError, match="implementation must be one of"):
        linear_projection(np.ones((2, 1)), implementation="fast")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_interior_point_solver_takes_float32_operands(implementation):
    from tf_lattice.ops import _quadratic_program

    # Project (2, 1) onto x0 <= x1 with x0 + x1 = 1 (the answer is (0.5, 0.5)).
    target = np.array([[2.0, 1.0]])
    matrix, bound = np.array([[[1.0, -1.0]]]), np.zeros((1, 1))
    equality, total = np.ones((1, 1, 2)), np.ones((1, 1))
    results = [_quadratic_program.project_onto_polyhedron(
        *[tf.constant(a, dtype) for a in (target, matrix, bound, equality, total)],
        implementation=implementation) for dtype in (tf.float32, tf.float64)]
    for result in results:
        assert result.dtype == tf.float64
        np.testing.assert_allclose(result.numpy(), [[0.5, 0.5]], atol=1e-8)


def test_nan_weights_are_a_clear_error_eager_and_in_graphs():
    weights = np.array([[1.0, 0.5], [np.nan, 2.0]])
    kwargs = dict(monotonicities=["increasing", "increasing"])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"linear_projection: weights\[1, 0\] is NaN"):
        linear_projection(weights, **kwargs)
    graph = tf.function(lambda w: linear_projection(w, **kwargs))
    with pytest.raises(tf.errors.InvalidArgumentError, match="weights must not contain NaN"):
        graph(tf.constant(weights))


@pytest.mark.parametrize("implementation", ["kernel", "portable"])
def test_weights_beyond_the_solver_range_are_a_clear_error(implementation):
    """A case the fuzzer found: a weight at the float64 limit with a dominance and
    the l1 normalization made the solve return NaN; it is refused by name,
    eagerly and in graphs, and large weights within range still project."""
    weights = np.array([[np.finfo(np.float64).max], [0.5]])
    kwargs = dict(monotonicities=["increasing", "increasing"], monotonic_dominances=[(0, 1)],
                  normalization_order=1, implementation=implementation)
    message = r"linear_projection: weights.* exceeds 3.27\d*e\+150 in magnitude"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        linear_projection(weights, **kwargs)
    graph = tf.function(lambda w: linear_projection(w, **kwargs))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        graph(tf.constant(weights))
    projected = linear_projection(np.array([[1e6], [0.5]]), **kwargs).numpy()
    np.testing.assert_allclose(projected, [[1.0], [0.0]], atol=1e-9)


@pytest.mark.parametrize("signs", [("increasing", "increasing", "none"),
                                   ("increasing", "increasing", "decreasing")])
def test_finalize_gives_a_unit_of_norm_zero_the_fallback_weights(signs):
    """A unit whose clipped weights are all zero (the projections never hand
    finalize one, which must still end feasible) takes the declared signs, 1
    for a free input, raised to the dominances and normalized; other units
    are only normalized."""
    from tf_lattice.ops.linear_projection import LinearProgram
    from tf_lattice.specs import LinearSpec

    spec = LinearSpec.parse(3, monotonicities=list(signs), range_dominances=[(0, 1)],
                            input_ranges=[(0.0, 1.0), (0.0, 2.0), (0.0, 1.0)],
                            normalization_order=1)
    epsilon = float(np.finfo(np.float32).eps)
    weights = tf.constant([[0.0, -1.0, 0.0], [0.6, 0.1, -0.3]], tf.float64)
    got = LinearProgram(spec).finalize(weights, epsilon).numpy()
    # Input 0 must carry at least twice input 1's weight (their ranges are
    # 1 and 2 wide), with finalize's margin of 16 ulps.
    fallback = np.array([2.0 * (1 + 16 * epsilon), 1.0, 1.0 if signs[2] == "none" else -1.0])
    np.testing.assert_allclose(got[0], fallback / np.abs(fallback).sum(), rtol=1e-15)
    np.testing.assert_allclose(got[1], [0.6, 0.1, -0.3], rtol=1e-15)
    assert got[0, 0] * 1.0 >= got[0, 1] * 2.0
