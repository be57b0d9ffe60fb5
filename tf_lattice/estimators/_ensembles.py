"""Feature subsets of lattice ensembles: random, RTL-balanced and crystals.

Each lattice of an ensemble reads ``lattice_rank`` of the ``d`` calibrated
features. The three strategies choose which:

- ``"random"``: each lattice draws ``rank`` distinct features uniformly.
- ``"rtl"`` (random tiny lattices): each lattice takes the least used
  features so far, ties broken at random (the structure of
  :class:`tf_lattice.layers.RTL`, :func:`random_lattice_structure`), so
  every feature appears ``num_lattices * rank / d`` times (within one).
- ``"crystals"``: features that interact are put together, grouped by
  :func:`tf_lattice.models.crystals.crystals_structure`. The interaction of
  features ``i, j`` is measured here without a pre-fit (which would cost a
  second Keras training per estimator fit): it is the squared error that the
  additive fit of two 1-D tables of binned target means leaves and the joint
  2-D table explains.
"""

import numpy as np

from tf_lattice.layers.rtl import random_lattice_structure
from tf_lattice.models.crystals import crystals_structure

ENSEMBLES = ("random", "crystals", "rtl")


def random_subsets(num_features, num_lattices, rank, rng):
    """``num_lattices`` sorted lists of ``rank`` distinct features, uniformly."""
    return [sorted(rng.choice(num_features, size=rank, replace=False).tolist())
            for _ in range(num_lattices)]


def rtl_subsets(num_features, num_lattices, rank, rng):
    """Balanced subsets: each lattice takes the least used features so far
    (ties broken at random), as the RTL layer draws its structure."""
    seed = int(rng.integers(0, 2**31 - 1))
    return [list(subset) for subset in random_lattice_structure(num_features, num_lattices, rank, seed)]


def _bin(column, bins):
    finite = np.isfinite(column)
    codes = np.full(column.shape, bins, dtype=np.int64)  # missing: own bin
    if finite.any():
        edges = np.unique(np.quantile(column[finite], np.linspace(0, 1, bins + 1)[1:-1]))
        codes[finite] = np.searchsorted(edges, column[finite], side="right")
    return codes


def interaction_strengths(encoded, target, bins=4):
    r"""Pairwise interaction strengths, a `(d, d)` symmetric matrix.

    With ``y`` centred and features binned into ``bins`` quantile bins (and a
    missing bin), the strength of ``(i, j)`` is
    ``sum over rows of (a_i + a_j - t_ij)^2`` where ``t_ij`` is the mean of
    ``y`` in the joint bin and ``a_i``, ``a_j`` the means in the marginal bins:
    the squared error the additive fit leaves that the joint table explains.

    Args:
      encoded: float array `(n, d)` (NaN where missing).
      target: float array `(n,)` or `(n, k)` (one-hot classes).
    """
    target = np.asarray(target, np.float64).reshape(len(encoded), -1)
    target = target - target.mean(axis=0)
    d = encoded.shape[1]
    codes = np.stack([_bin(encoded[:, j].astype(np.float64), bins) for j in range(d)], axis=1)
    width = bins + 1

    def bin_means(keys, size):
        counts = np.bincount(keys, minlength=size).astype(np.float64)[:, None]
        sums = np.stack([np.bincount(keys, weights=t, minlength=size) for t in target.T], axis=1)
        return (sums / np.maximum(counts, 1.0))[keys]

    margins = [bin_means(codes[:, j], width) for j in range(d)]
    strengths = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1, d):
            joint = bin_means(codes[:, i] * width + codes[:, j], width * width)
            strengths[i, j] = strengths[j, i] = float(np.sum((margins[i] + margins[j] - joint) ** 2))
    return strengths


def close_under_dominance(subsets, dominances):
    """Subsets in which every lattice reading a dominated column also reads
    its dominant one.

    With lattices ``L_l`` combined by weights ``w_l >= 0``, ``d f/d a - d f/d
    b = sum_l w_l (d L_l/d a - d L_l/d b)``. A lattice reading both columns
    keeps ``d L/d a >= d L/d b`` by its own constraint and one reading
    neither or only ``a`` (increasing) adds a non-negative term, but one
    reading ``b`` without ``a`` adds ``-d L/d b <= 0``. Such a lattice gets
    ``a`` in place of its last other column (or of ``b`` itself at rank 1).

    Args:
      subsets: lists of feature indices.
      dominances: ``(dominant, weak)`` index pairs.

    Returns:
      New sorted lists, the same length as ``subsets``. (A chain of pairs
      longer than the rank cannot be closed in every lattice; the
      certificate's dominance check then fails and names the pair.)
    """
    paired = {f for pair in dominances for f in pair}
    closed = []
    for subset in subsets:
        subset = list(subset)
        for _ in range(len(dominances) * (len(subset) + 1) + 1):
            open_pairs = [(a, b) for a, b in dominances if b in subset and a not in subset]
            if not open_pairs:
                break
            dominant, weak = open_pairs[0]
            # Prefer giving up a column outside every dominance pair.
            others = sorted((f for f in subset if f != weak), key=lambda f: (f not in paired, f))
            subset.remove(others[-1] if others else weak)
            subset.append(dominant)
        closed.append(sorted(subset))
    return closed


def choose_subsets(kind, num_features, num_lattices, rank, rng, encoded=None, target=None):
    """Feature subsets of an ensemble.

    Args:
      kind: ``"random"``, ``"rtl"`` or ``"crystals"``.
      num_features: ``d``.
      num_lattices: number of lattices.
      rank: features per lattice (clipped to ``d``).
      rng: a `numpy.random.Generator`.
      encoded, target: training data (``"crystals"`` only).

    Returns:
      ``num_lattices`` sorted lists of distinct feature indices.
    """
    rank = min(int(rank), num_features)
    if kind == "random" or (kind == "crystals" and rank < 2):
        return random_subsets(num_features, num_lattices, rank, rng)
    if kind == "rtl":
        return rtl_subsets(num_features, num_lattices, rank, rng)
    strengths = interaction_strengths(encoded, target)
    return [list(subset) for subset in crystals_structure(strengths, num_lattices, rank)]
