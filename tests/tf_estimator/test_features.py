"""Feature declarations, the analysis pass and the plan saved with the model."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.tf_estimator import _data
from tests.tf_estimator.conftest import ONE_WORKER, estimator_for

from tf_lattice.models import keypoints_from_quantiles

pytestmark = ONE_WORKER


def _never_read():
    raise AssertionError("the analysis input_fn must not be read for this error")


def _construct(cls_name="CalibratedLinearEstimator", feature_columns=None, input_fn=_never_read,
               **kwargs):
    from tf_lattice import tf_estimator

    cls = getattr(tf_estimator, cls_name)
    return cls(feature_columns or _data.FEATURES, input_fn, **kwargs)


@pytest.mark.parametrize("argument, value", [
    ("monotonicity", {"uup": "increasing"}),
    ("convexity", {"uup": "convex"}),
    ("trust", [("up", "uup", "increasing")]),
    ("dominance", [("uup", "up")]),
    ("category_order", {"uup": [("red", "blue")]}),
    ("num_keypoints", {"uup": 5}),
])
def test_unknown_feature_is_named_before_any_data_is_read(argument, value, tmp_path):
    with pytest.raises(ValueError, match=rf"{argument} names feature 'uup', which is not among "
                                         r"the feature_columns \['up', 'down', 'bowl', 'color'\]"):
        _construct(model_dir=str(tmp_path), **{argument: value})
    assert not os.listdir(tmp_path)


def test_unknown_feature_in_unimodality_is_named(tmp_path):
    with pytest.raises(ValueError, match="unimodality names feature 'bowll'"):
        _construct("CalibratedLatticeEstimator", model_dir=str(tmp_path),
                   unimodality={"bowll": "valley"})


@pytest.mark.parametrize("argument, value, message", [
    ("monotonicity", {"up": "upward"}, r"monotonicity\['up'\] must be one of .*'upward'"),
    ("convexity", {"bowl": "bumpy"}, r"convexity\['bowl'\] must be one of .*'bumpy'"),
    ("trust", [("up", "down", "sideways")], r"trust direction must be one of .*'sideways'"),
    ("trust", [("up", "down", "increasing", "gaussian")], r"trust kind must be one of .*'gaussian'"),
])
def test_unknown_direction_is_named_before_any_data_is_read(argument, value, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        _construct(model_dir=str(tmp_path), **{argument: value})


def test_unknown_unimodality_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"unimodality\['bowl'\] must be one of .*'hill'"):
        _construct("CalibratedLatticeEstimator", model_dir=str(tmp_path),
                   unimodality={"bowl": "hill"})


@pytest.mark.parametrize("kwargs, message", [
    (dict(lattice_size=1), "lattice_size must be >= 2, got 1"),
    (dict(head="ranking"), "head must be one of"),
    (dict(head="multiclass"), "needs n_classes >= 3"),
    (dict(head="binary", n_classes=3), 'head="binary" has 2 classes'),
    (dict(learning_rate=0.0), "learning_rate must be > 0.0, got 0.0"),
    (dict(interpolation="cubic"), "interpolation must be one of"),
    (dict(implementation="fast"), "implementation must be one of"),
    (dict(num_keypoints=1), "num_keypoints must be >= 2, got 1"),
    (dict(weight_column="up"), "weight_column 'up' is also a model feature"),
    (dict(unimodality={"bowl": "valley"}), "unimodality needs a lattice model"),
    (dict(feature_columns=["up", "up"]), r"names \['up'\] more than once"),
])
def test_bad_parameters_are_named_before_any_data_is_read(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        _construct(model_dir=str(tmp_path), **kwargs)


def test_ensemble_parameters_are_checked(tmp_path):
    with pytest.raises(ValueError, match="ensemble must be one of"):
        _construct("CalibratedLatticeEnsembleEstimator", model_dir=str(tmp_path), ensemble="forest")
    with pytest.raises(ValueError, match="lattice_rank must be >= 1, got 0"):
        _construct("CalibratedLatticeEnsembleEstimator", model_dir=str(tmp_path), lattice_rank=0)


def test_unsupported_feature_columns_are_named(tmp_path):
    bucketized = tf.feature_column.bucketized_column(
        tf.feature_column.numeric_column("up"), [0.5])
    with pytest.raises(ValueError, match="unsupported feature column"):
        _construct(feature_columns=[bucketized], model_dir=str(tmp_path))
    scaled = tf.feature_column.numeric_column("up", normalizer_fn=lambda x: x * 2)
    with pytest.raises(ValueError, match="numeric column 'up' has a normalizer_fn"):
        _construct(feature_columns=[scaled], model_dir=str(tmp_path))
    many = tf.feature_column.categorical_column_with_vocabulary_list(
        "color", ["red"], num_oov_buckets=3)
    with pytest.raises(ValueError, match="'color' has num_oov_buckets=3"):
        _construct(feature_columns=[many], model_dir=str(tmp_path))


def test_data_errors_are_named_before_training(tmp_path):
    features, score = _data.make_data(100)
    labels = _data.labels_for("binary", score)
    analysis = _data.input_fn(features, labels)
    with pytest.raises(ValueError, match=r"feature_columns name \['height'\], which the "
                                         "feature-analysis input_fn does not yield"):
        _construct(feature_columns=["up", "height"], input_fn=analysis, model_dir=str(tmp_path / "a"))
    with pytest.raises(ValueError, match="monotonicity cannot apply to categorical column 'color'"):
        _construct(input_fn=analysis, model_dir=str(tmp_path / "b"),
                   monotonicity={"color": "increasing"})
    with pytest.raises(ValueError, match="names category 'purple'"):
        _construct(input_fn=analysis, model_dir=str(tmp_path / "c"),
                   category_order={"color": [("red", "purple")]})
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 1\]"):
        _construct(input_fn=_data.input_fn(features, score), model_dir=str(tmp_path / "d"))
    for name in "abcd":
        assert not tf.io.gfile.exists(str(tmp_path / name / "tf_lattice_model.json"))


def test_keypoints_vocabularies_and_prior_come_from_one_pass(tmp_path):
    features, score = _data.make_data(600, seed=1)
    labels = _data.labels_for("binary", score)
    reads = []

    def analysis():
        reads.append(1)
        return _data.input_fn(features, labels)()

    estimator = _construct(input_fn=analysis, model_dir=str(tmp_path), num_keypoints={"up": 5})
    assert len(reads) == 1
    specs = {spec.name: spec for spec in estimator.feature_specs}
    np.testing.assert_array_equal(specs["up"].keypoints, keypoints_from_quantiles(features["up"], 5))
    np.testing.assert_array_equal(specs["down"].keypoints, keypoints_from_quantiles(features["down"]))
    assert len(specs["down"].keypoints) == 17  # clip(round(2 * 600 ** (1/3)), 10, 40)
    assert specs["color"].vocabulary == ("blue", "green", "red")
    assert specs["color"].has_missing  # the empty string
    with open(os.path.join(tmp_path, "tf_lattice_model.json")) as handle:
        plan = json.load(handle)
    assert plan["features"][0]["keypoints"] == list(specs["up"].keypoints)
    positive = labels.mean()
    np.testing.assert_allclose(plan["initial_output"], [np.log(positive / (1 - positive))])


def test_model_dir_reloads_its_plan_without_data(tmp_path):
    estimator, features, score, labels = estimator_for("linear", "binary", tmp_path)
    estimator.train(_data.input_fn(features, labels, epochs=1))
    rows = {name: values[:20] for name, values in features.items()}
    first = [p["logits"][0] for p in estimator.predict(_data.input_fn(rows))]
    from tf_lattice import tf_estimator

    # No analysis input_fn: the plan saved in model_dir is read instead.
    reloaded = tf_estimator.CalibratedLinearEstimator(_data.FEATURES, None,
                                                      **_reload_kwargs(tmp_path))
    assert reloaded.feature_specs == estimator.feature_specs
    np.testing.assert_allclose([p["logits"][0] for p in reloaded.predict(_data.input_fn(rows))],
                               first, rtol=1e-6)
    with pytest.raises(ValueError, match=r"holds a model built with other monotonicity="):
        tf_estimator.CalibratedLinearEstimator(
            _data.FEATURES, None, **dict(_reload_kwargs(tmp_path), monotonicity={"up": "increasing"}))
    with pytest.raises(ValueError, match="holds a CalibratedLinearEstimator, not a "
                                         "CalibratedLatticeEstimator"):
        tf_estimator.CalibratedLatticeEstimator(_data.FEATURES, None, **_reload_kwargs(tmp_path))
    with pytest.raises(ValueError, match="holds no trained model"):
        tf_estimator.CalibratedLinearEstimator(_data.FEATURES, None, model_dir=str(tmp_path / "new"))


def _reload_kwargs(model_dir):
    from tests.tf_estimator.conftest import SHAPES

    return dict(SHAPES, head="binary", learning_rate=0.05, convexity={"bowl": "convex"},
                model_dir=str(model_dir))


def test_feature_columns_and_label_vocabulary(tmp_path):
    features, score = _data.make_data(300, seed=5)
    features["size"] = np.random.default_rng(0).choice([1, 2, 3], len(score)).astype(np.int64)
    score = score + 0.3 * features["size"]
    labels = np.where(score > np.median(score), "yes", "no")
    vocabulary_file = tmp_path / "colors.txt"
    vocabulary_file.write_text("red\ngreen\nblue\n")
    columns = [
        tf.feature_column.numeric_column("up"),
        tf.feature_column.numeric_column("down", default_value=0.5),
        tf.feature_column.categorical_column_with_vocabulary_file("color", str(vocabulary_file)),
        tf.feature_column.categorical_column_with_vocabulary_list("size", [1, 2, 3], dtype=tf.int64),
    ]
    from tf_lattice import tf_estimator

    estimator = tf_estimator.CalibratedLatticeEstimator(
        columns, _data.input_fn(features, labels), label_vocabulary=["no", "yes"],
        monotonicity={"up": "increasing"}, category_order={"size": [(1, 2), (2, 3)]},
        learning_rate=0.05, model_dir=str(tmp_path / "model"))
    specs = {spec.name: spec for spec in estimator.feature_specs}
    assert specs["color"].vocabulary == ("red", "green", "blue")  # the file's order
    assert specs["size"].vocabulary == (1, 2, 3)
    estimator.train(_data.input_fn(features, labels, epochs=4, shuffle=True))
    assert estimator.evaluate(_data.input_fn(features, labels))["auc"] > 0.85
    assert estimator.certify().holds
    # Unseen and missing categories share the default bucket.
    base = {"up": np.float32(0.5), "down": np.float32(0.5), "size": np.int64(2)}
    rows = {name: np.repeat(np.asarray([value]), 2) for name, value in base.items()}
    rows["color"] = np.array(["purple", ""])
    logits = [p["logits"][0] for p in estimator.predict(_data.input_fn(rows))]
    assert logits[0] == logits[1]
    # tf.Example: integer categories as int64_list, absent numbers take the
    # column's default (or are missing).
    path = estimator.export(str(tmp_path / "export"))
    served = tf.saved_model.load(path).signatures["predict"](examples=tf.constant(
        _data.serialized_examples(rows)))
    np.testing.assert_allclose(served["logits"].numpy()[:, 0], logits, rtol=1e-5)
    with open(os.path.join(path, "assets.extra", "tf_lattice_model.json")) as handle:
        assert json.load(handle)["features"][3]["vocabulary"] == [1, 2, 3]


def test_ensemble_lattices_read_the_dominant_feature_beside_the_weak_one(tmp_path):
    features, score = _data.make_data(300, seed=2)
    estimator = _construct(
        "CalibratedLatticeEnsembleEstimator", input_fn=_data.input_fn(features, score),
        model_dir=str(tmp_path), head="regression",
        monotonicity={"up": "increasing", "bowl": "increasing"}, dominance=[("up", "bowl")],
        ensemble="random", num_lattices=6, lattice_rank=2, random_state=0)
    assert any("bowl" in lattice for lattice in estimator.lattices)
    for lattice in estimator.lattices:
        assert "bowl" not in lattice or "up" in lattice, estimator.lattices
