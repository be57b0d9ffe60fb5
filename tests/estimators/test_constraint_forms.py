"""Constraint arguments by position and sign (scikit-learn's ``monotonic_cst`` form)."""

import numpy as np
import pandas as pd
import pytest

from tf_lattice.estimators._columns import CATEGORICAL, NUMERIC, FeatureSpec
from tf_lattice.estimators._constraints import resolve_constraints

SPECS = [FeatureSpec("a", NUMERIC, (0.0, 1.0)), FeatureSpec("b", NUMERIC, (0.0, 1.0)),
         FeatureSpec("c", NUMERIC, (0.0, 1.0)),
         FeatureSpec("kind", CATEGORICAL, vocabulary=("low", "mid", "high"))]


def _directions(constraints, field):
    return [getattr(feature, field) for feature in constraints.features]


@pytest.mark.parametrize("monotonicity", [
    [1, 0, -1, 0],                                   # monotonic_cst
    np.array([1, 0, -1, 0]),
    ("increasing", "none", "decreasing", "none"),
    {"a": 1, "c": -1},
    {0: "increasing", 2: "decreasing"},
    {0: 1, "c": "decreasing", np.int64(1): 0},
])
def test_monotonicity_forms_resolve_alike(monotonicity):
    constraints = resolve_constraints(SPECS, monotonicity=monotonicity)
    assert _directions(constraints, "monotonicity") == ["increasing", "none", "decreasing", "none"]


def test_signed_convexity_and_unimodality():
    constraints = resolve_constraints(SPECS, convexity=[1, -1, 0, 0], unimodality={2: -1})
    assert _directions(constraints, "convexity") == ["convex", "concave", "none", "none"]
    assert _directions(constraints, "unimodality") == ["none", "none", "peak", "none"]
    assert resolve_constraints(SPECS, unimodality={"a": 1}).features[0].unimodality == "valley"


def test_pairs_and_category_order_by_position():
    constraints = resolve_constraints(
        SPECS, monotonicity=[1, 1, -1, 0], trust=[(0, 1, 1), ("a", 2, "decreasing", "trapezoid")],
        dominance=[(1, "c")], category_order={3: [("low", "mid"), ("mid", "high")]})
    assert constraints.edgeworth_trusts == ((0, 1, "increasing"),)
    assert constraints.trapezoid_trusts == ((0, 2, "decreasing"),)
    assert constraints.monotonic_dominances == ((1, 2),)
    assert constraints.features[3].category_order == ((0, 1), (1, 2))


@pytest.mark.parametrize("params, pattern", [
    (dict(monotonicity=[1, 0]), r"monotonicity as a list must have one entry per column .*got 2"),
    (dict(monotonicity=[1, 0, 2, 0]), r"monotonicity\[2\] must be one of .* got 2"),
    (dict(monotonicity={"a": "up"}), r"monotonicity\['a'\] must be one of .* got 'up'"),
    (dict(monotonicity={7: 1}), r"monotonicity refers to column position 7, but X has 4 columns"),
    (dict(monotonicity={-1: 1}), r"monotonicity refers to column position -1"),
    (dict(monotonicity={True: 1}), r"monotonicity names column True: a boolean"),
    (dict(monotonicity={"a": True}), r"monotonicity\['a'\] must be one of"),
    (dict(convexity={"nope": 1}), r"convexity names column 'nope'"),
    (dict(unimodality=[0, 0, 5, 0]), r"unimodality\[2\] must be one of"),
    (dict(monotonicity=np.zeros((2, 2))), r"monotonicity as an array must be 1-D"),
    (dict(monotonicity={0: 1, "a": -1}), r"monotonicity gives column 'a' two values"),
    (dict(monotonicity=[1, 0, 0, 0], trust=[(0, 9, 1)]), r"trust refers to column position 9"),
    (dict(monotonicity=[1, 0, 0, 0], trust=[(0, 1, 2)]), r"trust entry \(0, 1, 2\): the direction"),
    (dict(monotonicity=[1, 1, 0, 0], dominance=[(0, "zz")]), r"dominance names column 'zz'"),
    (dict(category_order={5: []}), r"category_order refers to column position 5"),
])
def test_errors_name_the_argument_and_the_entry(params, pattern):
    with pytest.raises(ValueError, match=pattern):
        resolve_constraints(SPECS, **params)


def test_integer_position_that_is_also_another_columns_name_is_ambiguous():
    specs = [FeatureSpec(name, NUMERIC, (0.0, 1.0)) for name in ("1", "0")]
    with pytest.raises(ValueError, match="ambiguous.*position 0 is column '1'"):
        resolve_constraints(specs, monotonicity={0: 1})
    # The string names the column; positions that agree with names are fine.
    assert resolve_constraints(specs, monotonicity={"0": 1}).features[1].monotonicity == "increasing"
    plain = [FeatureSpec(name, NUMERIC, (0.0, 1.0)) for name in ("0", "1")]
    assert resolve_constraints(plain, monotonicity={1: -1}).features[1].monotonicity == "decreasing"


def test_monotonic_cst_fit_certify_and_save_round_trip(tmp_path):
    from tf_lattice.estimators import CalibratedLinearRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(60, 3))
    y = X[:, 0] - X[:, 2]
    model = CalibratedLinearRegressor(monotonicity=[1, 0, -1], convexity={1: -1}, epochs=1,
                                      verbose=0, random_state=0).fit(X, y)
    assert _directions(model.constraints_, "monotonicity") == ["increasing", "none", "decreasing"]
    assert model.certify().holds
    model.save(tmp_path / "m.keras")
    loaded = CalibratedLinearRegressor.load(tmp_path / "m.keras")
    # Integer keys stay positions after the JSON round trip.
    assert loaded.get_params()["convexity"] == {1: -1}
    assert loaded.get_params()["monotonicity"] == [1, 0, -1]
    assert loaded.constraints_ == model.constraints_


def test_constraints_are_the_feature_configs_of_the_columns_before_placement():
    """constraints_ holds one FeatureConfig per column (its shape, not placed yet)
    and the pairwise constraints by position; the model's configs are those
    records completed with the columns' keypoints and the lattice size."""
    import dataclasses

    from tf_lattice.estimators import CalibratedLatticeRegressor, _model_configs
    from tf_lattice.models import FeatureConfig

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.uniform(size=60), "b": rng.uniform(size=60),
                      "c": pd.Categorical(rng.choice(["x", "y", "z"], 60))})
    model = CalibratedLatticeRegressor(
        monotonicity={"a": 1, "b": "decreasing"}, category_order={"c": [("x", "z")]},
        trust=[("a", "b", "increasing")], dominance=None, epochs=1, verbose=0,
        random_state=0).fit(X, X["a"])
    a, b, c = model.constraints_.features
    assert a == FeatureConfig("a", monotonicity="increasing", lattice_size=None)
    assert b == FeatureConfig("b", monotonicity="decreasing", lattice_size=None)
    assert c == FeatureConfig("c", num_buckets=3, category_order=((0, 2),), lattice_size=None)
    assert model.constraints_.edgeworth_trusts == ((0, 1, "increasing"),)
    placed = _model_configs.feature_configs(model.feature_specs_, model.constraints_, 3)
    assert placed == (dataclasses.replace(a, keypoints=model.feature_specs_[0].keypoints,
                                          lattice_size=3),
                      dataclasses.replace(b, keypoints=model.feature_specs_[1].keypoints,
                                          lattice_size=3),
                      dataclasses.replace(c, lattice_size=3))


def test_polars_frames_keep_their_column_names():
    pl = pytest.importorskip("polars")
    from tf_lattice.estimators import CalibratedLinearRegressor

    rng = np.random.default_rng(1)
    data = {"size": rng.uniform(size=50), "noise": rng.uniform(size=50),
            "kind": rng.choice(["x", "y"], 50).tolist()}
    y = 2 * data["size"]
    model = CalibratedLinearRegressor(monotonicity={"size": 1}, epochs=1, verbose=0,
                                      random_state=0).fit(pl.DataFrame(data), y)
    assert list(model.feature_names_in_) == ["size", "noise", "kind"]
    assert model.feature_specs_[2].kind == "categorical"
    expected = model.predict(pd.DataFrame(data))
    reordered = pl.DataFrame(data).select(["kind", "noise", "size"])
    np.testing.assert_allclose(model.predict(reordered), expected, rtol=1e-6)
