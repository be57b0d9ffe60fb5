"""Pairwise inequalities ``alpha * x[a] <= beta * x[b]`` between entries of a vector.

Partial orders on categories (``alpha = beta = 1``), monotonic dominance and
range dominance of linear weights (``alpha = range_a``, ``beta = range_b``) are
all of this form. This module validates such pairs, finds cycles, orders the
entries topologically and writes the pairs as rows of ``G x <= 0``.
"""

import collections

import numpy as np


def check_pairs(pairs, size, argument="pairs"):
    """Validates ``(a, b)`` index pairs into ``size`` entries; returns a list of int tuples.

    Raises:
      ValueError: a pair is malformed, out of range or compares an entry with
        itself.
    """
    checked = []
    for pair in pairs:
        try:
            a, b = (int(i) for i in pair)
        except (TypeError, ValueError):
            raise ValueError(f"{argument} must be (a, b) index pairs, got {pair!r}") from None
        if not (0 <= a < size and 0 <= b < size):
            raise ValueError(f"{argument} entry {pair!r} is out of range for {size} entries")
        if a == b:
            raise ValueError(f"{argument} entry {pair!r} compares an entry with itself")
        checked.append((a, b))
    return checked


def find_cycle(num_nodes, edges):
    """Returns a cycle of the directed graph as a list of nodes, or None.

    Args:
      num_nodes: nodes are ``0 .. num_nodes - 1``.
      edges: pairs ``(a, b)`` meaning an edge ``a -> b``.
    """
    successors = collections.defaultdict(list)
    for a, b in edges:
        successors[a].append(b)
    state = [0] * num_nodes  # 0 unvisited, 1 on the stack, 2 done
    for root in range(num_nodes):
        if state[root]:
            continue
        path = [root]
        iterators = [iter(successors[root])]
        state[root] = 1
        while iterators:
            nxt = next(iterators[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                iterators.append(iter(successors[nxt]))
    return None


def topological_order(num_nodes, edges):
    """Returns the nodes ordered so that every edge ``a -> b`` has a before b.

    The graph must be acyclic (check with :func:`find_cycle` first).
    """
    indegree = [0] * num_nodes
    successors = collections.defaultdict(list)
    for a, b in edges:
        successors[a].append(b)
        indegree[b] += 1
    ready = collections.deque(n for n in range(num_nodes) if indegree[n] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for b in successors[node]:
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
    return order


def inequality_rows(pairs, alpha, beta, size):
    """Rows ``(alpha e_a - beta e_b) / norm`` of ``G x <= 0``, float64 ``[len(pairs), size]``."""
    rows = np.zeros((len(pairs), size))
    for row, ((a, b), left, right) in enumerate(zip(pairs, alpha, beta)):
        norm = np.hypot(left, right)
        rows[row, a] += left / norm
        rows[row, b] -= right / norm
    return rows
