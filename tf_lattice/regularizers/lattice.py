"""Smoothness regularizers for lattice parameters.

Lattice parameters have shape ``[units, V]`` (or ``[V]``), ``V = prod(m)`` for
lattice sizes ``m = (m_0, ..., m_{d-1})``, vertices in row-major order (last
dimension fastest). Reshaped to ``[units, m_0, ..., m_{d-1}]``, the vertex
``v`` holds ``theta_v`` and ``e_k`` is the unit step along dimension ``k``.

* Laplacian, per dimension ``k``: differences along the edges of dimension k,
  ``sum_v l1_k |theta_{v+e_k} - theta_v| + l2_k (theta_{v+e_k} - theta_v)^2``
  over all ``v`` with ``v_k < m_k - 1``.
* Torsion, per pair of dimensions ``j < k``: the twist of every 2x2 face,
  ``t_v = theta_v + theta_{v+e_j+e_k} - theta_{v+e_j} - theta_{v+e_k}``,
  penalized as ``l1_jk |t_v| + l2_jk t_v^2`` over all ``v`` with
  ``v_j < m_j - 1`` and ``v_k < m_k - 1``. A multilinear lattice with zero
  torsion is a sum of one-dimensional functions (no interactions).

Per-dimension amounts are a number (the same for every dimension) or a
sequence of ``d`` numbers. Per-pair amounts are a number or a sequence of
``d (d - 1) / 2`` numbers matched to the pairs in lexicographic order
``(0, 1), (0, 2), ..., (0, d-1), (1, 2), ...``. Everything is computed
without loops over vertices: the absolute terms and the Laplacian by slicing
the reshaped tensor, the squared torsion as a weighted sum of squares in the
lattice's difference spectrum (see `lattice_torsion`), a few matrix products
whatever the number of pairs.
"""

import functools
import math

import numpy as np
import tensorflow as tf

from tf_lattice.regularizers.amounts import (
    check_lattice_sizes, dimension_pairs, per_item_amounts)
from tf_lattice.regularizers.norms import l1_l2_penalty
from tf_lattice.regularizers.tensors import check_float_rank_1_or_2


def _as_grid(params, lattice_sizes):
    """Reshapes ``[units, V]`` or ``[V]`` parameters to ``[units, m_0..m_{d-1}]``."""
    params = check_float_rank_1_or_2("params", params, "[units, V] or [V]")
    num_vertices = math.prod(lattice_sizes)
    if (params.shape.rank is not None and params.shape[-1] is not None
            and params.shape[-1] != num_vertices):
        raise ValueError(
            f"params must have V = prod(lattice_sizes) = {num_vertices} entries "
            f"on its last axis for lattice_sizes={list(lattice_sizes)}, "
            f"got shape {params.shape}")
    return tf.reshape(params, [-1, *lattice_sizes])


def _step(grid, axis):
    """``theta_{v+e_axis} - theta_v`` for the lattice dimension ``axis``.

    ``grid`` is ``[units, m_0, ..., m_{d-1}]`` with known sizes; it is folded to
    ``[units, prod(m_<axis), m_axis, prod(m_>axis)]`` first, so any number of
    dimensions works (strided slices of rank above 8 are not supported).
    """
    sizes = grid.shape[1:].as_list()
    before, size, after = math.prod(sizes[:axis]), sizes[axis], math.prod(sizes[axis + 1:])
    folded = tf.reshape(grid, [-1, before, size, after])
    difference = folded[:, :, 1:, :] - folded[:, :, :-1, :]
    return tf.reshape(difference, [-1, *sizes[:axis], size - 1, *sizes[axis + 1:]])


def lattice_laplacian(params, lattice_sizes, *, l1=0.0, l2=0.0):
    """Laplacian penalty: squared or absolute edge differences per dimension.

    ``sum_k sum_v l1_k |theta_{v+e_k} - theta_v| + l2_k (theta_{v+e_k} - theta_v)^2``,
    summed over units.

    Args:
      params: float tensor ``[units, V]`` (or ``[V]``), row-major vertices.
      lattice_sizes: sequence of ``d`` integers >= 2 with ``prod = V``, or a
        :class:`tf_lattice.specs.LatticeSpec` (its sizes, validated once).
      l1: non-negative number, or ``d`` of them (one per dimension).
      l2: non-negative number, or ``d`` of them (one per dimension).

    Returns:
      Scalar tensor of the dtype of ``params``.

    Raises:
      ValueError: on bad ``lattice_sizes``, amounts or ``params`` shape.
    """
    sizes = check_lattice_sizes(lattice_sizes)
    l1s = per_item_amounts("l1", l1, len(sizes), "lattice dimensions")
    l2s = per_item_amounts("l2", l2, len(sizes), "lattice dimensions")
    grid = _as_grid(params, sizes)
    total = tf.zeros([], dtype=grid.dtype)
    for k in range(len(sizes)):
        if l1s[k] or l2s[k]:
            total += l1_l2_penalty(_step(grid, k), l1s[k], l2s[k])
    return total


def lattice_torsion(params, lattice_sizes, *, l1=0.0, l2=0.0):
    """Torsion penalty: the twist of every 2x2 face, per pair of dimensions.

    ``sum_{j<k} sum_v l1_jk |t_v| + l2_jk t_v^2`` with
    ``t_v = theta_v + theta_{v+e_j+e_k} - theta_{v+e_j} - theta_{v+e_k}``,
    summed over units. A one-dimensional lattice has no faces: zero penalty.

    Args:
      params: float tensor ``[units, V]`` (or ``[V]``), row-major vertices.
      lattice_sizes: sequence of ``d`` integers >= 2 with ``prod = V``, or a
        :class:`tf_lattice.specs.LatticeSpec` (its sizes, validated once).
      l1: non-negative number, or ``d (d - 1) / 2`` of them (one per pair, in
        lexicographic pair order).
      l2: non-negative number, or ``d (d - 1) / 2`` of them.

    Returns:
      Scalar tensor of the dtype of ``params``.

    Raises:
      ValueError: on bad ``lattice_sizes``, amounts or ``params`` shape.
    """
    sizes = check_lattice_sizes(lattice_sizes)
    pairs = dimension_pairs(len(sizes))
    l1s = per_item_amounts("l1", l1, len(pairs), "pairs of lattice dimensions")
    l2s = per_item_amounts("l2", l2, len(pairs), "pairs of lattice dimensions")
    grid = _as_grid(params, sizes)
    total = tf.zeros([], dtype=grid.dtype)
    for (j, k), pair_l1 in zip(pairs, l1s):
        if pair_l1:
            total += l1_l2_penalty(_step(_step(grid, j), k), pair_l1, 0.0)
    if any(l2s):
        coefficients = _spectral_coefficients(grid, sizes)
        weights = tf.constant(_torsion_spectrum(sizes, l2s), dtype=grid.dtype)
        total += tf.reduce_sum(tf.square(coefficients) * weights)
    return total


# -- the squared torsion in the difference spectrum -------------------------------------
#
# Let D_i be the difference along dimension i (``theta_{v+e_i} - theta_v``).
# Its Gram matrix D_i^T D_i is the Laplacian of a path of m_i vertices, with
# eigenvalues lambda_i(s) = 2 - 2 cos(pi s / m_i) and orthonormal eigenvectors
# U_i (the DCT-II basis). With theta_hat = (U_0 (x) ... (x) U_{d-1})^T theta,
#     ||D_j D_k theta||^2 = theta^T (... D_j^T D_j (x) ... (x) D_k^T D_k ...) theta
#                         = sum_s lambda_j(s_j) lambda_k(s_k) theta_hat_s^2,
# so the whole penalty is sum_s w_s theta_hat_s^2 with
# w_s = sum_{j<k} l2_jk lambda_j(s_j) lambda_k(s_k): one transform of theta
# instead of a pair of differences per pair of dimensions.

#: The largest product of lattice sizes transformed by one matrix: consecutive
#: dimensions are grouped up to it, so a 13-dimensional lattice of size 2 is
#: transformed by three products (with 32 x 32, 32 x 32 and 8 x 8 matrices).
#: A group of ``m`` vertices costs ``V m`` multiplications, so small groups
#: save work while each group adds an op: on 2 CPU threads, groups of at most
#: 32 took the penalty and its gradient for that lattice from 129 to 37 us
#: (256: 60 us, 16: 37 us, 8: 58 us), and for a 3^8 lattice from 127 to 33 us.
_SPECTRAL_GROUP_SIZE = 32


@functools.lru_cache(maxsize=None)
def _path_spectrum(size):
    """``(lambda [m], U [m, m])``: eigenvalues and orthonormal eigenvectors
    (columns) of ``D^T D`` for the difference ``D`` ``[m - 1, m]`` of a path
    of ``m`` vertices."""
    difference = np.diff(np.eye(size), axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(difference.T @ difference)
    return np.clip(eigenvalues, 0.0, None), eigenvectors


@functools.lru_cache(maxsize=64)
def _spectral_groups(sizes):
    """Consecutive dimensions of ``sizes`` (a tuple) grouped while their
    product stays within `_SPECTRAL_GROUP_SIZE`, as ``(group_sizes,
    kron(U_i))`` pairs; kept per ``sizes``, read-only."""
    groups = [[]]
    for size in sizes:
        if groups[-1] and math.prod(groups[-1]) * size > _SPECTRAL_GROUP_SIZE:
            groups.append([])
        groups[-1].append(size)
    result = []
    for group in groups:
        basis = functools.reduce(np.kron, [_path_spectrum(m)[1] for m in group])
        basis.setflags(write=False)
        result.append((tuple(group), basis))
    return tuple(result)


def _spectral_coefficients(grid, sizes):
    """``theta_hat`` ``[units, V]`` of ``grid`` ``[units, m_0, ..., m_{d-1}]``.

    One group (basis ``U`` ``[V, V]``): ``theta_hat = theta U``. Several: the
    coefficients are laid out vertices first, ``[m_0, ..., m_{d-1}, units]``,
    and each group in turn transforms the leading axis and moves it last,
    ``X`` ``[m, rest]`` to ``X^T U`` ``[rest, m]`` for the group's ``m``
    vertices; after the last group the axes are back in their order,
    ``[units, m_0, ..., m_{d-1}]``. So every group is one plain matrix product
    (and so is its gradient), with one transpose for all of them.
    """
    num_vertices = math.prod(sizes)
    coefficients = tf.reshape(grid, [-1, num_vertices])
    groups = _spectral_groups(sizes)
    if len(groups) == 1:
        return tf.matmul(coefficients, tf.constant(groups[0][1], grid.dtype))
    coefficients = tf.transpose(coefficients)
    for group, basis in groups:
        coefficients = tf.matmul(tf.reshape(coefficients, [math.prod(group), -1]),
                                 tf.constant(basis, grid.dtype), transpose_a=True)
    return tf.reshape(coefficients, [-1, num_vertices])


@functools.lru_cache(maxsize=64)
def _torsion_spectrum(sizes, l2s):
    """The weights ``w_s`` ``[V]`` (row-major ``s``) of the squared torsion
    with per-pair amounts ``l2s`` (lexicographic pairs)."""
    spectra = [_path_spectrum(m)[0] for m in sizes]
    weights = np.zeros(sizes)
    for (j, k), amount in zip(dimension_pairs(len(sizes)), l2s):
        if amount:
            shape_j, shape_k = [1] * len(sizes), [1] * len(sizes)
            shape_j[j], shape_k[k] = sizes[j], sizes[k]
            weights = weights + amount * spectra[j].reshape(shape_j) * spectra[k].reshape(shape_k)
    return weights.reshape(-1)
