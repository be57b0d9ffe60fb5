"""Pieces shared by every tf_lattice layer: argument checks (the constraint
arguments are parsed by :mod:`tf_lattice.specs`), the projection
constraint, the base class of the constraint API (``LatticeLayer``) and the
base of the layers that run a compiled kernel or its portable twin
(``KernelLayer``, the only ones taking ``implementation``)."""

import keras
import numpy as np

from tf_lattice.constraints import ConstraintCheck

IMPLEMENTATIONS = ("kernel", "portable")
INTERPOLATIONS = ("hypercube", "simplex")


def check_choice(name, value, allowed):
    """Returns ``value`` if it is one of ``allowed``, else raises ValueError."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def serialize_initializer(initializer):
    """An initializer as ``get_config`` stores it.

    Names (such as ``"uniform"`` or ``"linear_initializer"``), config dicts and
    None are kept as they are; Keras initializer objects are serialized with
    ``keras.saving.serialize_keras_object``.
    """
    if initializer is None or isinstance(initializer, (str, dict)):
        return initializer
    return keras.saving.serialize_keras_object(initializer)


def spec_attribute(name):
    """A read-only layer attribute that reads the field ``name`` of ``self.spec``."""
    return property(lambda self: getattr(self.spec, name),
                    doc=f"The ``{name}`` of the layer's spec (read-only).")


class Projection(keras.constraints.Constraint):
    """A Keras constraint that calls a projection function of the weight.

    Keras 3 optimizers call ``variable.assign(constraint(variable))`` right
    after every ``apply``, so the projection runs after each training step with
    no user action. The constraint holds a callable bound to its layer (the
    projection may read other weights of the layer); it is rebuilt from the
    layer's config in ``build`` and is not serialized on its own.
    """

    def __init__(self, project):
        self.project = project

    def __call__(self, value):
        return self.project(value)

    def get_config(self):
        return {}


class LatticeLayer(keras.layers.Layer):
    """Base class of every tf_lattice layer: the constraint API.

    Subclasses implement ``_project(exact)`` returning a list of ``(variable, value)`` pairs and
    ``certify()``.

    A layer that derives only from this class runs stock TensorFlow ops and
    takes no ``implementation`` argument: passing one raises TypeError naming
    the layer. ``from_config`` drops an ``implementation`` entry, which the
    configs of earlier versions hold, and renames the arguments of
    ``renamed_arguments``, so those configs keep loading. Layers with a
    compiled kernel and a portable twin derive from :class:`KernelLayer`.
    """

    #: Whether the layer takes ``implementation`` (see :class:`KernelLayer`).
    takes_implementation = False
    #: ``{name in earlier versions' configs: current name}``.
    renamed_arguments = {}

    def __init__(self, **kwargs):
        if not self.takes_implementation and "implementation" in kwargs:
            raise TypeError(f"{type(self).__name__} has no compiled kernel; it takes no implementation "
                            f"argument (got implementation={kwargs['implementation']!r})")
        super().__init__(**kwargs)

    @classmethod
    def from_config(cls, config):
        config = {cls.renamed_arguments.get(key, key): value for key, value in config.items()
                  if cls.takes_implementation or key != "implementation"}
        return super().from_config(config)

    def _project(self, exact):
        raise NotImplementedError

    def apply_constraints(self):
        """Projects every constrained weight once (what each step does)."""
        for variable, value in self._project(exact=False):
            variable.assign(value)

    def finalize_constraints(self):
        """Applies the strictest projection available (exact where it exists).

        Call after training; the weights then satisfy every declared
        constraint up to float rounding, which ``certify()`` confirms.
        """
        for variable, value in self._project(exact=True):
            variable.assign(value)

    def certify(self):
        """Checks every declared constraint exactly on the current weights.

        Returns:
          A :class:`tf_lattice.constraints.Certificate`.
        """
        raise NotImplementedError


class KernelLayer(LatticeLayer):
    """Base class of the layers with a compiled kernel and a portable twin.

    Takes ``implementation="kernel"`` (the compiled tf_lattice ops) or
    ``"portable"`` (their stock TensorFlow twins, same values) and stores it in
    its config. The kernel may serve the forward pass (``uses_kernels``) or
    only the projection after each optimizer step.
    """

    takes_implementation = True

    #: Whether the forward pass calls a compiled tf_lattice kernel when
    #: ``implementation="kernel"``; such a layer cannot run under XLA.
    uses_kernels = True

    def __init__(self, implementation="kernel", **kwargs):
        super().__init__(**kwargs)
        self.implementation = check_choice("implementation", implementation, IMPLEMENTATIONS)
        # Custom ops cannot be compiled by XLA: Keras' jit_compile="auto"
        # checks this flag on every layer and falls back to plain tf.function.
        self.supports_jit = not (self.uses_kernels and implementation == "kernel")

    def get_config(self):
        config = super().get_config()
        config["implementation"] = self.implementation
        return config


def bounds_check(name, values, output_min, output_max, tolerance=1e-6):
    """Returns a ConstraintCheck of ``output_min <= values <= output_max``."""
    values = np.asarray(values, np.float64)
    worst, location = 0.0, None
    if values.size:
        if output_min is not None:
            below = output_min - values
            if below.max() > worst:
                worst, location = float(below.max()), np.unravel_index(below.argmax(), values.shape)
        if output_max is not None:
            above = values - output_max
            if above.max() > worst:
                worst, location = float(above.max()), np.unravel_index(above.argmax(), values.shape)
    if location is not None:
        location = tuple(int(i) for i in location)
    return ConstraintCheck(name, worst, location, tolerance)
