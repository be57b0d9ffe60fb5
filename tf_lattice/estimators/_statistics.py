"""Statistics of training data gathered in one streaming pass.

Everything a fit learns from the data before training (keypoints,
vocabularies, the target's scale or classes, row counts) is summarized by
mergeable sketches, so shards read by different workers (or at different
times) combine into the statistics of the whole data set:

- numeric columns: a KLL quantile sketch (Apache DataSketches,
  ``kll_doubles_sketch``, ``k = 1000``: about 0.3% rank error at 99%
  confidence) of the finite values and a count of missing values;
- categorical columns: a frequent-items sketch of the categories and a count
  of missing values; the vocabulary keeps the ``max_categories`` most
  frequent ones, the rest share the default bucket;
- the target: weighted mean and variance (regression, merged by Chan's
  formula) or weighted class counts (classification);
- rows per piece and the sum of the weights;
- a uniform sample of rows (bottom-k of seeded random keys) for the model
  structures that look at data (crystals ensembles).

KLL sketches are randomized: merging the same shards twice can give
slightly different keypoints. A fit therefore merges once (on the chief) and
shares the result; the result is saved with the model and in checkpoints.
"""

import dataclasses
import json
import pickle

import numpy as np
import pandas as pd

from tf_lattice.estimators._columns import CATEGORICAL, NUMERIC, FeatureSpec
from tf_lattice.models.keypoints import default_num_keypoints, keypoints_from_quantiles

#: Accuracy of the quantile sketches (DataSketches' KLL ``k``).
KLL_K = 1000
#: Points of the sketch's inverse CDF that the keypoint rule runs on.
SKETCH_POINTS = 20000
#: Most categories a categorical column keeps in its vocabulary.
DEFAULT_MAX_CATEGORIES = 1000
#: Rows kept in the uniform sample.
SAMPLE_ROWS = 10000


def _datasketches():
    try:
        import datasketches
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError("streaming statistics need the Apache DataSketches package; install "
                          "it with `pip install datasketches`") from None
    return datasketches


def sketch_keypoints(sketch, num_keypoints=None):
    r"""Keypoints of the values summarized by a KLL sketch.

    The rule of :func:`~tf_lattice.models.keypoints_from_quantiles`
    (quantiles, point masses refilled, few distinct values kept as they are)
    applied to the distribution the sketch holds: while the sketch is exact
    (fewer values than it retains) to the values themselves, else to
    ``SKETCH_POINTS`` points of its inverse CDF at ranks ``(i + 1/2) / M``
    between the exact minimum and maximum. A value that holds a share ``p``
    of the rows appears about ``p M`` times among those points, so point
    masses are found as in the exact rule; each keypoint's rank is within the
    sketch's rank error (and ``1 / M``) of the exact keypoint's.

    Args:
      sketch: a ``datasketches.kll_doubles_sketch`` of the finite values.
      num_keypoints: int >= 2, or None for ``default_num_keypoints(n)`` of
        the number ``n`` of values the sketch has seen.

    Returns:
      strictly increasing float64 array, as ``keypoints_from_quantiles``.
    """
    if sketch.is_empty():
        return keypoints_from_quantiles(np.empty(0), num_keypoints)
    count = default_num_keypoints(sketch.n) if num_keypoints is None else int(num_keypoints)
    if not sketch.is_estimation_mode():
        values = np.fromiter((item for item, _ in sketch), dtype=np.float64)
        return keypoints_from_quantiles(values, count)
    ranks = (np.arange(SKETCH_POINTS) + 0.5) / SKETCH_POINTS
    points = np.asarray(sketch.get_quantiles(ranks.tolist()), dtype=np.float64)
    points = np.concatenate([[sketch.get_min_value()], points, [sketch.get_max_value()]])
    return keypoints_from_quantiles(points, count)


def _category_key(value):
    """A category as a JSON string (the sketch's item) that restores its type."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        return json.dumps(value)
    except TypeError:
        return json.dumps(str(value))


def _sorted_vocabulary(values):
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(sorted(values, key=lambda v: (type(v).__name__, str(v))))


@dataclasses.dataclass
class DataStatistics:
    """The merged statistics of a data set: what a fit learns before training.

    Attributes:
      specs: one :class:`FeatureSpec` per feature column.
      rows: total rows.
      piece_rows: rows of each piece of the source, in piece order.
      weight_sum: sum of the sample weights (``rows`` without weights).
      target: ``{"mean": m, "scale": s}`` (regression) or ``{"classes":
        [...], "weights": [...]}`` (classification: sorted labels and their
        summed weights).
      sample: ``(encoded, y)``: a uniform sample of rows, encoded with
        ``specs`` (float32 `(m, d)`) and their raw targets.
    """

    specs: list
    rows: int
    piece_rows: tuple
    weight_sum: float
    target: dict
    sample: tuple = None

    def classes(self):
        """Classification only: the sorted labels, as the estimator's ``classes_``."""
        labels = self.target["classes"]
        dtype = object if any(isinstance(v, str) for v in labels) else None
        return np.asarray(labels, dtype=dtype)

    def to_json(self):
        """JSON form (without the sample) for checkpoints."""
        target = dict(self.target)
        if "classes" in target:
            target["classes"] = [_category_key(v) for v in target["classes"]]
        return {"specs": [spec.to_json() for spec in self.specs], "rows": int(self.rows),
                "piece_rows": [int(r) for r in self.piece_rows],
                "weight_sum": float(self.weight_sum), "target": target}

    @classmethod
    def from_json(cls, data, sample=None):
        target = dict(data["target"])
        if "classes" in target:
            target["classes"] = [json.loads(v) for v in target["classes"]]
        return cls([FeatureSpec.from_json(s) for s in data["specs"]], int(data["rows"]),
                   tuple(data["piece_rows"]), float(data["weight_sum"]), target, sample)


class StreamStatistics:
    """Mergeable summaries of a stream of chunks (see the module docstring).

    Args:
      kinds: ordered dict column -> ``"numeric"`` or ``"categorical"``.
      classification: whether the target holds class labels.
      num_pieces: pieces in the source (rows are counted per piece).
      seed: seeds the sample's random keys.
      sample_rows: rows in the uniform sample.
      max_categories: the vocabulary cap (sizes the category sketches).
    """

    def __init__(self, kinds, classification, num_pieces, seed=0, sample_rows=SAMPLE_ROWS,
                 max_categories=DEFAULT_MAX_CATEGORIES):
        sketches = _datasketches()
        self.kinds = dict(kinds)
        self.classification = bool(classification)
        self.seed = int(seed)
        self.sample_rows = int(sample_rows)
        self.numeric = {name: sketches.kll_doubles_sketch(KLL_K)
                        for name, kind in self.kinds.items() if kind == NUMERIC}
        self.categories = {name: sketches.frequent_strings_sketch(self._lg_size(max_categories))
                           for name, kind in self.kinds.items() if kind == CATEGORICAL}
        self.missing = dict.fromkeys(self.kinds, 0)
        self.piece_rows = np.zeros(int(num_pieces), dtype=np.int64)
        self.weight_sum = 0.0
        self.moments = (0.0, 0.0, 0.0)  # weight, mean, sum of squared deviations
        self.class_weights = {}
        self.sample = None  # (keys, frame, y)

    @staticmethod
    def _lg_size(max_categories):
        # Exact counts up to 3/4 of 2^lg distinct categories: room for 4x the cap.
        return max(8, int(np.ceil(np.log2(4 * max_categories / 0.75))))

    # -- updating ---------------------------------------------------------------

    def update(self, features, y, weight, piece, first_row):
        """Adds one chunk.

        Args:
          features: DataFrame of the feature columns (numeric as float64).
          y: `(n,)` targets.
          weight: `(n,)` float64 weights or None.
          piece: the chunk's piece index.
          first_row: the chunk's first row within its piece (seeds the sample).
        """
        n = len(features)
        if n == 0:
            return
        self.piece_rows[piece] += n
        for name, sketch in self.numeric.items():
            values = features[name].to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            self.missing[name] += int(missing.sum())
            finite = values[~missing] if missing.any() else values
            # The sketch takes writable arrays only (Arrow's buffers are read-only).
            sketch.update(finite if finite.flags.writeable else finite.copy())
        for name, sketch in self.categories.items():
            column = features[name]
            self.missing[name] += int(column.isna().sum())
            for value, count in column.value_counts(dropna=True).items():
                sketch.update(_category_key(value), int(count))
        w = np.ones(n) if weight is None else np.asarray(weight, np.float64)
        total = float(w.sum())
        self.weight_sum += total
        if self.classification:
            sums = pd.Series(w).groupby(pd.Series(np.asarray(y, dtype=object)), sort=False).sum()
            for label, value in sums.items():
                key = label.item() if isinstance(label, np.generic) else label
                self.class_weights[key] = self.class_weights.get(key, 0.0) + float(value)
        elif total > 0:
            y = np.asarray(y, np.float64)
            mean = float(np.dot(w, y) / total)
            self._merge_moments((total, mean, float(np.dot(w, (y - mean) ** 2))))
        self._update_sample(features, y, piece, first_row)

    def _merge_moments(self, other):
        w_a, mean_a, m2_a = self.moments
        w_b, mean_b, m2_b = other
        total = w_a + w_b
        if total <= 0:
            return
        delta = mean_b - mean_a
        self.moments = (total, mean_a + delta * w_b / total,
                        m2_a + m2_b + delta * delta * w_a * w_b / total)

    def _update_sample(self, features, y, piece, first_row):
        keys = np.random.default_rng([self.seed, int(piece), int(first_row)]).random(len(features))
        if self.sample is not None and len(self.sample[0]) >= self.sample_rows:
            keep = keys < self.sample[0].max()
            if not keep.any():
                return
            keys, features, y = keys[keep], features[keep], np.asarray(y)[keep]
        self._add_sample((keys, features.reset_index(drop=True), np.asarray(y)))

    def _add_sample(self, part):
        if self.sample is None:
            keys, frame, y = part
        else:
            keys = np.concatenate([self.sample[0], part[0]])
            frame = pd.concat([self.sample[1], part[1]], ignore_index=True)
            y = np.concatenate([self.sample[2], part[2]])
        if len(keys) > self.sample_rows:
            order = np.argsort(keys, kind="stable")[:self.sample_rows]
            keys, frame, y = keys[order], frame.iloc[order].reset_index(drop=True), y[order]
        self.sample = (keys, frame, y)

    # -- merging and serialization ---------------------------------------------------

    def merge(self, other):
        """Adds the summaries of ``other`` (the statistics of another shard)."""
        for name, sketch in self.numeric.items():
            sketch.merge(other.numeric[name])
        for name, sketch in self.categories.items():
            sketch.merge(other.categories[name])
        for name in self.missing:
            self.missing[name] += other.missing[name]
        self.piece_rows += other.piece_rows
        self.weight_sum += other.weight_sum
        self._merge_moments(other.moments)
        for label, value in other.class_weights.items():
            self.class_weights[label] = self.class_weights.get(label, 0.0) + value
        if other.sample is not None:
            self._add_sample(other.sample)
        return self

    def to_bytes(self):
        state = dict(self.__dict__)
        state["numeric"] = {name: s.serialize() for name, s in self.numeric.items()}
        state["categories"] = {name: s.serialize() for name, s in self.categories.items()}
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data):
        sketches = _datasketches()
        state = pickle.loads(data)
        state["numeric"] = {name: sketches.kll_doubles_sketch.deserialize(b)
                            for name, b in state["numeric"].items()}
        state["categories"] = {name: sketches.frequent_strings_sketch.deserialize(b)
                               for name, b in state["categories"].items()}
        statistics = cls.__new__(cls)
        statistics.__dict__.update(state)
        return statistics

    # -- results -------------------------------------------------------------------------

    def feature_specs(self, num_keypoints=None, max_categories=DEFAULT_MAX_CATEGORIES):
        """One :class:`FeatureSpec` per column, as ``fit_feature_specs`` makes
        them from a whole frame (keypoints from the sketches, vocabularies of
        at most ``max_categories`` most frequent categories, sorted)."""
        specs = []
        for name, kind in self.kinds.items():
            has_missing = self.missing[name] > 0
            if kind == NUMERIC:
                count = num_keypoints.get(name) if isinstance(num_keypoints, dict) else num_keypoints
                keypoints = sketch_keypoints(self.numeric[name], count)
                specs.append(FeatureSpec(name, NUMERIC, tuple(float(k) for k in keypoints),
                                         has_missing=has_missing))
            else:
                sketch = self.categories[name]
                error = _datasketches().frequent_items_error_type.NO_FALSE_NEGATIVES
                items = sorted(sketch.get_frequent_items(error), key=lambda item: (-item[1], item[0]))
                kept = items[:int(max_categories)]
                vocabulary = _sorted_vocabulary(json.loads(item[0]) for item in kept)
                # Rows of categories the sketch dropped or the cap left out train the
                # default bucket (kept counts are exact unless the sketch purged).
                has_other = sum(item[1] for item in kept) < sketch.total_weight
                specs.append(FeatureSpec(name, CATEGORICAL, vocabulary=vocabulary,
                                         has_missing=has_missing, has_other=bool(has_other)))
        return specs

    def target_statistics(self):
        """``{"mean", "scale"}`` or ``{"classes", "weights"}`` of the target."""
        if self.classification:
            labels = _sorted_vocabulary(self.class_weights)
            return {"classes": list(labels), "weights": [self.class_weights[v] for v in labels]}
        total, mean, m2 = self.moments
        scale = float(np.sqrt(m2 / total)) if total > 0 else 0.0
        return {"mean": float(mean), "scale": scale if scale > 0 else 1.0}

    def finish(self, num_keypoints=None, max_categories=DEFAULT_MAX_CATEGORIES, specs=None,
               target=None):
        """The :class:`DataStatistics` of everything merged so far.

        Args:
          num_keypoints: as the estimators' parameter.
          max_categories: vocabulary cap of categorical columns.
          specs, target: an encoding to keep instead of the one learned here
            (a refit with the keypoints and target scaling of an earlier fit).
        """
        from tf_lattice.estimators._columns import encode

        specs = self.feature_specs(num_keypoints, max_categories) if specs is None else specs
        target = self.target_statistics() if target is None else target
        sample = None
        if self.sample is not None:
            sample = (encode(self.sample[1], specs), self.sample[2])
        return DataStatistics(specs, int(self.piece_rows.sum()), tuple(self.piece_rows.tolist()),
                              float(self.weight_sum), target, sample)
