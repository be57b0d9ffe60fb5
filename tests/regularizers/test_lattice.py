"""Lattice regularizers against vertex-by-vertex NumPy oracles."""

import numpy as np
import pytest
import tensorflow as tf

from tests.oracles import regularizers as oracle
from tf_lattice.regularizers import l1_l2, lattice_laplacian, lattice_torsion
from tf_lattice.regularizers.amounts import dimension_pairs

SIZES = [[2, 2], [3, 2, 4], [2, 2, 2, 2, 2], [5]]


def _per_dim(rng, sizes):
    return list(rng.uniform(0.1, 2.0, size=len(sizes)))


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("units", [1, 3])
def test_laplacian_matches_oracle(sizes, units):
    rng = np.random.default_rng(len(sizes) * 10 + units)
    params = rng.normal(size=(units, int(np.prod(sizes))))
    l1s, l2s = _per_dim(rng, sizes), _per_dim(rng, sizes)
    got = lattice_laplacian(params, sizes, l1=l1s, l2=l2s).numpy()
    want = oracle.lattice_laplacian(params, sizes, l1s, l2s)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    scalar = lattice_laplacian(params, sizes, l2=0.7).numpy()
    want_scalar = oracle.lattice_laplacian(params, sizes, [0.0] * len(sizes), [0.7] * len(sizes))
    np.testing.assert_allclose(scalar, want_scalar, rtol=1e-12)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("units", [1, 3])
def test_torsion_matches_oracle(sizes, units):
    rng = np.random.default_rng(len(sizes) * 10 + units + 1)
    params = rng.normal(size=(units, int(np.prod(sizes))))
    pairs = dimension_pairs(len(sizes))
    l1s = list(rng.uniform(0.1, 2.0, size=len(pairs)))
    l2s = list(rng.uniform(0.1, 2.0, size=len(pairs)))
    got = lattice_torsion(params, sizes, l1=l1s, l2=l2s).numpy()
    want = oracle.lattice_torsion(params, sizes, dict(zip(pairs, l1s)), dict(zip(pairs, l2s)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_torsion_of_some_pairs_matches_oracle():
    """Pairs of zero amount add nothing, the others keep their own amounts; the
    sizes 5 x 4 x 3 x 6 x 2 span several transform groups."""
    sizes = [5, 4, 3, 6, 2]
    rng = np.random.default_rng(11)
    params = rng.normal(size=(2, int(np.prod(sizes))))
    pairs = dimension_pairs(len(sizes))
    l2s = [0.0] * len(pairs)
    l1s = [0.0] * len(pairs)
    l2s[1], l2s[4], l2s[9] = 1.5, 0.3, 0.05
    l1s[4], l1s[7] = 0.7, 0.2
    got = lattice_torsion(params, sizes, l1=l1s, l2=l2s).numpy()
    want = oracle.lattice_torsion(params, sizes, dict(zip(pairs, l1s)), dict(zip(pairs, l2s)))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert lattice_torsion(params, sizes, l1=0.0, l2=0.0).numpy() == 0.0


def test_torsion_transforms_are_built_once_per_lattice_shape():
    """A second penalty on a lattice of the same sizes (another trace of a
    training step) reuses the Kronecker bases, which stay read-only."""
    from tf_lattice.regularizers import lattice as lattice_module

    sizes = [3, 5, 2, 4, 3]
    params = np.random.default_rng(5).normal(size=(2, int(np.prod(sizes))))
    first = lattice_torsion(params, sizes, l2=0.4).numpy()
    built = lattice_module._spectral_groups.cache_info().misses
    second = lattice_torsion(params * 2.0, sizes, l2=0.4).numpy()
    assert lattice_module._spectral_groups.cache_info().misses == built
    np.testing.assert_allclose(second, 4.0 * first, rtol=1e-12)
    for group, basis in lattice_module._spectral_groups(tuple(sizes)):
        assert basis.shape == (int(np.prod(group)),) * 2
        assert not basis.flags.writeable


@pytest.mark.parametrize("units", [1, 2])
def test_torsion_through_several_groups(monkeypatch, units):
    """With groups of at most 4 vertices, sizes [3, 2, 3, 2] take four
    transforms, each moving its axis last (the units' axis too passes through
    every position); value and gradient are those of the differences."""
    from tf_lattice.regularizers import lattice as lattice_module

    monkeypatch.setattr(lattice_module, "_SPECTRAL_GROUP_SIZE", 4)
    lattice_module._spectral_groups.cache_clear()
    try:
        sizes = [3, 2, 3, 2]
        assert [g for g, _ in lattice_module._spectral_groups(tuple(sizes))] == [
            (3,), (2,), (3,), (2,)]
        params = tf.constant(np.random.default_rng(7).normal(size=(units, 36)))
        grid = params.numpy().reshape(units, *sizes)
        twists = sum(np.sum(np.diff(np.diff(grid, axis=j + 1), axis=k + 1) ** 2)
                     for j, k in dimension_pairs(len(sizes)))
        np.testing.assert_allclose(lattice_torsion(params, sizes, l2=0.6).numpy(),
                                   0.6 * twists, rtol=1e-12)
        theoretical, numerical = tf.test.compute_gradient(
            lambda p: lattice_torsion(p, sizes, l2=0.6), [params])
        np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)
    finally:
        lattice_module._spectral_groups.cache_clear()


def test_torsion_zero_for_additive_lattice():
    sizes = [3, 2, 4]
    grids = np.meshgrid(*[np.arange(m, dtype=np.float64) for m in sizes], indexing="ij")
    additive = (np.sin(grids[0]) + grids[1] ** 2 - 3 * grids[2]).reshape(-1)
    np.testing.assert_allclose(lattice_torsion(additive, sizes, l1=1.0, l2=1.0), 0.0, atol=1e-12)
    interacting = additive + grids[0].reshape(-1) * grids[2].reshape(-1)
    assert lattice_torsion(interacting, sizes, l2=1.0).numpy() > 1.0


def test_rank_one_params_equal_one_unit():
    rng = np.random.default_rng(0)
    params = rng.normal(size=24)
    np.testing.assert_allclose(
        lattice_laplacian(params, [3, 2, 4], l2=1.0),
        lattice_laplacian(params[None], [3, 2, 4], l2=1.0))


def test_l1_l2_matches_formula():
    rng = np.random.default_rng(2)
    params = rng.normal(size=(3, 8))
    want = 0.3 * np.abs(params).sum() + 0.2 * (params ** 2).sum()
    np.testing.assert_allclose(l1_l2(params, l1=0.3, l2=0.2), want, rtol=1e-12)


@pytest.mark.parametrize("function", [lattice_laplacian, lattice_torsion])
@pytest.mark.parametrize("l1", [0.0, 0.4])
def test_gradient_numerically(function, l1):
    rng = np.random.default_rng(5)
    sizes = [3, 2, 2]
    params = tf.constant(rng.normal(size=(2, 12)))
    theoretical, numerical = tf.test.compute_gradient(
        lambda p: function(p, sizes, l1=l1, l2=0.9), [params])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)


def test_works_inside_tf_function_with_unknown_units():
    function = tf.function(
        lambda p: lattice_torsion(p, [2, 3], l2=1.0),
        input_signature=[tf.TensorSpec([None, 6], tf.float32)])
    params = np.arange(12, dtype=np.float32).reshape(2, 6) ** 2
    want = oracle.lattice_torsion(params, [2, 3], {(0, 1): 0.0}, {(0, 1): 1.0})
    np.testing.assert_allclose(function(params), want, rtol=1e-5)


def test_bad_arguments_raise():
    params = np.zeros((1, 12))
    with pytest.raises(ValueError, match="l2"):
        lattice_laplacian(params, [3, 4], l2=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="l1"):
        lattice_laplacian(params, [3, 4], l1=[1.0, -2.0])
    with pytest.raises(ValueError, match="l2"):
        lattice_torsion(np.zeros((1, 8)), [2, 2, 2], l2=[1.0, 2.0])
    with pytest.raises(ValueError, match="l1"):
        lattice_torsion(params, [3, 4], l1=-0.5)
    with pytest.raises(ValueError, match="lattice_sizes"):
        lattice_laplacian(params, [12, 1], l2=1.0)
    with pytest.raises(ValueError, match="lattice_sizes"):
        lattice_laplacian(params, [], l2=1.0)
    with pytest.raises(ValueError, match="params"):
        lattice_laplacian(params, [2, 4], l2=1.0)
    with pytest.raises(ValueError, match="l1"):
        l1_l2(params, l1=-1.0)


def test_many_dimensions_match_direct_differences():
    # Thirteen dimensions: more than the eight that strided slices support.
    sizes = [2] * 12 + [3]
    params = np.random.default_rng(5).normal(size=(2, int(np.prod(sizes))))
    grid = params.reshape(2, *sizes)
    laplacian = sum(np.sum(np.diff(grid, axis=k + 1) ** 2) for k in range(len(sizes)))
    torsion = sum(np.sum(np.diff(np.diff(grid, axis=j + 1), axis=k + 1) ** 2)
                  for j, k in dimension_pairs(len(sizes)))
    np.testing.assert_allclose(lattice_laplacian(params, sizes, l2=1.0).numpy(), laplacian, rtol=1e-12)
    np.testing.assert_allclose(lattice_torsion(params, sizes, l2=1.0).numpy(), torsion, rtol=1e-12)
