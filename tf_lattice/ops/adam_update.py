"""Adam's update of a list of variables in one op.

For each variable ``w`` with gradient ``g`` and moments ``m`` and ``v``, at
step ``t`` and with ``alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)``:

    m <- m + (g - m) (1 - beta_1)
    v <- v + (g^2 - v) (1 - beta_2)
    w <- w - alpha m / (sqrt(v) + epsilon)

This is the update of TensorFlow's ``ResourceApplyAdam`` (without Nesterov
momentum), computed in the same arithmetic, so both give the same numbers.
The kernel updates every variable of the list in one call and splits a
variable over the thread pool only when it is large enough to gain from it
(``ops/cc/kernels/cpu_sharding.h``). TensorFlow's CPU kernel is one op per
variable and hands every variable of more than a few dozen entries to the
pool, whose wake-up costs more than updating a small variable. The kernel
runs on the CPU; its portable twin, ``ResourceApplyAdam`` per variable, serves
variables on other devices.
"""

import numpy as np
import tensorflow as tf

from tf_lattice import _native
from tf_lattice.ops import _common


def adam_update(variables, first_moments, second_moments, gradients, learning_rate,
                beta_1_power, beta_2_power, *, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                implementation="kernel"):
    """Applies one Adam step to every variable, in place.

    Args:
      variables: ``n >= 1`` resource variables (``tf.Variable``) of float32
        or float64, all of one dtype.
      first_moments: ``n`` resource variables, ``m``, of the variables'
        shapes and dtype.
      second_moments: ``n`` resource variables, ``v``, likewise.
      gradients: ``n`` dense tensors of the variables' shapes.
      learning_rate: the step size ``lr``, a scalar (a number, or a float
        tensor, cast to the variables' dtype).
      beta_1_power: ``beta_1^t``, a scalar likewise (``t`` counts from 1).
      beta_2_power: ``beta_2^t``, a scalar likewise.
      beta_1: decay of the first moment.
      beta_2: decay of the second moment.
      epsilon: added to ``sqrt(v)``.
      implementation: "kernel" (one compiled op; variables on the CPU) or
        "portable" (``ResourceApplyAdam`` per variable, any device).

    The first step moves each weight by about ``lr`` against the sign of
    its gradient:

    >>> import numpy as np
    >>> import tensorflow as tf
    >>> from tf_lattice.ops import adam_update
    >>> weights = tf.Variable([1.0, -1.0])
    >>> first, second = tf.Variable([0.0, 0.0]), tf.Variable([0.0, 0.0])
    >>> adam_update([weights], [first], [second], [tf.constant([0.5, -2.0])], 0.1,
    ...             beta_1_power=0.9, beta_2_power=0.999, implementation="portable")
    >>> np.round(weights.numpy(), 4)
    array([ 0.9, -0.9], dtype=float32)

    Raises:
      ValueError: lists of different lengths or empty, an entry that is not a
        resource variable, dtypes that differ or are not float32/float64,
        shapes that differ (the message names the list and the index), or
        the kernel asked for a variable that is not on the CPU.
    """
    _common.check_implementation(implementation)
    lists = {"variables": list(variables), "first_moments": list(first_moments),
             "second_moments": list(second_moments)}
    gradients = list(gradients)
    count = len(lists["variables"])
    lengths = {name: len(entries) for name, entries in lists.items()}
    lengths["gradients"] = len(gradients)
    if count == 0 or len(set(lengths.values())) > 1:
        raise ValueError(f"adam_update needs lists of one equal length >= 1, got {lengths}")
    for name, entries in lists.items():
        for index, variable in enumerate(entries):
            if not hasattr(variable, "handle"):
                raise ValueError(f"{name}[{index}] must be a resource variable (tf.Variable), "
                                 f"got {type(variable).__name__}")
    dtype = lists["variables"][0].dtype
    _common.check_float_dtype("variables[0]", lists["variables"][0])
    with tf.name_scope("adam_update"):
        gradients = [_tensor(g, dtype) for g in gradients]
        _check_dtypes_and_shapes(lists, gradients, dtype)
        scalars = [_scalar(value, dtype, name) for name, value in (
            ("learning_rate", learning_rate), ("beta_1_power", beta_1_power),
            ("beta_2_power", beta_2_power), ("beta_1", beta_1), ("beta_2", beta_2),
            ("epsilon", epsilon))]
        if implementation == "kernel":
            _check_on_cpu(lists)
            _native.load_ops().tf_lattice_adam_update(
                variables=[v.handle for v in lists["variables"]],
                first_moments=[m.handle for m in lists["first_moments"]],
                second_moments=[m.handle for m in lists["second_moments"]],
                gradients=gradients, learning_rate=scalars[0], beta_1_power=scalars[1],
                beta_2_power=scalars[2], beta_1=scalars[3], beta_2=scalars[4],
                epsilon=scalars[5])
            return
        for variable, first, second, gradient in zip(
                lists["variables"], lists["first_moments"], lists["second_moments"], gradients):
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=first.handle, v=second.handle, beta1_power=scalars[1],
                beta2_power=scalars[2], lr=scalars[0], beta1=scalars[3], beta2=scalars[4],
                epsilon=scalars[5], grad=gradient)


def _scalar(value, dtype, name):
    """``value`` as a ``dtype`` tensor: Python numbers are converted to
    ``dtype`` directly (no float32 rounding on the way to float64), tensors
    of another float dtype are cast."""
    return tf.cast(tf.convert_to_tensor(value, dtype_hint=dtype, name=name), dtype)


def _tensor(value, dtype):
    """``value`` as a tensor: arrays and tensors keep their dtype (checked
    later), Python numbers and lists take ``dtype``."""
    if isinstance(value, (tf.Tensor, np.ndarray)):
        return tf.convert_to_tensor(value)
    return tf.convert_to_tensor(value, dtype_hint=dtype, name="gradient")


def _check_dtypes_and_shapes(lists, gradients, dtype):
    """Raises ValueError naming the first entry whose dtype is not ``dtype``
    or whose static shape differs from its variable's."""
    entries = dict(lists, gradients=gradients)
    for name, values in entries.items():
        for index, value in enumerate(values):
            if value.dtype != dtype:
                raise ValueError(f"{name}[{index}] has dtype {value.dtype.name}, "
                                 f"variables[0] {dtype.name}")
            shape = lists["variables"][index].shape
            if not value.shape.is_compatible_with(shape):
                raise ValueError(f"{name}[{index}] has shape {value.shape}, "
                                 f"variables[{index}] {shape}")


def kernel_can_update(variable):
    """Whether the kernel can update ``variable``: it lives on the CPU."""
    return tf.DeviceSpec.from_string(variable.device or "").device_type in (None, "CPU")


def _check_on_cpu(lists):
    """Raises ValueError for a variable the CPU kernel cannot update."""
    for name, entries in lists.items():
        for index, variable in enumerate(entries):
            if not kernel_can_update(variable):
                raise ValueError(
                    f"implementation='kernel' updates variables on the CPU; {name}[{index}] is "
                    f"on {variable.device}: use implementation='portable'")
