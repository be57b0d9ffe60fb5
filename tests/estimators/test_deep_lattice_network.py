"""Deep lattice network estimators: the published architecture on the fused calibrators."""

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import check_random_state

from tests.estimators._data import FAST, mixed_frame
from tf_lattice import estimators
from tf_lattice.layers.rtl import random_lattice_structure

DATA = os.path.join(os.path.dirname(__file__), "data")
SHAPES = dict(monotonicity={"x": "increasing"},
              category_order={"color": [("red", "blue"), ("blue", "green")]})


def _layers(model, kind):
    return [layer for layer in model.layers if type(layer).__name__ == kind]


def _fitted(cls=estimators.DeepLatticeNetworkRegressor, **params):
    frame, y = mixed_frame(200)
    if cls is estimators.DeepLatticeNetworkClassifier:
        y = y > np.median(y)
    settings = dict(FAST, monotone_dims=3, free_dims=2, num_lattices=5, lattice_rank=2)
    settings.update(params)
    return cls(**SHAPES, **settings).fit(frame, y), frame


def test_the_model_is_the_published_architecture():
    """Calibrators -> linear embedding -> calibrators -> random tiny lattices -> linear."""
    model, frame = _fitted()
    keras_model = model.model_
    names = [spec.name for spec in model.feature_specs_]
    shaped = [names.index("x"), names.index("color")]
    # The embedding: 3 outputs with weights >= 0 on the shaped columns, 2 reading
    # only the other columns, each L1-normalized.
    embedding = {layer.name: layer for layer in _layers(keras_model, "Linear")}
    monotone = embedding["block_0_monotone_embedding"]
    assert monotone.units == 3 and monotone.normalization_order == 1
    assert [m for k, m in enumerate(monotone.monotonicities)] == [
        "increasing" if k in shaped else "none" for k in range(len(names))]
    free = embedding["block_0_free_embedding"]
    assert free.units == 2 and free.num_input_dims == len(names) - len(shaped)
    assert set(free.monotonicities) == {"none"}
    reorder = [layer for layer in keras_model.layers if layer.name == "block_0_free_inputs"][0]
    assert reorder.columns == [k for k in range(len(names)) if k not in shaped]
    # One calibrator per embedding output, increasing on the monotone part.
    calibrator = [layer for layer in keras_model.layers if layer.name == "block_0_calibration"][0]
    assert calibrator.unit_monotonicities == ["increasing"] * 3 + ["none"] * 2
    # Random tiny lattices: RTL's balanced structure over the 5 embedding outputs.
    block = model.layers_[0]
    assert (block["monotone_dims"], block["free_dims"], block["num_lattices"],
            block["lattice_rank"]) == (3, 2, 5, 2)
    seed = int(check_random_state(FAST["random_state"]).randint(0, 2**31 - 1))  # the fit's seed
    assert sorted(map(sorted, block["lattices"])) == sorted(
        map(sorted, random_lattice_structure(5, 5, 2, seed)))
    gathered = [subset for layer in _layers(keras_model, "GatherFeatures")
                if layer.name.startswith("block_0_lattices") for subset in layer.subsets]
    assert [sorted(s) for s in gathered] == [sorted(s) for s in block["lattices"]]
    for layer in _layers(keras_model, "Lattice"):
        assert layer.output_min == 0.0 and layer.output_max == model.lattice_size - 1
    # The lattices are increasing in their monotone embedding outputs, and so
    # is the output layer in the lattices that read one.
    for layer in _layers(keras_model, "Lattice"):
        subsets = [s for g in _layers(keras_model, "GatherFeatures")
                   if g.name == layer.name.replace("lattices_", "lattices_inputs_")
                   for s in g.subsets]
        for unit, subset in enumerate(subsets):
            assert [m == "increasing" for m in layer.unit_spec(unit).monotonicity_names] == [
                k < 3 for k in subset]
    output = embedding["output_linear"]
    assert output.monotonicities == ["increasing" if any(k < 3 for k in subset) else "none"
                                     for subset in block["lattices"]]
    assert model.certify().holds, str(model.certify())


@pytest.mark.parametrize("cls", [estimators.DeepLatticeNetworkRegressor,
                                 estimators.DeepLatticeNetworkClassifier],
                         ids=lambda c: c.__name__)
def test_monotone_certified_and_saved_with_missing_values_and_category_order(cls, tmp_path):
    model, frame = _fitted(cls, num_layers=2)
    assert len(model.layers_) == 2
    certificate = model.certify()
    assert certificate.holds, str(certificate)
    names = " ".join(check.name for check in certificate.checks)
    assert "declared monotonicity['x']=increasing" in names and "category_order" in names
    score = model.decision_function if hasattr(model, "classes_") else model.predict
    base = frame.iloc[[3] * 41].reset_index(drop=True)
    base["x"] = np.linspace(-1.0, 11.0, 41)
    assert np.all(np.diff(score(base)) >= -1e-5)
    ordered = frame.iloc[[0, 0, 0]].reset_index(drop=True)
    ordered["color"] = pd.Categorical(["red", "blue", "green"])
    assert np.all(np.diff(score(ordered)) >= -1e-5)
    missing = frame.iloc[:4].copy()
    missing["x"] = np.nan
    assert np.all(np.isfinite(score(missing)))
    path = tmp_path / "dln.keras"
    model.save(path)
    loaded = cls.load(path)
    assert loaded.layers_ == model.layers_
    np.testing.assert_allclose(score(frame), loaded.decision_function(frame)
                               if hasattr(loaded, "classes_") else loaded.predict(frame),
                               rtol=1e-6, atol=1e-6)
    assert loaded.certify().holds


def test_every_class_score_of_a_multiclass_network_keeps_the_constraints():
    frame, y = mixed_frame(200)
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    model = estimators.DeepLatticeNetworkClassifier(**SHAPES, **FAST).fit(frame, labels)
    assert model.model_.output_shape[-1] == 3
    assert model.certify().holds, str(model.certify())
    base = frame.iloc[[5] * 31].reset_index(drop=True)
    base["x"] = np.linspace(0.0, 10.0, 31)
    assert np.all(np.diff(model.decision_function(base), axis=0) >= -1e-5)


def test_unconstrained_columns_only_and_sizes_are_checked():
    frame, y = mixed_frame(120)
    model = estimators.DeepLatticeNetworkRegressor(**FAST).fit(frame, y)
    assert model.layers_[0]["monotone_dims"] == 0 and model.layers_[0]["free_dims"] > 0
    assert model.certify().holds
    with pytest.raises(ValueError, match="monotone_dims=0 leaves the columns"):
        estimators.DeepLatticeNetworkRegressor(monotone_dims=0, **SHAPES, **FAST).fit(frame, y)
    with pytest.raises(ValueError, match="free_dims=0 and no column has a declared shape"):
        estimators.DeepLatticeNetworkRegressor(free_dims=0, **FAST).fit(frame, y)
    with pytest.raises(ValueError, match="monotone_dims and free_dims are both 0"):
        estimators.DeepLatticeNetworkRegressor(monotone_dims=0, free_dims=0, **FAST).fit(frame, y)
    with pytest.raises(ValueError, match="unimodality"):
        estimators.DeepLatticeNetworkRegressor(unimodality={"x": "valley"}, **FAST).fit(frame, y)
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        estimators.DeepLatticeNetworkRegressor(num_layers=0, **FAST).fit(frame, y)


def test_a_network_of_the_earlier_design_is_refused_with_how_to_resave():
    path = os.path.join(DATA, "dln_two_ensembles_saved_by_0_1.keras")
    with pytest.raises(ValueError, match="earlier design .* fit the estimator again with this "
                                         "version and save it"):
        estimators.DeepLatticeNetworkClassifier.load(path)
