"""Matplotlib figures of fitted estimators, as scikit-learn-style displays.

Each display class has ``from_estimator(estimator, ..., ax=None)``, which
computes what to draw and draws it, and ``plot(ax=None)``, which draws it
again on other axes; both return the display, whose ``figure_`` and ``ax_``
(or ``axes_``) hold the matplotlib objects. A display (or a figure made
here) left as the last value of a Jupyter cell renders as an image.

- :class:`CalibratorDisplay`: each column's learned calibrator.
- :class:`LatticeDisplay`: two columns at once, a lattice's parameters or
  the output surface.
- :class:`PartialDependenceDisplay`: partial dependence in the prediction's
  units.
- :class:`ModelGraphDisplay`: the model's stages (columns, calibrators,
  lattices, output); :func:`model_graph` gives them as text.
"""

from tf_lattice.plotting._display import NotebookFigure
from tf_lattice.plotting.calibrators import CalibratorDisplay, plot_calibrator, plot_calibrators
from tf_lattice.plotting.lattice import LatticeDisplay
from tf_lattice.plotting.model_graph import ModelGraph, ModelGraphDisplay, model_graph
from tf_lattice.plotting.partial_dependence import PartialDependenceDisplay

__all__ = ["CalibratorDisplay", "LatticeDisplay", "PartialDependenceDisplay", "ModelGraphDisplay",
           "ModelGraph", "model_graph", "NotebookFigure", "plot_calibrator", "plot_calibrators"]
