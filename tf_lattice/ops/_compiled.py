"""Graph functions for the projections, traced (and XLA-compiled) once per configuration.

The interior-point solve and the finalize steps of a projection are hundreds of
small TensorFlow ops. Inside a traced train step (where Keras applies weight
constraints after every optimizer step) they would be rebuilt by every trace,
and every Keras ``fit`` traces its train step anew. So inside graphs a
projection calls a ``tf.function`` kept at module level, one per ``key``:

* :func:`call_compiled_in_graphs` (the portable solver): the function is
  compiled with XLA, which launches the whole solve as one cluster. XLA caches
  executables by the name of the function it compiles and the shapes of its
  arguments, so reusing the same function object (hence the same traced
  concrete function and name) from every trace compiles once per
  configuration and input signature, not once per fit.
* :func:`call_traced_in_graphs` (the compiled op with its surrounding ops): a
  plain graph function, so a later trace adds one call instead of rebuilding
  the ops.

Eager calls (tests, ``finalize_constraints``) run the ops directly. The key
must determine everything the function closes over (the constraints, bounds,
iteration counts), since a hit reuses the function built for the first call;
functions beyond ``MAX_CACHED_FUNCTIONS`` are dropped least recently used
first. Functions are kept apart by mode and by whether the caller is traced
inside an XLA-compiled function (where custom ops cannot run, see
:func:`in_xla_context`).
"""

import collections
import threading

import tensorflow as tf
from tensorflow.python.framework import ops as _ops
from tensorflow.python.ops import control_flow_util as _control_flow_util

#: Cached functions kept; beyond this the least recently used is dropped.
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
    return _call_cached(key, function, tensors, jit_compile=True)


def call_traced_in_graphs(key, function, *tensors):
    """Returns ``function(*tensors)``, as one cached graph function inside graphs.

    Like :func:`call_compiled_in_graphs` without XLA: for functions that run
    compiled tf_lattice ops.
    """
    return _call_cached(key, function, tensors, jit_compile=False)


def _call_cached(key, function, tensors, jit_compile):
    if tf.executing_eagerly():
        return function(*tensors)
    key = (key, jit_compile, in_xla_context())
    with _lock:
        cached = _functions.get(key)
        if cached is None:
            _counts["misses"] += 1
            cached = tf.function(_counting_traces(function), jit_compile=jit_compile or None,
                                 autograph=False)
            _functions[key] = cached
            while len(_functions) > MAX_CACHED_FUNCTIONS:
                _functions.popitem(last=False)
        else:
            _counts["hits"] += 1
            _functions.move_to_end(key)
    return cached(*tensors)


def _counting_traces(function):
    def traced(*tensors):
        with _lock:
            _counts["traces"] += 1
        return function(*tensors)

    return traced


def cache_info():
    """Returns ``CacheInfo(hits, misses, traces, size)`` of the cached functions.

    ``misses`` counts functions created, ``traces`` the traces of them (one
    per key and input signature; each trace of an XLA-compiled function is
    compiled once per device); ``hits`` the graph calls that reused a function.
    """
    with _lock:
        return CacheInfo(size=len(_functions), **_counts)


def in_xla_context():
    """Whether the caller is being traced inside an XLA-compiled function.

    Custom ops cannot run there; callers then use their portable ops.
    """
    if tf.executing_eagerly():
        return False
    return _control_flow_util.GraphOrParentsInXlaContext(_ops.get_default_graph())
