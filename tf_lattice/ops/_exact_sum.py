"""Exact sign of a short sum of floating-point terms (NumPy and TensorFlow).

A constraint ``sum_i c_i theta_i >= 0`` with ``c_i`` in ``{+-1, +-2}`` is
checked without rounding error: the float64 products ``c_i theta_i`` are exact,
and their sum is accumulated as a floating-point expansion (Shewchuk, "Adaptive
Precision Floating-Point Arithmetic", 1997: Grow-Expansion with Knuth's
TwoSum), whose components do not overlap and grow in magnitude, so the sign of
the exact sum is the sign of the last nonzero component. float32 inputs are
promoted to float64 first (exact).
"""

import numpy as np
import tensorflow as tf


def _two_sum(a, b):
    """Knuth's TwoSum: ``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly.

    Uses only ``+`` and ``-``, so it works on NumPy arrays and TF tensors alike.
    """
    s = a + b
    bv = s - a
    av = s - bv
    return s, (a - av) + (b - bv)


def _expansion(terms):
    """Grow-Expansion of the last axis of ``terms`` (NumPy array or TF tensor).

    Args:
      terms: float64 ``[..., n]`` with a static ``n >= 1``.

    Returns:
      List of ``n`` components ``[...]``, non-overlapping and increasing in
      magnitude, whose exact sum is the exact sum of ``terms`` over the last axis.
    """
    expansion = [terms[..., 0]]
    for t in range(1, terms.shape[-1]):
        q = terms[..., t]
        grown = []
        for e in expansion:
            q, h = _two_sum(q, e)
            grown.append(h)
        expansion = grown + [q]
    return expansion


def exact_sum_np(terms):
    """Exact sign and accurate value of ``sum(terms, axis=-1)``.

    Args:
      terms: float64 array ``[..., n]`` of exactly representable terms.

    Returns:
      ``(sign, value)``: int8 ``[...]`` sign of the exact sum, and float64
      ``[...]`` the sum of the expansion components (accurate to an ulp).
    """
    terms = np.asarray(terms, np.float64)
    expansion = _expansion(terms)
    sign = np.zeros(terms.shape[:-1], np.int8)
    for e in expansion:  # the last nonzero component decides
        sign = np.where(e != 0, np.sign(e).astype(np.int8), sign)
    value = np.zeros(terms.shape[:-1], np.float64)
    for e in expansion:
        value = value + e
    return sign, value


def exact_sign_tf(terms):
    """Exact sign of ``sum(terms, axis=-1)`` for a float64 tensor ``[..., n]``.

    Returns:
      float64 tensor ``[...]`` in ``{-1, 0, 1}``.
    """
    expansion = _expansion(terms)
    sign = tf.zeros_like(expansion[0])
    for e in expansion:
        sign = tf.where(tf.not_equal(e, 0), tf.sign(e), sign)
    return sign
