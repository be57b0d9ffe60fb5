"""The graph optimizer settings of the estimators' traced functions."""

import contextlib

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context

from tests.estimators._data import mixed_frame
from tf_lattice import estimators
from tf_lattice.estimators import _graph_options, _training

REWRITER = rewriter_config_pb2.RewriterConfig


def test_lean_config_turns_off_four_passes_left_at_their_defaults():
    config = config_pb2.ConfigProto(intra_op_parallelism_threads=3, allow_soft_placement=True)
    lean = _graph_options.lean_config(config)
    rewrite = lean.graph_options.rewrite_options
    assert rewrite.remapping == REWRITER.OFF
    assert rewrite.layout_optimizer == REWRITER.OFF
    assert rewrite.memory_optimization == REWRITER.NO_MEM_OPT
    assert rewrite.meta_optimizer_iterations == REWRITER.ONE
    # Every other pass and setting is as it was, and the argument is untouched.
    assert rewrite.constant_folding == rewrite.arithmetic_optimization == REWRITER.DEFAULT
    assert not rewrite.disable_meta_optimizer
    assert lean.intra_op_parallelism_threads == 3 and lean.allow_soft_placement
    assert config == config_pb2.ConfigProto(intra_op_parallelism_threads=3,
                                            allow_soft_placement=True)


def test_lean_config_keeps_what_the_configuration_chose():
    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.remapping = REWRITER.ON
    rewrite.layout_optimizer = REWRITER.AGGRESSIVE
    rewrite.memory_optimization = REWRITER.MANUAL
    rewrite.meta_optimizer_iterations = REWRITER.TWO
    assert _graph_options.lean_config(config) == config


def _options_while_tracing():
    """A traced function that records the call options it is traced under."""
    seen = []

    @tf.function(autograph=False)
    def double(x):
        serialized = context.context().function_call_options.config_proto_serialized
        seen.append(config_pb2.ConfigProto.FromString(serialized))
        return 2.0 * x

    return double, seen


def test_a_lean_function_runs_under_the_lean_options_and_restores_them():
    double, seen = _options_while_tracing()
    before = context.context().function_call_options
    assert float(_graph_options.LeanFunction(double)(tf.constant(1.5))) == 3.0
    assert context.context().function_call_options is before
    expected = _graph_options.lean_config(
        config_pb2.ConfigProto.FromString(before.config_proto_serialized))
    assert seen == [expected]
    assert expected.graph_options.rewrite_options.remapping == REWRITER.OFF


def test_a_lean_function_restores_the_options_when_the_call_fails():
    before = context.context().function_call_options

    @tf.function(autograph=False)
    def fails(x):
        raise ValueError("traced function failed")

    with pytest.raises(ValueError, match="traced function failed"):
        _graph_options.LeanFunction(fails)(tf.constant(1.0))
    assert context.context().function_call_options is before


def test_training_evaluation_and_prediction_run_under_the_lean_options(monkeypatch):
    entered = []
    lean = _graph_options.lean_call_options

    @contextlib.contextmanager
    def counting():
        entered.append(True)
        with lean():
            yield

    monkeypatch.setattr(_graph_options, "lean_call_options", counting)
    monkeypatch.setattr(_training, "_TRACES", _training._TraceCache())
    frame, y = mixed_frame(80)
    estimator = estimators.CalibratedLatticeRegressor(
        monotonicity={"x": "increasing"}, epochs=4, batch_size=8, early_stopping=True,
        random_state=0, verbose=0).fit(frame, y)
    # With early stopping each epoch is one call of the loop, then one
    # evaluation of the held-out loss and one of the penalty.
    assert len(entered) >= 4 * 3
    fitted = len(entered)
    predictions = estimator.predict(frame)
    assert len(entered) == fitted + 1
    assert np.all(np.isfinite(predictions))
