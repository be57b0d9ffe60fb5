"""Random tiny lattices: many small lattices over random subsets of inputs.

The structure (which inputs each lattice reads) is drawn once from a seed, so
the same arguments always give the same model. Lattices that declare the same
monotonicities are evaluated together as one multi-unit :class:`Lattice`. A
lattice's output is marked ``"increasing"`` when any of its inputs is
increasing (the lattice is increasing in every such input), which is what a
stacked RTL reads through :attr:`RTL.output_monotonicities`.
"""

import keras
import numpy as np
import tensorflow as tf

from tf_lattice.constraints import Certificate
from tf_lattice.layers import _common
from tf_lattice.layers import _regularizers
from tf_lattice.layers.lattice import Lattice
from tf_lattice.specs import LatticeSpec
from tf_lattice.specs import _vocabulary

#: The directions an RTL input takes (a subset of the monotonicity vocabulary).
RTL_MONOTONICITIES = {"none": 0, "increasing": 1}


def random_lattice_structure(num_inputs, num_lattices, lattice_rank, seed):
    """Draws the inputs of each lattice.

    Each lattice takes ``lattice_rank`` distinct inputs, preferring the least
    used ones so far (ties broken at random), so every input is used when
    ``num_lattices * lattice_rank >= num_inputs`` and uses stay balanced.

    Returns:
      A list of ``num_lattices`` sorted tuples of input indices.

    Raises:
      ValueError: ``lattice_rank`` exceeds ``num_inputs``.
    """
    if lattice_rank > num_inputs:
        raise ValueError(f"lattice_rank ({lattice_rank}) cannot exceed the number of inputs ({num_inputs})")
    rng = np.random.default_rng(seed)
    uses = np.zeros(num_inputs)
    structure = []
    for _ in range(num_lattices):
        order = np.lexsort((rng.random(num_inputs), uses))
        chosen = tuple(sorted(int(i) for i in order[:lattice_rank]))
        uses[list(chosen)] += 1
        structure.append(chosen)
    return structure


@keras.saving.register_keras_serializable(package="tf_lattice")
class RTL(_common.KernelLayer):
    """An ensemble of random tiny lattices as one layer.

    Input: ``[batch, n]`` (typically calibrated to ``[0, lattice_size - 1]``).
    Output: ``[batch, num_lattices]``, or ``[batch, 1]`` with
    ``average_outputs=True``.

    Args:
      num_lattices: number of lattices.
      lattice_rank: inputs per lattice.
      lattice_size: vertices per dimension, shared.
      monotonicities: per input ``"none"`` or ``"increasing"`` (flip a
        decreasing feature with a decreasing calibrator first).
      output_min, output_max: bounds on every lattice.
      interpolation: ``"hypercube"`` or ``"simplex"``.
      random_seed: seed of the structure.
      average_outputs: return the mean of the lattice outputs.
      kernel_initializer: as for :class:`Lattice`.
      kernel_regularizer: as for :class:`Lattice`.
      implementation: ``"kernel"`` or ``"portable"``.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, num_lattices, lattice_rank, lattice_size=2, monotonicities=None,
                 output_min=None, output_max=None, interpolation="hypercube", random_seed=42,
                 average_outputs=False, kernel_initializer="random_monotonic_initializer",
                 kernel_regularizer=None, implementation="kernel", **kwargs):
        super().__init__(implementation=implementation, **kwargs)
        self.num_lattices = _vocabulary.parse_count(num_lattices, "num_lattices")
        self.lattice_rank = _vocabulary.parse_count(lattice_rank, "lattice_rank")
        self.lattice_size = _vocabulary.parse_count(lattice_size, "lattice_size", 2)
        self.monotonicities = None if monotonicities is None else [
            _vocabulary.direction_name(_vocabulary.parse_direction(
                value, RTL_MONOTONICITIES, f"monotonicities[{index}]"), RTL_MONOTONICITIES)
            for index, value in enumerate(monotonicities)]
        # The constraints every lattice shares (sizes and bounds), checked once
        # here; each lattice's spec adds its monotonicities and units.
        self.spec = LatticeSpec.parse([self.lattice_size] * self.lattice_rank,
                                      output_min=output_min, output_max=output_max)
        self.interpolation = _common.check_choice("interpolation", interpolation, _common.INTERPOLATIONS)
        self.random_seed = random_seed
        self.average_outputs = bool(average_outputs)
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = _regularizers.deserialize(kernel_regularizer)
        self.structure = None
        self._groups = []

    def build(self, input_shape):
        num_inputs = int(input_shape[-1])
        if self.monotonicities is None:
            self.monotonicities = ["none"] * num_inputs
        if len(self.monotonicities) != num_inputs:
            raise ValueError(f"RTL got {num_inputs} inputs but {len(self.monotonicities)} monotonicities")
        increasing = [m == "increasing" for m in self.monotonicities]
        lattices = random_lattice_structure(num_inputs, self.num_lattices, self.lattice_rank, self.random_seed)
        # Put each lattice's increasing inputs first; group lattices by how many.
        lattices = [tuple(sorted(lat, key=lambda i: (not increasing[i], i))) for lat in lattices]
        by_count = {}
        for lattice in lattices:
            by_count.setdefault(sum(increasing[i] for i in lattice), []).append(lattice)
        self.structure = []
        self._groups = []
        for count in sorted(by_count):
            members = by_count[count]
            layer = Lattice(
                list(self.spec.lattice_sizes), units=len(members),
                interpolation=self.interpolation,
                monotonicities=["increasing"] * count + ["none"] * (self.lattice_rank - count),
                output_min=self.output_min, output_max=self.output_max,
                kernel_initializer=self.kernel_initializer, kernel_regularizer=self.kernel_regularizer,
                implementation=self.implementation, name=f"lattice_{count}_increasing",
                dtype=self.dtype_policy)
            layer.build((None, len(members), self.lattice_rank))
            self._groups.append((np.asarray(members, np.int32), layer))
            self.structure.extend(members)
        self._output_monotonicities = [
            "increasing" if any(increasing[i] for i in lattice) else "none" for lattice in self.structure]

    output_min = _common.spec_attribute("output_min")
    output_max = _common.spec_attribute("output_max")

    @property
    def output_monotonicities(self):
        """Per output: ``"increasing"`` if the lattice reads an increasing input."""
        if self.average_outputs:
            return ["increasing" if "increasing" in self._output_monotonicities else "none"]
        return list(self._output_monotonicities)

    @property
    def lattices(self):
        """The multi-unit Lattice layers, one per monotonicity signature."""
        return [layer for _, layer in self._groups]

    def call(self, inputs):
        inputs = tf.cast(inputs, self.compute_dtype)
        outputs = [layer(tf.gather(inputs, indices, axis=1)) for indices, layer in self._groups]
        outputs = tf.concat(outputs, axis=-1)
        if self.average_outputs:
            return tf.reduce_mean(outputs, axis=-1, keepdims=True)
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1 if self.average_outputs else self.num_lattices)

    def _project(self, exact):
        updates = []
        for layer in self.lattices:
            updates.extend(layer._project(exact))
        return updates

    def certify(self):
        """The merged certificates of every lattice."""
        checks = ()
        for layer in self.lattices:
            checks += tuple(layer.certify().checks)
        return Certificate(f"RTL {self.name!r}", checks)

    def get_config(self):
        config = super().get_config()
        initializer = _common.serialize_initializer(self.kernel_initializer)
        config.update(
            num_lattices=self.num_lattices, lattice_rank=self.lattice_rank, lattice_size=self.lattice_size,
            monotonicities=self.monotonicities, output_min=self.output_min, output_max=self.output_max,
            interpolation=self.interpolation, random_seed=self.random_seed,
            average_outputs=self.average_outputs, kernel_initializer=initializer,
            kernel_regularizer=_regularizers.serialize(self.kernel_regularizer))
        return config
