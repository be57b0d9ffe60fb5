"""Keras 3 layers: calibrators, lattices, linear and ensemble layers.

Every layer enforces its declared shape constraints by projecting its weights
after each optimizer step, offers ``finalize_constraints()`` (the strictest
projection) and ``certify()`` (an exact check returning a
:class:`tf_lattice.constraints.Certificate`). The layers with a compiled
kernel (``PWLCalibration``, ``CategoricalCalibration``, ``Lattice``,
``Linear``, ``RTL``) take ``implementation="kernel" | "portable"`` and opt out
of XLA when their forward pass runs a compiled kernel; the others
(``KroneckerFactoredLattice``, ``Aggregation``, ``ParallelCombination``) run
stock TensorFlow ops and refuse ``implementation`` with a TypeError.
"""

from tf_lattice.layers.aggregation import Aggregation
from tf_lattice.layers.categorical_calibration import CategoricalCalibration
from tf_lattice.layers.kronecker_factored_lattice import KroneckerFactoredLattice
from tf_lattice.layers.lattice import Lattice
from tf_lattice.layers.lattice_initializers import LinearInitializer, RandomMonotonicInitializer
from tf_lattice.layers.linear import Linear
from tf_lattice.layers.parallel_combination import ParallelCombination
from tf_lattice.layers.pwl_calibration import PWLCalibration
from tf_lattice.layers.rtl import RTL

__all__ = [
    "Aggregation", "CategoricalCalibration", "KroneckerFactoredLattice", "Lattice",
    "LinearInitializer", "Linear", "ParallelCombination", "PWLCalibration",
    "RandomMonotonicInitializer", "RTL",
]
