"""Pairwise inequalities ``alpha * x[a] <= beta * x[b]`` between entries of a vector.

Partial orders on categories (``alpha = beta = 1``), monotonic dominance and
range dominance of linear weights (``alpha = range_a``, ``beta = range_b``) are
all of this form. This module validates such pairs, finds cycles, orders the
entries topologically and writes the pairs as rows of ``G x <= 0``.
"""

import collections

import numpy as np

from tf_lattice.specs import _vocabulary


def check_pairs(pairs, size, argument="pairs"):
    """Validates ``(a, b)`` index pairs into ``size`` entries; returns a tuple of int pairs.

    The checks are those of every spec (:mod:`tf_lattice.specs`).

    Raises:
      ValueError: a pair is malformed, out of range or compares an entry with
        itself.
    """
    return _vocabulary.parse_pairs(pairs, size, argument, "entry")


def find_cycle(num_nodes, edges):
    """Returns a cycle of the directed graph as a list of nodes, or None.

    Args:
      num_nodes: nodes are ``0 .. num_nodes - 1``.
      edges: pairs ``(a, b)`` meaning an edge ``a -> b``.
    """
    return _vocabulary.find_cycle(num_nodes, edges)


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
