"""Settings chosen from the data: the rules, user values kept, the report reproduces the fit."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from tf_lattice import estimators
from tf_lattice.estimators import _defaults
from tf_lattice.estimators._defaults import resolve_defaults
from tf_lattice.models import default_num_keypoints
from tf_lattice.estimators._training import MAX_AUTOMATIC_EPOCHS, resolve_schedule

OPEN = estimators.CalibratedLatticeEnsembleRegressor().get_params()


def _resolve(n, d=6, model="ensemble", task="regression", **given):
    return resolve_defaults(n, d, task, dict(OPEN, **given), model=model)


# -- the rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [50, 200, 3000, 100000])
def test_keypoints_follow_the_rice_rule_of_the_rows_when_rows_are_plentiful(n):
    expected = int(np.clip(round(2 * n ** (1 / 3)), 10, 40))
    assert default_num_keypoints(n) == expected
    assert _resolve(n, d=1).num_keypoints == min(expected, 1 + n // 10)


@pytest.mark.parametrize("model", ["linear", "lattice", "ensemble", "dln"])
@pytest.mark.parametrize("n, d, expected", [(284, 30, 2), (151, 13, 2), (199, 7, 3),
                                             (221, 10, 3), (1500, 8, 19), (50, 1, 6),
                                             (100000, 6, 40)])
def test_keypoints_keep_ten_rows_per_calibrator_slope(n, d, expected, model):
    settings = _resolve(n, d, model=model)
    assert settings.num_keypoints == expected == _defaults.automatic_num_keypoints(n, d)
    assert d * (expected - 1) <= max(d, n / _defaults.ROWS_PER_PARAMETER)
    assert expected <= default_num_keypoints(n)


def test_linear_models_with_affine_calibrators_get_no_l2():
    affine = _resolve(284, 30, model="linear")
    assert affine.num_keypoints == 2 and affine.l2 == 0.0
    assert _resolve(284, 30, model="linear", num_keypoints=5).l2 == pytest.approx(
        _defaults.L2_ROWS / 284)
    assert _resolve(199, 7, model="linear").l2 == pytest.approx(_defaults.L2_ROWS / 199)
    assert _resolve(284, 30, model="linear", l2=0.01).l2 == 0.01
    mixed = resolve_defaults(284, 30, "classification", dict(OPEN, num_keypoints={"a": 5}),
                             model="linear", columns=["a", "b"])
    assert mixed.num_keypoints == {"a": 5, "b": 2} and mixed.l2 > 0
    # Lattice models keep their l2 whatever the keypoints.
    assert _resolve(284, 30, num_keypoints=2).l2 == pytest.approx(_defaults.L2_ROWS / 284)


def test_a_keypoint_dict_gives_omitted_columns_the_automatic_count():
    settings = resolve_defaults(200, 3, "regression", dict(OPEN, num_keypoints={"a": 5}),
                                columns=["a", "b", "c"])
    automatic = _defaults.automatic_num_keypoints(200, 3)
    assert automatic == 7
    assert settings.num_keypoints == {"a": 5, "b": automatic, "c": automatic}


@pytest.mark.parametrize("n, d, appearances", [(300, 13, 3), (4999, 7, 3), (5000, 7, 6),
                                                (50000, 14, 6), (300, 2, 3)])
def test_ensemble_capacity_grows_with_the_rows(n, d, appearances):
    settings = _resolve(n, d)
    rank = min(3, d)
    assert settings.lattice_rank == rank
    assert settings.num_lattices == max(4, math.ceil(appearances * d / rank))


@pytest.mark.parametrize("n, d, appearances", [(212, 13, 3), (212, 2, 3), (30000, 14, 6)])
def test_deep_lattice_network_sizes_follow_the_embedding(n, d, appearances):
    settings = _resolve(n, d, model="dln")
    assert settings.num_layers == _defaults.DLN_LAYERS == 1
    assert settings.monotone_dims == min(d, 6) and settings.free_dims == min(d, 4)
    width = settings.monotone_dims + settings.free_dims
    assert settings.lattice_rank == min(3, width)
    assert settings.num_lattices == max(4, math.ceil(appearances * width / min(3, width)))
    given = _resolve(n, d, model="dln", num_layers=2, monotone_dims=3, free_dims=0,
                     num_lattices=5, lattice_rank=2)
    assert (given.num_layers, given.monotone_dims, given.free_dims, given.num_lattices,
            given.lattice_rank) == (2, 3, 0, 5, 2)
    assert {"num_layers", "monotone_dims", "free_dims"} <= set(settings.as_params())
    assert "num_layers" not in _resolve(n, d).as_params()


@pytest.mark.parametrize("model", ["linear", "lattice"])
def test_models_without_ensembles_resolve_no_lattice_count(model):
    settings = _resolve(300, model=model)
    assert settings.num_lattices is None and settings.lattice_rank is None
    assert "num_lattices" not in settings.as_params()


@pytest.mark.parametrize("n", [150, 999, 1000, 2999, 3000, 20000])
@pytest.mark.parametrize("model", _defaults.MODELS)
def test_l2_shrinks_as_rows_grow_and_smoothing_stops_on_more_rows(n, model):
    settings = _resolve(n, model=model)
    assert settings.l2 == pytest.approx(_defaults.L2_ROWS / n)
    assert settings.calibration_hessian == (
        _defaults.CALIBRATION_HESSIAN if n < _defaults.HESSIAN_MAX_ROWS else 0.0)
    smoothing = model != "linear" and n < _defaults.SMOOTHING_MAX_ROWS
    assert settings.calibration_wrinkle == pytest.approx(
        _defaults.SMOOTHING_ROWS / n if smoothing else 0.0)
    assert settings.calibration_laplacian == 0.0
    assert settings.lattice_laplacian == 0.0
    assert settings.lattice_torsion == pytest.approx(
        _defaults.TORSION_ROWS / n if model == "lattice" and smoothing else 0.0)


@pytest.mark.parametrize("n, d, lattice_size, expected", [
    (100000, 6, 2, "hypercube"),     # few dimensions: always multilinear
    (100000, 6, 5, "hypercube"),
    (151, 13, 2, "hypercube"),       # Heart: 151 x 8,192 vertices
    (512, 13, 2, "hypercube"),       # exactly HYPERCUBE_MAX_COST
    (513, 13, 2, "simplex"),
    (2500, 14, 2, "simplex"),        # Adult's 5,000-row sample
    (10, 8, 3, "hypercube"),         # 10 x 6,561
    (1000, 8, 3, "simplex")])
def test_the_calibrated_lattice_interpolates_multilinearly_while_rows_times_vertices_are_few(
        n, d, lattice_size, expected):
    settings = _resolve(n, d, model="lattice", lattice_size=lattice_size)
    assert settings.interpolation == expected
    assert settings.as_params()["interpolation"] == expected
    assert _defaults.automatic_interpolation(d, lattice_size, n) == expected
    assert _resolve(n, d, model="lattice", lattice_size=lattice_size,
                    interpolation="simplex").interpolation == "simplex"


def test_ensembles_interpolate_by_the_rank_and_linear_models_have_no_lattice():
    assert _resolve(10**6, 20, model="ensemble").interpolation == "hypercube"       # rank 3
    assert _resolve(10**6, 20, model="ensemble", lattice_rank=7).interpolation == "simplex"
    assert _resolve(100, 20, model="ensemble", lattice_rank=7).interpolation == "hypercube"
    assert _resolve(10**6, 20, model="dln").interpolation == "hypercube"
    linear = _resolve(100, 20, model="linear")
    assert linear.interpolation is None and "interpolation" not in linear.as_params()
    # Rows unknown (the Estimator lane's streamed data): dimensions alone decide.
    assert _defaults.automatic_interpolation(6, 2) == "hypercube"
    assert _defaults.automatic_interpolation(7, 2) == "simplex"


@pytest.mark.parametrize("model", ["lattice", "dln"])
def test_early_stopping_turns_on_from_the_threshold_and_lengthens_training(model):
    threshold = _defaults.EARLY_STOPPING_MIN_ROWS
    below, above = _resolve(threshold - 1, model=model), _resolve(threshold, model=model)
    assert not below.early_stopping and above.early_stopping
    assert (below.epochs, below.batch_size) == resolve_schedule(threshold - 1, None, None,
                                                                max_epochs=None)
    training_rows = threshold - round(0.1 * threshold)
    assert (above.epochs, above.batch_size) == resolve_schedule(
        training_rows, None, None, target_steps=_defaults.EARLY_STOPPING_STEPS, max_epochs=None)
    assert not resolve_defaults(threshold, 6, "regression", OPEN, model=model,
                                streamed=True).early_stopping


@pytest.mark.parametrize("model", ["linear", "ensemble"])
@pytest.mark.parametrize("n", [_defaults.EARLY_STOPPING_MIN_ROWS, 10**6])
def test_linear_models_and_ensembles_train_every_row_without_early_stopping(model, n):
    settings = _resolve(n, model=model)
    assert not settings.early_stopping
    assert (settings.epochs, settings.batch_size) == resolve_schedule(n, None, None,
                                                                      max_epochs=None)
    assert _resolve(n, model=model, early_stopping=True).early_stopping


@pytest.mark.parametrize("n", [100, 500, 20000])
def test_the_task_changes_only_the_epoch_cap(n):
    classifier, regressor = _resolve(n, task="classification"), _resolve(n, task="regression")
    assert dataclasses.replace(classifier, epochs=regressor.epochs) == regressor
    training_rows = n - round(0.1 * n) if regressor.early_stopping else n
    steps = _defaults.EARLY_STOPPING_STEPS if regressor.early_stopping else _defaults.DEFAULT_STEPS
    assert (regressor.epochs, regressor.batch_size) == resolve_schedule(
        training_rows, None, None, target_steps=steps, max_epochs=None)
    assert classifier.epochs == min(regressor.epochs, MAX_AUTOMATIC_EPOCHS)


def test_small_regressions_run_the_full_step_count_and_small_classifications_stop_short():
    regressor, classifier = _resolve(500, task="regression"), _resolve(500, task="classification")
    steps_per_epoch = math.ceil(500 / regressor.batch_size)
    assert regressor.epochs * steps_per_epoch >= _defaults.DEFAULT_STEPS
    assert classifier.epochs == MAX_AUTOMATIC_EPOCHS
    assert classifier.epochs * steps_per_epoch < _defaults.DEFAULT_STEPS


@pytest.mark.parametrize("bad, message", [(dict(task="ranking"), "task"),
                                          (dict(model="forest"), "model"),
                                          (dict(num_rows=0), "row")])
def test_bad_arguments_are_refused(bad, message):
    arguments = dict(num_rows=100, num_features=3, task="regression", params=OPEN)
    arguments.update({k: v for k, v in bad.items() if k != "model"})
    with pytest.raises(ValueError, match=message):
        resolve_defaults(**arguments, model=bad.get("model", "ensemble"))


# -- user values are kept -----------------------------------------------------------------

GIVEN = dict(num_keypoints=7, num_lattices=5, lattice_rank=2, calibration_laplacian=0.5,
             calibration_hessian=0.25, calibration_wrinkle=0.2, lattice_laplacian=0.125,
             lattice_torsion=0.3, l2=0.0, epochs=3, batch_size=16, lattice_size=3,
             interpolation="simplex",
             learning_rate=0.05, validation_fraction=0.2)


@pytest.mark.parametrize("n", [100, 20000])
@pytest.mark.parametrize("name", sorted(GIVEN) + ["early_stopping"])
def test_an_explicit_value_is_never_overridden(n, name):
    # Each given value differs from the automatic one, so keeping it is visible.
    value = (not _resolve(n).early_stopping) if name == "early_stopping" else GIVEN[name]
    assert getattr(_resolve(n), name) != value
    assert getattr(_resolve(n, **{name: value}), name) == value


def test_explicit_early_stopping_on_small_data_is_kept():
    settings = _resolve(100, early_stopping=True)
    assert settings.early_stopping
    assert (settings.epochs, settings.batch_size) == resolve_schedule(
        90, None, None, target_steps=_defaults.EARLY_STOPPING_STEPS, max_epochs=None)


# -- fitted estimators ----------------------------------------------------------------------


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n),
                          "c": rng.normal(size=n), "kind": rng.choice(["x", "y", "z"], n)})
    signal = 2 * frame["a"] - frame["b"] + 0.3 * np.sin(3 * frame["c"])
    return frame, signal.to_numpy() + 0.2 * rng.normal(size=n)


CLASSES = [estimators.CalibratedLinearRegressor, estimators.CalibratedLatticeClassifier,
           estimators.CalibratedLatticeEnsembleRegressor, estimators.DeepLatticeNetworkClassifier]
SHAPES = dict(monotonicity={"a": "increasing", "b": "decreasing"})


def _target(cls, signal):
    return (signal > np.median(signal)).astype(int) if "Classifier" in cls.__name__ else signal


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_resolved_params_reproduce_the_fit_and_constraints_certify(cls):
    frame, signal = _data()
    y = _target(cls, signal)
    first = cls(random_state=3, verbose=0, **SHAPES).fit(frame, y)
    resolved = first.resolved_params_
    assert resolved["num_keypoints"] == _defaults.automatic_num_keypoints(len(frame),
                                                                           frame.shape[1])
    assert resolved["l2"] == pytest.approx(_defaults.L2_ROWS / len(frame))
    assert first.certify().holds
    again = cls(random_state=3, verbose=0, **SHAPES, **resolved).fit(frame, y)
    assert again.resolved_params_ == resolved
    outputs = (lambda m: m.predict_proba(frame)) if hasattr(first, "predict_proba") else \
        (lambda m: m.predict(frame))
    np.testing.assert_array_equal(outputs(again), outputs(first))
    if hasattr(first, "lattices_"):
        assert again.lattices_ == first.lattices_
        assert len(first.lattices_) == resolved["num_lattices"]


def test_resolved_params_survive_save_and_load(tmp_path):
    frame, signal = _data()
    model = estimators.CalibratedLinearRegressor(random_state=0, verbose=0, epochs=2).fit(
        frame, signal)
    model.save(tmp_path / "m.keras")
    loaded = estimators.CalibratedLinearRegressor.load(tmp_path / "m.keras")
    assert loaded.resolved_params_ == model.resolved_params_
    assert loaded.early_stopping == "auto" and loaded.calibration_wrinkle is None


def test_automatic_regularization_reaches_the_model():
    frame, signal = _data()
    model = estimators.CalibratedLatticeEnsembleRegressor(random_state=0, verbose=0,
                                                          epochs=1).fit(frame, signal)
    calibrator = model.model_.get_layer("numeric_calibration")
    amounts = {name: amount for name, _, amount in calibrator.kernel_regularizer_config()} \
        if hasattr(calibrator, "kernel_regularizer_config") else None
    if amounts is None:  # the layer keeps its regularizer settings in its config
        config = calibrator.get_config()["kernel_regularizer"]
        amounts = {entry[0]: entry[2] for entry in config}
    assert amounts == {"hessian": pytest.approx(_defaults.CALIBRATION_HESSIAN),
                       "wrinkle": pytest.approx(_defaults.SMOOTHING_ROWS / len(frame))}
    combine = model.model_.get_layer("combine")
    assert float(combine.kernel_regularizer.l2) == pytest.approx(
        _defaults.L2_ROWS / len(frame), rel=1e-6)


def test_the_calibrated_lattice_gets_the_resolved_interpolation_and_torsion():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.uniform(size=(160, 7)), columns=list("abcdefg"))
    target = frame.sum(axis=1).to_numpy()
    model = estimators.CalibratedLatticeRegressor(verbose=0, epochs=1, random_state=0)
    lattice = model.fit(frame, target).model_.get_layer("lattice").get_config()
    assert model.resolved_params_["interpolation"] == lattice["interpolation"] == "hypercube"
    assert lattice["kernel_regularizer"] == [
        ["torsion", 0.0, pytest.approx(_defaults.TORSION_ROWS / len(frame))]]
    simplex = estimators.CalibratedLatticeRegressor(
        verbose=0, epochs=1, random_state=0, interpolation="simplex", lattice_torsion=0.0)
    lattice = simplex.fit(frame, target).model_.get_layer("lattice").get_config()
    assert lattice["interpolation"] == "simplex" and not lattice["kernel_regularizer"]


def test_bad_early_stopping_is_refused_before_training():
    frame, signal = _data()
    with pytest.raises(ValueError, match="early_stopping must be True, False or 'auto'"):
        estimators.CalibratedLinearRegressor(early_stopping="yes", verbose=0).fit(frame, signal)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_a_fit_does_not_depend_on_the_units_of_a_column(cls):
    # Strong smoothing on calibrators of 8 keypoints: a penalty measured in
    # the columns' units would pull the rescaled columns' calibrators apart.
    frame, signal = _data()
    target = _target(cls, signal)
    rescaled = frame.assign(a=frame["a"] * 1000.0, c=frame["c"] * 1e-3 + 5.0)
    settings = dict(**SHAPES, num_keypoints=8, calibration_hessian=1.0, calibration_wrinkle=1.0,
                    epochs=3, random_state=0, verbose=0)
    scores = []
    for data in (frame, rescaled):
        model = cls(**settings).fit(data, target)
        scores.append(model.predict_proba(data)[:, 1] if "Classifier" in cls.__name__
                      else model.predict(data))
    np.testing.assert_allclose(scores[1], scores[0], rtol=1e-4, atol=1e-4)
