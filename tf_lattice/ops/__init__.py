"""Lattice and calibration ops: C++/CUDA TensorFlow kernels and their pure-TF twins.

Every op takes ``implementation="kernel"`` (the compiled kernels, loaded on
first call) or ``implementation="portable"`` (stock TensorFlow ops only: usable
under XLA and in graphs that must load without tf_lattice). Both give the same
outputs and gradients. XLA cannot compile custom ops, so code that runs the
kernels must not be jit-compiled (Keras layers built on them set
``supports_jit = False``).
"""

from tf_lattice.ops.adam_update import adam_update
from tf_lattice.ops.calibrated_ensemble import calibrated_ensemble
from tf_lattice.ops.calibrator_projection import calibrator_projection
from tf_lattice.ops.isotonic_projection import isotonic_projection
from tf_lattice.ops.lattice_interpolation import lattice_interpolation
from tf_lattice.ops.lattice_projection import lattice_projection
from tf_lattice.ops.linear_projection import linear_projection
from tf_lattice.ops.partial_order_projection import partial_order_projection
from tf_lattice.ops.pwl_calibration import pwl_calibration
