"""Lattice interpolation: multilinear (hypercube) and simplex, kernel and twin.

A lattice with sizes ``m = (m_0, ..., m_{d-1})`` holds one parameter per
vertex, ``V = prod(m)`` of them per unit, in row-major order (last dimension
fastest): ``index(v) = sum_k v_k s_k`` with ``s_{d-1} = 1`` and
``s_k = s_{k+1} m_{k+1}``. A point ``x`` is clipped to ``[0, m_k - 1]`` per
dimension and falls in the cell with lower corner ``b_k = min(floor(x_k),
m_k - 2)`` and residual ``r_k = x_k - b_k`` in ``[0, 1]``. Only the vertices
of that cell are ever read, forward and backward.
"""

import itertools

import numpy as np
import tensorflow as tf

from tf_lattice import _native
from tf_lattice.ops import _common
from tf_lattice.specs import LatticeSpec
from tf_lattice.specs import _vocabulary

INTERPOLATIONS = ("hypercube", "simplex")
#: The portable hypercube gathers all ``2^d`` corners of a point's cell (its
#: corner table is built in Python), so it takes at most this many dimensions.
MAX_PORTABLE_HYPERCUBE_DIMS = 24


def lattice_interpolation(inputs, params, lattice_sizes, interpolation="hypercube",
                          implementation="kernel", name=None):
    r"""Evaluates one lattice function per unit at each input point.

    Multilinear (``interpolation="hypercube"``) reads the ``2^d`` corners of the
    point's cell:

    .. math::

        f(x) = \sum_{e \in \{0,1\}^d} \theta[b + e]
               \prod_k (e_k\ ?\ r_k : 1 - r_k)

    Simplex (``interpolation="simplex"``) sorts ``r`` descending by a
    permutation ``p`` (ties: the lower dimension first), walks the ``d + 1``
    vertices ``v_0 = b``, ``v_j = v_{j-1} + e_{p(j-1)}`` and weighs them by
    ``1 - r_{p(0)}``, ``r_{p(j-1)} - r_{p(j)}`` and ``r_{p(d-1)}``.

    Gradients flow to ``inputs`` and ``params``. At a knot the derivative with
    respect to ``inputs`` is the one-sided derivative of the cell the forward
    pass used (the cell to the right at interior knots, to the left at the
    upper bound ``m_k - 1``) and it is zero outside the clipped range.

    The compiled kernels (``implementation="kernel"``) cannot be compiled by
    XLA, so Keras layers built on them set ``supports_jit = False``; the
    pure-TensorFlow twin (``implementation="portable"``) gives the same outputs
    and gradients with stock ops only, under ``jit_compile=True`` and in
    SavedModels loaded without tf_lattice.

    Example:

    >>> import tensorflow as tf
    >>> from tf_lattice.ops import lattice_interpolation
    >>> params = tf.constant([[0.0, 1.0, 2.0, 4.0]])  # sizes [2, 2], one unit
    >>> x = tf.constant([[0.5, 0.5], [1.0, 0.0]])
    >>> lattice_interpolation(x, params, [2, 2], implementation="portable").numpy()
    array([[1.75],
           [2.  ]], dtype=float32)

    Args:
      inputs: float tensor ``[batch, d]`` (every unit reads the same point) or
        ``[batch, units, d]``.
      params: tensor ``[units, prod(lattice_sizes)]`` of the same dtype, the
        vertex values of each unit's lattice in row-major order.
      lattice_sizes: sequence of ``d`` ints, each at least 2, or the
        layer's :class:`tf_lattice.specs.LatticeSpec`.
      interpolation: ``"hypercube"`` or ``"simplex"``.
      implementation: ``"kernel"`` (compiled C++/CUDA kernels) or
        ``"portable"`` (pure TensorFlow).
      name: optional name scope.

    Returns:
      Tensor ``[batch, units]`` of the dtype of ``inputs``.

    Raises:
      ValueError: statically invalid arguments: an unknown ``interpolation``
        or ``implementation``, a lattice size below 2, dtypes other than
        matching float32/float64, wrong ranks, or shapes that disagree; for
        ``implementation="portable"`` also inputs or params of unknown rank,
        and a hypercube of more than ``MAX_PORTABLE_HYPERCUBE_DIMS`` (24)
        dimensions unless the batch or the units are statically 0 (the empty
        result is then returned at once).
      tf.errors.InvalidArgumentError: shapes that disagree at run time.
      tf_lattice._native.OpsNotBuiltError: ``implementation="kernel"`` without
        the compiled library.
    """
    _common.check_implementation(implementation)
    check_interpolation(interpolation)
    lattice_sizes = check_lattice_sizes(lattice_sizes)
    with tf.name_scope(name or "lattice_interpolation"):
        inputs = tf.convert_to_tensor(inputs, name="inputs")
        params = tf.convert_to_tensor(params, name="params")
        _common.check_float_dtype("inputs", inputs)
        _common.check_float_dtype("params", params)
        _common.check_same_dtype(inputs=inputs, params=params)
        check_static_shapes(inputs, params, lattice_sizes)
        if implementation == "kernel":
            return _native.load_ops().tf_lattice_lattice_interpolation(
                inputs=inputs, params=params, lattice_sizes=lattice_sizes,
                interpolation=interpolation)
        empty = _static_empty_result(inputs, params)
        if empty is not None:
            return empty
        if interpolation == "hypercube" and len(lattice_sizes) > MAX_PORTABLE_HYPERCUBE_DIMS:
            raise ValueError(
                f"the portable hypercube interpolation gathers all 2^d corners of a "
                f"point's cell, and d = {len(lattice_sizes)} exceeds "
                f"{MAX_PORTABLE_HYPERCUBE_DIMS}: use interpolation='simplex' (d + 1 "
                "vertices per point) or implementation='kernel'")
        inputs, params = _with_dynamic_shape_checks(inputs, params, lattice_sizes)
        return portable_lattice_interpolation(inputs, params, lattice_sizes, interpolation)


def check_interpolation(interpolation):
    """Raises ValueError unless ``interpolation`` is "hypercube" or "simplex"."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")


def check_lattice_sizes(lattice_sizes):
    """Returns ``lattice_sizes`` as a list of ints after checking each is >= 2.

    A :class:`tf_lattice.specs.LatticeSpec` (validated when it was built)
    gives its sizes without another check.

    Raises:
      ValueError: ``lattice_sizes`` is empty, holds a non-integer or a size
        below 2.
    """
    if isinstance(lattice_sizes, LatticeSpec):
        return list(lattice_sizes.lattice_sizes)
    return list(_vocabulary.parse_sizes(lattice_sizes))


def num_vertices(lattice_sizes):
    """Returns ``prod(lattice_sizes)`` as an exact Python int (no overflow)."""
    return int(np.prod([int(m) for m in lattice_sizes], dtype=object))


def vertex_strides(lattice_sizes):
    """Returns the row-major strides ``s`` (``s_{d-1} = 1``) as Python ints."""
    strides = [1] * len(lattice_sizes)
    for k in range(len(lattice_sizes) - 2, -1, -1):
        strides[k] = strides[k + 1] * lattice_sizes[k + 1]
    return strides


def check_static_shapes(inputs, params, lattice_sizes):
    """Raises ValueError when the statically known shapes disagree.

    Args:
      inputs: tensor ``[batch, d]`` or ``[batch, units, d]``.
      params: tensor ``[units, prod(lattice_sizes)]``.
      lattice_sizes: list of ``d`` ints.
    """
    dims = len(lattice_sizes)
    vertices = num_vertices(lattice_sizes)
    if vertices >= 2**63:
        raise ValueError(
            f"lattice_sizes {lattice_sizes} have {vertices} vertices, more than "
            "an int64 index can address")
    in_shape, par_shape = inputs.shape, params.shape
    if in_shape.rank is not None and in_shape.rank not in (2, 3):
        raise ValueError(
            f"inputs must have rank 2 [batch, d] or 3 [batch, units, d], got shape {in_shape}")
    if par_shape.rank is not None and par_shape.rank != 2:
        raise ValueError(
            f"params must have rank 2 [units, prod(lattice_sizes)], got shape {par_shape}")
    if in_shape.rank is not None and in_shape[-1] is not None and in_shape[-1] != dims:
        raise ValueError(
            f"inputs last dimension must equal len(lattice_sizes) = {dims}, got "
            f"inputs shape {in_shape} for lattice_sizes {lattice_sizes}")
    if par_shape.rank is not None and par_shape[1] is not None and par_shape[1] != vertices:
        raise ValueError(
            f"params second dimension must equal prod(lattice_sizes) = {vertices} "
            f"for lattice_sizes {lattice_sizes}, got params shape {par_shape}")
    if (in_shape.rank == 3 and par_shape.rank is not None and in_shape[1] is not None
            and par_shape[0] is not None and in_shape[1] != par_shape[0]):
        raise ValueError(
            f"inputs units (dimension 1) must equal params units (dimension 0), got "
            f"inputs shape {in_shape} and params shape {par_shape}")


def _static_empty_result(inputs, params):
    """Zeros ``[batch, units]`` (zero gradients) when the batch or the units are
    statically 0, else None."""
    batch = inputs.shape[0] if inputs.shape.rank is not None else None
    units = params.shape[0] if params.shape.rank is not None else None
    if batch != 0 and units != 0:
        return None
    shape = tf.stack([tf.shape(inputs, out_type=tf.int64)[0],
                      tf.shape(params, out_type=tf.int64)[0]])

    @tf.custom_gradient
    def empty(inputs, params):
        def grad(_):
            return tf.zeros_like(inputs), tf.zeros_like(params)
        return tf.zeros(shape, inputs.dtype), grad

    result = empty(inputs, params)
    result.set_shape([batch, units])
    return result


def _with_dynamic_shape_checks(inputs, params, lattice_sizes):
    """Adds run-time shape assertions where the static shapes are incomplete."""
    if inputs.shape.rank is None or params.shape.rank is None:
        raise ValueError(
            "the portable implementation needs inputs and params of known rank, got "
            f"inputs shape {inputs.shape} and params shape {params.shape}")
    if inputs.shape.is_fully_defined() and params.shape.is_fully_defined():
        return inputs, params
    in_shape, par_shape = tf.shape(inputs, out_type=tf.int64), tf.shape(params, out_type=tf.int64)
    checks = [
        tf.debugging.assert_equal(
            in_shape[-1], tf.constant(len(lattice_sizes), tf.int64),
            message=f"inputs last dimension must equal len(lattice_sizes) for {lattice_sizes}"),
        tf.debugging.assert_equal(
            par_shape[1], tf.constant(num_vertices(lattice_sizes), tf.int64),
            message=f"params second dimension must equal prod(lattice_sizes) for {lattice_sizes}"),
    ]
    if inputs.shape.rank == 3:
        checks.append(tf.debugging.assert_equal(
            in_shape[1], par_shape[0],
            message="inputs units (dimension 1) must equal params units (dimension 0)"))
    with tf.control_dependencies(checks):
        return tf.identity(inputs), tf.identity(params)


def portable_lattice_interpolation(inputs, params, lattice_sizes, interpolation):
    """Pure-TensorFlow lattice interpolation (no checks; see the public op).

    Gathers the cell's ``2^d`` corners (hypercube) or ``d + 1`` simplex
    vertices per example and unit: memory is ``O(batch * units * 2^d)``, never
    ``O(batch * V)``. Automatic differentiation gives the documented one-sided
    gradients: the cell index is piecewise constant and the clip passes the
    gradient on the closed range ``[0, m_k - 1]``.

    Args:
      inputs: ``[batch, d]`` or ``[batch, units, d]``.
      params: ``[units, V]``.
      lattice_sizes: list of ``d`` ints.
      interpolation: "hypercube" or "simplex".

    Returns:
      ``[batch, units]``.
    """
    units = tf.shape(params, out_type=tf.int64)[0]
    if inputs.shape.rank == 2:
        inputs = inputs[:, tf.newaxis, :]
    lower, residual = cell_and_residual(inputs, lattice_sizes)
    strides = tf.constant(vertex_strides(lattice_sizes), tf.int64)
    base = tf.reduce_sum(lower * strides, axis=-1)  # [batch, units or 1]
    if interpolation == "hypercube":
        offsets, weights = _hypercube_offsets_and_weights(residual, lattice_sizes)
    else:
        offsets, weights = _simplex_offsets_and_weights(residual, strides)
    unit_start = tf.range(units, dtype=tf.int64) * num_vertices(lattice_sizes)
    flat_index = (base + unit_start)[..., tf.newaxis] + offsets
    corner_values = tf.gather(tf.reshape(params, [-1]), flat_index)
    return tf.reduce_sum(corner_values * weights, axis=-1)


def cell_and_residual(inputs, lattice_sizes):
    """Returns the cell's lower corner (int64) and the residuals.

    ``b_k = min(floor(x_k), m_k - 2)`` and ``r_k = x_k - b_k`` for ``x``
    clipped to ``[0, m_k - 1]``, with the cell found in int64 arithmetic as in
    the kernels: ``m_k - 1`` is never rounded to the input dtype (in float32
    it rounds up to ``m_k`` from ``m_k = 2^24 + 4``), and the residual is the
    exact ``x_k - floor(x_k)``, or 1 at and above ``m_k - 1``. A NaN input
    gets ``b_k = 0`` and ``r_k = NaN``, so the output is NaN.
    """
    dtype = inputs.dtype
    last_cell = tf.constant([m - 2 for m in lattice_sizes], tf.int64)
    zero = tf.zeros([], dtype)
    one = tf.ones([], dtype)
    is_nan = tf.math.is_nan(inputs)
    below = inputs < zero
    # Sizes are below 2^62, so clipping there keeps the int64 conversion exact
    # without changing which inputs lie above the last vertex.
    ceiling = tf.constant(2.0 ** 62, dtype)
    # NaN is replaced on its own (a tf.where on is_nan alone stays a select
    # in ONNX converters, which may turn other selects into arithmetic that
    # lets NaN through), then the value is clipped.
    safe = tf.stop_gradient(tf.minimum(tf.maximum(tf.where(is_nan, zero, inputs), zero), ceiling))
    floor_value = tf.floor(safe)
    whole = tf.cast(floor_value, tf.int64)
    at_top = whole > last_cell
    past_top = at_top & ((whole > last_cell + 1) | tf.not_equal(safe, floor_value))
    lower = tf.where(at_top, last_cell, whole)
    # tf.where passes the gradient on the closed range [0, m_k - 1] only; the
    # residual is x - floor(x) inside, 1 (slope 1) at m_k - 1 and 0 or 1
    # (slope 0) outside.
    inside = inputs - floor_value
    at_last = one + (inputs - safe)
    residual = tf.where(below, zero, tf.where(past_top, one, tf.where(at_top, at_last, inside)))
    return lower, residual


def _hypercube_offsets_and_weights(residual, lattice_sizes):
    """Corner offsets ``[2^d]`` and weights ``[..., 2^d]`` by a product tree.

    Corner ``c`` has bit ``d-1-k`` of ``c`` as its step ``e_k``, so dimension 0
    is the most significant bit; each level of the tree doubles the corners.
    """
    strides = vertex_strides(lattice_sizes)
    offsets = [sum(e_k * s_k for e_k, s_k in zip(corner, strides))
               for corner in itertools.product((0, 1), repeat=len(lattice_sizes))]
    batch_shape = tf.shape(residual)[:-1]
    weights = tf.ones(tf.concat([batch_shape, [1]], axis=0), residual.dtype)
    for k in range(len(lattice_sizes)):
        r_k = residual[..., k:k + 1]
        weights = tf.stack([weights * (1 - r_k), weights * r_k], axis=-1)
        weights = tf.reshape(weights, tf.concat([batch_shape, [2 ** (k + 1)]], axis=0))
    return tf.constant(offsets, tf.int64), weights


def _simplex_offsets_and_weights(residual, strides):
    """Offsets ``[..., d+1]`` and weights ``[..., d+1]`` of the simplex walk.

    The sort is stable, so equal residuals keep the lower dimension first.
    """
    order = tf.argsort(residual, axis=-1, direction="DESCENDING", stable=True)
    sorted_residual = tf.gather(residual, order, batch_dims=residual.shape.rank - 1)
    steps = tf.gather(strides, order)
    offsets = tf.concat([tf.zeros_like(steps[..., :1]), tf.cumsum(steps, axis=-1)], axis=-1)
    ones = tf.ones_like(sorted_residual[..., :1])
    weights = (tf.concat([ones, sorted_residual], axis=-1)
               - tf.concat([sorted_residual, tf.zeros_like(ones)], axis=-1))
    return offsets, weights


@tf.RegisterGradient("TfLattice>LatticeInterpolation")
def _lattice_interpolation_grad(op, grad_outputs):
    grad_inputs, grad_params = _native.load_ops().tf_lattice_lattice_interpolation_grad(
        inputs=op.inputs[0], params=op.inputs[1], grad_outputs=grad_outputs,
        lattice_sizes=op.get_attr("lattice_sizes"),
        interpolation=op.get_attr("interpolation"))
    return grad_inputs, grad_params


tf.no_gradient("TfLattice>LatticeInterpolationGrad")
