"""Feature subsets of lattice ensembles."""

import numpy as np
import pandas as pd
import pytest

from tests.estimators._data import FAST
from tf_lattice import estimators
from tf_lattice.estimators import _ensembles
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


def test_close_under_dominance_puts_the_dominant_column_beside_every_weak_one():
    subsets = [[1, 2, 3], [0, 1, 4], [3, 4, 5], [2]]
    closed = _ensembles.close_under_dominance(subsets, [(0, 2), (1, 4)])
    assert len(closed) == len(subsets)
    for subset in closed:
        assert len(set(subset)) == len(subset) and subset == sorted(subset)
        for dominant, weak in [(0, 2), (1, 4)]:
            assert weak not in subset or dominant in subset, subset
    # Columns outside the pairs give way first; a subset already closed is kept.
    assert closed[0] == [0, 1, 2] and closed[1] == [0, 1, 4] and closed[3] == [0]


@pytest.mark.parametrize("ensemble", ["random", "rtl", "crystals"])
def test_ensembles_keep_a_declared_dominance_on_the_output(ensemble):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({c: rng.uniform(0, 1, 150) for c in "abcdef"})
    y = 2 * frame["a"] + frame["b"] + frame["c"] * frame["d"]
    model = estimators.CalibratedLatticeEnsembleRegressor(
        monotonicity={"a": 1, "b": 1}, dominance=[("a", "b")], ensemble=ensemble, num_lattices=6,
        lattice_rank=2, **FAST).fit(frame, y)
    for subset in model.lattices_:
        assert "b" not in subset or "a" in subset, model.lattices_
    certificate = model.certify()
    assert certificate.holds, str(certificate)


@pytest.mark.parametrize("constraint", [dict(trust=[("a", "b", "increasing")]),
                                        dict(dominance=[("a", "b")])])
def test_deep_lattice_networks_refuse_pair_constraints_before_training(constraint):
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 2.0]})
    model = estimators.DeepLatticeNetworkRegressor(monotonicity={"a": 1, "b": 1}, **constraint,
                                                   **FAST)
    with pytest.raises(ValueError, match="cannot keep a (trust|dominance) constraint"):
        model.fit(frame, [0.0, 1.0, 2.0])
    assert not hasattr(model, "model_")
