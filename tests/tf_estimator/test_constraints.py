"""Declared shapes: projected inside the train op, certified from the
checkpoint, finalized, and probed on grids of predictions."""

import numpy as np
import pytest
import tensorflow as tf

from tests.tf_estimator import _data
from tests.tf_estimator.conftest import CASES, ONE_WORKER, SHAPES, case_id, estimator_for

pytestmark = ONE_WORKER

#: Float rounding allowed between neighbouring grid predictions.
TOLERANCE = 1e-5


def _scores(estimator, head, rows):
    """Per-class scores (logits; the prediction for regression) `(n, k)`."""
    key = "predictions" if head == "regression" else "logits"
    return np.array([p[key] for p in estimator.predict(_data.input_fn(rows, batch_size=500))])


def _grid_scores(estimator, head, bases, grids):
    """Scores along several grids, from one prediction call.

    Args:
      grids: dict label -> ``(feature, values)``: ``feature`` varied alone
        from each base row.

    Returns:
      dict label -> `(len(bases), len(values), k)` scores.
    """
    rows = [_data.grid(base, feature, values) for feature, values in grids.values()
            for base in bases]
    scores = _scores(estimator, head, {name: np.concatenate([r[name] for r in rows])
                                       for name in rows[0]})
    result, start = {}, 0
    for label, (_, values) in grids.items():
        count = len(bases) * len(values)
        result[label] = scores[start:start + count].reshape(len(bases), len(values), -1)
        start += count
    return result


def _bases(features, count=6):
    return [{name: values[i] for name, values in features.items()} for i in range(count)]


def _worst_fall(scores):
    """The largest decrease between neighbours along axis 1 (0 if none)."""
    return float(max(0.0, -np.diff(scores, axis=1).min()))


def _valley_violation(scores):
    """How far each curve is from falling then rising: the largest rise
    followed later by a fall, over every curve and class."""
    worst = 0.0
    for curve in np.moveaxis(scores, -1, 1).reshape(-1, scores.shape[1]):
        steps = np.diff(curve)
        rises = np.maximum.accumulate(np.maximum(steps, 0.0))
        worst = max(worst, float(np.max(np.minimum(rises[:-1], -steps[1:]), initial=0.0)))
    return worst


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_grid_predictions_follow_the_declared_shapes(case, trained):
    run = trained(case)
    bases = _bases(run.test_features)
    # Beyond the training range too: the shapes hold everywhere. Convexity
    # holds where the calibrator is convex: between its first and last
    # keypoints (it is flat outside).
    line = np.linspace(-0.5, 1.5, 41, dtype=np.float32)
    spec = next(s for s in run.estimator.feature_specs if s.name == "bowl")
    scores = _grid_scores(run.estimator, run.head, bases, {
        "up": ("up", line), "down": ("down", line),
        "color": ("color", np.array(["red", "green", "blue"])),
        "bowl": ("bowl", np.linspace(-1.5, 1.5, 41, dtype=np.float32)),
        "bowl inside": ("bowl", np.linspace(spec.keypoints[0], spec.keypoints[-1], 41,
                                            dtype=np.float32))})
    assert _worst_fall(scores["up"]) <= TOLERANCE
    assert _worst_fall(-scores["down"]) <= TOLERANCE
    assert _worst_fall(scores["color"]) <= TOLERANCE
    if case[0] == "lattice":
        assert _valley_violation(scores["bowl"]) <= TOLERANCE
    if case[0] == "linear":
        # The calibrated linear model is convex in "bowl" (its calibrator is).
        assert float(np.diff(scores["bowl inside"], n=2, axis=1).min()) >= -TOLERANCE


def test_grid_probe_sees_a_shape_that_is_not_there(trained):
    # The probe's own check: the model rises with "up", so it is not
    # decreasing there, and its "bowl" curve (a valley) is not a peak.
    run = trained(("lattice", "regression"))
    scores = _grid_scores(run.estimator, run.head, _bases(run.test_features),
                          {"up": ("up", np.linspace(0.0, 1.0, 21, dtype=np.float32)),
                           "bowl": ("bowl", np.linspace(-1.0, 1.0, 21, dtype=np.float32))})
    assert _worst_fall(-scores["up"]) > 0.1
    assert _valley_violation(-scores["bowl"]) > 0.1


def test_projection_runs_after_every_optimizer_step(tmp_path):
    # The labels fall with "up", which is declared increasing, and the step
    # size is large: every step pushes the "up" calibrator out of shape, and
    # only a projection that reads the weights after the step puts it back.
    config = tf.estimator.RunConfig(save_checkpoints_steps=4, keep_checkpoint_max=20,
                                    save_summary_steps=None)
    estimator, features, score, labels = estimator_for(
        "linear", "regression", tmp_path, learning_rate=0.5, config=config)
    opposed = (-3.0 * features["up"] + score).astype(np.float32)
    estimator.train(_data.input_fn(features, opposed, epochs=2, shuffle=True))
    state = tf.train.get_checkpoint_state(estimator.model_dir)
    paths = list(state.all_model_checkpoint_paths)
    assert len(paths) >= 5
    for path in paths:
        certificate = estimator.certify(checkpoint_path=path)
        assert certificate.holds, (path, certificate.violations)
        # "up" is the first numeric feature: unit 0 of the numeric calibration.
        kernel = tf.train.load_checkpoint(path).get_tensor("numeric_calibration/kernel")[:1]
        assert np.diff(kernel, axis=1).min() >= 0.0, (path, kernel)


def test_finalize_rewrites_the_latest_checkpoint_with_exact_projections(tmp_path):
    estimator, features, score, labels = estimator_for(
        "lattice", "binary", tmp_path,
        trust=[("up", "bowl", "increasing")], dominance=[("up", "down")], unimodality=None,
        convexity={"bowl": "convex"})
    estimator.train(_data.input_fn(features, labels, epochs=2, shuffle=True))
    before = estimator.latest_checkpoint()
    step = tf.train.load_checkpoint(before).get_tensor("global_step")
    certificate = estimator.finalize()
    assert certificate.holds, certificate.violations
    names = " ".join(check.name for check in certificate.checks)
    assert "trust" in names and "dominance" in names
    after = estimator.latest_checkpoint()
    assert after == before  # same global step, rewritten in place
    assert tf.train.load_checkpoint(after).get_tensor("global_step") == step
    assert estimator.certify().holds
    metrics = estimator.evaluate(_data.input_fn(features, labels))
    assert metrics["global_step"] == step
    assert metrics["auc"] > 0.9


def test_certificate_compares_the_network_with_the_declared_constraints(trained):
    from tf_lattice.estimators._inspection import certify_network
    from tf_lattice.estimators._constraints import resolve_constraints

    estimator = trained(("linear", "binary")).estimator
    specs = estimator.feature_specs
    network = estimator.keras_model()
    # The network makes "bowl" convex; declared increasing, no layer carries it.
    declared = resolve_constraints(specs, monotonicity={**SHAPES["monotonicity"], "bowl": "increasing"},
                                   category_order=SHAPES["category_order"])
    certificate = certify_network(type(estimator).__name__, network, specs, declared)
    assert not certificate.holds
    failed = [check for check in certificate.checks if not check.holds]
    assert [check.name for check in failed] == [
        "declared monotonicity['bowl']=increasing: the model output"], failed
    assert "not shape-constrained" in failed[0].location
