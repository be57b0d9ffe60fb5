"""The estimators' training loop: fused Adam, epoch order, trace reuse, inputs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.estimators._data import mixed_frame
from tests.estimators._random_state import assert_fit_ignores_global_seeds
from tests.oracles.adam import adam_oracle
from tf_lattice import estimators
from tf_lattice.estimators import _training
from tf_lattice.models._inputs import FeatureColumns, GatherFeatures, ReorderFeatures


def test_fused_adam_matches_keras_adam():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4)).astype("float32")
    ours, theirs = keras.Variable(start), keras.Variable(start)
    fused = _training.FusedAdam([ours], 0.05)
    reference = keras.optimizers.Adam(0.05)
    for step in range(6):
        gradient = tf.constant(rng.normal(size=(3, 4)).astype("float32"))
        fused.apply([gradient])
        reference.apply([gradient], [theirs])
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)
    fused.reset(0.2)
    assert float(fused.steps) == 0.0 and not np.any(np.asarray(fused.first[0]))
    assert float(fused.learning_rate) == pytest.approx(0.2)


def test_fused_adam_projects_constrained_variables():
    variable = keras.Variable(np.zeros(3, "float32"))
    variable.constraint = lambda value: tf.clip_by_value(value, 0.0, 0.01)
    _training.FusedAdam([variable], 1.0).apply([tf.constant([-1.0, 1.0, 1.0])])
    np.testing.assert_allclose(np.asarray(variable), [0.01, 0.0, 0.0])


def test_the_training_loop_updates_variables_where_they_live(device):
    """Its Adam takes the kernel for variables on the CPU and the twin
    elsewhere; both give the oracle's step."""
    start = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    gradient = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    variable = keras.Variable(start)
    adam = _training.FusedAdam([variable], 0.1)
    assert adam.implementation == ("kernel" if device == "cpu" else "portable")
    adam.apply([tf.constant(gradient)])
    constants = [float(np.float32(c)) for c in (0.1, 0.9, 0.999, 0.9, 0.999, 1e-7)]
    expected, _, _ = adam_oracle(start, np.zeros_like(start), np.zeros_like(start), gradient,
                                 *constants)
    np.testing.assert_allclose(np.asarray(variable), expected, rtol=1e-6, atol=1e-7)


def test_fused_adam_updates_variables_of_each_dtype():
    """One update op per dtype; float64 variables take the float32 step
    size cast, their beta powers in float64, and match the oracle."""
    start = [np.array([0.5, -1.0], np.float32), np.array([[2.0, 0.25]], np.float64)]
    gradients = [np.array([1.0, -2.0], np.float32), np.array([[0.5, 3.0]], np.float64)]
    variables = [keras.Variable(a, dtype=a.dtype) for a in start]
    adam = _training.FusedAdam(variables, 0.1)
    adam.apply([tf.constant(g) for g in gradients])
    for variable, begin, gradient in zip(variables, start, gradients):
        dtype = begin.dtype.type
        constants = [float(dtype(c)) for c in (np.float32(0.1), 0.9, 0.999, 0.9, 0.999, 1e-7)]
        expected, _, _ = adam_oracle(begin, np.zeros_like(begin), np.zeros_like(begin), gradient,
                                     *constants)
        assert np.asarray(variable).dtype == begin.dtype
        np.testing.assert_allclose(np.asarray(variable), expected, rtol=1e-6, atol=1e-12)

def test_epoch_order_is_a_permutation_cut_to_whole_batches():
    rng = np.random.default_rng(0)
    first = _training.epoch_order(np.arange(23), 5, rng)
    second = _training.epoch_order(np.arange(23), 5, rng)
    assert first.shape == (20,) and first.dtype == np.int32
    assert len(set(first.tolist())) == 20 and first.max() < 23
    assert not np.array_equal(first, second)


def test_epoch_order_of_training_rows_draws_only_those_rows_in_the_same_order():
    """With held-out rows the epoch indexes the training rows of the full
    arrays, in the order an epoch over a copy of those rows would take."""
    rows = np.array([2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31], np.int64)
    order = _training.epoch_order(rows, 4, np.random.default_rng(5))
    on_a_copy = _training.epoch_order(np.arange(len(rows)), 4, np.random.default_rng(5))
    assert order.shape == (8,) and order.dtype == np.int32
    np.testing.assert_array_equal(order, rows[on_a_copy])


def test_a_second_fit_reuses_the_traced_loop_and_gives_the_same_model():
    frame, y = mixed_frame(80)
    kwargs = dict(monotonicity={"x": "increasing"}, epochs=3, batch_size=8, random_state=0,
                  verbose=0)
    first = estimators.CalibratedLatticeEnsembleRegressor(**kwargs).fit(frame, y)
    traced = {id(loop): loop.run_epochs.traced.experimental_get_tracing_count()
              for loop, _ in _training._TRACES.entries.values()}
    second = estimators.CalibratedLatticeEnsembleRegressor(**kwargs).fit(frame, y)
    after = {id(loop): loop.run_epochs.traced.experimental_get_tracing_count()
             for loop, _ in _training._TRACES.entries.values()}
    assert traced.items() <= after.items()  # no loop traced again, none replaced
    np.testing.assert_array_equal(first.predict(frame), second.predict(frame))
    # The fitted models are the estimators' own, not the shared template.
    assert first.model_ is not second.model_
    assert all(first.model_ is not loop.model for loop, _ in _training._TRACES.entries.values())
    assert first.certify().holds and second.certify().holds


def _tracing_counts():
    return {id(loop): loop.run_epochs.traced.experimental_get_tracing_count()
            for loop, _ in _training._TRACES.entries.values()}


def test_fits_that_differ_in_learning_rate_share_one_traced_loop(monkeypatch):
    frame, y = mixed_frame(80)
    kwargs = dict(monotonicity={"x": "increasing"}, epochs=3, batch_size=8, random_state=0,
                  verbose=0)

    def fit(rate):
        return estimators.CalibratedLatticeRegressor(learning_rate=rate, **kwargs).fit(
            frame, y).predict(frame)

    first = fit(0.05)
    traced = _tracing_counts()
    shared = fit(0.01)
    assert _tracing_counts() == traced  # no loop traced, added or replaced
    # The shared loop trains with the fit's own rate: the same model as a
    # fit that traces a loop of its own.
    monkeypatch.setattr(_training, "_TRACES", _training._TraceCache())
    np.testing.assert_array_equal(shared, fit(0.01))
    assert np.abs(shared - first).max() > 1e-3


REGRESSORS = (estimators.CalibratedLinearRegressor, estimators.CalibratedLatticeRegressor,
              estimators.CalibratedLatticeEnsembleRegressor,
              estimators.DeepLatticeNetworkRegressor)


@pytest.mark.parametrize("cls", REGRESSORS, ids=lambda cls: cls.__name__)
def test_a_fit_neither_reads_nor_changes_the_global_random_state(cls, monkeypatch):
    frame, y = mixed_frame(60)
    kwargs = dict(monotonicity={"x": "increasing"}, epochs=2, batch_size=16, random_state=3,
                  verbose=0)
    assert_fit_ignores_global_seeds(lambda: cls(**kwargs).fit(frame, y).predict(frame),
                                    monkeypatch)


def test_a_template_in_use_is_not_shared():
    cache = _training._TraceCache(capacity=2)
    made = []

    def create():
        made.append(object())
        return made[-1]

    with cache.checkout("k", create) as outer:
        with cache.checkout("k", create) as inner:
            assert inner is not outer
    with cache.checkout("k", create) as again:
        assert again is outer
    assert len(made) == 2
    for key in ("a", "b"):
        with cache.checkout(key, create):
            pass
    assert list(cache.entries) == ["a", "b"]  # capacity 2: "k" was dropped


def test_feature_layers_pick_columns_exactly():
    values = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    gathered = GatherFeatures([[2, 0], [3, 1], [0, 0]])(values)
    np.testing.assert_array_equal(gathered, values[:, [[2, 0], [3, 1], [0, 0]]])
    np.testing.assert_array_equal(ReorderFeatures([3, 0, 2])(values), values[:, [3, 0, 2]])
    raw = values.copy()
    raw[1, 2] = np.nan
    filled, missing = FeatureColumns([2, 0], [7.0, 8.0])(raw)
    expected = raw[:, [2, 0]].copy()
    expected[1, 0] = 7.0
    np.testing.assert_array_equal(filled, expected)
    np.testing.assert_array_equal(missing, np.isnan(raw[:, [2, 0]]).astype("float32"))
    with pytest.raises(ValueError, match="fill_values"):
        FeatureColumns([0, 1], [0.0])


def test_aligned_arrays_reach_tensorflow_without_a_copy():
    array = _training.aligned_empty((5, 3), np.float32)
    assert array.ctypes.data % _training.TENSOR_ALIGNMENT == 0 and array.flags.c_contiguous
    array[:] = np.arange(15, dtype=np.float32).reshape(5, 3)
    tensor = _training.shared_tensor(array, np.float32)
    array[0, 0] = 99.0  # shared memory: the tensor sees the change
    assert tensor.numpy()[0, 0] == 99.0
    # A misaligned view is copied, never handed over (TensorFlow would abort).
    offset = _training.aligned_empty((16,), np.float32)
    view = offset.view(np.uint8)[4:4 + 4 * 15].view(np.float32)
    assert view.ctypes.data % _training.TENSOR_ALIGNMENT != 0
    view[:] = 1.0
    copied = _training.shared_tensor(view, np.float32)
    view[0] = 5.0
    assert copied.numpy()[0] == 1.0


@pytest.mark.parametrize("rows,expected", [
    (100, (60, 32)), (227, (60, 32)), (32_561, (19, 1024)), (300_000, (2, 1024)),
    (900_000, (1, 1024)), (1_000_000, (1, 1024))])
def test_the_automatic_schedule_takes_about_600_steps(rows, expected):
    assert _training.resolve_schedule(rows, None, None) == expected
    assert _training.resolve_schedule(rows, 4, 100) == (4, 100)


@pytest.mark.parametrize("rows,expected", [(900_000, (1, 1024)), (600_000, (2, 1024)),
                                           (9_000, (133, 1024))])
def test_the_schedule_rounds_to_the_nearest_whole_epoch(rows, expected):
    # 1,200 steps: 879 steps per epoch round to one pass (1.37 epochs), 586
    # to two (2.05), 9 to 133 (133.3).
    assert _training.resolve_schedule(rows, None, None, target_steps=1200,
                                      max_epochs=None) == expected


@pytest.mark.parametrize("rows,expected", [(100, (150, 32)), (227, (75, 32)),
                                           (5_000, (75, 625)), (32_561, (19, 1024))])
def test_the_uncapped_schedule_takes_about_600_steps_on_small_data_too(rows, expected):
    assert _training.resolve_schedule(rows, None, None, max_epochs=None) == expected
    assert _training.resolve_schedule(rows, None, None, max_epochs=7)[0] == min(7, expected[0])


@pytest.mark.parametrize("epochs,steps,early_stopping,expected", [
    (60, 8, False, 60),     # a small data set: every epoch in one call
    (100, 8, False, 100),
    (300, 8, False, 128),   # STEPS_PER_CALL // 8
    (19, 32, False, 19),
    (3, 400, False, 2),
    (5, 2_000, False, 1),   # an epoch longer than the budget still runs whole
    (60, 8, True, 1),       # early stopping validates after every epoch
])
def test_epochs_per_call(epochs, steps, early_stopping, expected):
    assert _training.STEPS_PER_CALL == 1024
    assert _training.epochs_per_call(epochs, steps, early_stopping) == expected


def test_several_epochs_per_call_train_as_one_epoch_per_call(monkeypatch):
    """Epochs grouped three to a call (7 epochs: calls of 3, 3 and a padded
    1, all one trace) give the same model and per-epoch losses as one epoch
    per call."""
    frame, y = mixed_frame(80)
    kwargs = dict(monotonicity={"x": "increasing"}, epochs=7, batch_size=8, random_state=0,
                  verbose=0)

    def fit(steps_per_call):
        monkeypatch.setattr(_training, "STEPS_PER_CALL", steps_per_call)
        monkeypatch.setattr(_training, "_TRACES", _training._TraceCache())
        model = estimators.CalibratedLatticeEnsembleRegressor(**kwargs).fit(frame, y)
        return model, _tracing_counts()

    grouped, grouped_traces = fit(30)  # 10 steps per epoch: 3 epochs per call
    single, _ = fit(10)
    assert list(grouped_traces.values()) == [1]
    assert len(grouped.history_["loss"]) == len(single.history_["loss"]) == 7
    np.testing.assert_allclose(grouped.history_["loss"], single.history_["loss"], rtol=1e-6)
    assert len(set(single.history_["loss"])) == 7
    np.testing.assert_array_equal(grouped.predict(frame), single.predict(frame))


def test_early_stopping_trains_on_the_training_rows_and_keeps_the_best_epoch():
    """The held-out rows only score epochs: the model ends at the epoch of the
    lowest validation loss, and its loss on those rows is that value."""
    frame, y = mixed_frame(200)
    settings = dict(early_stopping=True, validation_fraction=0.25, epochs=12, batch_size=16,
                    random_state=0, verbose=0)
    model = estimators.CalibratedLinearRegressor(**settings).fit(frame, y)
    history = model.history_
    assert len(history["val_loss"]) == len(history["loss"]) >= 1
    encoded = model.transform_features(frame)
    target = (np.asarray(y, np.float64) - model.target_mean_) / model.target_scale_
    # The fit's seed, drawn from random_state=0 as every fit draws it.
    seed = int(np.random.RandomState(0).randint(0, 2**31 - 1))
    _, held = _training.validation_split(len(frame), 0.25, np.random.default_rng(seed))
    scores = model.model_(encoded[held], training=False).numpy()[:, 0]
    data_loss = float(np.mean((scores - target[held]) ** 2))
    penalty = float(sum(float(loss) for loss in model.model_.losses))
    np.testing.assert_allclose(data_loss + penalty, min(history["val_loss"]), rtol=1e-4)


def test_validation_loss_scored_in_chunks_equals_one_chunk(monkeypatch):
    frame, y = mixed_frame(160)
    settings = dict(early_stopping=True, validation_fraction=0.25, epochs=4, batch_size=16,
                    random_state=0, verbose=0)
    whole = estimators.CalibratedLinearRegressor(**settings).fit(frame, y).history_["val_loss"]
    monkeypatch.setattr(_training, "EVALUATION_CHUNK", 7)  # 40 held-out rows: 6 chunks
    chunked = estimators.CalibratedLinearRegressor(**settings).fit(frame, y).history_["val_loss"]
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)


def test_ensembles_train_through_one_op_to_the_model_their_layers_train(monkeypatch):
    """The loop computes an ensemble's scores with one op
    (`tf_lattice.models.fused_scores`), a calibrated linear model's with its
    layers; with the op the ensemble trains to the model its layers give."""
    frame, y = mixed_frame()
    kwargs = dict(monotonicity={"x": "increasing"}, epochs=4, batch_size=32, random_state=0,
                  verbose=0)
    monkeypatch.setattr(_training, "_TRACES", _training._TraceCache())
    fused = estimators.CalibratedLatticeEnsembleRegressor(**kwargs).fit(frame, y)
    estimators.CalibratedLinearRegressor(**kwargs).fit(frame, y)
    loops = {loop.model.name: loop for loop, _ in _training._TRACES.entries.values()}
    assert loops["calibrated_lattice_ensemble"]._fused_scores is not None
    assert loops["calibrated_linear"]._fused_scores is None
    monkeypatch.setattr(_training, "_TRACES", _training._TraceCache())
    monkeypatch.setattr(_training, "ensemble_scores", lambda model: None)
    by_layers = estimators.CalibratedLatticeEnsembleRegressor(**kwargs).fit(frame, y)
    expected = by_layers.predict(frame)
    assert np.ptp(expected) > 1.0  # A fitted model, not a constant.
    np.testing.assert_allclose(fused.predict(frame), expected, rtol=1e-4, atol=1e-4)
    assert fused.certify().holds
