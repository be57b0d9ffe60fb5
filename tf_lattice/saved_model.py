"""Export of trained models as TensorFlow SavedModels for serving.

``export(model, path)`` (also ``tf_lattice.export``, a plain function)
writes a SavedModel with a ``serving_default``
signature. With ``portable=True`` (the default) every tf_lattice layer with a
compiled kernel is switched to ``implementation="portable"`` first (the layers
without one run stock TensorFlow ops already), so the graph uses only stock
TensorFlow ops: TensorFlow Serving, TFLite converters and any Python process
load it without tf_lattice. With ``portable=False`` the graph keeps the
compiled kernels and loading it needs tf_lattice's library.
"""

import keras

CUSTOM_OP_PREFIX = "TfLattice>"


def _with_implementation(config, implementation):
    """Returns a copy of a (nested) Keras config with every ``implementation``
    entry set to ``implementation``.

    Only existing entries change: the configs of layers without a compiled
    kernel hold no ``implementation`` and get none.
    """
    if isinstance(config, dict):
        return {key: implementation if key == "implementation" else _with_implementation(value, implementation)
                for key, value in config.items()}
    if isinstance(config, list):
        return [_with_implementation(item, implementation) for item in config]
    return config


def portable_clone(model):
    """A copy of ``model`` whose tf_lattice layers use stock TensorFlow ops.

    The copy is rebuilt from the model's config with every ``implementation``
    entry (one per layer with a compiled kernel) set to ``"portable"`` and gets the model's weights, so it computes the same
    function.

    Args:
      model: a functional or Sequential ``keras.Model``.

    Returns:
      The portable ``keras.Model``.
    """
    config = _with_implementation(keras.saving.serialize_keras_object(model), "portable")
    clone = keras.saving.deserialize_keras_object(config)
    clone.set_weights(model.get_weights())
    return clone


def op_types(saved_model_path):
    """The op names (``"MatMul"``, ...) used anywhere in a SavedModel's graphs."""
    from tensorflow.core.protobuf import saved_model_pb2
    import os

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_path, "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    names = set()
    for graph in proto.meta_graphs:
        nodes = list(graph.graph_def.node)
        for function in graph.graph_def.library.function:
            nodes.extend(function.node_def)
        names.update(node.op for node in nodes)
    return sorted(names)


def custom_ops(saved_model_path):
    """The tf_lattice op names used anywhere in a SavedModel's graphs."""
    return [name for name in op_types(saved_model_path) if name.startswith(CUSTOM_OP_PREFIX)]


def export(model, path, portable=True):
    """Writes ``model`` as a SavedModel with a ``serving_default`` signature.

    Args:
      model: a built ``keras.Model``.
      path: the output directory.
      portable: switch every tf_lattice layer to stock TensorFlow ops (True)
        or keep the compiled kernels (False).

    Returns:
      ``path``.

    Raises:
      ValueError: ``portable=True`` and the exported graph still contains a
        tf_lattice op (a layer that ignores ``implementation``).
    """
    exported = portable_clone(model) if portable else model
    exported.export(path, format="tf_saved_model", verbose=False)
    if portable:
        check_portable(path, model.name)
    return path


def check_portable(path, name):
    """Raises ValueError when the SavedModel at ``path`` uses a tf_lattice op.

    Args:
      path: a SavedModel directory.
      name: what was exported, for the message.
    """
    remaining = custom_ops(path)
    if remaining:
        raise ValueError(f"the portable export of {name!r} still uses {remaining}")
