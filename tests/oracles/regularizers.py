"""Explicit-loop NumPy oracles for the regularizers (vertex by vertex, face by face)."""

import itertools

import numpy as np


def penalty(value, l1, l2):
    return l1 * abs(value) + l2 * value * value


def calibrator_terms(outputs, keypoints, order):
    """Yields the order-th difference terms of one unit's calibrator, by loops."""
    num = len(outputs)
    if keypoints is None:
        keypoints = np.arange(num, dtype=np.float64)
    if order == 1:
        for i in range(num - 1):
            yield outputs[i + 1] - outputs[i]
        return
    slopes = [(outputs[i + 1] - outputs[i]) / (keypoints[i + 1] - keypoints[i])
              for i in range(num - 1)]
    changes = [slopes[i + 1] - slopes[i] for i in range(len(slopes) - 1)]
    if order == 2:
        yield from changes
        return
    for i in range(len(changes) - 1):
        yield changes[i + 1] - changes[i]


def calibrator_penalty(outputs, keypoints, order, l1, l2):
    """Sum over units of the calibrator penalty of the given difference order."""
    outputs = np.atleast_2d(np.asarray(outputs, dtype=np.float64))
    total = 0.0
    for unit, row in enumerate(outputs):
        unit_keypoints = None
        if keypoints is not None:
            keypoints_2d = np.atleast_2d(np.asarray(keypoints, dtype=np.float64))
            unit_keypoints = keypoints_2d[unit if len(keypoints_2d) > 1 else 0]
        for term in calibrator_terms(row, unit_keypoints, order):
            total += penalty(term, l1, l2)
    return total


def vertex_index(vertex, sizes):
    """Row-major (last dimension fastest) index of a vertex."""
    index = 0
    for coordinate, size in zip(vertex, sizes):
        index = index * size + coordinate
    return index


def lattice_laplacian(params, sizes, l1s, l2s):
    params = np.atleast_2d(np.asarray(params, dtype=np.float64))
    total = 0.0
    for row in params:
        for vertex in itertools.product(*[range(m) for m in sizes]):
            for k in range(len(sizes)):
                if vertex[k] + 1 >= sizes[k]:
                    continue
                neighbour = list(vertex)
                neighbour[k] += 1
                diff = row[vertex_index(neighbour, sizes)] - row[vertex_index(vertex, sizes)]
                total += penalty(diff, l1s[k], l2s[k])
    return total


def lattice_torsion(params, sizes, pair_l1, pair_l2):
    """pair_l1 / pair_l2: dicts {(j, k): amount} for j < k."""
    params = np.atleast_2d(np.asarray(params, dtype=np.float64))
    total = 0.0
    for row in params:
        for vertex in itertools.product(*[range(m) for m in sizes]):
            for (j, k) in pair_l1:
                if vertex[j] + 1 >= sizes[j] or vertex[k] + 1 >= sizes[k]:
                    continue
                v = list(vertex)
                vj = list(vertex); vj[j] += 1
                vk = list(vertex); vk[k] += 1
                vjk = list(vertex); vjk[j] += 1; vjk[k] += 1
                twist = (row[vertex_index(v, sizes)] + row[vertex_index(vjk, sizes)]
                         - row[vertex_index(vj, sizes)] - row[vertex_index(vk, sizes)])
                total += penalty(twist, pair_l1[(j, k)], pair_l2[(j, k)])
    return total
