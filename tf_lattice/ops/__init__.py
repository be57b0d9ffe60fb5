"""Lattice and calibration ops: C++/CUDA TensorFlow kernels and their pure-TF twins.

Every op takes ``implementation="kernel"`` (the compiled kernels, loaded on
first call) or ``implementation="portable"`` (stock TensorFlow ops only: usable
under XLA and in graphs that must load without tf_lattice). Both give the same
outputs and gradients. XLA cannot compile custom ops, so code that runs the
kernels must not be jit-compiled (Keras layers built on them set
``supports_jit = False``).
"""

from tf_lattice.ops.lattice_interpolation import lattice_interpolation
from tf_lattice.ops.lattice_projection import lattice_projection
from tf_lattice.ops.pwl_calibration import pwl_calibration
