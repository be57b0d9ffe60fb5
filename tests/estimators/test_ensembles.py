"""Lattice ensembles of the estimators (the strategies themselves:
tests/models/test_ensembles.py)."""

import numpy as np
import pandas as pd
import pytest

from tests.estimators._data import FAST
from tf_lattice import estimators


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


@pytest.mark.parametrize("ensemble", ["random", "rtl", "crystals"])
def test_estimator_ensembles_read_every_column_and_are_seeded(ensemble):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({c: rng.uniform(0, 1, 120) for c in "abcdefg"})
    y = frame["a"] * frame["b"] + frame["c"]
    model = estimators.CalibratedLatticeEnsembleRegressor(
        ensemble=ensemble, num_lattices=4, lattice_rank=2, **FAST).fit(frame, y)
    # Every column is read: 4 lattices of rank 2 have room for the 7 columns.
    assert set().union(*map(set, model.lattices_)) == set("abcdefg"), model.lattices_
    assert model.lattices_ == type(model)(ensemble=ensemble, num_lattices=4, lattice_rank=2,
                                          **FAST).fit(frame, y).lattices_
