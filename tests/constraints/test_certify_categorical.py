"""Tests of tf_lattice.constraints.certify_categorical."""

import numpy as np
import pytest

from tf_lattice.constraints import certify_categorical


def test_holds_and_violations_are_located():
    pairs = [(0, 1), (2, 1)]
    good = np.array([[0.0, 1.0, 0.5]])
    assert certify_categorical(good, pairs=pairs, output_min=0.0, output_max=1.0).holds
    bad = np.array([[0.0, 1.0, 0.5], [0.2, 0.1, 1.4]])
    certificate = certify_categorical(bad, pairs=pairs, output_min=0.0, output_max=1.2)
    order, _, upper = certificate.checks
    assert order.location == (1, (2, 1)) and order.worst_violation == pytest.approx(1.3)
    assert upper.location == (1, 2) and upper.worst_violation == pytest.approx(0.2)
    assert certificate.checks[1].holds


def test_errors():
    with pytest.raises(ValueError, match="out of range"):
        certify_categorical(np.zeros((1, 2)), pairs=[(0, 2)])
