"""Certificates check the constraints the user declared, and loading checks the file."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tests._archives import rewrite_archive
from tf_lattice import estimators
from tf_lattice.estimators import _structure
from tf_lattice.estimators._serialization import ESTIMATOR_MEMBER

TINY = dict(epochs=1, verbose=0, random_state=0)


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n),
                         "kind": rng.choice(["low", "mid", "high"], n)})


def _rewrite(path, out, edit_json=None, edit_config=None, drop=()):
    """Copies a saved estimator, editing its description or model config."""
    return rewrite_archive(path, out, {ESTIMATOR_MEMBER: edit_json, "config.json": edit_config},
                           drop)


def _declared(certificate):
    return {check.name: check for check in certificate.checks if check.name.startswith("declared")}


def _redeclared(path, tmp_path, **params):
    """Saves ``path`` with other declared constraints, as a tampered file would."""
    def edit(payload):
        payload["params"].update(params)
    return _rewrite(path, tmp_path / "redeclared.keras", edit_json=edit)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("certify")
    frame = _frame()
    y = frame["a"] - frame["b"]
    files = {}
    for name, model in {
        "free": estimators.CalibratedLinearRegressor(**TINY),
        "decreasing": estimators.CalibratedLinearRegressor(monotonicity={"a": "decreasing"}, **TINY),
        "lattice": estimators.CalibratedLatticeRegressor(
            monotonicity={"a": 1, "b": -1}, trust=[("a", "b", "increasing")],
            dominance=[("a", "b")], category_order={"kind": [("low", "mid")]}, **TINY),
    }.items():
        model.fit(frame, y)
        files[name] = folder / f"{name}.keras"
        model.save(files[name])
    return files


def test_an_unconstrained_calibrator_does_not_certify_a_declared_monotonicity(saved, tmp_path):
    tampered = _redeclared(saved["free"], tmp_path, monotonicity={"a": "increasing"})
    model = estimators.CalibratedLinearRegressor.load(tampered)
    certificate = model.certify()
    assert not certificate.holds
    check = _declared(certificate)["declared monotonicity['a']=increasing: the model output"]
    assert not check.holds and "not shape-constrained" in check.location
    # Every layer meets its own settings: only the declared check fails.
    assert all(c.holds for c in certificate.checks if not c.name.startswith("declared"))


def test_a_decreasing_calibrator_does_not_certify_increasing(saved, tmp_path):
    assert estimators.CalibratedLinearRegressor.load(saved["decreasing"]).certify().holds
    tampered = _redeclared(saved["decreasing"], tmp_path, monotonicity={"a": 1})
    certificate = estimators.CalibratedLinearRegressor.load(tampered).certify()
    assert [c.location for c in certificate.violations] == ["output 0 is decreasing in it"]


def test_the_command_line_certify_exits_1_on_a_tampered_declaration(saved, tmp_path, capsys):
    from tf_lattice import cli

    tampered = _redeclared(saved["free"], tmp_path, monotonicity={"b": "decreasing"})
    assert cli.main(["certify", str(tampered)]) == 1
    assert "declared monotonicity['b']=decreasing" in capsys.readouterr().out


@pytest.mark.parametrize("params, failing", [
    (dict(convexity={"a": "convex"}), "declared convexity['a']=convex: calibrator, between the first and last keypoint"),
    (dict(trust=[["a", "b", "decreasing"]]), "declared edgeworth trust['a' decreasing with 'b']"),
    (dict(trust=[["a", "b", "increasing", "trapezoid"]]),
     "declared trapezoid trust['a' increasing with 'b']"),
    (dict(dominance=[["b", "a"]]), "declared dominance['b' over 'a']"),
    (dict(category_order={"kind": [["mid", "low"]]}),
     "declared category_order['kind']=[('mid', 'low')]: calibrator"),
])
def test_each_declared_constraint_is_checked_against_the_layers(saved, tmp_path, params, failing):
    model = estimators.CalibratedLatticeRegressor.load(saved["lattice"])
    assert model.certify().holds
    assert len(_declared(model.certify())) == 6
    tampered = _redeclared(saved["lattice"], tmp_path, **params)
    certificate = estimators.CalibratedLatticeRegressor.load(tampered).certify()
    assert failing in [c.name for c in certificate.violations]


def test_unimodality_shape_is_checked():
    frame = pd.DataFrame({"t": np.linspace(-1, 1, 40)})
    model = estimators.CalibratedLatticeRegressor(unimodality={"t": 1}, lattice_size=3, **TINY)
    model.fit(frame, frame["t"] ** 2)
    assert model.certify().holds
    model.unimodality = {"t": "peak"}
    model.constraints_ = dataclasses.replace(model.constraints_, features=(
        dataclasses.replace(model.constraints_.features[0], unimodality="peak"),))
    assert "valley-shaped" in model.certify().violations[0].location


def test_pairs_split_across_lattices_do_not_certify_a_dominance(monkeypatch):
    # Ensembles close their subsets under dominance (test_ensembles); with
    # that step undone, the certificate must see the split pair.
    from tf_lattice.estimators import calibrated_lattice_ensemble
    monkeypatch.setattr(calibrated_lattice_ensemble, "close_under_dominance",
                        lambda subsets, dominances: subsets)
    # Lattices over (b, d), (b, d), (b, c): the dominant column a in none.
    monkeypatch.setattr(calibrated_lattice_ensemble, "lattice_structure",
                        lambda *args, **kwargs: [(1, 3), (1, 3), (1, 2)])
    frame = _frame(80).drop(columns=["kind"]).assign(c=np.linspace(0, 1, 80),
                                                     d=np.linspace(1, 0, 80))
    model = estimators.CalibratedLatticeEnsembleRegressor(
        monotonicity={"a": 1, "b": 1}, dominance=[("a", "b")], num_lattices=3, lattice_rank=2,
        ensemble="random", **TINY).fit(frame, frame["a"])
    # The weak column alone in a lattice: nothing bounds its effect by the dominant one's.
    weak_alone = any("b" in subset and "a" not in subset for subset in model.lattices_)
    assert weak_alone, model.lattices_
    check = _declared(model.certify())["declared dominance['a' over 'b']"]
    assert not check.holds and "weak column" in check.location
    assert [c.name for c in model.certify().violations] == [check.name]


def test_the_column_to_layer_map_is_one_function(saved, monkeypatch):
    model = estimators.CalibratedLinearRegressor.load(saved["decreasing"])
    monkeypatch.setattr(_structure, "layers_reading_column", lambda model, j: [])
    check = _declared(model.certify())["declared monotonicity['a']=decreasing"]
    assert not check.holds and check.location == "no layer of the model reads the column"


# -- loading ----------------------------------------------------------------------------------


def test_keypoints_that_do_not_match_the_model_are_refused(saved, tmp_path):
    def shift(payload):
        spec = payload["fitted"]["feature_specs_"][0]
        spec["keypoints"][1] += 0.01
    edited = _rewrite(saved["free"], tmp_path / "k.keras", edit_json=shift)
    with pytest.raises(ValueError, match=r"calibrator of column 'a' has keypoint 1 = .* stored "
                                         r"encoding has .*fit and save the estimator again"):
        estimators.CalibratedLinearRegressor.load(edited)

    def drop_keypoint(payload):
        payload["fitted"]["feature_specs_"][1]["keypoints"].pop()
    edited = _rewrite(saved["free"], tmp_path / "k2.keras", edit_json=drop_keypoint)
    # The model's keypoints are the stored ones refined to a common count, so
    # a dropped keypoint shows as a keypoint the refinement does not give.
    with pytest.raises(ValueError, match=r"calibrator of column 'b' has keypoint \d+ = .* stored "
                                         r"encoding has"):
        estimators.CalibratedLinearRegressor.load(edited)


def test_a_vocabulary_that_does_not_match_the_model_is_refused(saved, tmp_path):
    def extra(payload):
        payload["fitted"]["feature_specs_"][2]["vocabulary"].append("new")
    edited = _rewrite(saved["free"], tmp_path / "v.keras", edit_json=extra)
    with pytest.raises(ValueError, match=r"column 'kind' has 3 categories but the stored "
                                         r"vocabulary has 4"):
        estimators.CalibratedLinearRegressor.load(edited)


@pytest.mark.parametrize("remove, field", [
    (lambda p: p["fitted"].pop("target_mean_"), "fitted.target_mean_"),
    (lambda p: p["fitted"].pop("feature_specs_"), "fitted.feature_specs_"),
    (lambda p: p["fitted"]["feature_specs_"][1].pop("keypoints"),
     "fitted.feature_specs_[1].keypoints"),
    (lambda p: p.pop("params"), "params"),
    (lambda p: p.pop("class"), "class"),
])
def test_a_missing_field_is_named_with_how_to_resave(saved, tmp_path, remove, field):
    edited = _rewrite(saved["free"], tmp_path / "f.keras", edit_json=remove)
    with pytest.raises(ValueError, match=rf"lacks the field '{__import__('re').escape(field)}'.*"
                                         r"re-save it"):
        estimators.CalibratedLinearRegressor.load(edited)


def test_another_classes_file_is_refused(saved):
    with pytest.raises(ValueError, match="holds a CalibratedLatticeRegressor, not a "
                                         "CalibratedLinearRegressor"):
        estimators.CalibratedLinearRegressor.load(saved["lattice"])


def test_a_lattice_size_edited_into_the_config_is_refused_before_allocating(saved, tmp_path):
    def grow(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Lattice":
                layer["config"]["lattice_sizes"] = [2000] * len(layer["config"]["lattice_sizes"])
    edited = _rewrite(saved["lattice"], tmp_path / "big.keras", edit_config=grow)
    with pytest.raises(ValueError, match=r"big.keras: layer 'lattice' has a lattice of sizes "
                                         r"\[2000, 2000, 2000\].* allowed"):
        estimators.CalibratedLatticeRegressor.load(edited)


def test_saved_and_loaded_positional_constraints(tmp_path):
    frame = _frame().drop(columns=["kind"])
    model = estimators.CalibratedLinearRegressor(monotonicity={0: 1}, **TINY)
    model.fit(frame, frame["a"])
    model.save(tmp_path / "p.keras")
    loaded = estimators.CalibratedLinearRegressor.load(tmp_path / "p.keras")
    assert loaded.monotonicity == {0: 1} and loaded.certify().holds
