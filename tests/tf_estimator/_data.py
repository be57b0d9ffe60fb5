"""Synthetic data with known shapes for the Estimator tests.

The score is increasing in ``up``, decreasing in ``down``, a valley in
``bowl`` and ordered over ``color`` (red < green < blue); some ``color``
values are missing (the empty string). Binary labels threshold the noisy
score at its median, multiclass labels at its terciles, and regression
labels are the noisy score itself.
"""

import numpy as np
import tensorflow as tf

FEATURES = ["up", "down", "bowl", "color"]
COLORS = np.array(["red", "green", "blue"])
COLOR_EFFECT = {"red": -0.4, "green": 0.0, "blue": 0.4, "": 0.0}


def make_data(n, seed=0):
    """``(features, score)``: a dict of NumPy columns and the noisy score."""
    rng = np.random.default_rng(seed)
    up = rng.uniform(0.0, 1.0, n)
    down = rng.uniform(0.0, 1.0, n)
    bowl = rng.uniform(-1.0, 1.0, n)
    color = rng.choice(COLORS, n).astype(object)
    color[rng.uniform(size=n) < 0.05] = ""
    score = (2.0 * up - 1.5 * down + 1.5 * bowl ** 2
             + np.array([COLOR_EFFECT[c] for c in color]) + rng.normal(0.0, 0.25, n))
    features = {"up": up.astype(np.float32), "down": down.astype(np.float32),
                "bowl": bowl.astype(np.float32), "color": color.astype(str)}
    return features, score


def labels_for(head, score, reference=None):
    """Labels of a head: binary and multiclass cut at the reference score's
    median and terciles (default: ``score``'s own)."""
    reference = score if reference is None else reference
    if head == "binary":
        return (score > np.median(reference)).astype(np.int64)
    if head == "multiclass":
        return np.searchsorted(np.quantile(reference, [1 / 3, 2 / 3]), score).astype(np.int64)
    return score.astype(np.float32)


def input_fn(features, labels=None, epochs=1, batch_size=50, shuffle=False, seed=0):
    """An Estimator input_fn over in-memory columns."""
    def fn():
        data = dict(features) if labels is None else (dict(features), labels)
        dataset = tf.data.Dataset.from_tensor_slices(data)
        if shuffle:
            dataset = dataset.shuffle(len(next(iter(features.values()))), seed=seed)
        return dataset.repeat(epochs).batch(batch_size)
    return fn


def grid(base, feature, values):
    """Copies of row ``base`` (dict of scalars) with ``feature`` set to each value."""
    rows = {name: np.repeat(np.asarray([value]), len(values)) for name, value in base.items()}
    values = np.asarray(values)
    # Strings keep their own width ("red" must not truncate "green").
    rows[feature] = values if values.dtype.kind == "U" else values.astype(rows[feature].dtype)
    return rows


def serialized_examples(features):
    """``tf.Example`` protos of the rows, serialized (what a client sends)."""
    count = len(next(iter(features.values())))
    protos = []
    for row in range(count):
        entries = {}
        for name, values in features.items():
            value = values[row]
            if isinstance(value, (str, bytes, np.str_)):
                if value != "":
                    entries[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[value.encode("utf-8") if isinstance(value, str) else value]))
            elif isinstance(value, (int, np.integer)):
                entries[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
            else:
                entries[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        protos.append(tf.train.Example(features=tf.train.Features(feature=entries)).SerializeToString())
    return protos
