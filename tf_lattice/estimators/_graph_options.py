"""The graph optimizer settings under which the estimators' traced functions run.

The first call of a traced function instantiates its graph: TensorFlow's
graph optimizer (Grappler) rewrites it, then the runtime places it and builds
its kernels. An estimator's training loop is a few hundred small ops around
a dozen tf_lattice kernels, and four of Grappler's defaults find little or
nothing to do in it yet take more than half of Grappler's time there:

- the remapper, which fuses standard ops into oneDNN or GPU kernels;
- the memory optimizer, which recomputes or swaps activations to fit an
  accelerator's memory;
- the layout optimizer, which changes the data format of images;
- a second round of every pass.

`lean_config` turns these four off, where the user's TensorFlow
configuration leaves them at their defaults; pruning, constant folding,
common subexpressions, arithmetic and dependency rewrites stay on. On 2
threads the Adult ensemble's loop instantiated in 0.085-0.09 s instead of
0.14-0.15 s, as fast as with Grappler off entirely, and its steps ran as fast
as before; the first fit of the README's Heart model lost 0.06 s, the deep
lattice network's 0.07 s.

`LeanFunction` calls a traced function under these settings. TensorFlow
keys a function's instantiation by them, so every call must use the same
ones: a call under others instantiates the function again.
"""

import contextlib
import functools

from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context

_REWRITER = rewriter_config_pb2.RewriterConfig


def lean_config(config):
    """``config`` (a ``ConfigProto``) with the four passes above turned off;
    a copy, and only where ``config`` leaves a pass at its default."""
    config = config_pb2.ConfigProto.FromString(config.SerializeToString())
    rewrite = config.graph_options.rewrite_options
    if rewrite.remapping == _REWRITER.DEFAULT:
        rewrite.remapping = _REWRITER.OFF
    if rewrite.layout_optimizer == _REWRITER.DEFAULT:
        rewrite.layout_optimizer = _REWRITER.OFF
    if rewrite.memory_optimization == _REWRITER.DEFAULT_MEM_OPT:
        rewrite.memory_optimization = _REWRITER.NO_MEM_OPT
    if rewrite.meta_optimizer_iterations == _REWRITER.DEFAULT_NUM_ITERS:
        rewrite.meta_optimizer_iterations = _REWRITER.ONE
    return config


@functools.lru_cache(maxsize=16)
def _lean_call_options(executor_type, serialized_config):
    config = config_pb2.ConfigProto.FromString(serialized_config)
    return context.FunctionCallOptions(executor_type=executor_type,
                                       config_proto=lean_config(config))


@contextlib.contextmanager
def lean_call_options():
    """Runs the body with this thread's function call options made lean.

    The options are TensorFlow's per-thread ones (the graph optimizer's
    configuration and the executor), derived from those in effect and
    restored on exit.
    """
    eager = context.context()
    saved = eager.function_call_options
    eager.function_call_options = _lean_call_options(saved.executor_type,
                                                     saved.config_proto_serialized)
    try:
        yield
    finally:
        eager.function_call_options = saved


class LeanFunction:
    """A traced function that always runs under `lean_call_options`.

    Args:
      traced: a ``tf.function`` or a concrete function.
    """

    def __init__(self, traced):
        self.traced = traced

    def __call__(self, *args):
        with lean_call_options():
            return self.traced(*args)
