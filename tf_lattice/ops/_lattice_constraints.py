"""Lattice shape constraints compiled into linear inequalities.

The constraints arrive validated, as a :class:`tf_lattice.specs.LatticeSpec`
(:func:`lattice_spec` parses raw arguments into one at an entry point).

Every lattice shape constraint is a finite set of linear inequalities on the
vertex values ``theta`` (row-major, see DESIGN.md), each of the form

    sum_i c_i * theta[v_i] >= 0      (at most 4 terms, integer c_i in {+-1, +-2})

plus the output bounds ``output_min <= theta <= output_max``. Below, ``a`` and
``b`` are two dimensions, ``v`` a vertex, ``e_a`` the unit step along ``a`` and
``D_a theta[v] = theta[v + e_a] - theta[v]`` the difference along ``a``.

* ``monotonicities[k]``: "increasing": ``D_k theta[v] >= 0`` for every edge
  along ``k``; "decreasing": ``D_k theta[v] <= 0``.
* ``unimodalities[k]`` with center ``c = m_k // 2`` (the middle vertex; the
  upper one of the two middles for even sizes): "valley": ``D_k theta[v] <= 0``
  for ``v_k < c`` and ``>= 0`` for ``v_k >= c``; "peak": the reverse. Needs
  ``m_k >= 3``.
* ``edgeworth_trusts`` ``(main, cond, "increasing")``: the slope along ``main``
  grows with ``cond``: ``D_main theta[v + e_cond] >= D_main theta[v]`` in every
  cell (``D_cond D_main theta >= 0``); "decreasing": it shrinks.
* ``trapezoid_trusts`` ``(main, cond, "increasing")``: the range of the main
  dimension's function widens as ``cond`` grows. ``main`` must be monotone;
  with ``lo``/``hi`` the main index where that function is smallest/largest
  (``0``/``m_main - 1`` when increasing, the reverse when decreasing):
  ``theta[lo, j + 1] <= theta[lo, j]`` and ``theta[hi, j + 1] >= theta[hi, j]``
  along ``cond``. "decreasing": it narrows as ``cond`` grows.
* ``monotonic_dominances`` ``(dominant, weak)``, both increasing: in every
  ``(dominant, weak)`` cell each difference along ``dominant`` is at least each
  difference along ``weak``. With ``00, 10, 01, 11`` the cell corners
  (first digit ``dominant``): ``theta10 - theta00 >= theta11 - theta10`` and
  ``theta11 - theta01 >= theta01 - theta00`` (they imply
  ``theta10 >= theta01``). Then ``df/dx_dominant >= df/dx_weak`` everywhere,
  for multilinear and simplex interpolation.
* ``range_dominances`` ``(dominant, weak)``, both increasing: for every fixed
  value of the other dimensions and every ``i``, ``j``:
  ``theta[M, j] - theta[0, j] >= theta[i, N] - theta[i, 0]`` (``M``, ``N`` the
  last indices along ``dominant``, ``weak``): the total range along
  ``dominant`` is at least that along ``weak``.
* ``joint_monotonicities`` ``(a, b)``: ``f`` is non-decreasing along the
  diagonal ``e_a + e_b`` everywhere: in every ``(a, b)`` cell
  ``theta10 + theta01 >= 2 theta00`` and ``2 theta11 >= theta10 + theta01``.
* ``output_min``/``output_max``: bounds on every vertex.

The constant lattice (every vertex equal to a value in the bounds) satisfies
every constraint, so any valid declaration is feasible.
"""

import dataclasses
import functools

import numpy as np

from tf_lattice.specs import LatticeSpec
from tf_lattice.specs._vocabulary import MONOTONICITIES
from tf_lattice.specs._vocabulary import TRUST_DIRECTIONS
from tf_lattice.specs._vocabulary import UNIMODALITIES
from tf_lattice.specs._vocabulary import direction_name as _direction_name
from tf_lattice.specs._vocabulary import is_unset


def lattice_spec(function, spec, lattice_sizes, **arguments):
    """The :class:`LatticeSpec` a function of lattice parameters works on.

    Either ``spec`` (a validated :class:`LatticeSpec`, used as it is) or the
    raw ``lattice_sizes`` and constraint ``arguments`` (parsed once, here).

    Raises:
      TypeError: both a spec and raw arguments, or neither.
      ValueError: raw arguments the spec refuses (naming the argument).
    """
    if spec is None:
        if lattice_sizes is None:
            raise TypeError(f"{function} needs lattice_sizes or spec")
        return LatticeSpec.parse(lattice_sizes, **arguments)
    if not isinstance(spec, LatticeSpec):
        raise TypeError(f"{function} spec must be a LatticeSpec, got {type(spec).__name__}")
    given = sorted(name for name, value in arguments.items() if not is_unset(value))
    if lattice_sizes is not None or given:
        raise TypeError(
            f"{function} takes either spec or lattice_sizes and constraint arguments, got spec "
            f"and {['lattice_sizes'] * (lattice_sizes is not None) + given}")
    return spec


# ---------------------------------------------------------------------------
# Compilation into chains (for exact isotonic projection) and half-spaces.


def _grid(sizes):
    """Returns an int64 array [*sizes] of row-major vertex indices."""
    return np.arange(int(np.prod(sizes, dtype=np.int64)), dtype=np.int64).reshape(sizes)


def _chains_along(grid, dim, start, stop, direction):
    """Chains along ``dim`` over ``[start, stop]``, ordered so values must rise."""
    part = np.take(grid, np.arange(start, stop + 1), axis=dim)
    chains = np.moveaxis(part, dim, -1).reshape(-1, stop - start + 1)
    return chains[:, ::-1] if direction < 0 else chains


def _cells(grid, a, b):
    """Corner indices (c00, c10, c01, c11) of every (a, b) cell; first digit = a."""
    m_a, m_b = grid.shape[a], grid.shape[b]
    g = np.moveaxis(grid, (a, b), (0, 1))
    return (g[:-1, :-1].reshape(-1), g[1:, :-1].reshape(-1),
            g[:-1, 1:].reshape(-1), g[1:, 1:].reshape(-1),
            _axis_index(m_a - 1, 0, (m_a - 1, m_b - 1) + g.shape[2:]),
            _axis_index(m_b - 1, 1, (m_a - 1, m_b - 1) + g.shape[2:]))


def _axis_index(size, axis, shape):
    """Flat int64 array of shape ``prod(shape)``: each element's index along ``axis``."""
    ranks = [1] * len(shape)
    ranks[axis] = size
    return np.broadcast_to(np.arange(size).reshape(ranks), shape).reshape(-1)


@dataclasses.dataclass
class _Rows:
    """Inequalities ``sum_t coef[r, t] theta[index[r, t]] >= 0`` of one family."""

    name: str
    index: np.ndarray   # int64 [n, 4]
    coef: np.ndarray    # float64 [n, 4]; 0 pads
    anchor: np.ndarray  # int64 [n]: vertex reported as the location
    group: np.ndarray   # int64 [n]: no vertex is in two rows of one group


def _make_rows(name, terms, anchor, group):
    """Builds merged rows from a list of (index[n], coef) terms."""
    n = len(anchor)
    index = np.zeros((n, 4), np.int64)
    coef = np.zeros((n, 4), np.float64)
    for t, (idx, c) in enumerate(terms):
        index[:, t] = idx
        coef[:, t] = c
    # Merge repeated vertices within a row (range dominance at i = 0 or j = 0).
    for t in range(4):
        for s in range(t):
            same = (index[:, s] == index[:, t]) & (coef[:, t] != 0)
            coef[same, s] += coef[same, t]
            coef[same, t] = 0.0
    for t in range(4):
        unused = coef[:, t] == 0
        index[unused, t] = index[unused, 0]
    keep = np.any(coef != 0, axis=1)
    return _Rows(name, index[keep], coef[keep], np.asarray(anchor, np.int64)[keep],
                 np.asarray(group, np.int64)[keep])


def _edge_rows(name, chains):
    lower = chains[:, :-1].reshape(-1)
    upper = chains[:, 1:].reshape(-1)
    anchor = np.minimum(lower, upper)
    return _make_rows(name, [(upper, 1.0), (lower, -1.0)], anchor, np.zeros_like(lower))


@dataclasses.dataclass
class LatticeProgram:
    """A lattice's constraints compiled for projection and certification.

    Attributes:
      constraints: the :class:`LatticeSpec` compiled.
      chain_families: list of (name, int64 [num_chains, length]) chains whose
        values must be non-decreasing left to right; chains of one family are
        disjoint, so one exact isotonic regression per chain projects onto it.
      halfspace_groups: list of (index int64 [n, 4], coef float64 [n, 4]) sets
        of inequalities of one declared constraint in which no vertex appears
        in two rows (with a nonzero coefficient), so projecting every row of a
        group at once, each by its closed form, is the exact projection onto
        the group. Cell rows (trusts, monotonic dominances, joint
        monotonicities) are grouped by the parities of the cell's indices
        ``(i, j)`` along the constraint's two dimensions, the implied
        dominance rows ``theta10 >= theta01`` (which link the cells ``(i, j)``
        and ``(i + 1, j - 1)``) by the parity of ``i``; range dominance rows
        by ``(i, j)``, one row per value of the other dimensions.
      rows: every inequality (chain edges and half-spaces) as ``_Rows`` per
        declared constraint, for certification and the finalize sweep.
      lower, upper: output bounds (None when absent).
    """

    constraints: LatticeSpec
    chain_families: list
    halfspace_groups: list
    rows: list

    @functools.cached_property
    def all_rows(self):
        """(index [R, 4], coef [R, 4]) of every inequality, sorted by target vertex.

        The target of a row is its largest vertex index with nonzero coefficient.
        """
        return self._sorted_rows[:3]

    @property
    def family_names(self):
        """The name of each declared constraint (``rows[f].name``), as listed."""
        return [r.name for r in self.rows]

    @property
    def row_families(self):
        """int64 [R]: the constraint (index into ``family_names``) of each row of
        ``all_rows``."""
        return self._sorted_rows[3]

    @functools.cached_property
    def _sorted_rows(self):
        """(index, coef, target, family) of every row, stably sorted by target."""
        if not self.rows:
            return (np.zeros((0, 4), np.int64), np.zeros((0, 4)), np.zeros((0,), np.int64),
                    np.zeros((0,), np.int64))
        index = np.concatenate([r.index for r in self.rows])
        coef = np.concatenate([r.coef for r in self.rows])
        family = np.concatenate([np.full(r.index.shape[0], f, np.int64)
                                 for f, r in enumerate(self.rows)])
        target = np.max(np.where(coef != 0, index, -1), axis=1)
        order = np.argsort(target, kind="stable")
        return index[order], coef[order], target[order], family[order]

    @functools.cached_property
    def finalize_tables(self):
        """CSR tables of the rows per target vertex, and topological levels.

        Returns:
          (index [R, 4], coef [R, 4], offsets [V + 1], levels): rows sorted by
          target; rows ``offsets[t]:offsets[t+1]`` target vertex ``t``; levels is
          a list of int64 vertex arrays such that every row's other vertices lie
          in earlier levels than its target.
        """
        index, coef, target = self.all_rows
        num_vertices = self.constraints.num_vertices
        offsets = np.zeros(num_vertices + 1, np.int64)
        np.add.at(offsets, target + 1, 1)
        offsets = np.cumsum(offsets)
        depth = _row_depths(index, coef, target, num_vertices)
        levels = [np.flatnonzero(depth == level) for level in range(int(depth.max()) + 1)]
        return index, coef, offsets, levels


def _row_depths(index, coef, target, num_vertices):
    """Depth of each vertex in the order that the rows impose (vectorized).

    A vertex whose rows have no other vertex (or that no row targets) has
    depth 0, any other ``1 + max(depth of the other vertices of its rows)``.
    The other vertices of a row are smaller than its target, so relaxing all
    rows at once converges in (longest chain + 1) passes, each O(R).
    """
    depth = np.zeros(num_vertices, np.int64)
    is_other = (coef != 0) & (index != target[:, None])
    pair_target = np.broadcast_to(target[:, None], index.shape)[is_other]
    pair_other = index[is_other]
    if pair_other.size == 0:
        return depth
    # Rows are sorted by target, so each target's pairs are contiguous.
    starts = np.flatnonzero(np.r_[True, pair_target[1:] != pair_target[:-1]])
    group_target = pair_target[starts]
    while True:
        updated = np.zeros(num_vertices, np.int64)
        updated[group_target] = np.maximum.reduceat(depth[pair_other] + 1, starts)
        if np.array_equal(updated, depth):
            return depth
        depth = updated


#: Largest ``V x R`` (vertices times constraint rows) for which the finalize's
#: strictly feasible direction is found by a linear program: needed once per
#: constraint set when it has trusts, dominances or joint monotonicities (a
#: closed form serves monotonicities and unimodalities alone). The interior
#: point solver takes about 5 s at 2^31 (2^14 vertices, 14 monotone
#: dimensions) and grows faster than linearly.
MAX_INTERIOR_PROGRAM_SIZE = 2**32
#: Largest ``V x R`` for ``exact=True``, which solves one quadratic program
#: per unit with cvxpy (about 12 s per unit at 2^27).
MAX_EXACT_PROGRAM_SIZE = 2**25


def num_constraint_rows(constraints):
    """The number ``R`` of inequality rows the constraints compile into.

    Counted from the sizes alone, without compiling (an upper bound for range
    dominances, whose rows at the corners can cancel).
    """
    sizes = constraints.lattice_sizes
    vertices = constraints.num_vertices
    rows = 0
    for k in range(len(sizes)):
        if constraints.monotonicities[k] or constraints.unimodalities[k]:
            rows += vertices // sizes[k] * (sizes[k] - 1)

    def cells(a, b):
        return vertices // (sizes[a] * sizes[b]) * (sizes[a] - 1) * (sizes[b] - 1)

    rows += sum(cells(main, cond) for main, cond, _ in constraints.edgeworth_trusts)
    rows += sum(2 * vertices // (sizes[main] * sizes[cond]) * (sizes[cond] - 1)
                for main, cond, _ in constraints.trapezoid_trusts)
    rows += sum(3 * cells(a, b) for a, b in constraints.monotonic_dominances)
    rows += vertices * len(constraints.range_dominances)
    rows += sum(2 * cells(a, b) for a, b in constraints.joint_monotonicities)
    return rows


def _has_closed_form_direction(constraints):
    """Whether only monotonicities and unimodalities constrain the lattice."""
    return not (constraints.edgeworth_trusts or constraints.trapezoid_trusts
                or constraints.monotonic_dominances or constraints.range_dominances
                or constraints.joint_monotonicities)


def check_projection_size(constraints, exact=False):
    """Raises ValueError when a projection's set-up would take too long.

    Cheap (nothing is compiled), so callers run it before any other work.

    Args:
      constraints: a :class:`LatticeSpec`.
      exact: whether the projection is solved by cvxpy (``exact=True``).

    Raises:
      ValueError: ``V x R`` passes ``MAX_EXACT_PROGRAM_SIZE`` with ``exact``,
        or ``MAX_INTERIOR_PROGRAM_SIZE`` for a constraint set whose interior
        direction needs the linear program; the message says what to reduce.
    """
    vertices = constraints.num_vertices
    rows = num_constraint_rows(constraints)
    size = vertices * rows
    if exact and size > MAX_EXACT_PROGRAM_SIZE:
        raise ValueError(
            f"exact=True solves a quadratic program per unit over the V = {vertices} "
            f"vertices and R = {rows} constraint rows of lattice_sizes "
            f"{list(constraints.lattice_sizes)}; V x R = {size:.3g} exceeds the limit "
            f"{MAX_EXACT_PROGRAM_SIZE:.3g}: use exact=False (the default) or reduce "
            "lattice_sizes")
    if rows and not _has_closed_form_direction(constraints) \
            and size > MAX_INTERIOR_PROGRAM_SIZE:
        raise ValueError(
            f"the projection's set-up solves a linear program over the V = {vertices} "
            f"vertices and R = {rows} constraint rows of lattice_sizes "
            f"{list(constraints.lattice_sizes)} (needed for trusts, dominances and joint "
            f"monotonicities); V x R = {size:.3g} exceeds the limit "
            f"{MAX_INTERIOR_PROGRAM_SIZE:.3g} (minutes to hours of set-up): reduce "
            "lattice_sizes (fewer or smaller dimensions) or drop edgeworth_trusts, "
            "trapezoid_trusts, monotonic_dominances, range_dominances or "
            "joint_monotonicities")


def _separable_direction(constraints):
    """A direction for monotonicities and unimodalities alone, ``|q| <= 1``.

    ``q = mean_k g_k(v_k)`` over the constrained dimensions, with ``g_k``
    strictly monotone along a monotone dimension (``+-(2 v_k / (m_k - 1) -
    1)``) and V-shaped around the center of a unimodal one: every row, a
    difference along one dimension, is then at least ``2 / (n (m_k - 1))``.
    """
    sizes = constraints.lattice_sizes
    grid = np.indices(sizes, dtype=np.float64).reshape(len(sizes), -1)
    terms = []
    for k, m in enumerate(sizes):
        if constraints.monotonicities[k]:
            terms.append(constraints.monotonicities[k] * (2 * grid[k] / (m - 1) - 1))
        elif constraints.unimodalities[k]:
            center = m // 2
            spread = np.abs(grid[k] - center) / max(center, m - 1 - center)
            terms.append(constraints.unimodalities[k] * (2 * spread - 1))
    return np.mean(terms, axis=0)


def interior_direction(program):
    """A direction ``q`` (|q| <= 1) with ``a . q >= margin`` for every row ``a``.

    Monotonicities and unimodalities alone have a closed form
    (``_separable_direction``); otherwise solves the linear program ``max t
    s.t. A q >= t, -1 <= q <= 1, t <= 1`` by an interior point method (whose
    cost :func:`check_projection_size` bounds).

    Returns:
      ``(q, margin)``: float64 [V] and ``min_a a . q``; ``margin <= 0`` when
      the constraint cone has an empty interior (then ``q`` is zeros).
    """
    cached = getattr(program, "_interior", None)
    if cached is not None:
        return cached
    from scipy import optimize, sparse  # pylint: disable=import-outside-toplevel
    index, coef, _ = program.all_rows
    num_vertices = program.constraints.num_vertices
    result = (np.zeros(num_vertices), 0.0)
    if index.shape[0]:
        rows = np.repeat(np.arange(index.shape[0]), 4)
        matrix = sparse.coo_matrix((coef.reshape(-1), (rows, index.reshape(-1))),
                                   shape=(index.shape[0], num_vertices)).tocsr()
        if _has_closed_form_direction(program.constraints):
            q = _separable_direction(program.constraints)
            result = (q, float(np.min(matrix @ q)))
        else:
            a_ub = sparse.hstack([-matrix, sparse.csr_matrix(np.ones((index.shape[0], 1)))])
            cost = np.zeros(num_vertices + 1)
            cost[-1] = -1.0
            solved = optimize.linprog(cost, A_ub=a_ub, b_ub=np.zeros(index.shape[0]),
                                      bounds=[(-1, 1)] * num_vertices + [(None, 1)],
                                      method="highs-ipm")
            if solved.status == 0 and solved.x[-1] > 1e-9:
                q = np.clip(solved.x[:-1], -1.0, 1.0)
                margin = float(np.min(matrix @ q))
                if margin > 0:
                    result = (q, margin)
    program._interior = result
    return result


def compile_constraints(constraints):
    """Compiles a :class:`LatticeSpec` into a :class:`LatticeProgram`.

    Programs are cached by constraint set (the spec's ``units`` is not part of
    it).
    """
    if constraints.units is not None:
        constraints = dataclasses.replace(constraints, units=None)
    return _compile_cached(constraints)


@functools.lru_cache(maxsize=64)
def _compile_cached(cons):
    sizes = cons.lattice_sizes
    grid = _grid(sizes)
    chain_families, groups, rows = [], [], []

    for k, direction in enumerate(cons.monotonicities):
        if direction:
            name = f"monotonicity[{k}]={_direction_name(direction, MONOTONICITIES)}"
            chains = _chains_along(grid, k, 0, sizes[k] - 1, direction)
            chain_families.append((name, chains))
            rows.append(_edge_rows(name, chains))
    for k, shape in enumerate(cons.unimodalities):
        if shape:
            name = f"unimodality[{k}]={_direction_name(shape, UNIMODALITIES)}"
            center = sizes[k] // 2
            left = _chains_along(grid, k, 0, center, -shape)
            right = _chains_along(grid, k, center, sizes[k] - 1, shape)
            chain_families += [(name + " (below center)", left), (name + " (above center)", right)]
            both = _edge_rows(name, left)
            more = _edge_rows(name, right)
            rows.append(_Rows(name, np.concatenate([both.index, more.index]),
                              np.concatenate([both.coef, more.coef]),
                              np.concatenate([both.anchor, more.anchor]),
                              np.concatenate([both.group, more.group])))
    for n, (main, cond, direction) in enumerate(cons.edgeworth_trusts):
        name = f"edgeworth_trusts[{n}]=({main}, {cond}, {_direction_name(direction, TRUST_DIRECTIONS)})"
        c00, c10, c01, c11, i, j = _cells(grid, main, cond)
        sign = float(direction)
        group = 2 * (i % 2) + (j % 2)
        row = _make_rows(name, [(c11, sign), (c01, -sign), (c10, -sign), (c00, sign)], c00, group)
        rows.append(row)
    for n, (main, cond, direction) in enumerate(cons.trapezoid_trusts):
        name = f"trapezoid_trusts[{n}]=({main}, {cond}, {_direction_name(direction, TRUST_DIRECTIONS)})"
        low_end = 0 if cons.monotonicities[main] > 0 else sizes[main] - 1
        high_end = sizes[main] - 1 - low_end
        low = np.take(grid, [low_end], axis=main)
        high = np.take(grid, [high_end], axis=main)
        chains = np.concatenate([
            _chains_along(low, cond, 0, sizes[cond] - 1, -direction),
            _chains_along(high, cond, 0, sizes[cond] - 1, direction)])
        chain_families.append((name, chains))
        rows.append(_edge_rows(name, chains))
    for n, (dom, weak) in enumerate(cons.monotonic_dominances):
        name = f"monotonic_dominances[{n}]=({dom}, {weak})"
        c00, c10, c01, c11, i, j = _cells(grid, dom, weak)
        group = 4 * (i % 2) + 2 * (j % 2)
        first = _make_rows(name, [(c10, 2.0), (c00, -1.0), (c11, -1.0)], c00, group)
        second = _make_rows(name, [(c11, 1.0), (c00, 1.0), (c01, -2.0)], c00, group + 1)
        # Implied by the two above (their sum / 2); explicit so that the
        # finalize sweep bounds the later of c10, c01 by the earlier. The
        # cells (i, j) and (i + 1, j - 1) share their vertex (i + 1, j), so
        # the parity of i splits these rows into two disjoint groups.
        implied = _make_rows(name, [(c10, 1.0), (c01, -1.0)], c00, 8 + i % 2)
        rows.append(_concat_rows(name, _concat_rows(name, first, second), implied))
    for n, (dom, weak) in enumerate(cons.range_dominances):
        name = f"range_dominances[{n}]=({dom}, {weak})"
        g = np.moveaxis(grid, (dom, weak), (0, 1))
        m_d, m_w = g.shape[0], g.shape[1]
        i = _axis_index(m_d, 0, g.shape)
        j = _axis_index(m_w, 1, g.shape)
        dom_hi = np.broadcast_to(g[-1:, :], g.shape)   # theta[M, j]
        dom_lo = np.broadcast_to(g[:1, :], g.shape)    # theta[0, j]
        weak_hi = np.broadcast_to(g[:, -1:], g.shape)  # theta[i, N]
        weak_lo = np.broadcast_to(g[:, :1], g.shape)   # theta[i, 0]
        flat = lambda x: np.ascontiguousarray(x).reshape(-1)
        rows.append(_make_rows(
            name, [(flat(dom_hi), 1.0), (flat(dom_lo), -1.0), (flat(weak_hi), -1.0),
                   (flat(weak_lo), 1.0)], flat(g), flat(i * m_w + j)))
    for n, (a, b) in enumerate(cons.joint_monotonicities):
        name = f"joint_monotonicities[{n}]=({a}, {b})"
        c00, c10, c01, c11, i, j = _cells(grid, a, b)
        group = 4 * (i % 2) + 2 * (j % 2)
        first = _make_rows(name, [(c10, 1.0), (c01, 1.0), (c00, -2.0)], c00, group)
        second = _make_rows(name, [(c11, 2.0), (c10, -1.0), (c01, -1.0)], c00, group + 1)
        rows.append(_concat_rows(name, first, second))

    for row in rows:
        if row.name.startswith(("monotonicity", "unimodality", "trapezoid")):
            continue
        for g in np.unique(row.group):
            chosen = row.group == g
            groups.append((row.index[chosen], row.coef[chosen]))
    return LatticeProgram(cons, chain_families, groups, rows)


def _concat_rows(name, first, second):
    return _Rows(name, np.concatenate([first.index, second.index]),
                 np.concatenate([first.coef, second.coef]),
                 np.concatenate([first.anchor, second.anchor]),
                 np.concatenate([first.group, second.group]))


def working_bounds(constraints, np_dtype):
    """The output bounds rounded inward to ``np_dtype`` (-inf/inf when absent).

    Raises:
      ValueError: if no value of ``np_dtype`` lies within the bounds.
    """
    low, high = constraints.output_min, constraints.output_max
    low_w = -np.inf if low is None else np_dtype(low)
    high_w = np.inf if high is None else np_dtype(high)
    if low is not None and float(low_w) < low:
        low_w = np.nextafter(low_w, np_dtype(np.inf))
    if high is not None and float(high_w) > high:
        high_w = np.nextafter(high_w, np_dtype(-np.inf))
    low_w, high_w = np_dtype(low_w), np_dtype(high_w)
    if low_w > high_w:
        raise ValueError(
            f"no {np.dtype(np_dtype).name} value lies in [output_min, output_max] = "
            f"[{low}, {high}]")
    return low_w, high_w
