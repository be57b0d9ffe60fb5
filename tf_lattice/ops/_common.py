"""Argument checks shared by the op wrappers."""

import tensorflow as tf

IMPLEMENTATIONS = ("kernel", "portable")
FLOAT_DTYPES = (tf.float32, tf.float64)


def check_implementation(implementation):
    """Raises ValueError unless ``implementation`` is "kernel" or "portable"."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}"
        )


def check_float_dtype(name, tensor):
    """Raises ValueError unless ``tensor`` is float32 or float64."""
    if tensor.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{name} must be float32 or float64, got {tensor.dtype.name}"
        )


def check_same_dtype(**tensors):
    """Raises ValueError unless every tensor given has the same dtype."""
    dtypes = {name: t.dtype for name, t in tensors.items()}
    if len(set(dtypes.values())) > 1:
        described = ", ".join(f"{n}: {d.name}" for n, d in dtypes.items())
        raise ValueError(f"dtypes must match ({described})")
