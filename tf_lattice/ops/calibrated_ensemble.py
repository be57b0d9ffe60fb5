"""A calibrated lattice ensemble's scores in one op: the compiled kernel and its pure-TF twin."""

import tensorflow as tf

from tf_lattice import _native
from tf_lattice.ops import _common
from tf_lattice.ops.buckets import bucket_ids
from tf_lattice.ops.lattice_interpolation import check_lattice_sizes, num_vertices
from tf_lattice.ops.lattice_interpolation import portable_lattice_interpolation
from tf_lattice.ops.pwl_calibration import portable_pwl_calibration

__all__ = ["calibrated_ensemble"]


def calibrated_ensemble(features, keypoints, outputs, missing_outputs, tables, lattice_params,
                        weights, bias, *, numeric_columns, categorical_columns, num_buckets,
                        lattice_sizes, lattice_inputs, implementation="kernel", name=None):
    r"""Scores of calibrated features read by lattices and summed with weights.

    Row ``b`` of ``features`` is calibrated to ``z`` (``P`` numeric units,
    then ``C`` categorical ones):

    - numeric unit ``p`` reads ``x = features[b, numeric_columns[p]]``:
      ``z[p]`` is ``missing_outputs[p]`` when ``x`` is NaN, else the
      polyline of :func:`~tf_lattice.ops.pwl_calibration` with keypoints
      ``keypoints[p]`` and outputs ``outputs[p]`` at ``x``;
    - categorical unit ``c`` reads ``x = features[b, categorical_columns[c]]``:
      ``z[P + c] = tables[c, i]`` with ``i = round(x)`` (half to even) when
      ``0 <= i < num_buckets[c]``, else ``i = num_buckets[c]`` (its default
      bucket; NaN included).

    Lattice ``l`` reads ``d = len(lattice_sizes)`` of them,
    ``z[lattice_inputs[l d + k]]`` for ``k < d``, and the score is

    .. math::

        s_b = \text{bias} + \sum_l \text{weights}[l]\,
              L_l\bigl(z[\text{lattice\_inputs}[l d \ldots l d + d - 1]]\bigr),

    with ``L_l`` the multilinear interpolation of ``lattice_params[l]`` (see
    :func:`~tf_lattice.ops.lattice_interpolation`, ``"hypercube"``).

    This is the model that the layers of
    :func:`tf_lattice.models.calibrated_lattice_ensemble` compute (numeric
    calibrators with missing outputs and constant tails, categorical
    calibrators, lattices of one shape, a linear combination), in one op
    call forward and one backward where the layers run a few dozen.

    Gradients flow to ``outputs``, ``missing_outputs``, ``tables``,
    ``lattice_params``, ``weights`` and ``bias``; the features and the
    keypoints are data (no gradient).

    Args:
      features: ``[batch, width]`` float32 or float64 tensor.
      keypoints: ``[P, K]`` tensor of the same dtype, each row strictly
        increasing (``K >= 2`` when ``P > 0``).
      outputs: ``[P, K]`` keypoint outputs.
      missing_outputs: ``[P]``.
      tables: ``[C, N]`` with ``N > num_buckets[c]`` for every ``c``.
      lattice_params: ``[L, prod(lattice_sizes)]``, vertices in row-major
        order.
      weights: ``[L]``.
      bias: a scalar.
      numeric_columns: ``P`` column indices of ``features``.
      categorical_columns: ``C`` column indices of ``features``.
      num_buckets: ``C`` known-bucket counts.
      lattice_sizes: ``d >= 1`` sizes, each at least 2.
      lattice_inputs: ``L * d`` indices into ``z``, in ``[0, P + C)``.
      implementation: ``"kernel"`` (the compiled C++ op; CPU only) or
        ``"portable"`` (the pure-TensorFlow twin, built from the calibration
        and interpolation ops' twins). Never switched silently.
      name: optional name scope for the ops.

    Returns:
      ``[batch]`` scores of the dtype of ``features``.

    Raises:
      ValueError: arguments that do not fit together (shapes, dtypes, column
        or input indices out of range, sizes below 2), found before any op
        runs.
      tf.errors.InvalidArgumentError: keypoints that are not strictly
        increasing (found when the op runs).
    """
    _common.check_implementation(implementation)
    structure = _Structure(numeric_columns, categorical_columns, num_buckets, lattice_sizes,
                           lattice_inputs)
    with tf.name_scope(name or "calibrated_ensemble"):
        features = tf.convert_to_tensor(features, name="features")
        _common.check_float_dtype("features", features)
        named = {arg_name: tf.convert_to_tensor(value, dtype_hint=features.dtype, name=arg_name)
                 for arg_name, value in (("keypoints", keypoints), ("outputs", outputs),
                                         ("missing_outputs", missing_outputs), ("tables", tables),
                                         ("lattice_params", lattice_params),
                                         ("weights", weights), ("bias", bias))}
        _common.check_same_dtype(features=features, **named)
        tensors = list(named.values())
        structure.check_shapes(features, *tensors)
        if implementation == "portable":
            return portable_calibrated_ensemble(features, *tensors, structure)
        return _native.load_ops().tf_lattice_calibrated_ensemble(
            features, *tensors, **structure.attributes())


class _Structure:
    """The index arguments of :func:`calibrated_ensemble`, checked."""

    def __init__(self, numeric_columns, categorical_columns, num_buckets, lattice_sizes,
                 lattice_inputs):
        self.numeric_columns = [int(c) for c in numeric_columns]
        self.categorical_columns = [int(c) for c in categorical_columns]
        self.num_buckets = [int(n) for n in num_buckets]
        self.lattice_sizes = [int(s) for s in lattice_sizes]
        self.lattice_inputs = [int(i) for i in lattice_inputs]
        check_lattice_sizes(self.lattice_sizes)
        if len(self.num_buckets) != len(self.categorical_columns):
            raise ValueError(f"num_buckets has {len(self.num_buckets)} entries for "
                             f"{len(self.categorical_columns)} categorical_columns")
        if any(n < 0 for n in self.num_buckets):
            raise ValueError(f"num_buckets must be >= 0, got {self.num_buckets}")
        rank = len(self.lattice_sizes)
        if len(self.lattice_inputs) % rank:
            raise ValueError(f"lattice_inputs has {len(self.lattice_inputs)} entries, not a "
                             f"multiple of the lattice rank {rank}")
        calibrated = len(self.numeric_columns) + len(self.categorical_columns)
        bad = [i for i in self.lattice_inputs if not 0 <= i < calibrated]
        if bad:
            raise ValueError(f"lattice_inputs must lie in [0, {calibrated}) (the numeric, then "
                             f"the categorical calibrated values), got {bad[0]}")

    @property
    def num_lattices(self):
        return len(self.lattice_inputs) // len(self.lattice_sizes)

    def attributes(self):
        return dict(numeric_columns=self.numeric_columns,
                    categorical_columns=self.categorical_columns, num_buckets=self.num_buckets,
                    lattice_sizes=self.lattice_sizes, lattice_inputs=self.lattice_inputs)

    def check_shapes(self, features, keypoints, outputs, missing_outputs, tables, lattice_params,
                     weights, bias):
        """Raises ValueError for a statically known shape that does not fit."""
        numeric, categorical = len(self.numeric_columns), len(self.categorical_columns)
        expected = {
            "keypoints": (keypoints, [numeric, None]),
            "outputs": (outputs, [numeric, keypoints.shape[-1] if keypoints.shape.rank else None]),
            "missing_outputs": (missing_outputs, [numeric]),
            "tables": (tables, [categorical, None]),
            "lattice_params": (lattice_params,
                               [self.num_lattices, num_vertices(self.lattice_sizes)]),
            "weights": (weights, [self.num_lattices]),
            "bias": (bias, []),
            "features": (features, [None, None]),
        }
        for arg_name, (tensor, shape) in expected.items():
            if not tensor.shape.is_compatible_with(shape):
                raise ValueError(f"{arg_name} must have shape {shape}, got {tensor.shape}")
        if numeric and keypoints.shape[-1] is not None and keypoints.shape[-1] < 2:
            raise ValueError(f"keypoints must have at least 2 per unit (K >= 2), got shape "
                             f"{keypoints.shape}")
        width = features.shape[-1]
        columns = self.numeric_columns + self.categorical_columns
        bad = [c for c in columns if c < 0 or (width is not None and c >= width)]
        if bad:
            raise ValueError(f"feature column {bad[0]} is out of range for features of shape "
                             f"{features.shape}")
        buckets = tables.shape[-1]
        if buckets is not None and any(n >= buckets for n in self.num_buckets):
            raise ValueError(f"tables of shape {tables.shape} has no default bucket for "
                             f"num_buckets {max(self.num_buckets)}")


def portable_calibrated_ensemble(features, keypoints, outputs, missing_outputs, tables,
                                 lattice_params, weights, bias, structure):
    """The pure-TensorFlow twin of the kernel: the calibration and
    interpolation ops' twins composed (same outputs, same gradients)."""
    scores = tf.broadcast_to(bias, tf.shape(features)[:1])
    if not structure.lattice_inputs:
        return scores
    calibrated = []
    if structure.numeric_columns:
        x = tf.gather(features, structure.numeric_columns, axis=1)
        is_missing = tf.math.is_nan(x)
        # Missing entries are calibrated at the first keypoint, then replaced.
        x = tf.where(is_missing, tf.broadcast_to(keypoints[:, 0], tf.shape(x)), x)
        values = portable_pwl_calibration(x, keypoints, outputs)
        calibrated.append(tf.where(is_missing, tf.broadcast_to(missing_outputs, tf.shape(x)),
                                   values))
    if structure.categorical_columns:
        buckets = bucket_ids(tf.gather(features, structure.categorical_columns, axis=1),
                             structure.num_buckets)
        width = tf.shape(tables, out_type=tf.int32)[1]
        rows = tf.range(len(structure.categorical_columns), dtype=tf.int32) * width
        calibrated.append(tf.gather(tf.reshape(tables, [-1]), buckets + rows))
    z = tf.concat(calibrated, axis=1)
    lattice_inputs = tf.reshape(tf.gather(z, structure.lattice_inputs, axis=1),
                                [-1, structure.num_lattices, len(structure.lattice_sizes)])
    values = portable_lattice_interpolation(lattice_inputs, lattice_params,
                                            structure.lattice_sizes, "hypercube")
    return scores + tf.linalg.matvec(values, weights)


@tf.RegisterGradient("TfLattice>CalibratedEnsemble")
def _calibrated_ensemble_grad(op, grad):
    grads = _native.load_ops().tf_lattice_calibrated_ensemble_grad(
        *op.inputs, grad, **{key: op.get_attr(key) for key in (
            "numeric_columns", "categorical_columns", "num_buckets", "lattice_sizes",
            "lattice_inputs")})
    return [None, None] + list(grads)


tf.no_gradient("TfLattice>CalibratedEnsembleGrad")
