"""Whatever a constrained layer accepts, its projection accepts.

Random constraint declarations (valid or contradictory) are given to Lattice
and Linear: either construction raises a ValueError that names an argument,
or the layer builds, its projection runs, and the certificate of the
projected weights holds. A contradiction never survives to the first
optimizer step.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tf_lattice import layers

DIRECTIONS = ["none", "increasing", "decreasing"]
ARGUMENT = re.compile(r"monotonicities|unimodalities|trusts|dominances|lattice_sizes|"
                      r"joint_monotonicities|input_min")


def _pairs(rank, extra=None):
    pair = st.tuples(st.integers(0, rank - 1), st.integers(0, rank - 1)).filter(
        lambda p: p[0] != p[1])
    if extra is not None:
        pair = st.tuples(st.integers(0, rank - 1), st.integers(0, rank - 1),
                         st.sampled_from(extra)).filter(lambda p: p[0] != p[1])
    return st.lists(pair, max_size=2)


@st.composite
def lattice_declarations(draw):
    rank = draw(st.integers(2, 3))
    return dict(
        lattice_sizes=draw(st.lists(st.integers(2, 3), min_size=rank, max_size=rank)),
        monotonicities=draw(st.lists(st.sampled_from(DIRECTIONS), min_size=rank, max_size=rank)),
        unimodalities=draw(st.lists(st.sampled_from(["none", "none", "valley", "peak"]),
                                    min_size=rank, max_size=rank)),
        edgeworth_trusts=draw(_pairs(rank, ["increasing", "decreasing"])),
        trapezoid_trusts=draw(_pairs(rank, ["increasing", "decreasing"])),
        monotonic_dominances=draw(_pairs(rank)),
        range_dominances=draw(_pairs(rank)),
        joint_monotonicities=draw(_pairs(rank)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lattice_declarations(), st.integers(0, 2**31 - 1))
# Vertices forced equal (a decreasing trapezoid trust along a monotone
# dimension): the exact projection's interior-point solver fails here.
@example(dict(lattice_sizes=[2, 3, 2], monotonicities=["decreasing", "increasing", "decreasing"],
              trapezoid_trusts=[(1, 0, "decreasing")]), 0)
def test_a_lattice_either_refuses_its_declaration_or_projects_it(declaration, seed):
    try:
        layer = layers.Lattice(units=2, implementation="portable", **declaration)
    except ValueError as error:
        assert ARGUMENT.search(str(error)), str(error)
        return
    rank = len(declaration["lattice_sizes"])
    layer.build((None, rank))
    rng = np.random.default_rng(seed)
    layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype("float32"))
    if layer.kernel.constraint is not None:  # None: nothing to project
        layer.kernel.assign(layer.kernel.constraint(layer.kernel))
    layer.finalize_constraints()
    certificate = layer.certify()
    assert certificate.holds, str(certificate)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4).flatmap(lambda d: st.tuples(
    st.just(d), st.lists(st.sampled_from(DIRECTIONS), min_size=d, max_size=d), _pairs(d),
    _pairs(d), st.booleans())), st.integers(0, 2**31 - 1))
def test_a_linear_layer_either_refuses_its_declaration_or_projects_it(declaration, seed):
    dims, monotonicities, dominances, range_dominances, ranges = declaration
    try:
        layer = layers.Linear(dims, units=2, monotonicities=monotonicities,
                              monotonic_dominances=dominances, range_dominances=range_dominances,
                              input_min=0.0 if ranges else None, input_max=2.0 if ranges else None,
                              implementation="portable")
    except ValueError as error:
        assert ARGUMENT.search(str(error)), str(error)
        return
    layer.build((None, dims))
    layer.kernel.assign(np.random.default_rng(seed).normal(size=(dims, 2)).astype("float32"))
    if layer.kernel.constraint is not None:  # None: nothing to project
        layer.kernel.assign(layer.kernel.constraint(layer.kernel))
    certificate = layer.certify()
    assert certificate.holds, str(certificate)


@pytest.mark.parametrize("make, message", [
    (lambda: layers.Lattice([2, 2], monotonicities=["decreasing", "increasing"],
                            monotonic_dominances=[(0, 1)]),
     r"monotonic_dominances\[0\] = \(0, 1\) needs both dimensions increasing"),
    (lambda: layers.Lattice([2, 3], unimodalities=["valley", "none"]),
     r"unimodalities\[0\] needs lattice_sizes\[0\] >= 3"),
    (lambda: layers.Linear(2, monotonicities=["decreasing", "increasing"],
                           monotonic_dominances=[(0, 1)]),
     r"monotonic_dominances entry \(0, 1\) needs both inputs declared 'increasing'"),
])
def test_contradictions_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_constraint_declared_twice_is_one_constraint():
    layer = layers.Lattice([2, 2, 3], units=2, implementation="portable",
                           monotonicities=["decreasing", "none", "none"],
                           unimodalities=["none", "none", "peak"],
                           joint_monotonicities=[(0, 2), (0, 2)])
    assert layer.spec.joint_monotonicities == ((0, 2),)
    layer.build((None, 3))
    layer.kernel.assign(np.random.default_rng(364).normal(size=layer.kernel.shape).astype("float32"))
    layer.finalize_constraints()
    assert layer.certify().holds
