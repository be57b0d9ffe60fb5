"""Matplotlib figures of learned calibrators (safe under the Agg backend)."""

from tf_lattice.plotting.calibrators import plot_calibrator, plot_calibrators
