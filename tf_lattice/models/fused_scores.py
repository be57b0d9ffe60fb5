"""A calibrated lattice ensemble's scores through one op, from its layers' weights.

:func:`tf_lattice.models.calibrated_lattice_ensemble` (``encoded=True``,
``combination="linear"``) builds a chain of a dozen layers: column readers,
numeric and categorical calibrators, their concatenation, the lattices'
input selection, one multi-unit lattice and the combining linear layer.
Evaluated layer by layer, a training step runs a few dozen ops forward and
as many backward. :func:`ensemble_scores` recognizes that chain in a built
model and returns a function computing the same scores with
:func:`tf_lattice.ops.calibrated_ensemble`, one op forward and one backward,
reading the same variables (so their gradients are the same, up to
rounding, and the layers keep their weights, constraints and
regularizers). Any other model, or a part the op does not compute (linear
calibrator tails, learned keypoints, a missing-value sentinel, lattices of
two shapes, simplex interpolation, several outputs, the portable
implementation, float64), gives None: the caller then runs the layers.
"""

import dataclasses

import keras
import tensorflow as tf

from tf_lattice import layers as tfl_layers
from tf_lattice import ops
from tf_lattice.models._inputs import FeatureColumns, GatherFeatures
from tf_lattice.models._select import SelectColumns


class _NotCovered(Exception):
    """The model has a part :func:`ensemble_scores` does not compute."""


def _require(condition, reason):
    if not condition:
        raise _NotCovered(reason)


def _single_input(layer):
    """The one KerasTensor a layer was called on (once)."""
    _require(len(layer._inbound_nodes) == 1, f"layer {layer.name!r} is called more than once")
    return layer.input


@dataclasses.dataclass
class _EnsembleLayers:
    """The recognized layers, in the order the op reads them."""

    numeric_readers: list
    numeric: list
    categorical_readers: list
    categorical: list
    gather: GatherFeatures
    lattice: tfl_layers.Lattice
    combine: tfl_layers.Linear


def _check_numeric(calibrator, reader, matrix):
    _require(calibrator.implementation == "kernel", "portable calibrator")
    _require(calibrator.impute_missing and calibrator.missing_output_value is None,
             "calibrator without a learned missing output")
    _require(calibrator.missing_input_value is None, "missing-value sentinel")
    _require(calibrator.input_keypoints_type == "fixed", "learned keypoints")
    _require(not calibrator.is_cyclic, "cyclic calibrator")
    _require(all(e == "constant" for e in calibrator.unit_extrapolations), "linear tails")
    _require(_single_input(reader) is matrix, "calibrator reads another tensor")
    inputs = _single_input(calibrator)
    _require(isinstance(inputs, (list, tuple)) and len(inputs) == 2
             and inputs[0] is reader.output[0] and inputs[1] is reader.output[1],
             "calibrator inputs are not its column reader's")
    _require(calibrator.units == len(reader.indices), "calibrator units differ from columns")


def _check_categorical(calibrator, reader, matrix):
    _require(calibrator.implementation == "kernel", "portable calibrator")
    _require(calibrator.default_input_value is None, "categorical default_input_value")
    _require(_single_input(reader) is matrix, "calibrator reads another tensor")
    _require(_single_input(calibrator) is reader.output, "categorical calibrator input")
    _require(calibrator.units == len(reader.columns), "calibrator units differ from columns")


def _producer(tensor, layers):
    """The layer among ``layers`` whose output is ``tensor``."""
    for layer in layers:
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        if any(output is tensor for output in outputs):
            return layer
    raise _NotCovered("a tensor of unknown origin")


def _recognize(model):
    """The ensemble's layers, or raises _NotCovered."""
    _require(isinstance(model, keras.Model) and len(model.inputs) == 1
             and len(model.outputs) == 1, "not a model of one input and one output")
    matrix = model.inputs[0]
    _require(len(matrix.shape) == 2, "input is not a matrix")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    known = (FeatureColumns, SelectColumns, tfl_layers.PWLCalibration,
             tfl_layers.CategoricalCalibration, keras.layers.Concatenate, GatherFeatures,
             tfl_layers.Lattice, tfl_layers.Linear)
    _require(all(type(layer) in known for layer in layers), "a layer the op does not compute")
    _require(all(layer.compute_dtype == "float32" for layer in layers), "not float32")
    combine = _producer(model.outputs[0], layers)
    _require(isinstance(combine, tfl_layers.Linear) and combine.units == 1 and combine.use_bias
             and combine.implementation == "kernel", "output is not one linear combination")
    lattice = _producer(_single_input(combine), layers)
    _require(isinstance(lattice, tfl_layers.Lattice) and lattice.interpolation == "hypercube"
             and lattice.implementation == "kernel", "combination of something other than one lattice")
    gather = _producer(_single_input(lattice), layers)
    _require(isinstance(gather, GatherFeatures), "lattice inputs not gathered")
    _require(lattice.units == len(gather.subsets), "lattice units differ from subsets")
    calibrated = _single_input(gather)
    producer = _producer(calibrated, layers)
    concatenated = isinstance(producer, keras.layers.Concatenate)
    _require(not concatenated or producer.axis in (-1, 1), "concatenation along another axis")
    parts = [_producer(t, layers) for t in _single_input(producer)] if concatenated else [producer]
    numeric = [p for p in parts if isinstance(p, tfl_layers.PWLCalibration)]
    categorical = [p for p in parts if isinstance(p, tfl_layers.CategoricalCalibration)]
    _require(parts == numeric + categorical, "calibrated values not numeric, then categorical")
    _require(len({c.num_keypoints for c in numeric}) <= 1,
             "numeric calibrators of different keypoint counts")
    numeric_readers = [_producer(_single_input(c)[0], layers) for c in numeric]
    categorical_readers = [_producer(_single_input(c), layers) for c in categorical]
    for calibrator, reader in zip(numeric, numeric_readers):
        _require(isinstance(reader, FeatureColumns), "numeric calibrator without column reader")
        _check_numeric(calibrator, reader, matrix)
    for calibrator, reader in zip(categorical, categorical_readers):
        _require(isinstance(reader, SelectColumns), "categorical calibrator without reader")
        _check_categorical(calibrator, reader, matrix)
    used = {combine, lattice, gather, *parts, *numeric_readers, *categorical_readers}
    if concatenated:
        used.add(producer)
    _require(used == set(layers), "layers outside the chain")
    return _EnsembleLayers(numeric_readers, numeric, categorical_readers, categorical, gather,
                           lattice, combine)


def _joined(tensors, empty_shape):
    """``tensors`` joined along their first axis (float32 zeros of
    ``empty_shape`` when there are none)."""
    if not tensors:
        return tf.zeros(empty_shape, tf.float32)
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=0)


def ensemble_scores(model):
    """A function ``scores(x) -> (batch, 1)`` computing ``model(x)`` with one
    op, or None when the model is not a calibrated lattice ensemble the op
    computes (see the module docstring).

    The op has a CPU kernel only: with a GPU visible this returns None.

    Args:
      model: a built Keras model.
    """
    if tf.config.list_logical_devices("GPU"):
        return None
    try:
        parts = _recognize(model)
    except _NotCovered:
        return None
    num_keypoints = parts.numeric[0].num_keypoints if parts.numeric else 2
    keypoints = _joined(
        [tf.broadcast_to(c.keypoints_inputs(), (c.units, num_keypoints)) for c in parts.numeric],
        [0, num_keypoints])
    widths = [c.num_buckets + 1 for c in parts.categorical]
    table_width = max(widths, default=1)
    subsets = parts.gather.subsets
    attributes = dict(
        numeric_columns=[i for reader in parts.numeric_readers for i in reader.indices],
        categorical_columns=[i for reader in parts.categorical_readers for i in reader.columns],
        num_buckets=[c.num_buckets for c in parts.categorical for _ in range(c.units)],
        lattice_sizes=list(parts.lattice.lattice_sizes),
        lattice_inputs=[i for subset in subsets for i in subset])

    def scores(x):
        outputs = _joined([c.keypoints_outputs() for c in parts.numeric],
                               [0, num_keypoints])
        missing = _joined([tf.convert_to_tensor(c.missing_output) for c in parts.numeric],
                               [0])
        tables = _joined(
            [tf.pad(tf.convert_to_tensor(c.kernel), [[0, 0], [0, table_width - width]])
             if width < table_width else tf.convert_to_tensor(c.kernel)
             for c, width in zip(parts.categorical, widths)], [0, table_width])
        result = ops.calibrated_ensemble(
            x, keypoints, outputs, missing, tables, tf.convert_to_tensor(parts.lattice.kernel),
            tf.reshape(parts.combine.kernel, [-1]), tf.reshape(parts.combine.bias, []),
            **attributes)
        return tf.reshape(result, [-1, 1])

    return scores
