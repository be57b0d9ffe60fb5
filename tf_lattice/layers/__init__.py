"""Keras 3 layers: calibrators, lattices, linear and ensemble layers."""

from tf_lattice.layers.pwl_calibration import PWLCalibration
