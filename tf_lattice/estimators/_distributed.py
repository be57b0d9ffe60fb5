"""The workers of a fit and the few collectives the fit needs between them.

Under ``tf.distribute.MultiWorkerMirroredStrategy`` (one replica per
worker) every worker runs the same fit; they exchange bytes (statistics, the
chief's seed and checkpoints) through all-reduces of int64 buffers in which
each worker fills only its own slot, so a sum is an exact gather. Without a
strategy, or with a single worker, every collective is the identity.
"""

import hashlib
import pickle
import warnings

import numpy as np
import tensorflow as tf


def is_multi_worker(strategy):
    """Whether ``strategy`` is a MultiWorkerMirroredStrategy."""
    kinds = (tf.distribute.MultiWorkerMirroredStrategy,
             tf.distribute.experimental.MultiWorkerMirroredStrategy)
    return isinstance(strategy, kinds)


def _cluster_position(strategy):
    """``(rank, count)`` of this worker; the chief (or worker 0) is rank 0."""
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    chiefs = len(spec.get("chief", []))
    count = chiefs + len(spec.get("worker", []))
    if count == 0:
        return 0, 1
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    rank = task_id if task_type == "chief" else chiefs + task_id
    return rank, count


class Workers:
    """This worker's rank among the fit's workers, and collectives between them.

    Args:
      strategy: None, or a ``tf.distribute`` strategy; only a
        MultiWorkerMirroredStrategy with more than one worker makes a
        multi-worker fit.

    Attributes:
      rank: this worker's position (0 is the chief).
      count: the number of workers.
      strategy: the multi-worker strategy, or None for a single worker.
    """

    def __init__(self, strategy=None):
        self.rank, self.count, self.strategy = 0, 1, None
        if strategy is not None and is_multi_worker(strategy):
            self.rank, self.count = _cluster_position(strategy)
            if self.count > 1:
                if strategy.num_replicas_in_sync != self.count:
                    raise ValueError(
                        f"MultiWorkerMirroredStrategy has {strategy.num_replicas_in_sync} "
                        f"replicas for {self.count} workers; estimator fits run one replica "
                        "per worker (make one device visible to each worker)")
                self.strategy = strategy
        self._sum = None

    @property
    def is_chief(self):
        return self.rank == 0

    # -- collectives ----------------------------------------------------------------

    def _all_sum(self, values):
        """The sum over workers of a 1-D int64 or float32 array (exact for int64)."""
        if self.strategy is None:
            return np.asarray(values)
        if self._sum is None:
            strategy = self.strategy

            def total(tensor):
                def replica(t):
                    context = tf.distribute.get_replica_context()
                    return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(t))
                return strategy.experimental_local_results(strategy.run(replica, args=(tensor,)))[0]

            self._sum = {dtype: tf.function(total, input_signature=[tf.TensorSpec([None], dtype)],
                                            autograph=False)
                         for dtype in (tf.int64, tf.float32)}
        values = np.asarray(values)
        dtype = tf.int64 if values.dtype.kind in "iu" else tf.float32
        return self._sum[dtype](tf.constant(values, dtype)).numpy()

    def gather_bytes(self, data):
        """Every worker's ``data``, in rank order, on every worker."""
        if self.strategy is None:
            return [bytes(data)]
        lengths = np.zeros(self.count, np.int64)
        lengths[self.rank] = len(data)
        lengths = self._all_sum(lengths)
        words = int(-(-int(lengths.max()) // 8))
        buffer = np.zeros((self.count, max(words, 1)), np.int64)
        padded = bytes(data) + b"\0" * (buffer.shape[1] * 8 - len(data))
        buffer[self.rank] = np.frombuffer(padded, np.int64)
        buffer = self._all_sum(buffer.reshape(-1)).reshape(self.count, -1)
        return [buffer[k].tobytes()[:int(lengths[k])] for k in range(self.count)]

    def broadcast_bytes(self, data):
        """The chief's ``data`` on every worker (others pass anything, e.g. b"")."""
        if self.strategy is None:
            return bytes(data)
        return self.gather_bytes(data if self.is_chief else b"")[0]

    def broadcast(self, value):
        """The chief's picklable ``value`` on every worker."""
        if self.strategy is None:
            return value
        return pickle.loads(self.broadcast_bytes(pickle.dumps(value) if self.is_chief else b""))

    def gather(self, value):
        """Every worker's picklable ``value``, in rank order."""
        if self.strategy is None:
            return [value]
        return [pickle.loads(data) for data in self.gather_bytes(pickle.dumps(value))]

    def raise_any(self, error):
        """Raises the first worker's error (in rank order) on every worker.

        Args:
          error: this worker's exception, or None.
        """
        errors = self.gather(None if error is None else (type(error).__name__, str(error)))
        for rank, entry in enumerate(errors):
            if entry is not None:
                if rank == self.rank and error is not None:
                    raise error
                from tf_lattice.estimators._sources import DataError
                kind = DataError if entry[0] == "DataError" else ValueError
                raise kind(f"{entry[1]} (on worker {rank})")
        return None

    # -- keeping weights identical ----------------------------------------------------------

    def copy_from_chief(self, variables):
        """Sets ``variables`` to the chief's values on every worker (exactly:
        a sum of the chief's values and zeros)."""
        if self.strategy is None:
            return
        flat = np.concatenate([np.asarray(v.numpy(), np.float32).reshape(-1) for v in variables])
        if not self.is_chief:
            flat = np.zeros_like(flat)
        flat = self._all_sum(flat)
        offset = 0
        for variable in variables:
            size = int(np.prod(variable.shape))
            variable.assign(flat[offset:offset + size].reshape(variable.shape))
            offset += size

    def agree(self, variables):
        """Whether every worker holds bitwise the same ``variables``: a hash
        of their bytes, compared across workers (a few bytes each)."""
        if self.strategy is None:
            return True
        digest = hashlib.blake2b(digest_size=7)
        for variable in variables:
            digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
        fingerprints = np.zeros(self.count, np.int64)
        fingerprints[self.rank] = int.from_bytes(digest.digest(), "little")
        fingerprints = self._all_sum(fingerprints)
        return bool(np.all(fingerprints == fingerprints[0]))

    def keep_identical(self, variables):
        """Checks the workers agree on ``variables``; if not, copies the
        chief's values to all (with a warning). Returns whether they agreed."""
        if self.agree(variables):
            return True
        warnings.warn("the workers' weights differed; every worker now continues from the "
                      "chief's", RuntimeWarning, stacklevel=2)
        self.copy_from_chief(variables)
        return False
