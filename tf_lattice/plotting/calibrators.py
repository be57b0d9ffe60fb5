"""Figures of learned calibrators: PWL curves with their keypoints, categorical bars.

:class:`CalibratorDisplay` draws one panel per column from a fitted
estimator. The functions below it draw from plain data (a dict per
calibrator, as returned by the estimators' ``calibrator_curves()``).

Units of the y axis. A calibrated linear model with one output is
``f(x) = b + sum_j w_j c_j(x_j)``, so ``w_j c_j(x_j)`` is column ``j``'s
exact additive contribution to the score: the panels show it in the
prediction's units (times ``target_scale_`` for a regressor, log-odds of
``classes_[1]`` for a binary classifier), and moving ``x_j`` from ``a`` to
``b`` changes the prediction by the curve's rise from ``a`` to ``b``. Other
models feed the calibrator's output to lattices (or one linear score per
class); their panels show the calibrated value with an axis label saying so.

What is drawn: the calibrator is linear between its keypoints, so the line
joins its keypoints exactly (markers on them); beyond them it is flat, or,
for a unit with ``extrapolation="linear"`` (convex and concave columns of
calibrated linear models), continues its end segments, drawn dotted over a
tenth of the keypoints' range on each side. A
numeric column's output for missing values (dashed) is drawn only when the
training data had missing values there; a categorical column's default
bucket only when training rows reached it (missing values, or categories
outside a capped vocabulary). The title names the column's declared shape.
"""

import numpy as np

from tf_lattice.plotting._display import (
    Display, NotebookFigure, class_label, column_names, panel_axes)

CALIBRATOR_COLOR = "tab:blue"
MISSING_COLOR = "tab:orange"


def shape_words(curve):
    """The declared shape of a calibrator dict, in words (``""`` when none)."""
    words = [curve.get(key) for key in ("monotonicity", "convexity", "unimodality")]
    words = [word for word in words if word and word != "none"]
    if curve.get("category_order"):
        words.append("ordered categories")
    return ", ".join(words)


def default_bucket_label(curve):
    """The label of a categorical default bucket that training rows reached, else None."""
    reached = [word for word, flag in (("missing", curve.get("has_missing", True)),
                                       ("other", curve.get("has_other", False))) if flag]
    return f"<{' or '.join(reached)}>" if reached else None


def contribution_scale(estimator):
    """``(scales, label)``: per column the factor turning calibrator outputs
    into the prediction's units, and the y-axis label.

    Exact for calibrated linear models with one output (``w_j`` times the
    regressor's ``target_scale_``); otherwise ones and a label naming the
    calibrated value.
    """
    model = estimator.model_
    count = len(estimator.feature_specs_)
    if model.name == "calibrated_linear" and model.output_shape[-1] == 1:
        weights = np.asarray(model.get_layer("linear").kernel, np.float64)[:, 0]
        if hasattr(estimator, "classes_"):
            return weights, f"contribution to log-odds of {class_label(estimator.classes_[1])}"
        return weights * float(estimator.target_scale_), "contribution to prediction"
    if model.name == "calibrated_linear":
        return np.ones(count), "calibrated value (each class score weighs it)"
    return np.ones(count), "calibrated value (lattice input)"


def draw_calibrator(ax, curve, scale=1.0, ylabel="calibrated value"):
    """Draws one calibrator on ``ax``.

    Args:
      ax: a matplotlib Axes.
      curve: a dict of ``calibrator_curves()``: ``name``, ``kind``;
        numeric: ``keypoints`` `(K,)`, ``outputs`` `(K,)`,
        ``missing_output``; categorical: ``categories`` (vocabulary then the
        default bucket) and ``outputs``; optionally ``has_missing``,
        ``has_other`` and the declared shapes.
      scale: factor applied to the outputs (see :func:`contribution_scale`).
      ylabel: the y-axis label.

    Returns:
      the list of artists drawn (lines or bar containers).
    """
    outputs = np.asarray(curve["outputs"], np.float64) * scale
    artists = []
    if curve["kind"] == "numeric":
        keypoints = np.asarray(curve["keypoints"], np.float64)
        artists += ax.plot(keypoints, outputs, "-o", markersize=3, color=CALIBRATOR_COLOR,
                           label="calibrator")
        if curve.get("extrapolation") == "linear" and len(keypoints) > 1:
            reach = 0.1 * (keypoints[-1] - keypoints[0])
            first = (outputs[1] - outputs[0]) / (keypoints[1] - keypoints[0])
            last = (outputs[-1] - outputs[-2]) / (keypoints[-1] - keypoints[-2])
            artists += ax.plot([keypoints[0] - reach, keypoints[0]],
                               [outputs[0] - first * reach, outputs[0]], ":",
                               color=CALIBRATOR_COLOR, label="linear extrapolation")
            artists += ax.plot([keypoints[-1], keypoints[-1] + reach],
                               [outputs[-1], outputs[-1] + last * reach], ":",
                               color=CALIBRATOR_COLOR)
        missing = curve.get("missing_output")
        if curve.get("has_missing", True) and missing is not None and np.isfinite(missing):
            artists.append(ax.axhline(missing * scale, color=MISSING_COLOR, linestyle="--",
                                      linewidth=1, label="missing"))
    else:
        categories = list(curve["categories"])
        other = default_bucket_label(curve)
        shown = len(categories) - (0 if other else 1)
        positions = np.arange(shown)
        artists.append(ax.bar(positions[:len(categories) - 1], outputs[:len(categories) - 1],
                              color=CALIBRATOR_COLOR, label="category"))
        labels = categories[:-1]
        if other:
            artists.append(ax.bar([shown - 1], [outputs[-1]], color=MISSING_COLOR, label=other))
            labels = labels + [other]
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_xlabel(curve["name"])
    ax.set_ylabel(ylabel, fontsize=8)
    shape = shape_words(curve)
    ax.set_title(curve["name"] + (f" ({shape})" if shape else ""), fontsize=9)
    ax.legend(fontsize=7)
    return artists


class CalibratorDisplay(Display):
    """Each column's learned calibrator, one panel per column.

    Build it with :meth:`from_estimator`; :meth:`plot` draws it again on
    other axes. See the module docstring for the units and what is drawn.

    Args:
      curves: the dicts of ``estimator.calibrator_curves()`` to draw.
      scales: `(len(curves),)` factors of the outputs (ones: calibrated values).
      ylabel: the y-axis label.
      title: the figure's title (new figures only).

    Attributes:
      figure_: the matplotlib Figure.
      axes_: object array of the panels' Axes, one per curve.
      artists_: per panel, the lines and bar containers drawn.

    Example:
      >>> display = CalibratorDisplay.from_estimator(model, columns=["age"])  # doctest: +SKIP
      >>> display.figure_.savefig("age.png")  # doctest: +SKIP
    """

    def __init__(self, curves, scales=None, ylabel="calibrated value", title=None):
        self.curves = list(curves)
        self.scales = np.ones(len(self.curves)) if scales is None else np.asarray(scales, float)
        self.ylabel = ylabel
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, columns=None, *, ax=None, n_cols=4):
        """Draws the calibrators of a fitted estimator.

        Args:
          estimator: a fitted tf_lattice estimator.
          columns: the columns to draw (names or positions; default: all).
          ax: None (a new figure), one Axes (one column) or one Axes per column.
          n_cols: panels per row of a new figure.

        Returns:
          the CalibratorDisplay, drawn.
        """
        names = column_names(estimator, columns)
        scales, ylabel = contribution_scale(estimator)
        by_name = {curve["name"]: (curve, scale)
                   for curve, scale in zip(estimator.calibrator_curves(), scales)}
        picked = [by_name[name] for name in names]
        display = cls([curve for curve, _ in picked], [scale for _, scale in picked], ylabel,
                      title=type(estimator).__name__)
        return display.plot(ax=ax, n_cols=n_cols)

    def plot(self, ax=None, *, n_cols=4):
        """Draws the panels on ``ax`` (see :meth:`from_estimator`); returns self."""
        self.figure_, self.axes_ = panel_axes(ax, len(self.curves), n_cols, (3.4, 2.8),
                                              self.title if ax is None else None)
        self.artists_ = [draw_calibrator(axis, curve, scale, self.ylabel)
                         for axis, curve, scale in zip(self.axes_, self.curves, self.scales)]
        return self


def plot_calibrator(curve):
    """A figure of one calibrator dict (see :func:`draw_calibrator`)."""
    return CalibratorDisplay([curve]).plot().figure_


def plot_calibrators(curves, title=None, columns=4):
    """A grid figure with one panel per calibrator dict.

    Args:
      curves: list of calibrator dicts (see :func:`draw_calibrator`).
      title: optional figure title.
      columns: panels per row.

    Returns:
      matplotlib.figure.Figure (a :class:`NotebookFigure`).
    """
    return CalibratorDisplay(curves, title=title).plot(n_cols=columns).figure_


__all__ = ["CalibratorDisplay", "NotebookFigure", "contribution_scale", "draw_calibrator",
           "plot_calibrator", "plot_calibrators"]
