"""tf_lattice.models.fused_scores: one op in place of an ensemble's layers."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tf_lattice import models
from tf_lattice.models.fused_scores import ensemble_scores


def _features(lattice_size=2):
    """Numeric columns (one with missing values), a categorical column of 4
    categories and one of 3 with a category order (its own layer)."""
    keypoints = np.linspace(0.0, 1.0, 6)
    return (
        models.FeatureConfig("a", keypoints=keypoints, monotonicity="increasing",
                             lattice_size=lattice_size),
        models.FeatureConfig("b", keypoints=keypoints, monotonicity="decreasing",
                             lattice_size=lattice_size),
        models.FeatureConfig("e", num_buckets=4, lattice_size=lattice_size),
        models.FeatureConfig("c", keypoints=keypoints, lattice_size=lattice_size),
        models.FeatureConfig("d", num_buckets=3, category_order=((0, 2),),
                             lattice_size=lattice_size),
    )


def _config(**changes):
    config = models.CalibratedLatticeEnsembleConfig(
        _features(), num_lattices=6, lattice_rank=3, combination="linear", seed=1)
    return dataclasses.replace(config, **changes)


def _encoded(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(-0.2, 1.2, n), rng.uniform(0, 1, n), rng.integers(0, 5, n),
                         rng.uniform(0, 1, n), rng.integers(0, 4, n)]).astype(np.float32)
    x[::5, 0] = np.nan
    x[::7, 3] = np.nan
    return tf.constant(x)


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(rng.uniform(0.05, 0.95, variable.shape).astype(np.float32))


def _model(config):
    model = models.calibrated_lattice_ensemble(config, encoded=True)
    _randomize(model)
    return model


@pytest.mark.parametrize("lattice_size", [2, 3])
def test_scores_and_gradients_are_the_layers(lattice_size):
    model = _model(_config(features=_features(lattice_size)))
    scores = ensemble_scores(model)
    assert scores is not None
    x = _encoded()
    upstream = tf.constant(np.random.default_rng(1).normal(size=(64, 1)).astype(np.float32))
    variables = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        by_layers = model(x)
        by_op = scores(x)
        layer_objective = tf.reduce_sum(by_layers * upstream)
        op_objective = tf.reduce_sum(by_op * upstream)
    np.testing.assert_allclose(by_op, by_layers, rtol=1e-5, atol=1e-5)
    layer_gradients = tape.gradient(layer_objective, variables)
    op_gradients = tape.gradient(op_objective, variables)
    for variable, expected, actual in zip(variables, layer_gradients, op_gradients):
        expected = tf.convert_to_tensor(expected).numpy()
        np.testing.assert_allclose(tf.convert_to_tensor(actual), expected, rtol=1e-4,
                                   atol=1e-5 * max(1.0, np.abs(expected).max()),
                                   err_msg=variable.path)
    # Every parameter takes part: missing outputs, both categorical layers.
    assert all(np.any(tf.convert_to_tensor(g).numpy() != 0) for g in op_gradients)


@pytest.mark.parametrize("change", [
    dict(combination="average"),
    dict(interpolation="simplex"),
    dict(implementation="portable"),
    dict(units=2),
])
def test_other_ensembles_run_their_layers(change):
    assert ensemble_scores(_model(_config(**change))) is None


def test_lattices_of_two_shapes_run_their_layers():
    features = list(_features())
    features[0] = dataclasses.replace(features[0], lattice_size=3)
    config = _config(features=tuple(features), lattices=(("a", "b", "c"), ("b", "c", "e")))
    assert ensemble_scores(_model(config)) is None


def test_other_models_run_their_layers():
    linear = models.calibrated_linear(models.CalibratedLinearConfig(_features()), encoded=True)
    lattice = models.calibrated_lattice(models.CalibratedLatticeConfig(_features()), encoded=True)
    by_dict = models.calibrated_lattice_ensemble(_config(), encoded=False)
    assert [ensemble_scores(m) for m in (linear, lattice, by_dict)] == [None, None, None]
