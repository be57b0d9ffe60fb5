"""Runs a projection's portable solver as one XLA cluster inside graphs.

The portable interior-point solver and the finalize steps are hundreds of tiny
TensorFlow ops per iteration. Inside a traced train step (where Keras applies
weight constraints after every optimizer step) launching them one by one costs
far more than the arithmetic, so there they are compiled together with XLA.
Eager calls (tests, ``finalize_constraints``) run the ops directly: compiling
for every new shape would cost more than it saves.

Compiling costs seconds, so it must happen once per configuration and shape,
not once per trace (every Keras ``fit`` traces its train step anew). XLA
caches executables by the name of the function it compiles and the shapes of
its arguments, so the same ``tf.function(jit_compile=True)`` object must be
called from every trace: this module keeps one per ``key`` at module level
(least recently used first out beyond ``MAX_CACHED_FUNCTIONS``). A second trace
with the same key and input signature then reuses the traced concrete
function, its name, and XLA's compiled executable. The key must determine
everything the function closes over (the constraints, bounds, iteration
counts), since a hit reuses the function built for the first call.
"""

import collections
import threading

import tensorflow as tf
from tensorflow.python.framework import ops as _ops
from tensorflow.python.ops import control_flow_util as _control_flow_util

#: Compiled functions kept; beyond this the least recently used is dropped.
MAX_CACHED_FUNCTIONS = 256

CacheInfo = collections.namedtuple("CacheInfo", ["hits", "misses", "traces", "size"])

_lock = threading.Lock()
_functions = collections.OrderedDict()
_counts = {"hits": 0, "misses": 0, "traces": 0}


def call_compiled_in_graphs(key, function, *tensors):
    """Returns ``function(*tensors)``, XLA-compiled when called inside a graph.

    Args:
      key: hashable, identifying ``function``'s behaviour completely (its
        name and every configuration value it captures); calls with equal keys
        share one compiled function, built from the first call's ``function``.
      function: a Python function of tensors only (configuration captured by
        closure) built from ops XLA supports.
      *tensors: its tensor arguments.

    Returns:
      Whatever ``function`` returns.
    """
    if tf.executing_eagerly():
        return function(*tensors)
    with _lock:
        compiled = _functions.get(key)
        if compiled is None:
            _counts["misses"] += 1
            compiled = tf.function(_counting_traces(function), jit_compile=True,
                                   autograph=False)
            _functions[key] = compiled
            while len(_functions) > MAX_CACHED_FUNCTIONS:
                _functions.popitem(last=False)
        else:
            _counts["hits"] += 1
            _functions.move_to_end(key)
    return compiled(*tensors)


def _counting_traces(function):
    def traced(*tensors):
        with _lock:
            _counts["traces"] += 1
        return function(*tensors)

    return traced


def cache_info():
    """Returns ``CacheInfo(hits, misses, traces, size)`` of the compiled functions.

    ``misses`` counts compiled functions created, ``traces`` the traces of
    them (one per key and input signature, each compiled by XLA once per
    device); ``hits`` the graph calls that reused a function.
    """
    with _lock:
        return CacheInfo(size=len(_functions), **_counts)


def clear_cache():
    """Drops every cached compiled function (XLA's own cache keeps executables)."""
    with _lock:
        _functions.clear()


def in_xla_context():
    """Whether the caller is being traced inside an XLA-compiled function.

    Custom ops cannot run there; callers then use their portable ops.
    """
    if tf.executing_eagerly():
        return False
    return _control_flow_util.GraphOrParentsInXlaContext(_ops.get_default_graph())
