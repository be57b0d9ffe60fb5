"""Runs a projection's iterative solver as one XLA cluster inside graphs.

The interior-point solver and the finalize steps are hundreds of tiny
TensorFlow ops per iteration. Inside a traced train step (where Keras applies
weight constraints after every optimizer step) launching them one by one costs
far more than the arithmetic, so there they are compiled together with XLA,
once per trace. Eager calls (tests, ``finalize_constraints``) run the ops
directly: compiling for every new shape would cost more than it saves.
"""

import tensorflow as tf


def call_compiled_in_graphs(function, *tensors):
    """Returns ``function(*tensors)``, XLA-compiled when called inside a graph.

    Args:
      function: a Python function of tensors only (configuration captured by
        closure) built from ops XLA supports.
      *tensors: its tensor arguments.

    Returns:
      Whatever ``function`` returns.
    """
    if tf.executing_eagerly():
        return function(*tensors)
    return tf.function(function, jit_compile=True, autograph=False)(*tensors)
