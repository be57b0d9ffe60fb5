"""Which features each lattice of an ensemble reads: one meaning per strategy.

A lattice ensemble over ``d`` calibrated features has ``num_lattices``
lattices of ``lattice_rank`` distinct features each. The strategies, named
by the ``ensemble`` argument of the model configs and the estimators:

- ``"random"`` (:func:`random_structure`): every feature is used at least
  once when ``num_lattices * lattice_rank >= d`` (each feature, in a random
  order, goes to a random lattice that still has room); the remaining slots
  of each lattice are then filled with features drawn uniformly among those
  it does not read yet. With fewer slots than features, a random subset of
  the features is used, each once.
- ``"rtl"`` (random tiny lattices, :func:`rtl_structure`): balanced; each
  lattice takes the ``lattice_rank`` least used features so far, ties broken
  at random, so every feature is used ``num_lattices * lattice_rank / d``
  times, within one. This is the structure of the
  :class:`tf_lattice.layers.RTL` layer.
- ``"crystals"`` (:func:`crystals_structure`): features that interact share
  lattices. The interaction of features ``i`` and ``j`` is measured on the
  training data by binned target means (:func:`interaction_strengths`), with
  no model trained for it. Every feature is used when the slots allow.

Both random strategies are deterministic functions of their seed; crystals
is a deterministic function of the data. :func:`lattice_structure` selects a
strategy by name; :func:`close_under_dominance` then makes a structure keep
a declared dominance between two features.
"""

import itertools

import numpy as np

from tf_lattice.layers.rtl import random_lattice_structure

#: The ensemble strategies.
ENSEMBLES = ("random", "rtl", "crystals")

#: Quantile bins per feature of `interaction_strengths` (plus one for missing values).
INTERACTION_BINS = 4


def _check_sizes(num_features, num_lattices, lattice_rank):
    if int(num_lattices) < 1:
        raise ValueError(f"num_lattices must be at least 1, got {num_lattices}")
    if int(lattice_rank) < 1:
        raise ValueError(f"lattice_rank must be at least 1, got {lattice_rank}")
    if int(lattice_rank) > int(num_features):
        raise ValueError(f"lattice_rank ({lattice_rank}) exceeds the number of features "
                         f"({num_features})")


def random_structure(num_features, num_lattices, lattice_rank, seed):
    """Random lattices that use every feature when the slots allow.

    Each of the first ``min(d, num_lattices * lattice_rank)`` features of a
    random permutation goes to a lattice drawn uniformly among those with room
    left; each lattice is then filled up with features drawn uniformly,
    without replacement, among those it does not read.

    Args:
      num_features: ``d``.
      num_lattices: the number of lattices.
      lattice_rank: features per lattice, ``1 <= lattice_rank <= d``.
      seed: int seed of the draws.

    Returns:
      ``num_lattices`` sorted tuples of ``lattice_rank`` distinct feature
      indices.
    """
    _check_sizes(num_features, num_lattices, lattice_rank)
    rng = np.random.default_rng(seed)
    lattices = [[] for _ in range(num_lattices)]
    for feature in rng.permutation(num_features)[:num_lattices * lattice_rank]:
        with_room = [index for index, lattice in enumerate(lattices) if len(lattice) < lattice_rank]
        lattices[with_room[rng.integers(len(with_room))]].append(int(feature))
    for lattice in lattices:
        others = [f for f in range(num_features) if f not in lattice]
        lattice.extend(int(f) for f in rng.choice(others, lattice_rank - len(lattice), replace=False))
    return [tuple(sorted(lattice)) for lattice in lattices]


def rtl_structure(num_features, num_lattices, lattice_rank, seed):
    """Balanced random lattices: each takes the least used features so far.

    Ties are broken at random, so the uses of any two features differ by at
    most one (:func:`tf_lattice.layers.rtl.random_lattice_structure`, the
    structure of the RTL layer).

    Args:
      num_features, num_lattices, lattice_rank, seed: as
        :func:`random_structure`.

    Returns:
      ``num_lattices`` sorted tuples of ``lattice_rank`` distinct feature
      indices.
    """
    _check_sizes(num_features, num_lattices, lattice_rank)
    return random_lattice_structure(num_features, num_lattices, lattice_rank, seed)


def _bin(column, bins):
    finite = np.isfinite(column)
    codes = np.full(column.shape, bins, dtype=np.int64)  # missing: own bin
    if finite.any():
        edges = np.unique(np.quantile(column[finite], np.linspace(0, 1, bins + 1)[1:-1]))
        codes[finite] = np.searchsorted(edges, column[finite], side="right")
    return codes


def interaction_strengths(x, y, bins=INTERACTION_BINS):
    r"""Pairwise interaction strengths, a ``(d, d)`` symmetric matrix.

    With ``y`` centred and each feature binned into ``bins`` quantile bins
    (and one bin for missing values), the strength of ``(i, j)`` is
    ``sum over rows of (a_i + a_j - t_ij)^2``, where ``t_ij`` is the mean of
    ``y`` in the row's joint bin of ``(i, j)`` and ``a_i``, ``a_j`` the means
    in its bins of ``i`` and of ``j``: the squared error that the additive
    fit leaves and the joint table explains. The diagonal is zero.

    Args:
      x: float array ``(n, d)`` of feature values (categorical features as
        category ids; NaN where missing).
      y: float array ``(n,)`` or ``(n, k)`` of targets (one-hot classes for a
        multi-class task).
      bins: quantile bins per feature.

    Returns:
      float64 array ``(d, d)``, symmetric and non-negative.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a (rows, features) matrix, got shape {x.shape}")
    target = np.asarray(y, np.float64).reshape(len(x), -1)
    target = target - target.mean(axis=0)
    d = x.shape[1]
    codes = np.stack([_bin(x[:, j], bins) for j in range(d)], axis=1)
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


def crystals_structure(interactions, num_lattices, lattice_rank):
    """Groups features into lattices by pairwise interaction strength.

    Lattices are filled greedily: each lattice starts with the strongest pair
    not yet placed together, and grows by the feature whose summed
    interaction with the lattice's features is largest. Unused features come
    first, both when choosing the starting pair and when growing a lattice,
    so every feature is used when ``num_lattices * lattice_rank`` allows. At
    rank 1 each lattice reads the least used feature.

    Args:
      interactions: symmetric ``[d, d]`` array (see
        :func:`interaction_strengths`).
      num_lattices: number of lattices.
      lattice_rank: features per lattice (at most ``d``).

    Returns:
      List of ``num_lattices`` sorted tuples of feature indices.
    """
    interactions = np.asarray(interactions, np.float64)
    dims = interactions.shape[0]
    _check_sizes(dims, num_lattices, lattice_rank)
    uses = np.zeros(dims)
    together = np.zeros((dims, dims))
    order = sorted(itertools.combinations(range(dims), 2), key=lambda p: -interactions[p])
    lattices = []
    for _ in range(num_lattices):
        if lattice_rank == 1:
            lattice = [int(np.argmin(uses))]
        else:
            # Strongest pair not yet together, preferring unused features.
            first = min(order, key=lambda p: (together[p] > 0, int(uses[p[0]] > 0) + int(uses[p[1]] > 0),
                                              -interactions[p]))
            lattice = list(first)
        while len(lattice) < lattice_rank:
            candidates = [f for f in range(dims) if f not in lattice]
            lattice.append(max(candidates, key=lambda f: (-uses[f], interactions[f, lattice].sum())))
        for a, b in itertools.combinations(lattice, 2):
            together[a, b] = together[b, a] = together[a, b] + 1
        uses[lattice] += 1
        lattices.append(tuple(sorted(int(f) for f in lattice)))
    return lattices


def lattice_structure(ensemble, num_features, num_lattices, lattice_rank, seed=0, x=None, y=None):
    """The features of each lattice under the strategy named ``ensemble``.

    Args:
      ensemble: ``"random"``, ``"rtl"`` or ``"crystals"`` (see the module
        docstring).
      num_features: ``d``.
      num_lattices: the number of lattices.
      lattice_rank: features per lattice, ``1 <= lattice_rank <= d``.
      seed: int seed of ``"random"`` and ``"rtl"``.
      x, y: training data for ``"crystals"`` (see
        :func:`interaction_strengths`); not needed at rank 1.

    Returns:
      ``num_lattices`` sorted tuples of ``lattice_rank`` distinct feature
      indices.

    Raises:
      ValueError: an unknown strategy, sizes out of range, or crystals
        without data.
    """
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    if ensemble == "random":
        return random_structure(num_features, num_lattices, lattice_rank, seed)
    if ensemble == "rtl":
        return rtl_structure(num_features, num_lattices, lattice_rank, seed)
    if lattice_rank < 2:
        return crystals_structure(np.zeros((num_features, num_features)), num_lattices, lattice_rank)
    if x is None or y is None:
        raise ValueError('ensemble="crystals" measures feature interactions on training data: '
                         "pass x and y")
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != num_features:
        raise ValueError(f"x must have shape (rows, {num_features}), got {x.shape}")
    return crystals_structure(interaction_strengths(x, y), num_lattices, lattice_rank)


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
      subsets: sequences of feature indices.
      dominances: ``(dominant, weak)`` index pairs.

    Returns:
      New sorted tuples, as many as ``subsets``. (A chain of pairs longer
      than the rank cannot be closed in every lattice; the certificate's
      dominance check then fails and names the pair.)
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
        closed.append(tuple(sorted(subset)))
    return closed
