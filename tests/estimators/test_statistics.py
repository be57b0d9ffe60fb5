"""Streaming statistics: sketch keypoints against today's exact keypoints."""

import numpy as np
import pandas as pd
import pytest

from tf_lattice.estimators._columns import CATEGORICAL, NUMERIC, fit_feature_specs
from tf_lattice.models import keypoints_from_quantiles
from tf_lattice.estimators._statistics import StreamStatistics, sketch_keypoints

datasketches = pytest.importorskip("datasketches")


def _rank_interval(values, point):
    """Shares of ``values`` below and at most ``point``."""
    return (np.searchsorted(values, point, side="left") / len(values),
            np.searchsorted(values, point, side="right") / len(values))


def _sharded_statistics(frame, y, shards, **options):
    kinds = {name: NUMERIC if frame[name].dtype.kind == "f" else CATEGORICAL
             for name in frame.columns}
    parts = []
    for k, rows in enumerate(np.array_split(np.arange(len(frame)), shards)):
        part = StreamStatistics(kinds, False, shards, seed=0, **options)
        part.update(frame.iloc[rows].reset_index(drop=True), y[rows], None, k, 0)
        parts.append(StreamStatistics.from_bytes(part.to_bytes()))  # as sent between workers
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    return merged


def _skewed(n, rng):
    """Continuous values, a point mass at 0 on 40% of the rows and a heavy tail."""
    values = rng.lognormal(0.0, 1.5, n)
    values[rng.random(n) < 0.4] = 0.0
    return values


@pytest.mark.parametrize("num_keypoints", [10, 40])
def test_sketch_keypoints_from_shards_are_within_half_a_percent_of_exact_ranks(num_keypoints):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"skewed": _skewed(200_000, rng), "normal": rng.normal(size=200_000)})
    merged = _sharded_statistics(frame, np.zeros(len(frame)), shards=5)
    specs = merged.feature_specs(num_keypoints)
    exact_specs = fit_feature_specs(frame, num_keypoints)
    for spec, exact in zip(specs, exact_specs):
        values = np.sort(frame[spec.name].to_numpy())
        assert len(spec.keypoints) == len(exact.keypoints), spec.name
        # The ends are the exact minimum and maximum (as the model's float32 reads them).
        assert (spec.keypoints[0], spec.keypoints[-1]) == (exact.keypoints[0], exact.keypoints[-1])
        for ours, theirs in zip(spec.keypoints, exact.keypoints):
            low, high = _rank_interval(values, ours)
            exact_low, exact_high = _rank_interval(values, theirs)
            gap = max(0.0, low - exact_high, exact_low - high)
            assert gap <= 0.005, (spec.name, ours, theirs, gap)
    assert 0.0 in specs[0].keypoints  # the point mass is a keypoint, as in the exact rule


def test_an_exact_sketch_gives_exactly_todays_keypoints():
    values = np.random.default_rng(1).normal(size=500)
    sketch = datasketches.kll_doubles_sketch(1000)
    sketch.update(values)
    assert not sketch.is_estimation_mode()
    np.testing.assert_array_equal(sketch_keypoints(sketch, 12), keypoints_from_quantiles(values, 12))
    np.testing.assert_array_equal(sketch_keypoints(sketch), keypoints_from_quantiles(values))


def test_categories_are_capped_to_the_most_frequent_and_sorted():
    counts = {"d": 50, "b": 40, "a": 30, "c": 5, "e": 1}
    column = np.array([k for k, n in counts.items() for _ in range(n)] + [None] * 3, dtype=object)
    frame = pd.DataFrame({"color": column})
    merged = _sharded_statistics(frame, np.zeros(len(frame)), shards=3, max_categories=3)
    (spec,) = merged.feature_specs(max_categories=3)
    assert spec.kind == CATEGORICAL
    assert spec.vocabulary == ("a", "b", "d") and spec.has_missing


def test_target_moments_and_classes_merge_like_the_whole_column():
    rng = np.random.default_rng(2)
    y, weight = rng.normal(3.0, 2.0, 1000), rng.uniform(0.5, 2.0, 1000)
    kinds = {"x": NUMERIC}
    frame = pd.DataFrame({"x": rng.normal(size=1000)})
    regression, classification = None, None
    for k, rows in enumerate(np.array_split(np.arange(1000), 4)):
        part = StreamStatistics(kinds, False, 4)
        part.update(frame.iloc[rows], y[rows], weight[rows], k, 0)
        regression = part if regression is None else regression.merge(part)
        labels = np.where(y[rows] > 3.0, "high", "low").astype(object)
        part = StreamStatistics(kinds, True, 4)
        part.update(frame.iloc[rows], labels, weight[rows], k, 0)
        classification = part if classification is None else classification.merge(part)
    mean = np.average(y, weights=weight)
    target = regression.target_statistics()
    assert target["mean"] == pytest.approx(mean, rel=1e-12)
    assert target["scale"] == pytest.approx(np.sqrt(np.average((y - mean) ** 2, weights=weight)),
                                            rel=1e-12)
    classes = classification.target_statistics()
    assert classes["classes"] == ["high", "low"]
    assert classes["weights"][0] == pytest.approx(weight[y > 3.0].sum())
    assert list(regression.piece_rows) == [250] * 4
    statistics = regression.finish()
    assert statistics.rows == 1000 and statistics.sample[0].shape == (1000, 1)
