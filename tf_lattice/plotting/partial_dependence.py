r"""Partial dependence in the prediction's units.

The partial dependence of the prediction ``f`` on column ``j`` at value
``v`` is the mean over rows ``x_i`` of ``X`` of ``f(x_i with x_ij = v)``:

.. math:: \mathrm{pd}_j(v) = \frac{1}{n} \sum_i f(x_{i,-j}, v)

``f`` is ``predict`` for regressors and ``predict_proba`` for classifiers
(the probability of ``classes_[1]`` for binary problems, one curve per class
otherwise), so the y axis is in the prediction's units. Numeric columns are
evaluated at the calibrator's keypoints (where the calibrated model bends)
and on an even grid between the first and the last; categorical columns at
each training category. When the training data had missing values in the
column, ``pd_j(missing)`` is drawn too (a dashed line or a bar).
"""

import numpy as np
import pandas as pd

from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.plotting._display import Display, class_label, column_names, panel_axes

MISSING_COLOR = "tab:orange"


def response(estimator, frame, target=None):
    """``(values, labels)``: the prediction on ``frame`` as `(n, k)` and the
    names of its ``k`` columns (see the module docstring).

    Args:
      target: a class label of a multiclass classifier to keep only its
        probability (binary classifiers always give ``classes_[1]``'s).
    """
    if not hasattr(estimator, "classes_"):
        return np.asarray(estimator.predict(frame), np.float64).reshape(-1, 1), ["prediction"]
    probabilities = estimator.predict_proba(frame)
    classes = list(estimator.classes_)
    if target is not None:
        if target not in classes:
            raise ValueError(f"target {target!r} is not among the classes {classes}")
        k = classes.index(target)
        return probabilities[:, [k]], [f"P(y = {class_label(target)})"]
    if len(classes) == 2:
        return probabilities[:, [1]], [f"P(y = {class_label(classes[1])})"]
    return probabilities, [f"P(y = {class_label(c)})" for c in classes]


def training_frame(estimator, X):
    """``X`` as a DataFrame with the training column names (arrays by position)."""
    names = [spec.name for spec in estimator.feature_specs_]
    if isinstance(X, pd.DataFrame):
        frame = X.copy()
        frame.columns = [str(c) for c in frame.columns]
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise ValueError(f"X lacks the training columns {missing}")
        return frame[names]
    array = np.asarray(X, dtype=object)
    if array.ndim != 2 or array.shape[1] != len(names):
        raise ValueError(f"X must have the {len(names)} training columns {names}, got shape "
                         f"{array.shape}")
    return pd.DataFrame({name: pd.Series(array[:, j]).infer_objects()
                         for j, name in enumerate(names)})


def subsample(frame, rows, random_state):
    """At most ``rows`` rows of ``frame``, drawn without replacement."""
    if rows is None or len(frame) <= rows:
        return frame
    picked = np.random.default_rng(random_state).choice(len(frame), size=int(rows), replace=False)
    return frame.iloc[np.sort(picked)]


def column_grid(spec, grid_resolution):
    """The values at which a column is evaluated (see the module docstring)."""
    if spec.kind == NUMERIC:
        keypoints = np.asarray(spec.keypoints, np.float64)
        even = np.linspace(keypoints[0], keypoints[-1], int(grid_resolution))
        return np.unique(np.concatenate([keypoints, even]))
    return list(spec.vocabulary)


def partial_dependence(estimator, frame, columns_values, target=None):
    """The mean response over ``frame``'s rows with columns set to values.

    Args:
      estimator: a fitted estimator.
      frame: DataFrame of the training columns (the rows averaged over).
      columns_values: dict column -> sequence of ``m`` values (all the same
        length): point ``p`` sets each column to its ``p``-th value.
      target: see :func:`response`.

    Returns:
      ``(means, labels)``: `(m, k)` mean responses and the response names.
    """
    count = len(next(iter(columns_values.values())))
    rows = len(frame)
    stacked = pd.concat([frame] * count, ignore_index=True)
    for column, values in columns_values.items():
        repeated = np.repeat(np.asarray(list(values), dtype=object), rows)
        kind = next(s.kind for s in estimator.feature_specs_ if s.name == column)
        stacked[column] = repeated.astype(np.float64) if kind == NUMERIC else repeated
    values, labels = response(estimator, stacked, target)
    return values.reshape(count, rows, -1).mean(axis=1), labels


class PartialDependenceDisplay(Display):
    """Partial dependence of the prediction on columns, one panel per column.

    Args:
      results: one dict per column: ``name``, ``kind``, ``grid`` (values),
        ``average`` `(len(grid), k)`, and ``missing`` `(k,)` or None.
      labels: names of the ``k`` responses.

    Attributes:
      figure_: the matplotlib Figure.
      axes_: object array of the panels' Axes.
      artists_: per panel, the lines and bar containers drawn.
    """

    def __init__(self, results, labels):
        self.results = list(results)
        self.labels = list(labels)

    @classmethod
    def from_estimator(cls, estimator, X, columns=None, *, grid_resolution=30, subsample_rows=500,
                       random_state=0, target=None, ax=None, n_cols=3):
        """Computes and draws the partial dependence of a fitted estimator.

        Args:
          estimator: a fitted tf_lattice estimator.
          X: the rows to average over (DataFrame or array of the training
            columns), e.g. the training data.
          columns: the columns (names or positions; default: all).
          grid_resolution: points of the even grid of numeric columns.
          subsample_rows: the most rows of ``X`` averaged over (None: all).
          random_state: seeds the subsample.
          target: a multiclass classifier's class to draw alone.
          ax: None (a new figure), one Axes (one column) or one Axes per column.
          n_cols: panels per row of a new figure.
        """
        names = column_names(estimator, columns)
        frame = subsample(training_frame(estimator, X), subsample_rows, random_state)
        specs = {spec.name: spec for spec in estimator.feature_specs_}
        results, labels = [], None
        for name in names:
            spec = specs[name]
            grid = column_grid(spec, grid_resolution)
            points = list(grid) + ([np.nan if spec.kind == NUMERIC else None]
                                   if spec.has_missing else [])
            means, labels = partial_dependence(estimator, frame, {name: points}, target)
            results.append({"name": name, "kind": spec.kind, "grid": grid,
                            "average": means[:len(grid)],
                            "missing": means[len(grid)] if spec.has_missing else None})
        return cls(results, labels).plot(ax=ax, n_cols=n_cols)

    def plot(self, ax=None, *, n_cols=3):
        """Draws the panels on ``ax``; returns self."""
        self.figure_, self.axes_ = panel_axes(ax, len(self.results), n_cols, (3.6, 2.9),
                                              "partial dependence" if ax is None else None)
        self.artists_ = [self._draw(axis, result) for axis, result in zip(self.axes_, self.results)]
        return self

    def _draw(self, ax, result):
        artists = []
        several = len(self.labels) > 1
        if result["kind"] == NUMERIC:
            for k, label in enumerate(self.labels):
                artists += ax.plot(result["grid"], result["average"][:, k], "-",
                                   label=label if several else "partial dependence")
            if result["missing"] is not None:
                for k, label in enumerate(self.labels):
                    artists.append(ax.axhline(result["missing"][k], linestyle="--", linewidth=1,
                                              color=MISSING_COLOR if not several else f"C{k}",
                                              label=f"missing ({label})" if several else "missing"))
        else:
            categories = [str(c) for c in result["grid"]]
            heights = result["average"]
            if result["missing"] is not None:
                categories = categories + ["<missing>"]
                heights = np.vstack([heights, result["missing"][None, :]])
            positions = np.arange(len(categories))
            width = 0.8 / len(self.labels)
            for k, label in enumerate(self.labels):
                artists.append(ax.bar(positions + k * width - 0.4 + width / 2, heights[:, k],
                                      width=width, label=label))
            ax.set_xticks(positions)
            ax.set_xticklabels(categories, rotation=45, ha="right", fontsize=7)
        ax.set_xlabel(result["name"])
        ax.set_ylabel(self.labels[0] if not several else "probability", fontsize=8)
        ax.legend(fontsize=7)
        return artists
