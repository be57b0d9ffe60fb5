"""Synthetic data with known monotone directions for model tests."""

import numpy as np

from tf_lattice import models


def monotone_data(n=512, seed=0):
    """y increases in a, decreases in b, depends freely on c, and on category d
    with category 0 <= category 2."""
    rng = np.random.default_rng(seed)
    a, b, c = (rng.uniform(0, 1, n) for _ in range(3))
    d = rng.integers(0, 3, n)
    y = 2 * a ** 2 - b + np.sin(6 * c) * a + np.array([0.0, 0.3, 0.5])[d] + 0.05 * rng.normal(size=n)
    x = {"a": a, "b": b, "c": c, "d": d}
    return models.feature_arrays(x), y.astype("float32")[:, None]


def features(lattice_size=2):
    x, _ = monotone_data()
    return (
        models.FeatureConfig("a", keypoints=models.keypoints_from_quantiles(x["a"], 6),
                             monotonicity="increasing", lattice_size=lattice_size),
        models.FeatureConfig("b", keypoints=models.keypoints_from_quantiles(x["b"], 6),
                             monotonicity="decreasing", lattice_size=lattice_size),
        models.FeatureConfig("c", keypoints=models.keypoints_from_quantiles(x["c"], 6),
                             lattice_size=lattice_size),
        models.FeatureConfig("d", num_buckets=3, category_order=((0, 2),), lattice_size=lattice_size),
    )


def certificates_hold(model):
    for layer in model.layers:
        if hasattr(layer, "certify"):
            certificate = layer.certify()
            assert certificate.holds, str(certificate)


def assert_monotone_on_grid(model, seed=0, points=9, tolerance=1e-5):
    """Probes a in [0, 1] (increasing) and b (decreasing) and categories 0 -> 2."""
    rng = np.random.default_rng(seed)
    for _ in range(5):
        base = {"a": rng.uniform(0, 1), "b": rng.uniform(0, 1), "c": rng.uniform(0, 1),
                "d": float(rng.integers(0, 3))}
        for feature, sign in (("a", 1), ("b", -1)):
            probe = {k: np.full((points, 1), v, np.float32) for k, v in base.items()}
            probe[feature] = np.linspace(-0.1, 1.1, points, dtype=np.float32)[:, None]
            steps = np.diff(model.predict(probe, verbose=0), axis=0) * sign
            assert steps.min() >= -tolerance, (feature, steps.min())
        probe = {k: np.full((2, 1), v, np.float32) for k, v in base.items()}
        probe["d"] = np.array([[0.0], [2.0]], np.float32)
        outputs = model.predict(probe, verbose=0)
        assert np.all(outputs[1] - outputs[0] >= -tolerance)
