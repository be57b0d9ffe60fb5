"""Features of the canned Estimators: declaration, analysis and encoding.

Features are declared by name (the keys of the dict an ``input_fn`` yields)
or as ``tf.feature_column`` numeric and vocabulary columns. One pass over a
feature-analysis ``input_fn`` learns what the scikit-learn estimators learn
from a DataFrame (:class:`tf_lattice.estimators._columns.FeatureSpec`):
keypoints at quantiles of each numeric feature, the vocabulary of each string
feature, and the label statistics that set the model's initial output. In the
graph, the feature dict is encoded into the float32 matrix the shared
models (:mod:`tf_lattice.estimators._model_configs`) read: numeric values with
NaN where missing, categorical features as vocabulary indices with one
default bucket (index ``len(vocabulary)``) for missing and unseen values.
"""

import dataclasses
import warnings

import numpy as np
import tensorflow as tf
from tensorflow.python.feature_column import feature_column_v2 as fc

from tf_lattice.estimators._columns import CATEGORICAL, NUMERIC, FeatureSpec
from tf_lattice.estimators._constraints import (
    CONVEXITIES, MONOTONICITIES, TRUST_DIRECTIONS, TRUST_KINDS, UNIMODALITIES)
from tf_lattice.models.keypoints import keypoints_from_quantiles

#: The analysis pass stops after this many rows (an ``input_fn`` that
#: repeats forever would otherwise never end).
MAX_ANALYSIS_ROWS = 2_000_000


@dataclasses.dataclass(frozen=True)
class FeatureInput:
    """One declared feature.

    Attributes:
      name: the key of the feature in the ``input_fn``'s feature dict.
      kind: ``"numeric"``, ``"categorical"``, or None when a plain name
        leaves it to the analysis pass (string tensors are categorical).
      vocabulary: the categories of a vocabulary column, else None (learned).
      default_value: numeric columns: the value a ``tf.Example`` without
        the feature parses to (None: NaN, a missing value).
    """

    name: str
    kind: object = None
    vocabulary: object = None
    default_value: object = None


def _oov_check(column):
    if column.num_oov_buckets > 1:
        raise ValueError(
            f"feature column {column.key!r} has num_oov_buckets={column.num_oov_buckets}; "
            "out-of-vocabulary values share the calibrator's one default bucket, so use "
            "num_oov_buckets=0 or 1")
    if column.default_value not in (-1, None):
        raise ValueError(
            f"feature column {column.key!r} maps unknown values to id {column.default_value}; "
            "out-of-vocabulary values go to the calibrator's default bucket, so leave "
            "default_value at -1")


def _vocabulary_values(values, dtype):
    if dtype.is_integer:
        return tuple(int(v) for v in values)
    return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)


def feature_input(column):
    """Resolves one entry of ``feature_columns`` into a FeatureInput.

    Args:
      column: a feature name, a ``tf.feature_column.numeric_column`` of shape
        ``(1,)`` without ``normalizer_fn``, or a
        ``categorical_column_with_vocabulary_list`` / ``_file``.

    Raises:
      ValueError: any other column, or an unsupported option of one of these.
    """
    if isinstance(column, str):
        if not column:
            raise ValueError("feature names must not be empty")
        return FeatureInput(column)
    if isinstance(column, fc.NumericColumn):
        if tuple(column.shape) != (1,):
            raise ValueError(f"numeric column {column.key!r} has shape {tuple(column.shape)}; each "
                             "feature is one value per example (shape (1,))")
        if column.normalizer_fn is not None:
            raise ValueError(f"numeric column {column.key!r} has a normalizer_fn; calibrators learn "
                             "the transformation, pass the raw feature")
        default = None if column.default_value is None else float(np.ravel(column.default_value)[0])
        return FeatureInput(column.key, NUMERIC, default_value=default)
    if isinstance(column, fc.VocabularyListCategoricalColumn):
        _oov_check(column)
        return FeatureInput(column.key, CATEGORICAL,
                            _vocabulary_values(column.vocabulary_list, column.dtype))
    if isinstance(column, fc.VocabularyFileCategoricalColumn):
        _oov_check(column)
        with tf.io.gfile.GFile(column.vocabulary_file) as handle:
            lines = [line.rstrip("\n") for line in handle]
        if column.vocabulary_size is not None:
            lines = lines[:column.vocabulary_size]
        return FeatureInput(column.key, CATEGORICAL, _vocabulary_values(lines, column.dtype))
    raise ValueError(
        f"unsupported feature column {column!r}: pass feature names, "
        "tf.feature_column.numeric_column or categorical_column_with_vocabulary_list/_file")


def feature_inputs(feature_columns):
    """Resolves ``feature_columns``; raises ValueError on an empty list,
    duplicate names or unsupported columns."""
    if isinstance(feature_columns, (str, bytes)) or not hasattr(feature_columns, "__iter__"):
        raise ValueError(f"feature_columns must be a list of feature names or feature columns, "
                         f"got {feature_columns!r}")
    inputs = [feature_input(column) for column in feature_columns]
    if not inputs:
        raise ValueError("feature_columns must name at least one feature")
    names = [f.name for f in inputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"feature_columns names {duplicates} more than once")
    return inputs


# -- constraints named by feature, checked before any data is read ------------


def _unknown(argument, name, names):
    return ValueError(f"{argument} names feature {name!r}, which is not among the "
                      f"feature_columns {names}")


def _check_named(argument, mapping, names, choices):
    if mapping is None:
        return
    if not isinstance(mapping, dict):
        raise ValueError(f"{argument} must be a dict of feature name -> one of {choices}, "
                         f"got {type(mapping).__name__}")
    for name, value in mapping.items():
        if str(name) not in names:
            raise _unknown(argument, name, names)
        if value not in choices:
            raise ValueError(f"{argument}[{str(name)!r}] must be one of {choices}, got {value!r}")


def _check_entries(argument, entries, names, width, describe):
    if entries is None:
        return []
    if not isinstance(entries, (list, tuple)):
        raise ValueError(f"{argument} must be a list of {describe}, got {type(entries).__name__}")
    checked = []
    for entry in entries:
        if not isinstance(entry, (list, tuple)) or len(entry) not in width:
            raise ValueError(f"{argument} entries must be {describe}, got {entry!r}")
        for name in entry[:2]:
            if str(name) not in names:
                raise _unknown(argument, name, names)
        checked.append(entry)
    return checked


def check_named_constraints(names, *, monotonicity, convexity, unimodality, trust, dominance,
                            category_order, num_keypoints=None):
    """Checks that every constraint (and ``num_keypoints`` dict) names a
    declared feature and a known direction; raises ValueError naming the
    offending feature or value.

    The full resolution (which needs each feature's kind and vocabulary) runs
    after the analysis pass, still before training.
    """
    if isinstance(num_keypoints, dict):
        for name in num_keypoints:
            if str(name) not in names:
                raise _unknown("num_keypoints", name, names)
    _check_named("monotonicity", monotonicity, names, MONOTONICITIES)
    _check_named("convexity", convexity, names, CONVEXITIES)
    _check_named("unimodality", unimodality, names, UNIMODALITIES)
    for entry in _check_entries("trust", trust, names, (3, 4),
                                "(main, conditional, direction[, kind]) tuples"):
        if entry[2] not in TRUST_DIRECTIONS:
            raise ValueError(f"trust direction must be one of {TRUST_DIRECTIONS}, got {entry[2]!r}")
        if len(entry) == 4 and entry[3] not in TRUST_KINDS:
            raise ValueError(f"trust kind must be one of {TRUST_KINDS}, got {entry[3]!r}")
    _check_entries("dominance", dominance, names, (2,), "(dominant, weak) feature pairs")
    if category_order is not None:
        if not isinstance(category_order, dict):
            raise ValueError("category_order must be a dict of feature name -> list of "
                             f"(lower, higher) category pairs, got {type(category_order).__name__}")
        for name in category_order:
            if str(name) not in names:
                raise _unknown("category_order", name, names)


# -- the analysis pass ---------------------------------------------------------


def _check_feature_dict(features, names, where):
    if not isinstance(features, dict):
        raise ValueError(f"{where} must yield a dict of feature tensors (or (features, labels)), "
                         f"got {type(features).__name__}")
    missing = [name for name in names if name not in features]
    if missing:
        raise ValueError(f"feature_columns name {missing}, which {where} does not yield "
                         f"(its features: {sorted(features)})")
    for name in names:
        if isinstance(features[name], tf.SparseTensor):
            raise ValueError(f"feature {name!r} is a SparseTensor; pass one dense value per "
                             "example (e.g. tf.io.FixedLenFeature with a default)")


def run_input_fn(call_input_fn, names, extra_names=()):
    """Reads every batch of an ``input_fn`` once, in a graph of its own.

    Args:
      call_input_fn: zero-argument function calling the input_fn (returns a
        ``tf.data.Dataset`` of ``(features, labels)`` or ``features``, or
        those tensors).
      names: the feature names to read.
      extra_names: more feature keys to read when present (the weight column).

    Returns:
      ``(columns, labels)``: dict name -> 1-D NumPy array (text as ``str``
      objects), and the labels array (None when the input_fn yields none).

    Raises:
      ValueError: a declared feature the input_fn does not yield, a sparse
        feature, or a feature with more than one value per example.
    """
    with tf.Graph().as_default():
        result = call_input_fn()
        if isinstance(result, tf.data.Dataset):
            result = tf.compat.v1.data.make_one_shot_iterator(result).get_next()
        features, labels = result if isinstance(result, (tuple, list)) else (result, None)
        _check_feature_dict(features, names, "the feature-analysis input_fn")
        fetch = {name: features[name] for name in names}
        fetch.update({name: features[name] for name in extra_names if name in features})
        if labels is not None:
            fetch["__labels__"] = labels
        chunks = {key: [] for key in fetch}
        rows = 0
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.tables_initializer())
            while rows < MAX_ANALYSIS_ROWS:
                try:
                    batch = session.run(fetch)
                except tf.errors.OutOfRangeError:
                    break
                size = None
                for key, value in batch.items():
                    value = np.asarray(value)
                    batch_rows = value.shape[0] if value.ndim else 1
                    if key != "__labels__" and value.size != batch_rows:
                        raise ValueError(f"feature {key!r} has shape {value.shape}; each feature "
                                         "is one value per example")
                    size = batch_rows if size is None else size
                    chunks[key].append(value.reshape(batch_rows, -1) if key == "__labels__"
                                       else value.reshape(-1))
                rows += size or 0
    if rows == 0:
        raise ValueError("the feature-analysis input_fn yielded no examples")
    if rows >= MAX_ANALYSIS_ROWS:
        warnings.warn(f"the feature-analysis input_fn was read for its first {rows} examples "
                      "only (does its dataset repeat forever?)", stacklevel=3)
    labels = np.concatenate(chunks.pop("__labels__")) if "__labels__" in chunks else None
    columns = {key: np.concatenate(values) for key, values in chunks.items()}
    return {key: _decode(values) if _is_text(values) else values
            for key, values in columns.items()}, labels


def _is_text(values):
    return values.dtype.kind in "SUO"


def _decode(values):
    return np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values],
                      dtype=object)


def learn_specs(inputs, columns, num_keypoints):
    """One FeatureSpec per declared feature from the analysis pass's values.

    Numeric features get :func:`~tf_lattice.models.keypoints_from_quantiles` (the scikit-learn
    estimators' rule, ``num_keypoints`` int, dict or None); string features
    their sorted distinct values (the empty string counts as missing);
    vocabulary columns keep their vocabulary.

    Raises:
      ValueError: a numeric column whose input is a string.
    """
    specs = []
    for feature in inputs:
        values = columns[feature.name]
        kind = feature.kind or (CATEGORICAL if _is_text(values) else NUMERIC)
        if kind == NUMERIC:
            if _is_text(values):
                raise ValueError(f"numeric feature {feature.name!r} holds strings; declare it "
                                 "with a vocabulary column or by name")
            values = values.astype(np.float64)
            if np.isinf(values).any():
                raise ValueError(f"feature {feature.name!r} has infinite values; use NaN for "
                                 "missing values")
            count = num_keypoints.get(feature.name) if isinstance(num_keypoints, dict) else num_keypoints
            keypoints = keypoints_from_quantiles(values, count)
            specs.append(FeatureSpec(feature.name, NUMERIC, tuple(float(k) for k in keypoints),
                                     has_missing=bool(np.isnan(values).any())))
            continue
        if feature.vocabulary is not None:
            vocabulary = feature.vocabulary
            present = values if _is_text(values) else values.astype(np.int64)
            has_missing = bool(np.any(~np.isin(present, np.asarray(vocabulary, dtype=object))))
        else:
            if not _is_text(values):
                raise ValueError(f"feature {feature.name!r} is numeric; declare categorical "
                                 "integer features with a vocabulary column")
            vocabulary = tuple(sorted(set(values.tolist()) - {""}))
            has_missing = bool((values == "").any())
        specs.append(FeatureSpec(feature.name, CATEGORICAL, vocabulary=tuple(vocabulary),
                                 has_missing=has_missing))
    return specs


# -- the graph -----------------------------------------------------------------


def integer_vocabulary(spec):
    """Whether a categorical feature's values are integers (else strings)."""
    return bool(spec.vocabulary) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                         for v in spec.vocabulary)


def _bucket_ids(name, tensor, spec):
    integer = integer_vocabulary(spec)
    if integer:
        if tensor.dtype == tf.string:
            raise ValueError(f"feature {name!r} has an integer vocabulary but a string input")
        keys = tf.constant(list(spec.vocabulary), tf.int64)
        tensor = tf.cast(tensor, tf.int64)
    else:
        if tensor.dtype != tf.string:
            raise ValueError(f"feature {name!r} has a string vocabulary but a {tensor.dtype.name} "
                             "input")
        keys = tf.constant([str(v) for v in spec.vocabulary] or [""], tf.string)
    values = tf.range(len(spec.vocabulary) or 1, dtype=tf.int64)
    if not spec.vocabulary:
        values = tf.constant([spec.default_bucket], tf.int64)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, values), default_value=spec.default_bucket)
    return table.lookup(tensor)


def encode(features, specs):
    """The `(batch, d)` float32 matrix of a feature dict, in the graph.

    Args:
      features: dict name -> Tensor of shape `(batch,)` or `(batch, 1)`.
      specs: the FeatureSpec of every feature.

    Raises:
      ValueError: a feature that is absent, sparse, wider than one value or
        of the wrong type.
    """
    _check_feature_dict(features, [s.name for s in specs], "the input_fn")
    columns = []
    for spec in specs:
        tensor = features[spec.name]
        if tensor.shape.rank is not None and tensor.shape.rank > 2 or (
                tensor.shape.rank == 2 and tensor.shape[1] not in (None, 1)):
            raise ValueError(f"feature {spec.name!r} has shape {tensor.shape}; each feature is one "
                             "value per example")
        tensor = tf.reshape(tensor, [-1, 1])
        if spec.kind == NUMERIC:
            if tensor.dtype == tf.string:
                raise ValueError(f"feature {spec.name!r} was numeric in the analysis pass but is a "
                                 "string tensor here")
            columns.append(tf.cast(tensor, tf.float32))
        else:
            columns.append(tf.cast(_bucket_ids(spec.name, tensor, spec), tf.float32))
    return columns[0] if len(columns) == 1 else tf.concat(columns, axis=1)


def parsing_spec(specs, inputs):
    """The ``tf.io.parse_example`` spec of the features (``tf.Example`` input).

    Numeric features are ``float_list`` values (missing: NaN, or the numeric
    column's default); string features ``bytes_list`` (missing: ``""``, the
    default bucket); integer-vocabulary features ``int64_list``.
    """
    defaults = {f.name: f.default_value for f in inputs}
    spec = {}
    for feature in specs:
        if feature.kind == NUMERIC:
            default = defaults.get(feature.name)
            spec[feature.name] = tf.io.FixedLenFeature(
                [1], tf.float32, default_value=[np.nan if default is None else default])
        elif integer_vocabulary(feature):
            spec[feature.name] = tf.io.FixedLenFeature([1], tf.int64, default_value=[-1])
        else:
            spec[feature.name] = tf.io.FixedLenFeature([1], tf.string, default_value=[""])
    return spec
