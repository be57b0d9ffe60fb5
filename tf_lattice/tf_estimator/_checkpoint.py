"""Keras models restored from (and written back to) Estimator checkpoints.

An Estimator's checkpoint names each variable by its graph name
(``numeric_calibration/kernel``). The same builder run in a fresh graph and
eagerly creates the same weights in the same order, so the graph names of
the weights map each eager weight to its checkpoint entry.
"""

import os

import numpy as np
import tensorflow as tf


def graph_names(build):
    """The checkpoint names of the weights ``build()`` creates, in order."""
    with tf.Graph().as_default():
        model = build()
        return [weight.value.name.rsplit(":", 1)[0] for weight in model.weights]


def restore(build, checkpoint_path, names=None):
    """An eager Keras model holding the checkpoint's weights.

    Args:
      build: zero-argument function building the Keras model.
      checkpoint_path: a checkpoint prefix (``.../model.ckpt-100``).
      names: the weights' checkpoint names (default: ``graph_names(build)``).

    Raises:
      ValueError: a weight the checkpoint lacks or holds with another shape.
    """
    names = graph_names(build) if names is None else names
    reader = tf.train.load_checkpoint(checkpoint_path)
    shapes = reader.get_variable_to_shape_map()
    model = build()
    for weight, name in zip(model.weights, names):
        if name not in shapes:
            raise ValueError(f"checkpoint {checkpoint_path} has no variable {name!r}; was it "
                             "written by another model?")
        value = reader.get_tensor(name)
        if tuple(value.shape) != tuple(weight.shape):
            raise ValueError(f"checkpoint variable {name!r} has shape {value.shape}, the model's "
                             f"weight {tuple(weight.shape)}")
        weight.assign(value)
    return model


def write(model_dir, checkpoint_path, names, model):
    """Writes ``model``'s weights as a new version of ``checkpoint_path``.

    Every other entry of the checkpoint (the global step, optimizer slots) is
    copied unchanged, the new checkpoint keeps the global step, and it becomes
    the model directory's latest checkpoint.

    Args:
      names: the checkpoint names of ``model.weights`` (:func:`graph_names`).

    Returns:
      The new checkpoint's prefix.
    """
    replaced = {name: np.asarray(weight.numpy()) for name, weight in zip(names, model.weights)}
    reader = tf.train.load_checkpoint(checkpoint_path)
    step = int(reader.get_tensor("global_step")) if reader.has_tensor("global_step") else None
    state = tf.train.get_checkpoint_state(model_dir)
    with tf.Graph().as_default():
        variables = {}
        for index, name in enumerate(sorted(reader.get_variable_to_shape_map())):
            value = replaced[name] if name in replaced else reader.get_tensor(name)
            variables[name] = tf.compat.v1.Variable(value, trainable=False, name=f"entry_{index}")
        saver = tf.compat.v1.train.Saver(var_list=variables, sharded=False)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            path = saver.save(session, os.path.join(model_dir, "model.ckpt"), global_step=step,
                              write_state=False)
    previous = list(state.all_model_checkpoint_paths) if state is not None else []
    tf.compat.v1.train.update_checkpoint_state(
        model_dir, path, all_model_checkpoint_paths=[p for p in previous if p != path] + [path])
    return path
