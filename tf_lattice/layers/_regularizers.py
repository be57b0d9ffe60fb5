"""Resolution of the ``kernel_regularizer`` arguments of the layers.

A layer accepts None, one Keras regularizer, a ``(name, l1, l2)`` tuple naming
one of the structural regularizers of :mod:`tf_lattice.regularizers`, or a list
of these; several are summed by :class:`tf_lattice.regularizers.RegularizerSum`.
"""

import keras


def _from_tuple(spec, builders, argument):
    name, *amounts = spec
    if name not in builders:
        raise ValueError(
            f"{argument} names an unknown regularizer {name!r}; known: {sorted(builders)}")
    return builders[name](*amounts)


def resolve(spec, builders, argument="kernel_regularizer"):
    """Turns a regularizer argument into one Keras regularizer (or None).

    Args:
      spec: None, a Keras regularizer (object, name or config), a
        ``(name, l1, l2)`` tuple, or a list of these.
      builders: dict from tuple names to callables ``(l1, l2) -> Regularizer``.
      argument: the argument's name, for error messages.

    Returns:
      None or one regularizer.

    Raises:
      ValueError: an unknown tuple name.
    """
    if spec is None:
        return None
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        return _from_tuple(spec, builders, argument)
    if isinstance(spec, list):
        resolved = [resolve(item, builders, argument) for item in spec]
        resolved = [item for item in resolved if item is not None]
        if not resolved:
            return None
        if len(resolved) == 1:
            return resolved[0]
        from tf_lattice.regularizers import RegularizerSum
        return RegularizerSum(resolved)
    return keras.regularizers.get(spec)


def serialize(spec):
    """Makes a regularizer argument JSON-friendly for ``get_config``."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, tuple):
        return list(spec)
    if isinstance(spec, list):
        return [serialize(item) for item in spec]
    if isinstance(spec, dict):
        return spec
    return keras.saving.serialize_keras_object(spec)


def deserialize(spec):
    """Inverse of :func:`serialize`: lists of [name, l1, l2] become tuples."""
    if isinstance(spec, list):
        if spec and isinstance(spec[0], str) and len(spec) in (2, 3) and all(
                isinstance(x, (int, float)) for x in spec[1:]):
            return tuple(spec)
        return [deserialize(item) for item in spec]
    return spec
