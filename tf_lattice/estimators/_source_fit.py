"""Fitting an estimator on a source: files, datasets, or a frame on several workers.

The steps of an in-memory fit, with the data read in a stream:

1. Every worker reads its share of the pieces once and summarizes it
   (``_statistics``); the chief merges the summaries into the statistics
   (keypoints, vocabularies, target scaling or classes, row counts) and
   chooses the seed, and sends both to every worker.
2. Each worker resolves the constraints and builds the same model (the
   structure follows from the seed and the statistics).
3. Training: a source of at most ``shuffle_rows`` rows on one worker trains
   in memory exactly like a DataFrame; otherwise the rows stream from the
   shards (``_streaming``), synchronously on every worker.
4. The chief certifies the constraints (saving is the caller's, on the chief:
   see :func:`tf_lattice.distribute.is_chief`).

A fit with a ``checkpoint_dir`` writes checkpoints and resumes from them.
"""

import dataclasses
import warnings

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.base import is_classifier
from sklearn.utils.validation import check_random_state

from tf_lattice.estimators._categorical import categorical_columns
from tf_lattice.estimators._checkpoints import Checkpoints
from tf_lattice.estimators._columns import FeatureSpec, encode
from tf_lattice.estimators._constraints import resolve_constraints
from tf_lattice.estimators._distributed import Workers, is_multi_worker
from tf_lattice.estimators._feed import shard_count
from tf_lattice.estimators._importance import importance_inputs
from tf_lattice.estimators._sources import DataError, as_source, is_source
from tf_lattice.estimators._statistics import StreamStatistics
from tf_lattice.estimators._streaming import train_stream
from tf_lattice.estimators._training import train_model


_NO_EARLY_STOPPING = (
    "early_stopping needs a validation split, which streamed fits (several workers, "
    "checkpoints, or more than shuffle_rows rows) do not make; fit without early_stopping")


def wanted(X, strategy, checkpoint_dir):
    """Whether ``fit`` takes this path: a source, files or a dataset, a
    multi-worker strategy, or checkpoints."""
    return (is_source(X) or checkpoint_dir is not None or
            (strategy is not None and is_multi_worker(strategy)))


def _encoding(encoding):
    """``(specs, target)`` of an estimator or saved ``.keras`` file to reuse."""
    if isinstance(encoding, str) or hasattr(encoding, "__fspath__"):
        from tf_lattice.estimators._serialization import read_payload

        fitted = read_payload(encoding)["fitted"]
        specs = [FeatureSpec.from_json(s) for s in fitted["feature_specs_"]]
        if "classes_" in fitted:
            return specs, {"classes": list(fitted["classes_"]["values"])}
        return specs, {"mean": fitted["target_mean_"], "scale": fitted["target_scale_"]}
    if not hasattr(encoding, "feature_specs_"):
        raise ValueError("encoding must be a fitted estimator or the path of a saved one, got "
                         f"{type(encoding).__name__}")
    specs = list(encoding.feature_specs_)
    if hasattr(encoding, "classes_"):
        return specs, {"classes": [v.item() if isinstance(v, np.generic) else v
                                   for v in encoding.classes_]}
    return specs, {"mean": float(encoding.target_mean_), "scale": float(encoding.target_scale_)}


def _gather_statistics(estimator, source, workers, seed, classification, shards):
    """Reads this worker's pieces, merges every worker's summaries on the
    chief and returns the chief's DataStatistics on every worker."""
    pieces = source.pieces()
    summary = StreamStatistics(source.kinds, classification, len(pieces), seed,
                               max_categories=source.max_categories)
    error = None
    try:
        for piece in pieces:
            if (piece.index % shards) % workers.count != workers.rank:
                continue
            for chunk in source.read(piece):
                summary.update(chunk.features, chunk.y, chunk.weight, piece.index, chunk.start)
    except Exception as problem:  # every worker must reach the exchange below
        error = problem
    workers.raise_any(error)
    parts = workers.gather_bytes(summary.to_bytes())
    result = None
    if workers.is_chief:
        try:
            merged = StreamStatistics.from_bytes(parts[0])
            for part in parts[1:]:
                merged.merge(StreamStatistics.from_bytes(part))
            specs, target = None, None
            if source.encoding is not None:
                specs, target = _encoding(source.encoding)
                target = _reuse_target(target, merged.target_statistics(), classification)
                names = [spec.name for spec in specs]
                if names != source.feature_names():
                    raise ValueError(f"the encoding is for the columns {names}, the data has "
                                     f"{source.feature_names()}")
            if merged.piece_rows.sum() == 0:
                raise ValueError("the data has no rows")
            result = (merged.finish(estimator.num_keypoints, source.max_categories, specs, target),
                      None)
        except Exception as problem:  # the other workers wait for the result
            result = (None, (type(problem).__name__, str(problem)))
    statistics, problem = workers.broadcast(result)
    if problem is not None:
        raise (DataError if problem[0] == "DataError" else ValueError)(problem[1])
    return statistics


def _reuse_target(kept, learned, classification):
    if not classification:
        return kept
    weights = dict(zip(learned["classes"], learned["weights"]))
    unknown = [label for label in weights if label not in kept["classes"]]
    if unknown:
        raise ValueError(f"the data has labels {unknown[:5]} that the encoding's classes "
                         f"{kept['classes']} lack")
    return {"classes": kept["classes"], "weights": [weights.get(c, 0.0) for c in kept["classes"]]}


@dataclasses.dataclass
class _Task:
    """The target's side of a fit: units, loss, encoding of ``y``."""

    units: int
    loss: object
    dtype: object
    initial_output: tuple
    transform: object  # raw y -> (n, 1) training target
    structure_target: object  # raw y -> the target _build_network looks at
    strata: object  # raw y -> class indices, or None


def _task(estimator, statistics, classification):
    from tf_lattice.estimators._tasks import prior_scores

    target = statistics.target
    if not classification:
        mean, scale = float(target["mean"]), float(target["scale"])
        estimator.target_mean_, estimator.target_scale_ = mean, scale

        def standardized(y):
            return ((np.asarray(y, np.float64) - mean) / scale).astype(np.float32).reshape(-1, 1)

        return _Task(1, keras.losses.MeanSquaredError(), tf.float32, (0.0,), standardized,
                     standardized, None)
    classes = statistics.classes()
    if len(classes) < 2:
        raise ValueError(f"y has only one class ({classes[0]!r}); a classifier needs at least 2 "
                         "classes")
    estimator.classes_ = classes
    binary = len(classes) == 2
    index = pd.Index(classes)

    def indices(y):
        found = index.get_indexer(np.asarray(y, dtype=classes.dtype))
        if (found < 0).any():
            raise ValueError(f"the label {np.asarray(y)[found < 0][0]!r} is not among the classes "
                             f"{list(classes)}")
        return found

    def transform(y):
        return indices(y).astype(np.float32 if binary else np.int32).reshape(-1, 1)

    prior = prior_scores(np.eye(len(classes)), np.asarray(target["weights"], np.float64))
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if binary
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return _Task(1 if binary else len(classes), loss, tf.float32 if binary else tf.int32, prior,
                 transform, lambda y: np.eye(len(classes))[indices(y)], indices)


def fit(estimator, X, y=None, sample_weight=None, checkpoint_dir=None):
    """Fits ``estimator`` on a source (see the module docstring); returns it."""
    estimator._check_params()
    classification = is_classifier(estimator)
    strategy = estimator.distribute_strategy
    workers = Workers(strategy)
    if strategy is not None and not is_multi_worker(strategy) and checkpoint_dir is not None:
        raise ValueError("checkpoint_dir works without a strategy or with "
                         "MultiWorkerMirroredStrategy")
    if estimator.early_stopping is True and (workers.count > 1 or checkpoint_dir is not None):
        raise ValueError(_NO_EARLY_STOPPING)
    if getattr(estimator, "class_weight", None) is not None:
        raise ValueError("class_weight applies to fits on in-memory data; data read as a stream "
                         "(files, datasets, checkpoints, several workers) takes per-row weights: "
                         "a weight column or sample_weight")
    error = None
    try:
        source = as_source(X, y, sample_weight).bind(classification, workers.count)
        source.make_categorical(categorical_columns(estimator.categorical_features,
                                                    source.feature_names()))
    except Exception as problem:  # every worker must reach the exchange below
        error = problem
    workers.raise_any(error)
    checkpoints = Checkpoints(checkpoint_dir, workers) if checkpoint_dir is not None else None
    params = {k: v for k, v in estimator._json_params().items() if k != "verbose"}
    fingerprint = {"estimator": type(estimator).__name__, "params": params,
                   "data": source.describe()}
    found = checkpoints.open(fingerprint) if checkpoints is not None else None
    resume = None
    if found is not None:
        seed, statistics, resume = found
    else:
        seed = workers.broadcast(
            int(check_random_state(estimator.random_state).randint(0, 2**31 - 1)))
        statistics = _gather_statistics(estimator, source, workers, seed, classification,
                                        shard_count(len(source.pieces()), workers.count))
        if checkpoints is not None:
            checkpoints.begin(fingerprint, seed, statistics)
    specs = statistics.specs
    names = [spec.name for spec in specs]
    if isinstance(estimator.num_keypoints, dict):
        for column in estimator.num_keypoints:
            if str(column) not in names:
                raise ValueError(f"num_keypoints names column {column!r}, which is not in X")
    estimator.n_features_in_ = len(names)
    estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.feature_specs_ = specs
    estimator.constraints_ = resolve_constraints(
        specs, monotonicity=estimator.monotonicity, convexity=estimator.convexity,
        unimodality=estimator.unimodality, category_order=estimator.category_order,
        trust=estimator.trust, dominance=estimator.dominance,
        allow_unimodality=estimator._supports_unimodality)
    task = _task(estimator, statistics, classification)
    scale = statistics.rows / statistics.weight_sum if statistics.weight_sum > 0 else None
    if scale is None:
        raise ValueError("sample_weight has only zero weights; at least one must be positive")

    def convert(chunk):
        weight = (np.ones(len(chunk), np.float32) if chunk.weight is None
                  else (chunk.weight * scale).astype(np.float32))
        try:
            target = task.transform(chunk.y)
        except ValueError as problem:
            raise DataError(f"{chunk.where()}: {problem}") from None
        return encode(chunk.features, specs), target, weight

    in_memory = workers.count == 1 and checkpoints is None and \
        statistics.rows <= source.shuffle_rows
    estimator._resolve_settings(statistics.rows, names, streamed=not in_memory)
    settings = dataclasses.replace(estimator._training_settings(seed), strategy=None)
    description = type(estimator).__name__
    if in_memory:
        x, target, weight, raw, raw_weight = _read_all(source, convert)
        if raw_weight is not None:  # scaled exactly as a DataFrame fit scales them
            from tf_lattice.estimators._base import _normalized_weights

            weight = _normalized_weights(raw_weight, len(x))
        if not classification and source.encoding is None:
            # Exactly the standardization of a DataFrame fit on the same rows.
            from tf_lattice.estimators._tasks import target_standardization

            estimator.target_mean_, estimator.target_scale_, target = target_standardization(
                np.asarray(raw, np.float64), weight)
        build = estimator._build_network(specs, estimator.constraints_, task.units, x,
                                         task.structure_target(raw), seed, task.initial_output)
        estimator._check_model_size(task.units)
        if strategy is not None and not is_multi_worker(strategy):
            settings = dataclasses.replace(settings, strategy=strategy)
        estimator.model_, estimator.history_ = train_model(
            build, x, target, weight, task.loss, settings,
            strata=None if task.strata is None else task.strata(raw), description=description)
        estimator._keep_importance_inputs(importance_inputs(x, specs, seed))
    else:
        if strategy is not None and not is_multi_worker(strategy):
            raise ValueError("data streamed from files or a dataset trains without a strategy or "
                             "under MultiWorkerMirroredStrategy, not under "
                             f"{type(strategy).__name__}")
        if estimator.early_stopping is True:
            raise ValueError(_NO_EARLY_STOPPING)
        sample_x, sample_y = statistics.sample
        build = estimator._build_network(specs, estimator.constraints_, task.units, sample_x,
                                         task.structure_target(sample_y), seed,
                                         task.initial_output)
        estimator._check_model_size(task.units)
        estimator.model_, estimator.history_ = train_stream(
            build, source, statistics, convert, task.loss, settings, workers, task.dtype,
            checkpoints=checkpoints, resume=resume, description=description)
        if len(sample_x):  # the statistics' row sample (empty only for data without rows)
            estimator._keep_importance_inputs(importance_inputs(sample_x, specs, seed))
    if workers.is_chief and workers.count > 1:
        certificate = estimator.certify()
        if not certificate.holds:
            warnings.warn(f"the fitted model violates a declared constraint:\n{certificate}",
                          RuntimeWarning, stacklevel=3)
    return estimator


def _read_all(source, convert):
    """Every row of ``source`` in piece order: ``(x, target, weight, raw y,
    raw weight or None)``."""
    parts = [convert(chunk) + (chunk.y, chunk.weight) for piece in source.pieces()
             for chunk in source.read(piece)]
    columns = [np.concatenate([p[j] for p in parts]) for j in range(4)]
    weighted = parts[0][4] is not None
    return tuple(columns) + (np.concatenate([p[4] for p in parts]) if weighted else None,)
