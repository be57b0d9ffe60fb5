"""NumPy oracle of one Adam step (TensorFlow's ResourceApplyAdam, no Nesterov)."""

import numpy as np


def adam_oracle(weights, first, second, gradient, learning_rate, beta_1_power, beta_2_power,
                beta_1, beta_2, epsilon):
    """``(weights, first, second)`` after one step, in float64.

    ``m = m + (g - m)(1 - b1)``, ``v = v + (g^2 - v)(1 - b2)``,
    ``w = w - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + epsilon)``, with
    ``b1^t`` and ``b2^t`` given.
    """
    weights, first, second, gradient = (np.asarray(a, np.float64)
                                        for a in (weights, first, second, gradient))
    first = first + (gradient - first) * (1 - beta_1)
    second = second + (gradient ** 2 - second) * (1 - beta_2)
    alpha = learning_rate * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    return weights - alpha * first / (np.sqrt(second) + epsilon), first, second
