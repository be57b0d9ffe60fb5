"""NumPy oracle: lattice shape constraints checked straight from their definitions.

Independent of the compiled inequalities used by the projection: each check
reshapes ``theta [units, V]`` to ``[units, *lattice_sizes]`` and evaluates the
definition with array differences. Returns the largest violation (0 if none).
"""

import numpy as np


def _moved(grid, a, b):
    """[units, m_a, m_b, rest...] view with dims a, b (lattice dims) first."""
    return np.moveaxis(grid, (a + 1, b + 1), (1, 2))


def violations(theta, lattice_sizes, *, monotonicities=None, unimodalities=None,
               edgeworth_trusts=(), trapezoid_trusts=(), monotonic_dominances=(),
               range_dominances=(), joint_monotonicities=(), output_min=None,
               output_max=None):
    """Returns a list of (constraint, largest violation) pairs."""
    grid = np.asarray(theta, np.float64).reshape((-1,) + tuple(lattice_sizes))
    out = []
    worst = lambda x: float(max(0.0, np.max(x, initial=0.0)))
    for k, direction in enumerate(monotonicities or []):
        diff = np.diff(grid, axis=k + 1)
        if direction == "increasing":
            out.append((f"mono{k}", worst(-diff)))
        elif direction == "decreasing":
            out.append((f"mono{k}", worst(diff)))
    for k, shape in enumerate(unimodalities or []):
        if shape == "none":
            continue
        diff = np.moveaxis(np.diff(grid, axis=k + 1), k + 1, -1)
        center = lattice_sizes[k] // 2
        sign = 1.0 if shape == "valley" else -1.0
        out.append((f"uni{k}", max(worst(sign * diff[..., :center]),
                                   worst(-sign * diff[..., center:]))))
    for main, cond, direction in edgeworth_trusts:
        g = _moved(grid, main, cond)
        slope = np.diff(g, axis=1)
        growth = np.diff(slope, axis=2)
        sign = 1.0 if direction == "increasing" else -1.0
        out.append((f"edgeworth{main}{cond}", worst(-sign * growth)))
    for main, cond, direction in trapezoid_trusts:
        g = _moved(grid, main, cond)
        increasing_main = monotonicities[main] == "increasing"
        low_edge = g[:, 0] if increasing_main else g[:, -1]
        high_edge = g[:, -1] if increasing_main else g[:, 0]
        sign = 1.0 if direction == "increasing" else -1.0
        out.append((f"trapezoid{main}{cond}",
                    max(worst(sign * np.diff(low_edge, axis=1)),
                        worst(-sign * np.diff(high_edge, axis=1)))))
    for dom, weak in monotonic_dominances:
        g = _moved(grid, dom, weak)
        along_dom = np.diff(g, axis=1)   # [u, m_d-1, m_w, ...]
        along_weak = np.diff(g, axis=2)  # [u, m_d, m_w-1, ...]
        worst_v = 0.0
        # every dominant edge of a cell >= every weak edge of the same cell
        for dj in (0, 1):
            for di in (0, 1):
                d_edge = along_dom[:, :, dj:dj + along_weak.shape[2]]
                w_edge = along_weak[:, di:di + along_dom.shape[1]]
                worst_v = max(worst_v, worst(w_edge - d_edge))
        out.append((f"mdom{dom}{weak}", worst_v))
    for dom, weak in range_dominances:
        g = _moved(grid, dom, weak)
        dom_range = g[:, -1] - g[:, 0]          # [u, m_w, ...] per j
        weak_range = g[:, :, -1] - g[:, :, 0]   # [u, m_d, ...] per i
        gap = weak_range.max(axis=1) - dom_range.min(axis=1)
        out.append((f"rdom{dom}{weak}", worst(gap)))
    for a, b in joint_monotonicities:
        g = _moved(grid, a, b)
        c00, c10, c01, c11 = g[:, :-1, :-1], g[:, 1:, :-1], g[:, :-1, 1:], g[:, 1:, 1:]
        diag = [c10 + c01 - 2 * c00, 2 * c11 - c10 - c01]
        out.append((f"joint{a}{b}", max(worst(-d) for d in diag)))
    if output_min is not None:
        out.append(("min", worst(output_min - grid)))
    if output_max is not None:
        out.append(("max", worst(grid - output_max)))
    return out


def max_violation(theta, lattice_sizes, **constraints):
    """The largest violation of any constraint (0.0 when all hold)."""
    return max([v for _, v in violations(theta, lattice_sizes, **constraints)], default=0.0)
