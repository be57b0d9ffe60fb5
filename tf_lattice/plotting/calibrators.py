"""Figures of calibrators: PWL curves with their keypoints, categorical bars.

The functions take plain data (a dict per calibrator, as returned by the
estimators' ``calibrator_curves()``) and build figures with
``matplotlib.figure.Figure`` directly, so they never touch pyplot's global
state and work under any backend, Agg included.
"""

import math

import numpy as np
from matplotlib.figure import Figure


def draw_calibrator(ax, curve):
    """Draws one calibrator on ``ax``.

    Args:
      ax: a matplotlib Axes.
      curve: dict with ``name`` and ``kind``; numeric: ``keypoints`` `(K,)`,
        ``outputs`` `(K,)` and optionally ``missing_output``; categorical:
        ``categories`` (labels) and ``outputs``.
    """
    outputs = np.asarray(curve["outputs"], np.float64)
    if curve["kind"] == "numeric":
        keypoints = np.asarray(curve["keypoints"], np.float64)
        ax.plot(keypoints, outputs, "-o", markersize=3, color="tab:blue", label="calibration")
        missing = curve.get("missing_output")
        if missing is not None and np.isfinite(missing):
            ax.axhline(missing, color="tab:orange", linestyle="--", linewidth=1, label="missing")
        ax.set_xlabel(curve["name"])
    else:
        positions = np.arange(len(outputs))
        ax.bar(positions, outputs, color="tab:blue")
        ax.set_xticks(positions)
        ax.set_xticklabels(curve["categories"], rotation=45, ha="right", fontsize=7)
        ax.set_xlabel(curve["name"])
    ax.set_ylabel("calibrated")
    shape = curve.get("monotonicity")
    ax.set_title(curve["name"] + (f" ({shape})" if shape and shape != "none" else ""), fontsize=9)


def plot_calibrator(curve):
    """A figure of one calibrator (see :func:`draw_calibrator`)."""
    figure = Figure(figsize=(5, 3.5))
    ax = figure.add_subplot(1, 1, 1)
    draw_calibrator(ax, curve)
    if curve["kind"] == "numeric" and curve.get("missing_output") is not None:
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def plot_calibrators(curves, title=None, columns=4):
    """A grid figure with one panel per calibrator.

    Args:
      curves: list of calibrator dicts (see :func:`draw_calibrator`).
      title: optional figure title.
      columns: panels per row.

    Returns:
      matplotlib.figure.Figure.
    """
    count = max(1, len(curves))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows))
    for k, curve in enumerate(curves):
        draw_calibrator(figure.add_subplot(rows, columns, k + 1), curve)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
