"""Size limits checked before a model is allocated.

A lattice has ``prod(lattice_sizes)`` parameters per output, so a large
``lattice_size`` over a few features (``2000 ** 3`` = 8e9) asks for tens of
gigabytes. The estimators refuse such models before building them, and
loading refuses a ``.keras`` file whose configuration describes one, before
Keras allocates its weights.
"""

import numpy as np

#: The most vertices (per output) one lattice of an estimator may have: the
#: limit of the calibrated lattice, 2**22 float32 values (16 MiB).
MAX_LATTICE_VERTICES = 2 ** 22
#: The most parameters a model's layers may hold together: 2**27 float32
#: values are 512 MiB, and training keeps three more copies (the gradient and
#: Adam's two moments).
MAX_MODEL_PARAMETERS = 2 ** 27


def check_lattices(lattices, subject="the model"):
    """Raises ValueError when lattices are too large to allocate.

    Args:
      lattices: iterable of ``(lattice_sizes, units)``.
      subject: what the message calls the model.
    """
    total = 0
    for sizes, units in lattices:
        vertices = int(np.prod([int(s) for s in sizes], dtype=object))
        if vertices > MAX_LATTICE_VERTICES:
            raise ValueError(
                f"{subject} has a lattice of sizes {list(sizes)}: {vertices:,} vertices, more than "
                f"the {MAX_LATTICE_VERTICES:,} allowed (about {4 * vertices / 2**30:,.1f} GiB of "
                "float32 parameters); use a smaller lattice_size or lattice_rank")
        total += vertices * int(units)
    if total > MAX_MODEL_PARAMETERS:
        raise ValueError(
            f"{subject} would have {total:,} lattice parameters, more than the "
            f"{MAX_MODEL_PARAMETERS:,} allowed (about {4 * total / 2**30:,.1f} GiB of float32 "
            "parameters); use a smaller lattice_size, lattice_rank or num_lattices")


def _layer_parameters(class_name, config):
    """Parameters a tf_lattice layer config asks for, or None if not a known layer."""
    if class_name == "Lattice":
        sizes = config.get("lattice_sizes")
        if isinstance(sizes, (int, float)):
            sizes = [sizes]
        return ("lattice", [int(s) for s in sizes], int(config.get("units", 1)))
    if class_name == "Linear":
        return ("dense", int(config.get("num_input_dims", 1)) * int(config.get("units", 1)))
    if class_name == "CategoricalCalibration":
        return ("dense", (int(config.get("num_buckets", 1)) + 1) * int(config.get("units", 1)))
    return None


def check_config(config, subject):
    """Refuses a Keras model config whose tf_lattice layers are too large.

    Args:
      config: the parsed ``config.json`` of a ``.keras`` archive.
      subject: the file, for messages.

    Raises:
      ValueError: naming ``subject`` and the layer.
    """
    lattices, dense = [], 0
    for class_name, layer_config in _layer_configs(config):
        try:
            found = _layer_parameters(class_name, layer_config)
        except (TypeError, ValueError, AttributeError):
            raise ValueError(f"{subject}: the {class_name} layer "
                             f"{layer_config.get('name')!r} has a malformed size") from None
        if found is None:
            continue
        if found[0] == "lattice":
            lattices.append((found[1], found[2]))
            check_lattices([(found[1], found[2])],
                           f"{subject}: layer {layer_config.get('name')!r}")
        else:
            dense += found[1]
    check_lattices([((1,), dense)] + lattices, subject)


def _layer_configs(node):
    """``(class_name, config)`` of every layer config nested in ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict):
            yield node["class_name"], node["config"]
        for value in node.values():
            yield from _layer_configs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _layer_configs(value)
