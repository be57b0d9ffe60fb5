"""NumPy oracle for piecewise-linear calibration, written from the formula."""

import numpy as np


def pwl_calibration(inputs, keypoints, outputs):
    """y[b, u] = o_i + (o_{i+1} - o_i) (x - k_i) / (k_{i+1} - k_i), flat outside.

    Args:
      inputs: ``[batch, units]`` array.
      keypoints: ``[K]`` or ``[units, K]`` array, strictly increasing.
      outputs: ``[units, K]`` array.

    Returns:
      ``[batch, units]`` array.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    outputs = np.asarray(outputs, dtype=np.float64)
    keypoints = np.broadcast_to(np.asarray(keypoints, dtype=np.float64), outputs.shape)
    result = np.empty_like(inputs)
    for u in range(outputs.shape[0]):
        # np.interp is flat outside the keypoints, as the calibration is.
        result[:, u] = np.interp(inputs[:, u], keypoints[u], outputs[u])
    return result


def input_derivative(x, keypoints, outputs):
    """dy/dx of one scalar under the one-sided knot convention.

    The slope of segment i with k_i <= x < k_{i+1}; the last segment at
    x == k_{K-1}; zero outside [k_0, k_{K-1}].
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    outputs = np.asarray(outputs, dtype=np.float64)
    if x < keypoints[0] or x > keypoints[-1]:
        return 0.0
    i = min(int(np.searchsorted(keypoints, x, side="right")) - 1, len(keypoints) - 2)
    return (outputs[i + 1] - outputs[i]) / (keypoints[i + 1] - keypoints[i])
