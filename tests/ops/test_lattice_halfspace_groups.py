"""The half-space groups of a compiled lattice program have disjoint supports.

Dykstra's algorithm projects the rows of one group at once, each row by its
closed-form half-space projection; that is the exact projection onto the
group only when no vertex appears in two rows of the group.
"""

import itertools

import numpy as np
import pytest

from tf_lattice.ops._lattice_constraints import compile_constraints
from tf_lattice.specs import LatticeSpec

INC, DEC = "increasing", "decreasing"


def _size_patterns():
    """Lattice sizes 2..4 in ranks 2..4: every size alone, and mixed sizes."""
    for rank in (2, 3, 4):
        for size in (2, 3, 4):
            yield (size,) * rank
        yield tuple(2 + (k % 3) for k in range(rank))
        yield tuple(4 - (k % 3) for k in range(rank))


def _family_declarations(rank):
    """Each half-space family on the first two dimensions and on the first and last."""
    for a, b in sorted({(0, 1), (1, 0), (0, rank - 1)}):
        increasing = [INC] * rank
        yield f"edgeworth({a},{b})", dict(edgeworth_trusts=[(a, b, INC)])
        yield f"edgeworth({a},{b},dec)", dict(edgeworth_trusts=[(a, b, DEC)])
        yield f"monotonic_dominance({a},{b})", dict(monotonicities=increasing,
                                                   monotonic_dominances=[(a, b)])
        yield f"range_dominance({a},{b})", dict(monotonicities=increasing,
                                               range_dominances=[(a, b)])
        yield f"joint({a},{b})", dict(joint_monotonicities=[(min(a, b), max(a, b))])


CASES = [(sizes, name, declaration)
         for sizes in _size_patterns()
         for name, declaration in _family_declarations(len(sizes))]


@pytest.mark.parametrize("sizes,name,declaration", CASES,
                         ids=[f"{'x'.join(map(str, s))}-{n}" for s, n, _ in CASES])
def test_no_vertex_appears_in_two_rows_of_a_group(sizes, name, declaration):
    program = compile_constraints(LatticeSpec.parse(list(sizes), **declaration))
    assert program.halfspace_groups, name
    for number, (index, coef) in enumerate(program.halfspace_groups):
        vertices = index[coef != 0]
        values, counts = np.unique(vertices, return_counts=True)
        shared = values[counts > 1]
        assert shared.size == 0, (
            f"{name} on {sizes}: group {number} has vertices {shared.tolist()} in two rows")


@pytest.mark.parametrize("sizes,name,declaration", CASES[::7],
                         ids=[f"{'x'.join(map(str, s))}-{n}" for s, n, _ in CASES[::7]])
def test_the_groups_hold_every_half_space_row_once(sizes, name, declaration):
    program = compile_constraints(LatticeSpec.parse(list(sizes), **declaration))
    grouped = sorted(_row_keys(index, coef) for index, coef in program.halfspace_groups)
    declared = sorted(_row_keys(row.index, row.coef) for row in program.rows
                      if not row.name.startswith(("monotonicity", "unimodality", "trapezoid")))
    assert list(itertools.chain(*grouped)) != []
    assert sorted(itertools.chain(*grouped)) == sorted(itertools.chain(*declared))


def _row_keys(index, coef):
    return [tuple(sorted((int(v), float(c)) for v, c in zip(i, k) if c != 0))
            for i, k in zip(index, coef)]
