"""NumPy oracle for lattice interpolation, written with plain loops.

Row-major vertices (last dimension fastest); inputs clipped to
``[0, m_k - 1]``; cell ``b_k = min(floor(x_k), m_k - 2)``, ``r_k = x_k - b_k``.
Gradients are one-sided: the derivative inside the cell the forward pass
used, zero outside the clipped range.
"""

import functools
import itertools
import math

import numpy as np


def _flat_index(vertex, lattice_sizes):
    index = 0
    for v_k, m_k in zip(vertex, lattice_sizes):
        index = index * m_k + v_k
    return index


def _cell(point, lattice_sizes):
    lower, residual, passes = [], [], []
    for x_k, m_k in zip(point, lattice_sizes):
        x_k = float(x_k)
        passes.append(not (x_k < 0 or x_k > m_k - 1))
        clipped = min(max(x_k, 0.0), m_k - 1.0) if not np.isnan(x_k) else x_k
        b_k = 0 if np.isnan(clipped) else min(int(np.floor(clipped)), m_k - 2)
        lower.append(b_k)
        residual.append(clipped - b_k)
    return lower, residual, passes


def _hypercube_terms(lower, residual):
    """Yields (vertex, weight, d weight / d r) for each of the 2^d corners."""
    d = len(lower)
    for corner in itertools.product((0, 1), repeat=d):
        factors = [r if e else 1.0 - r for e, r in zip(corner, residual)]
        weight = math.prod(factors)
        d_weight = []
        for k in range(d):
            others = math.prod(f for i, f in enumerate(factors) if i != k)
            d_weight.append(others if corner[k] else -others)
        yield [b + e for b, e in zip(lower, corner)], weight, d_weight


def simplex_order(residual):
    """Dimensions by descending residual; ties keep the lower dimension first."""
    return sorted(range(len(residual)), key=lambda k: -residual[k])


def _simplex_terms(lower, residual):
    """Yields (vertex, weight, d weight / d r) for the d + 1 simplex vertices."""
    d = len(lower)
    order = simplex_order(residual)
    vertex = list(lower)
    for j in range(d + 1):
        upper_r = 1.0 if j == 0 else residual[order[j - 1]]
        lower_r = 0.0 if j == d else residual[order[j]]
        d_weight = [0.0] * d
        if j > 0:
            d_weight[order[j - 1]] += 1.0
        if j < d:
            d_weight[order[j]] -= 1.0
        yield list(vertex), upper_r - lower_r, d_weight
        if j < d:
            vertex[order[j]] += 1


def _terms(point, lattice_sizes, interpolation):
    lower, residual, passes = _cell(point, lattice_sizes)
    terms = _hypercube_terms if interpolation == "hypercube" else _simplex_terms
    return terms(lower, residual), passes


def _point(inputs, b, u):
    return inputs[b] if inputs.ndim == 2 else inputs[b, u]


def lattice_interpolation(inputs, params, lattice_sizes, interpolation):
    """Returns ``[batch, units]`` outputs (float64)."""
    inputs, params = np.asarray(inputs, np.float64), np.asarray(params, np.float64)
    batch, units = inputs.shape[0], params.shape[0]
    outputs = np.zeros([batch, units])
    for b in range(batch):
        for u in range(units):
            terms, _ = _terms(_point(inputs, b, u), lattice_sizes, interpolation)
            for vertex, weight, _ in terms:
                outputs[b, u] += weight * params[u, _flat_index(vertex, lattice_sizes)]
    return outputs


def lattice_interpolation_gradients(inputs, params, lattice_sizes, interpolation,
                                    grad_outputs):
    """Returns the one-sided gradients (inputs, params) of sum(grad_outputs * f)."""
    inputs, params = np.asarray(inputs, np.float64), np.asarray(params, np.float64)
    grad_outputs = np.asarray(grad_outputs, np.float64)
    grad_inputs, grad_params = np.zeros_like(inputs), np.zeros_like(params)
    batch, units = inputs.shape[0], params.shape[0]
    for b in range(batch):
        for u in range(units):
            terms, passes = _terms(_point(inputs, b, u), lattice_sizes, interpolation)
            g = grad_outputs[b, u]
            row = grad_inputs[b] if inputs.ndim == 2 else grad_inputs[b, u]
            for vertex, weight, d_weight in terms:
                index = _flat_index(vertex, lattice_sizes)
                grad_params[u, index] += g * weight
                for k, dw in enumerate(d_weight):
                    if passes[k]:
                        row[k] += g * dw * params[u, index]
    return grad_inputs, grad_params


def unit_cell_interpolation(inputs, params, grad_outputs):
    """Outputs and gradients (as the two functions above) for lattices whose
    sizes are all 2, vectorized over the corners: a point's corner weights in
    row-major order are the Kronecker product of ``[1 - r_k, r_k]`` over the
    dimensions, and df/dr_k replaces factor k by ``[-1, 1]``.

    Returns ``(outputs [batch, units], grad_inputs, grad_params)``, float64.
    """
    inputs, params = np.asarray(inputs, np.float64), np.asarray(params, np.float64)
    grad_outputs = np.asarray(grad_outputs, np.float64)
    batch, units = inputs.shape[0], params.shape[0]
    outputs = np.zeros([batch, units])
    grad_inputs, grad_params = np.zeros_like(inputs), np.zeros_like(params)
    for b in range(batch):
        for u in range(units):
            point = _point(inputs, b, u)
            _, residual, passes = _cell(point, [2] * len(point))
            factors = [np.array([1.0 - r, r]) for r in residual]
            weights = functools.reduce(np.kron, factors)
            g = grad_outputs[b, u]
            outputs[b, u] = weights @ params[u]
            grad_params[u] += g * weights
            row = grad_inputs[b] if inputs.ndim == 2 else grad_inputs[b, u]
            for k in range(len(point)):
                if passes[k]:
                    slope = factors[:k] + [np.array([-1.0, 1.0])] + factors[k + 1:]
                    row[k] += g * (functools.reduce(np.kron, slope) @ params[u])
    return outputs, grad_inputs, grad_params
