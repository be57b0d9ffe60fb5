"""What every figure of tf_lattice shares: figures that show themselves.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
pyplot, so they work under any backend (Agg included) and leave pyplot's
state alone. A figure made here is a :class:`NotebookFigure`, and every
display object has ``_repr_png_``: the last value of a Jupyter cell renders
as an image without ``%matplotlib inline``. In a script, save it with
``display.figure_.savefig(path)``, or pass ``ax=`` axes of a pyplot figure
and call ``plt.show()``.
"""

import io
import math

import numpy as np
from matplotlib.figure import Figure


def _png(figure):
    """The PNG bytes of ``figure``, or None for a figure pyplot manages
    (pyplot's own notebook hook draws those, once)."""
    if getattr(figure.canvas, "manager", None) is not None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


class NotebookFigure(Figure):
    """A matplotlib Figure that Jupyter renders as an image (``_repr_png_``)."""

    def _repr_png_(self):
        return _png(self)


class Display:
    """Base of the display objects: ``figure_`` and ``_repr_png_``."""

    figure_ = None

    def _repr_png_(self):
        return None if self.figure_ is None else _png(self.figure_)


def panel_axes(ax, count, columns, panel_size, title=None):
    """The axes to draw ``count`` panels on, and their figure.

    Args:
      ax: None (a new figure with a grid of ``columns`` panels per row), a
        matplotlib Axes (``count`` must be 1), or a sequence or array of
        ``count`` Axes.
      count: number of panels.
      columns: panels per row of a new figure.
      panel_size: ``(width, height)`` in inches of one panel of a new figure.
      title: the new figure's title.

    Returns:
      ``(figure, axes)`` with ``axes`` a 1-D object array of ``count`` Axes.

    Raises:
      ValueError: when ``ax`` does not hold one Axes per panel.
    """
    if ax is None:
        columns = max(1, min(columns, count))
        rows = max(1, math.ceil(count / columns))
        figure = NotebookFigure(figsize=(panel_size[0] * columns, panel_size[1] * rows),
                                layout="constrained")
        axes = [figure.add_subplot(rows, columns, k + 1) for k in range(count)]
        if title:
            figure.suptitle(title)
        return figure, np.array(axes, dtype=object)
    axes = [ax] if hasattr(ax, "plot") else list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != count or not all(hasattr(a, "plot") for a in axes):
        raise ValueError(f"ax must hold one matplotlib Axes per panel ({count} panels), got "
                         f"{len(axes)} item(s)")
    return axes[0].figure, np.array(axes, dtype=object)


def single_axes(ax, size):
    """``(figure, ax)``: ``ax`` and its figure, or a new figure of ``size`` inches."""
    if ax is None:
        figure = NotebookFigure(figsize=size, layout="constrained")
        return figure, figure.add_subplot(1, 1, 1)
    if not hasattr(ax, "plot"):
        raise ValueError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax.figure, ax


def class_label(value):
    """A class label as written in text (``True``, ``'yes'``; no NumPy wrappers)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def column_names(estimator, columns, argument="columns"):
    """The training column names that ``columns`` refer to (names or positions);
    all columns when None. Raises NotFittedError for an unfitted estimator."""
    from sklearn.utils.validation import check_is_fitted

    from tf_lattice.estimators._constraints import column_name

    check_is_fitted(estimator, "model_")
    names = [spec.name for spec in estimator.feature_specs_]
    if columns is None:
        return names
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    return [column_name(argument, column, names) for column in columns]
