"""Argument checks shared by the synthetic data generators."""

import numbers

import numpy as np


def check_count(name, value, minimum=1):
    """Returns ``value`` as an int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_non_negative(name, value):
    """Returns ``value`` as a float after checking it is finite and >= 0."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def make_rng(random_state):
    """A NumPy Generator from None, an int seed or an existing Generator."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise ValueError(
            f"random_state must be None, an int or a numpy Generator, got {random_state!r}")
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state!r}")
    return np.random.default_rng(int(random_state))
