"""Feature subsets of lattice ensembles: random, RTL-balanced and crystals.

Each lattice of an ensemble reads ``lattice_rank`` of the ``d`` calibrated
features. The three strategies choose which:

- ``"random"``: each lattice draws ``rank`` distinct features uniformly.
- ``"rtl"`` (random tiny lattices): features are dealt from shuffled copies
  of ``0..d-1`` so every feature appears ``num_lattices * rank / d`` times
  (within one) and no lattice repeats a feature.
- ``"crystals"``: features that interact are put together. The interaction
  of features ``i, j`` is the reduction in squared error of a 2-D table of
  binned target means over the additive fit of its two 1-D margins; lattices
  are grown greedily from the strongest remaining pair by the feature with
  the largest summed interaction with the lattice so far.
"""

import numpy as np

ENSEMBLES = ("random", "crystals", "rtl")


def random_subsets(num_features, num_lattices, rank, rng):
    """``num_lattices`` sorted lists of ``rank`` distinct features, uniformly."""
    return [sorted(rng.choice(num_features, size=rank, replace=False).tolist())
            for _ in range(num_lattices)]


def rtl_subsets(num_features, num_lattices, rank, rng):
    """Balanced subsets: each feature used as evenly as possible."""
    pool = []
    subsets = []
    for _ in range(num_lattices):
        subset = []
        while len(subset) < rank:
            if not pool:
                pool = rng.permutation(num_features).tolist()
            candidate = next((f for f in pool if f not in subset), None)
            if candidate is None:
                pool = rng.permutation(num_features).tolist()
                continue
            pool.remove(candidate)
            subset.append(candidate)
        subsets.append(sorted(subset))
    return subsets


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


def crystals_subsets(num_features, num_lattices, rank, rng, strengths):
    """Lattices of strongly interacting features (see the module docstring)."""
    usage = np.zeros(num_features)
    subsets = []
    pairs = sorted(((strengths[i, j], i, j) for i in range(num_features)
                    for j in range(i + 1, num_features)), reverse=True)
    for _ in range(num_lattices):
        # Prefer seeds of rarely used features so every feature gets a lattice.
        seed = max(pairs, key=lambda p: (-(usage[p[1]] + usage[p[2]]), p[0]))
        subset = [seed[1], seed[2]]
        while len(subset) < rank:
            scores = [(strengths[f, subset].sum() / (1.0 + usage[f]), -f)
                      for f in range(num_features) if f not in subset]
            subset.append(-max(scores)[1])
        for f in subset:
            usage[f] += 1
        subsets.append(sorted(subset))
    return subsets


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
    return crystals_subsets(num_features, num_lattices, rank, rng,
                            interaction_strengths(encoded, target))
