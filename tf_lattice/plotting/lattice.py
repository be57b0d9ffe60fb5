"""Views of two columns at once: a lattice's parameters or the output surface.

``kind="parameters"`` draws the vertex parameters of the lattice that reads
exactly the two columns (a calibrated lattice model of two columns, or a
two-column lattice of an ensemble) as a heatmap over the calibrated inputs:
cell ``(a, b)`` is the lattice's output at vertex ``(a, b)``, and the model
interpolates between vertices.

``kind="output"`` draws the model's prediction (in its units, see
:mod:`tf_lattice.plotting.partial_dependence`) over a grid of the two
columns: the two-way partial dependence, averaged over the rows of ``X``
(the other columns keep each row's values; ``X`` is not needed when the
model has no other column).
"""

import numpy as np
import pandas as pd

from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.estimators._structure import lattice_columns
from tf_lattice.plotting._display import Display, column_names, single_axes
from tf_lattice.plotting.partial_dependence import (
    column_grid, partial_dependence, subsample, training_frame)

KINDS = ("output", "parameters")


def lattice_parameters(estimator, first, second):
    """The `(m, m)` vertex parameters of the lattice over exactly two columns.

    Rows follow ``first``'s calibrated value, columns ``second``'s (vertex
    ``(a, b)`` at ``[a, b]``); with several outputs, the first (the lattices
    of the estimators have one output except a multiclass single lattice,
    whose class 0 this is).

    Raises:
      ValueError: when no lattice reads exactly these two columns.
    """
    names = [spec.name for spec in estimator.feature_specs_]
    wanted = {names.index(first), names.index(second)}
    for layer, units in lattice_columns(estimator.model_).items():
        for unit, columns in enumerate(units):
            if len(columns) == 2 and set(columns) == wanted:
                sizes = list(layer.lattice_sizes)
                kernel = np.asarray(layer.kernel, np.float64)[unit].reshape(sizes)  # last fastest
                return kernel if columns[0] == names.index(first) else kernel.T
    raise ValueError(f"no lattice of this {type(estimator).__name__} reads exactly the columns "
                     f"{first!r} and {second!r}; use kind='output'")


class LatticeDisplay(Display):
    """A heatmap over two columns: lattice parameters or the model's output.

    Args:
      values: `(rows, cols)` array: the heatmap, rows along the first column.
      first_values, second_values: the values (or category labels) of the
        heatmap's rows and columns.
      names: the two column names.
      kind: ``"output"`` or ``"parameters"``.
      label: what the colour shows.

    Attributes:
      figure_, ax_: the matplotlib Figure and Axes.
      image_: the heatmap (an AxesImage).
      colorbar_: its colour bar.
    """

    def __init__(self, values, first_values, second_values, names, kind, label):
        self.values = np.asarray(values, np.float64)
        self.first_values = list(first_values)
        self.second_values = list(second_values)
        self.names = tuple(names)
        self.kind = kind
        self.label = label

    @classmethod
    def from_estimator(cls, estimator, columns, X=None, *, kind="output", grid_resolution=25,
                       subsample_rows=200, random_state=0, target=None, ax=None):
        """Computes and draws the view of two columns of a fitted estimator.

        Args:
          estimator: a fitted tf_lattice estimator.
          columns: the two columns (names or positions): rows, then columns
            of the heatmap.
          X: rows to average over for ``kind="output"`` (needed when the
            model has other columns).
          kind: ``"output"`` or ``"parameters"`` (see the module docstring).
          grid_resolution: grid points of a numeric column.
          subsample_rows: the most rows of ``X`` averaged over.
          random_state: seeds the subsample.
          target: a multiclass classifier's class whose probability to draw.
          ax: a matplotlib Axes, or None for a new figure.
        """
        names = column_names(estimator, columns)
        if len(names) != 2 or names[0] == names[1]:
            raise ValueError(f"columns must name two different columns, got {columns!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        first, second = names
        if kind == "parameters":
            values = lattice_parameters(estimator, first, second)
            display = cls(values, range(values.shape[0]), range(values.shape[1]), names, kind,
                          "lattice parameter")
            return display.plot(ax=ax)
        specs = {spec.name: spec for spec in estimator.feature_specs_}
        if X is None:
            if len(specs) > 2:
                raise ValueError("kind='output' needs X (rows to average the other columns "
                                 f"over): the model has {len(specs)} columns")
            frame = pd.DataFrame({first: [np.nan], second: [np.nan]})[list(specs)]
        else:
            frame = subsample(training_frame(estimator, X), subsample_rows, random_state)
        grids = [column_grid(specs[name], grid_resolution) for name in names]
        if specs[first].kind == NUMERIC:
            grids[0] = np.linspace(grids[0][0], grids[0][-1], int(grid_resolution))
        if specs[second].kind == NUMERIC:
            grids[1] = np.linspace(grids[1][0], grids[1][-1], int(grid_resolution))
        a, b = np.meshgrid(np.arange(len(grids[0])), np.arange(len(grids[1])), indexing="ij")
        points = {first: [grids[0][i] for i in a.ravel()], second: [grids[1][j] for j in b.ravel()]}
        means, labels = partial_dependence(estimator, frame, points, target)
        if means.shape[1] != 1:
            raise ValueError("a multiclass classifier draws one class: pass target=<class label>")
        display = cls(means[:, 0].reshape(a.shape), grids[0], grids[1], names, kind, labels[0])
        return display.plot(ax=ax)

    def plot(self, ax=None, *, cmap="viridis"):
        """Draws the heatmap on ``ax`` (a new figure when None); returns self."""
        self.figure_, self.ax_ = single_axes(ax, (5.2, 4.2))
        numeric = [all(isinstance(v, (int, float, np.number)) for v in values)
                   for values in (self.first_values, self.second_values)]
        if self.kind == "output" and all(numeric):
            extent = [self.second_values[0], self.second_values[-1], self.first_values[0],
                      self.first_values[-1]]
            self.image_ = self.ax_.imshow(self.values, origin="lower", aspect="auto",
                                          extent=extent, cmap=cmap)
        else:
            self.image_ = self.ax_.imshow(self.values, origin="lower", aspect="auto", cmap=cmap)
            for axis, values, is_numeric in ((self.ax_.yaxis, self.first_values, numeric[0]),
                                             (self.ax_.xaxis, self.second_values, numeric[1])):
                if self.kind == "parameters" or not is_numeric:
                    axis.set_ticks(np.arange(len(values)))
                    axis.set_ticklabels([str(v) for v in values], fontsize=7)
                else:  # a numeric grid beside categories: a few of its values
                    ticks = np.unique(np.linspace(0, len(values) - 1, 5).round().astype(int))
                    axis.set_ticks(ticks)
                    axis.set_ticklabels([f"{values[t]:.3g}" for t in ticks], fontsize=7)
        prefix = "calibrated " if self.kind == "parameters" else ""
        self.ax_.set_ylabel(prefix + self.names[0])
        self.ax_.set_xlabel(prefix + self.names[1])
        self.ax_.set_title(("lattice parameters" if self.kind == "parameters" else "output") +
                           f": {self.names[0]} x {self.names[1]}", fontsize=9)
        self.colorbar_ = self.figure_.colorbar(self.image_, ax=self.ax_, label=self.label)
        return self
