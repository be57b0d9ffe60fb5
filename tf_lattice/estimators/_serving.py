"""The raw-column serving signature: the column encoding as TensorFlow ops.

An estimator's SavedModel (``export``) has two signatures:

- ``serving_default`` takes one tensor of shape `(batch,)` per training
  column, as a client has it: ``float64`` for numeric and boolean columns
  (NaN where missing; booleans as 0 and 1) and ``string`` for categorical
  columns (a category's text; any text outside the training vocabulary,
  such as ``""`` for a missing value unless ``""`` was a training category,
  reads the default bucket of missing and unseen categories). It encodes them in the graph exactly as
  ``transform_features`` does and returns the prediction in ``predict``'s
  units: ``probabilities`` `(batch, n_classes)` for classifiers (columns in
  ``classes_`` order), ``predictions`` `(batch,)` for regressors, both
  ``float64``.
- ``serve`` takes the encoded float32 matrix `(batch, n_features)` of
  ``transform_features`` (input ``features``) and returns the model's raw
  scores (output ``output_0``: logits, or the standardized prediction of
  regressors).

Signature input names (:func:`input_names`): TensorFlow turns a signature
input name into a graph node name, lower-cased, with only letters, digits and
``_`` kept, so each column gets such a name: lower-cased, every other
character replaced by ``_``, prefixed with ``col_`` when it does not start
with a letter, and suffixed ``_2``, ``_3``, ... (in column order) when an
earlier column took it. ``"Age"`` becomes ``age``, ``"blood pressure"``
``blood_pressure``, ``"2nd"`` ``col_2nd``. The mapping is written into the
SavedModel as ``assets.extra/tf_lattice_serving.json``.

Category keys (:func:`category_key`): the signature compares text, so each
vocabulary entry is keyed by its text: strings as they are, whole numbers
(``3``, ``3.0``) as ``"3"``, other numbers by ``repr`` (``"0.5"``),
anything else by ``str``. The vocabulary is looked up in a static hash table
(``LookupTableFindV2``, which ONNX converters map to ``CategoryMapper``).
"""

import json
import os
import re

import numpy as np
import tensorflow as tf

from tf_lattice.estimators._columns import NUMERIC

RAW_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "serve"
ENCODED_INPUT = "features"
#: The file, under the SavedModel's ``assets.extra``, that names the inputs.
DESCRIPTION_FILE = "tf_lattice_serving.json"


def input_names(columns):
    """Signature-safe input names, one per column (see the module docstring).

    Args:
      columns: the column names, in training order.

    Returns:
      list of str, distinct, each matching ``[a-z][a-z0-9_]*``.
    """
    names, taken = [], set()
    for column in columns:
        base = re.sub(r"[^a-z0-9_]", "_", str(column).lower())
        if not re.match(r"[a-z]", base):
            base = "col_" + base
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
        taken.add(name)
    return names


def category_key(value):
    """The text a client sends for the category ``value``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def category_keys(spec):
    """The vocabulary of a categorical column as distinct texts.

    Raises:
      ValueError: naming the column, when two categories have the same text
        (``3`` and ``"3"``): the signature could not tell them apart.
    """
    keys = [category_key(value) for value in spec.vocabulary]
    seen = {}
    for value, key in zip(spec.vocabulary, keys):
        if key in seen:
            raise ValueError(
                f"column {spec.name!r} has the categories {seen[key]!r} and {value!r}, which are "
                f"both {key!r} as text, so a serving request could not tell them apart; make the "
                "column's categories all strings (e.g. X[col].astype(str)) and fit again")
        seen[key] = value
    return keys


class ColumnEncoder(tf.Module):
    """The encoding of ``transform_features`` as TensorFlow ops.

    Numeric columns: the float64 values cast to float32 (NaN stays NaN).
    Categorical columns: each text's index in the vocabulary, else the
    default bucket ``len(vocabulary)``, as float32.
    """

    def __init__(self, specs):
        super().__init__(name="column_encoder")
        self.specs = list(specs)
        self.names = input_names(spec.name for spec in self.specs)
        self.tables = {}
        for spec, name in zip(self.specs, self.names):
            if spec.kind != NUMERIC and spec.vocabulary:
                keys = category_keys(spec)
                self.tables[name] = tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(
                        tf.constant(keys, tf.string), tf.range(len(keys), dtype=tf.int64)),
                    default_value=tf.constant(spec.default_bucket, tf.int64))

    def input_signature(self):
        """``{input name: TensorSpec((None,), float64 or string)}``."""
        return {name: tf.TensorSpec([None], tf.float64 if spec.kind == NUMERIC else tf.string,
                                    name=name)
                for spec, name in zip(self.specs, self.names)}

    def __call__(self, inputs):
        """The float32 matrix `(batch, n_features)` from a dict of `(batch,)` columns."""
        columns = []
        for spec, name in zip(self.specs, self.names):
            column = inputs[name]
            if spec.kind == NUMERIC:
                columns.append(tf.cast(column, tf.float32))
            elif name in self.tables:
                columns.append(tf.cast(self.tables[name].lookup(column), tf.float32))
            else:  # no category seen in training: every row is in the default bucket
                columns.append(tf.fill(tf.shape(column), tf.constant(spec.default_bucket, tf.float32)))
        return tf.stack(columns, axis=1)

    def description(self, outputs):
        """The JSON-ready description written next to the SavedModel."""
        return {
            "signature": RAW_SIGNATURE,
            "inputs": [{"column": spec.name, "input": name,
                        "dtype": "float64" if spec.kind == NUMERIC else "string",
                        **({} if spec.kind == NUMERIC else
                           {"categories": category_keys(spec)})}
                       for spec, name in zip(self.specs, self.names)],
            "outputs": outputs,
        }


def probabilities(scores):
    """Class probabilities from `(batch, units)` scores, in float64.

    One unit (binary): ``[1 - sigmoid(s), sigmoid(s)]``; more: a softmax.
    """
    scores = tf.cast(scores, tf.float64)
    if scores.shape[-1] == 1:
        positive = tf.sigmoid(scores[:, 0])
        return tf.stack([1.0 - positive, positive], axis=1)
    return tf.nn.softmax(scores, axis=1)


def unstandardized(scores, mean, scale):
    """``scores[:, 0] * scale + mean`` in float64, as ``_tasks.unstandardize``.

    Where the product overflows the sum is taken as ``scale * (s + mean /
    scale)``; the result is clipped to the float64 range.
    """
    scores = tf.cast(scores[:, 0], tf.float64)
    mean, scale = tf.constant(mean, tf.float64), tf.constant(scale, tf.float64)
    direct = scores * scale + mean
    factored = scale * (scores + mean / scale)
    limit = float(np.finfo(np.float64).max)
    return tf.clip_by_value(tf.where(tf.math.is_finite(direct), direct, factored), -limit, limit)


class ServingModule(tf.Module):
    """What the SavedModel holds: the model, the encoder and both signatures.

    Args:
      model: the Keras model reading the encoded matrix.
      specs: the estimator's FeatureSpecs.
      prediction: function from `(batch, units)` scores to a dict of output
        tensors (``{"probabilities": ...}`` or ``{"predictions": ...}``).
    """

    def __init__(self, model, specs, prediction):
        super().__init__(name="tf_lattice_serving")
        self.model = model
        self.encoder = ColumnEncoder(specs)
        width = len(self.encoder.specs)
        self.serve = tf.function(
            lambda features: self.model(features),
            input_signature=[tf.TensorSpec([None, width], tf.float32, name=ENCODED_INPUT)])
        self.serve_raw = tf.function(
            lambda inputs: prediction(self.model(self.encoder(inputs))),
            input_signature=[self.encoder.input_signature()])

    def signatures(self):
        return {RAW_SIGNATURE: self.serve_raw.get_concrete_function(),
                ENCODED_SIGNATURE: self.serve.get_concrete_function()}


def write(model, path, specs, prediction, output_description):
    """Saves a :class:`ServingModule` and its description file at ``path``."""
    module = ServingModule(model, specs, prediction)
    path = os.fspath(path)
    tf.saved_model.save(module, path, signatures=module.signatures())
    extra = os.path.join(path, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, DESCRIPTION_FILE), "w", encoding="utf-8") as handle:
        json.dump(module.encoder.description(output_description), handle, indent=1)
    return path
