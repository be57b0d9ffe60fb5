"""SavedModel export of an estimator's Keras model."""

import keras


def portable_copy(model):
    """A copy of ``model`` whose tf_lattice layers use only stock TensorFlow ops.

    Rebuilds the model from its config with every ``implementation`` set to
    ``"portable"`` and copies the weights.
    """
    config = model.get_config()
    for layer in config["layers"]:
        if "implementation" in layer.get("config", {}):
            layer["config"]["implementation"] = "portable"
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def export_model(model, path, portable=True):
    """Writes ``model`` as a SavedModel at ``path`` (``serve`` endpoint).

    Uses ``tf_lattice.export`` when the package provides it, else Keras'
    SavedModel export of (with ``portable=True``) a portable copy.
    """
    import tf_lattice
    exporter = getattr(tf_lattice, "export", None)
    if callable(exporter):
        exporter(model, path, portable=portable)
        return
    source = portable_copy(model) if portable else model
    source.export(str(path), format="tf_saved_model", verbose=False)
