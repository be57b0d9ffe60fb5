"""Feature subsets of lattice ensembles."""

import numpy as np
import pytest

from tf_lattice.estimators._ensembles import choose_subsets, interaction_strengths


@pytest.mark.parametrize("kind", ["random", "rtl"])
def test_subsets_have_distinct_features_and_are_seeded(kind):
    first = choose_subsets(kind, 7, 9, 3, np.random.default_rng(1))
    again = choose_subsets(kind, 7, 9, 3, np.random.default_rng(1))
    assert first == again
    assert len(first) == 9
    for subset in first:
        assert len(subset) == 3 and len(set(subset)) == 3
        assert subset == sorted(subset) and all(0 <= f < 7 for f in subset)


def test_rtl_uses_every_feature_evenly():
    subsets = choose_subsets("rtl", 7, 9, 3, np.random.default_rng(0))
    uses = np.bincount(np.concatenate(subsets), minlength=7)
    assert uses.max() - uses.min() <= 1, uses


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
    subsets = choose_subsets("crystals", 5, 3, 2, np.random.default_rng(0), x, y)
    assert subsets[0] == [0, 1]
    assert all(len(set(subset)) == 2 for subset in subsets)


def test_crystals_use_every_feature_when_the_slots_allow():
    x, y = _interacting()
    subsets = choose_subsets("crystals", 5, 3, 2, np.random.default_rng(0), x, y)
    assert set(np.concatenate(subsets).tolist()) == set(range(5))
