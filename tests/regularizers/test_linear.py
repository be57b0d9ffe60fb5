"""Linear-weight regularizers against direct NumPy formulas."""

import numpy as np
import pytest
import tensorflow as tf

from tf_lattice.regularizers import linear_laplacian


@pytest.mark.parametrize("shape", [(5,), (4, 3)])
def test_matches_loop(shape):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=shape)
    w2 = weights.reshape(shape[0], -1)
    want = 0.0
    for i in range(shape[0] - 1):
        for u in range(w2.shape[1]):
            d = w2[i + 1, u] - w2[i, u]
            want += 0.2 * abs(d) + 1.5 * d * d
    np.testing.assert_allclose(linear_laplacian(weights, l1=0.2, l2=1.5), want, rtol=1e-12)


def test_gradient_numerically():
    weights = tf.constant(np.random.default_rng(1).normal(size=(4, 2)))
    theoretical, numerical = tf.test.compute_gradient(
        lambda w: linear_laplacian(w, l1=0.3, l2=1.0), [weights])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="l2"):
        linear_laplacian(np.zeros(3), l2=-1.0)
    with pytest.raises(ValueError, match="weights"):
        linear_laplacian(np.zeros((2, 2, 2)), l2=1.0)
