"""Ensemble strategies: each one's documented property, determinism, dominance."""

import numpy as np
import pytest

from tf_lattice import models
from tf_lattice.models import ensembles
from tf_lattice.models.ensembles import close_under_dominance, interaction_strengths, lattice_structure


def _uses(structure, num_features):
    return np.bincount(np.concatenate(structure), minlength=num_features)


@pytest.mark.parametrize("kind", ["random", "rtl"])
def test_subsets_have_distinct_features_and_are_seeded(kind):
    first = lattice_structure(kind, 7, 9, 3, seed=1)
    again = lattice_structure(kind, 7, 9, 3, seed=1)
    assert first == again
    assert any(lattice_structure(kind, 7, 9, 3, seed=s) != first for s in range(2, 6))
    assert len(first) == 9
    for subset in first:
        assert len(subset) == 3 and len(set(subset)) == 3
        assert list(subset) == sorted(subset) and all(0 <= f < 7 for f in subset)


@pytest.mark.parametrize("num_features,num_lattices,rank", [(7, 3, 3), (10, 5, 2), (12, 4, 3), (5, 9, 4)])
def test_random_uses_every_feature_when_the_slots_allow(num_features, num_lattices, rank):
    for seed in range(20):
        structure = ensembles.random_structure(num_features, num_lattices, rank, seed)
        assert _uses(structure, num_features).min() >= 1, (seed, structure)
        assert all(len(set(s)) == rank for s in structure)


def test_random_with_fewer_slots_than_features_uses_distinct_features():
    for seed in range(10):
        structure = ensembles.random_structure(10, 2, 3, seed)
        assert _uses(structure, 10).max() == 1 and _uses(structure, 10).sum() == 6


def test_random_fills_the_other_slots_uniformly():
    # 3 features over 2 lattices of rank 2: the spare slot goes to each
    # feature the lattice does not read with equal chance, so every feature
    # is used twice in about a third of the draws.
    counts = np.zeros(3)
    for seed in range(3000):
        counts += _uses(ensembles.random_structure(3, 2, 2, seed), 3) == 2
    np.testing.assert_allclose(counts / 3000, 1 / 3, atol=0.04)


def test_random_is_not_balanced_but_rtl_is():
    random_spreads = [np.ptp(_uses(ensembles.random_structure(6, 10, 3, s), 6)) for s in range(20)]
    assert max(random_spreads) > 1
    for seed in range(20):
        assert np.ptp(_uses(ensembles.rtl_structure(6, 10, 3, seed), 6)) <= 1


def test_rtl_uses_every_feature_evenly():
    subsets = lattice_structure("rtl", 7, 9, 3, seed=0)
    uses = _uses(subsets, 7)
    assert uses.max() - uses.min() <= 1, uses


def test_rtl_is_the_structure_of_the_rtl_layer():
    from tf_lattice.layers.rtl import random_lattice_structure

    assert ensembles.rtl_structure(8, 5, 3, 11) == random_lattice_structure(8, 5, 3, 11)


def _interacting(n=4000, seed=0):
    """y depends on x0 * x1 (an interaction) and additively on x2, x3."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 5)).astype(np.float32)
    x[::17, 4] = np.nan
    y = 2 * x[:, 0] * x[:, 1] + x[:, 2] + 0.5 * x[:, 3] + rng.normal(0, 0.1, n)
    return x, y


def test_interaction_strength_finds_the_interacting_pair():
    x, y = _interacting()
    strengths = interaction_strengths(x, y)
    assert np.allclose(strengths, strengths.T)
    i, j = np.unravel_index(np.argmax(strengths), strengths.shape)
    assert {i, j} == {0, 1}
    # Additive features barely interact.
    assert strengths[2, 3] < 0.1 * strengths[0, 1]


def test_crystals_put_interacting_features_in_one_lattice():
    x, y = _interacting()
    subsets = lattice_structure("crystals", 5, 3, 2, x=x, y=y)
    assert subsets[0] == (0, 1)
    assert all(len(set(subset)) == 2 for subset in subsets)
    # No seed: the same data give the same lattices.
    assert lattice_structure("crystals", 5, 3, 2, seed=7, x=x, y=y) == subsets


def test_crystals_use_every_feature_when_the_slots_allow():
    x, y = _interacting()
    subsets = lattice_structure("crystals", 5, 3, 2, x=x, y=y)
    assert set(np.concatenate(subsets).tolist()) == set(range(5))


def test_strategy_errors_name_the_argument():
    with pytest.raises(ValueError, match="ensemble must be one of"):
        lattice_structure("blocks", 5, 3, 2)
    with pytest.raises(ValueError, match="lattice_rank"):
        lattice_structure("random", 3, 2, 4)
    with pytest.raises(ValueError, match="num_lattices"):
        lattice_structure("rtl", 3, 0, 2)
    with pytest.raises(ValueError, match="crystals.*pass x and y"):
        lattice_structure("crystals", 5, 3, 2)
    with pytest.raises(ValueError, match=r"shape \(rows, 5\)"):
        lattice_structure("crystals", 5, 3, 2, x=np.zeros((10, 4)), y=np.zeros(10))
    # Rank 1 needs no interactions: each lattice reads the least used feature.
    assert lattice_structure("crystals", 3, 4, 1) == [(0,), (1,), (2,), (0,)]


def test_close_under_dominance_puts_the_dominant_column_beside_every_weak_one():
    subsets = [[1, 2, 3], [0, 1, 4], [3, 4, 5], [2]]
    closed = close_under_dominance(subsets, [(0, 2), (1, 4)])
    assert len(closed) == len(subsets)
    for subset in closed:
        assert len(set(subset)) == len(subset) and list(subset) == sorted(subset)
        for dominant, weak in [(0, 2), (1, 4)]:
            assert weak not in subset or dominant in subset, subset
    # Columns outside the pairs give way first; a subset already closed is kept.
    assert closed[0] == (0, 1, 2) and closed[1] == (0, 1, 4) and closed[3] == (0,)


@pytest.mark.parametrize("kind", ["random", "rtl", "crystals"])
def test_the_model_builder_uses_the_strategy(kind):
    rng = np.random.default_rng(0)
    raw = {name: rng.uniform(0, 1, 256) for name in "pqrst"}
    y = raw["p"] * raw["q"] + raw["r"]
    features = tuple(models.FeatureConfig(n, keypoints=np.linspace(0, 1, 5)) for n in "pqrst")
    config = models.CalibratedLatticeEnsembleConfig(features, num_lattices=4, lattice_rank=2, ensemble=kind,
                                                    seed=3)
    matrix = np.column_stack([raw[n] for n in "pqrst"])
    assert models.ensemble_structure(config, raw, y) == lattice_structure(kind, 5, 4, 2, seed=3, x=matrix, y=y)
