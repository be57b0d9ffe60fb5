"""The display objects: what they draw, in which units, on which axes.

Figures are drawn on matplotlib Figures without pyplot (the Agg canvas);
assertions read the axes' content.
"""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tf_lattice import estimators, plotting
from tf_lattice.estimators import FileSource
from tf_lattice.estimators._structure import lattice_columns

FAST = dict(epochs=6, batch_size=64, learning_rate=0.05, random_state=0, verbose=0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _frame(n=240, missing=False, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.uniform(0, 1, n), "b": rng.uniform(0, 1, n),
                          "kind": rng.choice(["x", "y", "z"], n).astype(object)})
    y = frame["a"] + 0.5 * frame["b"] ** 2 + (frame["kind"] == "x") + rng.normal(0, 0.1, n)
    if missing:
        frame.loc[::9, "a"] = np.nan
        frame.loc[::7, "kind"] = None
    return frame, y.to_numpy()


@pytest.fixture(scope="module")
def linear_regressor():
    frame, y = _frame()
    model = estimators.CalibratedLinearRegressor(
        monotonicity={"a": 1}, convexity={"b": "convex"}, **FAST).fit(frame, y)
    return model, frame


@pytest.fixture(scope="module")
def linear_classifier_with_missing():
    frame, y = _frame(missing=True)
    return estimators.CalibratedLinearClassifier(**FAST).fit(frame, y > 1.2), frame


@pytest.fixture(scope="module")
def ensemble():
    frame, y = _frame()
    model = estimators.CalibratedLatticeEnsembleRegressor(
        num_lattices=3, lattice_rank=2, monotonicity={"a": "increasing"}, **FAST).fit(frame, y)
    return model, frame


def _value_at(curve_x, curve_y, x):
    return float(np.interp(x, curve_x, curve_y))


# -- CalibratorDisplay ---------------------------------------------------------------------


def test_calibrators_of_data_without_missing_values_draw_no_missing_line_or_default_bar(
        linear_regressor):
    model, _ = linear_regressor
    display = plotting.CalibratorDisplay.from_estimator(model)
    assert isinstance(display.figure_, Figure) and len(display.axes_) == 3
    a, b, kind = display.axes_
    assert len(a.lines) == 1 and len(a.patches) == 0
    assert len(b.lines) == 3  # convex: the calibrator and its linear extrapolation on each side
    assert len(kind.patches) == 3  # x, y, z; no default bucket
    assert [t.get_text() for t in kind.get_xticklabels()] == ["x", "y", "z"]
    assert a.get_title() == "a (increasing)" and b.get_title() == "b (convex)"
    assert kind.get_title() == "kind"
    assert a.get_ylabel() == "contribution to prediction"
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["calibrator"]
    assert [t.get_text() for t in b.get_legend().get_texts()] == ["calibrator",
                                                                 "linear extrapolation"]
    assert [t.get_text() for t in kind.get_legend().get_texts()] == ["category"]


def test_a_linear_model_is_drawn_in_the_prediction_units_exactly(linear_regressor):
    model, frame = linear_regressor
    display = plotting.CalibratorDisplay.from_estimator(model, columns=["a", 2])
    line = display.axes_[0].lines[0]
    row = frame.iloc[[0, 0]].copy()
    row["a"] = [0.2, 0.7]
    rise = np.diff(model.predict(row))[0]
    curve = _value_at(*line.get_data(), 0.7) - _value_at(*line.get_data(), 0.2)
    np.testing.assert_allclose(curve, rise, rtol=1e-4, atol=1e-5)
    # The dotted extension of the convex column is the model's own extrapolation.
    convex = plotting.CalibratorDisplay.from_estimator(model, columns="b").axes_[0]
    (_, _), (low_x, low_y), (high_x, high_y) = (line.get_data() for line in convex.lines)
    rows = frame.iloc[[0, 0, 0]].copy()
    rows["b"] = [low_x[0], high_x[1], high_x[0]]
    predicted = model.predict(rows)
    np.testing.assert_allclose(predicted[1] - predicted[2], high_y[1] - high_y[0], rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(predicted[0] - predicted[2], low_y[0] - high_y[0], rtol=1e-4,
                               atol=1e-5)
    bars = [patch.get_height() for patch in display.axes_[1].patches]
    rows = frame.iloc[[0, 0, 0]].copy()
    rows["kind"] = ["x", "y", "z"]
    np.testing.assert_allclose(np.diff(bars), np.diff(model.predict(rows)), rtol=1e-4, atol=1e-5)


def test_missing_values_in_training_draw_the_missing_line_and_bar(linear_classifier_with_missing):
    model, frame = linear_classifier_with_missing
    display = plotting.CalibratorDisplay.from_estimator(model)
    a, b, kind = display.axes_
    assert len(a.lines) == 2 and len(b.lines) == 1  # b had no missing values
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["calibrator", "missing"]
    assert len(kind.patches) == 4
    assert [t.get_text() for t in kind.get_xticklabels()] == ["x", "y", "z", "<missing>"]
    assert a.get_ylabel() == "contribution to log-odds of True"
    # The dashed line is the column's exact contribution for a missing value.
    row = frame.iloc[[1, 1]].copy()
    row["a"] = [np.nan, 0.5]
    scores = model.decision_function(row)
    calibrator, missing = a.lines
    expected = scores[0] - scores[1] + _value_at(*calibrator.get_data(), 0.5)
    np.testing.assert_allclose(missing.get_ydata()[0], expected, rtol=1e-4, atol=1e-5)


def test_a_capped_vocabulary_draws_the_other_bar(tmp_path):
    frame, y = _frame(120)
    frame["kind"] = np.where(np.arange(120) % 10 == 0, "rare", frame["kind"])
    frame.assign(y=y).to_csv(tmp_path / "data.csv", index=False)
    model = estimators.CalibratedLinearRegressor(**FAST).fit(
        FileSource(str(tmp_path / "data.csv"), target="y", max_categories=3))
    spec = model.feature_specs_[2]
    assert spec.vocabulary == ("x", "y", "z") and spec.has_other and not spec.has_missing
    kind = plotting.CalibratorDisplay.from_estimator(model, columns="kind").axes_[0]
    assert [t.get_text() for t in kind.get_xticklabels()] == ["x", "y", "z", "<other>"]


def test_calibrators_are_drawn_on_the_given_axes(linear_regressor):
    model, _ = linear_regressor
    figure = Figure()
    axes = figure.subplots(1, 3)
    display = plotting.CalibratorDisplay.from_estimator(model, ax=axes)
    assert display.figure_ is figure and list(display.axes_) == list(axes)
    assert len(axes[2].patches) == 3
    single = Figure().add_subplot()
    assert plotting.CalibratorDisplay.from_estimator(model, "b", ax=single).axes_[0] is single
    with pytest.raises(ValueError, match="one matplotlib Axes per panel"):
        plotting.CalibratorDisplay.from_estimator(model, ax=single)
    with pytest.raises(ValueError, match="'nope'"):
        plotting.CalibratorDisplay.from_estimator(model, columns=["nope"])


def test_plot_redraws_on_new_axes(linear_regressor):
    model, _ = linear_regressor
    display = plotting.CalibratorDisplay.from_estimator(model, columns=["a"])
    first = display.figure_
    assert display.plot().figure_ is not first and len(display.axes_[0].lines) == 1


def test_displays_and_figures_render_as_png_in_jupyter(linear_regressor):
    from IPython.core.formatters import DisplayFormatter

    model, _ = linear_regressor
    formatter = DisplayFormatter()
    for shown in (plotting.CalibratorDisplay.from_estimator(model), model.plot_calibrators(),
                  model.plot_feature("a")):
        data, _ = formatter.format(shown)
        assert data["image/png"][:8] == PNG_MAGIC


def test_the_estimator_methods_keep_returning_figures(linear_classifier_with_missing):
    model, _ = linear_classifier_with_missing
    figure = model.plot_calibrators(columns=["a"])
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    assert len(figure.axes[0].lines) == 2


# -- LatticeDisplay ------------------------------------------------------------------------


def test_lattice_parameters_of_a_two_column_lattice(ensemble):
    model, _ = ensemble
    first, second = model.lattices_[0]
    display = plotting.LatticeDisplay.from_estimator(model, [first, second], kind="parameters")
    values = display.image_.get_array()
    assert values.shape == (2, 2)
    layer_values = []
    for layer in model.model_.layers:
        if type(layer).__name__ == "Lattice":
            layer_values.extend(np.asarray(layer.kernel).reshape(-1, 2, 2))
    assert any(np.allclose(values, v) or np.allclose(values, v.T) for v in layer_values)
    flipped = plotting.LatticeDisplay.from_estimator(model, [second, first], kind="parameters")
    np.testing.assert_allclose(flipped.image_.get_array(), values.T)
    assert display.ax_.get_xlabel() == f"calibrated {second}"


def test_lattice_parameters_follow_the_columns_through_grouped_calibrators():
    """Categorical columns before and between numeric ones: the lattices read
    the calibrators' grouped outputs, not the columns in order, and the
    parameters drawn are those of the lattice over the two columns asked for."""
    rng = np.random.default_rng(1)
    n = 240
    frame = pd.DataFrame({"kind": rng.choice(["x", "y"], n).astype(object),
                          "a": rng.uniform(0, 1, n),
                          "shade": rng.choice(["p", "q", "r"], n).astype(object),
                          "b": rng.uniform(0, 1, n)})
    y = frame["a"] + frame["b"] + (frame["kind"] == "x") + rng.normal(0, 0.1, n)
    model = estimators.CalibratedLatticeEnsembleRegressor(
        num_lattices=4, lattice_rank=2, monotonicity={"a": "increasing"}, **FAST).fit(frame, y)
    names = [spec.name for spec in model.feature_specs_]
    units = [(layer, unit, [names[c] for c in columns])
             for layer, per_unit in lattice_columns(model.model_).items()
             for unit, columns in enumerate(per_unit)]
    assert sorted(sorted(columns) for _, _, columns in units) == sorted(
        sorted(lattice) for lattice in model.lattices_)
    for layer, unit, (first, second) in units:
        display = plotting.LatticeDisplay.from_estimator(model, [first, second], kind="parameters")
        kernel = np.asarray(layer.kernel, np.float64)[unit].reshape(2, 2)
        np.testing.assert_array_equal(display.image_.get_array(), kernel)


def test_lattice_parameters_need_a_lattice_over_the_two_columns():
    frame, y = _frame()
    model = estimators.CalibratedLatticeRegressor(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match="no lattice .* reads exactly the columns 'a' and 'b'"):
        plotting.LatticeDisplay.from_estimator(model, ["a", "b"], kind="parameters")


def test_output_surface_is_the_two_way_partial_dependence(ensemble):
    model, frame = ensemble
    display = plotting.LatticeDisplay.from_estimator(model, ["a", "kind"], frame,
                                                     grid_resolution=5, subsample_rows=None)
    surface = display.image_.get_array()
    assert surface.shape == (5, 3) and display.colorbar_ is not None
    probe = frame.copy()
    probe["a"], probe["kind"] = display.first_values[4], "y"
    np.testing.assert_allclose(surface[4, 1], model.predict(probe).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="needs X"):
        plotting.LatticeDisplay.from_estimator(model, ["a", "b"])
    with pytest.raises(ValueError, match="two different columns"):
        plotting.LatticeDisplay.from_estimator(model, ["a"], frame)
    ax = Figure().add_subplot()
    assert plotting.LatticeDisplay.from_estimator(model, ["a", "b"], frame, ax=ax).ax_ is ax


# -- PartialDependenceDisplay --------------------------------------------------------------


def test_partial_dependence_in_probability_units(linear_classifier_with_missing):
    model, frame = linear_classifier_with_missing
    display = plotting.PartialDependenceDisplay.from_estimator(model, frame, subsample_rows=None)
    a, b, kind = display.axes_
    assert len(a.lines) == 2 and len(b.lines) == 1  # with and without missing values
    assert a.get_ylabel() == "P(y = True)"
    assert [t.get_text() for t in kind.get_xticklabels()] == ["x", "y", "z", "<missing>"]
    xs, ys = a.lines[0].get_data()
    probe = frame.copy()
    probe["a"] = xs[3]
    np.testing.assert_allclose(ys[3], model.predict_proba(probe)[:, 1].mean(), rtol=1e-6)
    probe["a"] = np.nan
    np.testing.assert_allclose(a.lines[1].get_ydata()[0], model.predict_proba(probe)[:, 1].mean(),
                               rtol=1e-6)
    np.testing.assert_allclose(kind.patches[0].get_height(), display.results[2]["average"][0, 0])


def test_partial_dependence_of_a_regressor_has_no_missing_line(linear_regressor):
    model, frame = linear_regressor
    display = plotting.PartialDependenceDisplay.from_estimator(model, frame.to_numpy(), ["a"])
    assert len(display.axes_) == 1 and len(display.axes_[0].lines) == 1
    xs, _ = display.axes_[0].lines[0].get_data()
    assert set(model.feature_specs_[0].keypoints) <= set(xs)


def test_partial_dependence_of_a_multiclass_classifier_draws_each_class():
    frame, y = _frame()
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = estimators.CalibratedLinearClassifier(**FAST).fit(frame, labels)
    display = plotting.PartialDependenceDisplay.from_estimator(model, frame, ["a", "kind"])
    assert len(display.axes_[0].lines) == 3 and len(display.axes_[1].patches) == 9
    total = sum(line.get_ydata() for line in display.axes_[0].lines)
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)


# -- model graph ---------------------------------------------------------------------------


def test_model_graph_of_an_ensemble(ensemble):
    model, _ = ensemble
    graph = plotting.model_graph(model)
    assert [stage for stage, _ in graph.stages] == ["columns", "calibrators", "lattices",
                                                   "combine", "output"]
    names = ["a", "b", "kind"]
    reads = sorted(tuple(sorted(names[a] for a, b in graph.edges[1] if b == k))
                   for k in range(3))
    assert reads == sorted(tuple(sorted(subset)) for subset in model.lattices_)
    text = str(graph)
    assert "c(a): PWL" in text and "increasing" in text and "lattice 0" in text
    display = plotting.ModelGraphDisplay.from_estimator(model)
    assert [len(boxes) for boxes in display.boxes_] == [3, 3, 3, 1, 1]
    assert display._repr_png_()[:8] == PNG_MAGIC


@pytest.mark.parametrize("cls, stages", [
    (estimators.CalibratedLinearClassifier, ["columns", "calibrators", "linear", "output"]),
    (estimators.CalibratedLatticeRegressor, ["columns", "calibrators", "lattice", "output"]),
    (estimators.DeepLatticeNetworkRegressor,
     ["columns", "calibrators", "embedding", "embedding calibrators", "lattices", "combine",
      "output"]),
])
def test_model_graph_stages(cls, stages):
    frame, y = _frame(80)
    target = y > 1.2 if cls is estimators.CalibratedLinearClassifier else y
    params = dict(FAST, epochs=1)
    if cls is estimators.DeepLatticeNetworkRegressor:
        params["num_lattices"] = 3
    model = cls(**params).fit(frame, target)
    graph = plotting.model_graph(model)
    assert [stage for stage, _ in graph.stages] == stages
    assert len(graph.edges) == len(stages) - 1
    for k, pairs in enumerate(graph.edges):
        assert all(a < len(graph.stages[k][1]) and b < len(graph.stages[k + 1][1])
                   for a, b in pairs)


def test_lattice_parameters_of_a_two_column_lattice_model_are_oriented():
    frame, y = _frame()
    model = estimators.CalibratedLatticeRegressor(
        monotonicity={"a": "increasing", "b": "decreasing"}, **FAST).fit(frame[["a", "b"]], y)
    values = plotting.LatticeDisplay.from_estimator(model, ["a", "b"], kind="parameters")\
        .image_.get_array()
    # Rows follow a (increasing), columns b's calibrated value (a decreasing calibrator
    # feeding an increasing lattice dimension): the lattice rises along both.
    assert np.all(np.diff(values, axis=0) >= -1e-6) and np.all(np.diff(values, axis=1) >= -1e-6)
    np.testing.assert_allclose(
        plotting.LatticeDisplay.from_estimator(model, ["b", "a"], kind="parameters")
        .image_.get_array(), values.T)
    kernel = np.asarray(model.model_.get_layer("lattice").kernel)[0].reshape(2, 2)
    np.testing.assert_allclose(values, kernel)


@pytest.mark.parametrize("draw", [
    lambda model: plotting.CalibratorDisplay.from_estimator(model),
    lambda model: plotting.PartialDependenceDisplay.from_estimator(model, np.zeros((2, 3))),
    lambda model: plotting.LatticeDisplay.from_estimator(model, ["a", "b"], kind="parameters"),
    lambda model: plotting.ModelGraphDisplay.from_estimator(model),
    lambda model: model.plot_calibrators(),
])
def test_an_unfitted_estimator_is_refused(draw):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        draw(estimators.CalibratedLinearRegressor())
