"""What the analysis pass decides, saved with the model.

A :class:`ModelPlan` holds the feature encodings (keypoints, vocabularies),
the label statistics that set the initial output, the lattices of an ensemble
and the parameters that shaped them. It is written as JSON next to the
checkpoints (``tf_lattice_model.json`` in the model directory), so an
Estimator constructed again on the same ``model_dir`` rebuilds the same
graph without reading data, and the keypoints are constants of every graph
(and every exported SavedModel) built from it.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from tf_lattice.estimators._columns import FeatureSpec
from tf_lattice.estimators._tasks import prior_scores

PLAN_FILE = "tf_lattice_model.json"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ModelPlan:
    """The data-dependent structure of a model.

    Attributes:
      estimator: the Estimator's class name.
      params: the parameters that shaped the model (JSON values).
      specs: one FeatureSpec per feature, in feature order.
      units: the model's outputs (the head's logits dimension).
      initial_output: the initial scores (class log-frequencies; zeros for
        regression).
      label_mean, label_scale: regression: the network predicts
        ``(label - mean) / scale``; classification: 0 and 1.
      lattices: ensembles: the features of each lattice, by name.
    """

    estimator: str
    params: dict
    specs: tuple
    units: int
    initial_output: tuple
    label_mean: float = 0.0
    label_scale: float = 1.0
    lattices: object = None

    def to_json(self):
        return {"format": FORMAT_VERSION, "estimator": self.estimator, "params": self.params,
                "features": [spec.to_json() for spec in self.specs], "units": self.units,
                "initial_output": list(self.initial_output), "label_mean": self.label_mean,
                "label_scale": self.label_scale, "lattices": self.lattices}

    @classmethod
    def from_json(cls, data):
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown {PLAN_FILE} format {data.get('format')!r}")
        return cls(data["estimator"], data["params"],
                   tuple(FeatureSpec.from_json(s) for s in data["features"]), int(data["units"]),
                   tuple(float(v) for v in data["initial_output"]), float(data["label_mean"]),
                   float(data["label_scale"]), data["lattices"])


def plan_path(model_dir):
    return os.path.join(model_dir, PLAN_FILE)


def read(model_dir):
    """The plan saved in ``model_dir``, or None."""
    path = plan_path(model_dir)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return ModelPlan.from_json(json.load(handle))


def write(model_dir, plan):
    """Writes the plan atomically (a temporary file renamed into place)."""
    tf.io.gfile.makedirs(model_dir)
    path = plan_path(model_dir)
    temporary = path + ".tmp"
    with tf.io.gfile.GFile(temporary, "w") as handle:
        json.dump(plan.to_json(), handle, indent=1)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def as_json(value):
    """``value`` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


def _class_ids(labels, head, n_classes, label_vocabulary):
    values = labels.reshape(-1)
    if label_vocabulary is not None:
        index = {label: i for i, label in enumerate(label_vocabulary)}
        text = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
        unknown = sorted({t for t in text if t not in index})
        if unknown:
            raise ValueError(f"labels {unknown[:5]} are not in label_vocabulary {list(label_vocabulary)}")
        return np.asarray([index[t] for t in text])
    if values.dtype.kind in "SUO":
        raise ValueError("labels are strings: pass label_vocabulary")
    values = values.astype(np.float64)
    classes = 2 if head == "binary" else n_classes
    if np.any((values < 0) | (values > classes - 1)) or np.any(values != np.round(values)):
        raise ValueError(f"{head} labels must be class ids in [0, {classes - 1}] (or pass "
                         "label_vocabulary)")
    return values.astype(np.int64)


def label_statistics(labels, weights, head, n_classes, label_vocabulary):
    """The initial output, the regression scaling and the crystals target.

    Args:
      labels: `(n, k)` labels from the analysis pass, or None.
      weights: `(n,)` example weights, or None.
      head: ``"binary"``, ``"multiclass"`` or ``"regression"``.
      n_classes, label_vocabulary: of classification heads.

    Returns:
      ``(initial_output, mean, scale, target)``: classification starts from
      the (weighted) class log-frequencies, as the scikit-learn classifiers
      (:func:`prior_scores`); regression from the standardized mean 0. The
      target `(n, m)` is what the crystals ensemble measures interactions
      against (one-hot classes or the standardized label).

    Raises:
      ValueError: labels that do not fit the head.
    """
    units = n_classes if head == "multiclass" else 1
    if labels is None:
        return (0.0,) * units, 0.0, 1.0, None
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if head == "regression":
        values = labels.reshape(-1).astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError("regression labels must be finite")
        mean = float(np.average(values, weights=weights))
        scale = float(np.sqrt(np.average((values - mean) ** 2, weights=weights))) or 1.0
        return (0.0,), mean, scale, ((values - mean) / scale).reshape(-1, 1)
    ids = _class_ids(labels, head, n_classes, label_vocabulary)
    one_hot = np.eye(2 if head == "binary" else n_classes)[ids]
    return prior_scores(one_hot, weights), 0.0, 1.0, one_hot
