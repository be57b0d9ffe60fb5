"""The streaming training loop: rows from a source's shards, on one worker or many.

Each traced call trains on one chunk of whole steps (``CHUNK_ROWS`` rows)
that a background thread has read, encoded and shuffled meanwhile (see
``_feed``). With several workers under ``MultiWorkerMirroredStrategy``
every step is synchronous: each worker computes the gradient of its rows,
the gradients are summed by an all-reduce, and every worker applies the same
fused Adam update and the same projections to the same weights, so the
constrained weights stay identical (and feasible) on all of them. The
workers start from the chief's weights and, after each epoch, compare a
hash of theirs; should they ever differ, all continue from the chief's.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_lattice.estimators._feed import (
    CHUNK_ROWS, Prefetcher, ShardStream, WorkerFeed, allocate, shard_count)
from tf_lattice.estimators._graph_options import LeanFunction
from tf_lattice.estimators._progress import EpochProgress, progress_enabled
from tf_lattice.estimators._training import _Loop, resolve_schedule


class _StreamLoop(_Loop):
    """A ``_Loop`` whose traced call trains on a chunk of consecutive steps.

    Args:
      model, loss, learning_rate: as ``_Loop``.
      global_batch: rows per step over all workers (the loss is divided by it).
      local_batch: this worker's rows per step.
      workers: the fit's ``Workers``.
      target_dtype: ``tf.float32`` or ``tf.int32`` (class indices).
    """

    def __init__(self, model, loss, learning_rate, global_batch, local_batch, workers,
                 target_dtype):
        super().__init__(model, loss, learning_rate, global_batch, None, eager=False)
        self.workers = workers
        self.local_batch = int(local_batch)
        width = int(model.input_shape[-1])
        signature = [tf.TensorSpec([None, width], tf.float32),
                     tf.TensorSpec([None, 1], target_dtype),
                     tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)]
        self.run_chunk = LeanFunction(
            tf.function(self._chunk, input_signature=signature, autograph=False))

    def _replicas(self):
        return self.workers.count

    def state(self):
        """Every variable of the model and the optimizer, in a fixed order."""
        optimizer = self.optimizer
        return list(self.model.weights) + optimizer.first + optimizer.second + [optimizer.steps]

    def _local_step(self, x, y, weight):
        with tf.GradientTape() as tape:
            objective = self._objective(x, y, weight, training=True)
        gradients = tape.gradient(objective, self.model.trainable_variables)
        if self.workers.strategy is not None:
            context = tf.distribute.get_replica_context()
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
            objective = context.all_reduce(tf.distribute.ReduceOp.SUM, objective)
        self.optimizer.apply(gradients)
        return objective

    def _chunk(self, x, y, weight, steps):
        """``steps`` optimizer steps on ``(x, y, weight)`` (step ``i`` reads rows
        ``[i b, (i + 1) b)``); returns the mean objective of the steps."""
        size = self.local_batch
        strategy = self.workers.strategy

        def body(i, total):
            rows = tf.range(i * size, (i + 1) * size)
            args = (tf.gather(x, rows), tf.gather(y, rows), tf.gather(weight, rows))
            if strategy is None:
                objective = self._local_step(*args)
            else:
                objective = strategy.experimental_local_results(
                    strategy.run(self._local_step, args=args))[0]
            return i + 1, total + objective

        _, total = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.constant(0.0)))
        return total / tf.cast(steps, tf.float32)


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    """How a streaming fit walks through its data.

    Attributes:
      epochs, batch_size, steps_per_epoch: the schedule (``steps_per_epoch =
        rows // batch_size``).
      shards: the source's shard count.
      shard_batches: rows each shard gives to every step.
    """

    epochs: int
    batch_size: int
    steps_per_epoch: int
    shards: int
    shard_batches: tuple

    @classmethod
    def make(cls, source, statistics, settings, num_workers):
        epochs, batch_size = resolve_schedule(statistics.rows, settings.epochs, settings.batch_size)
        batch_size = min(batch_size, statistics.rows)
        pieces = source.pieces()
        shards = shard_count(len(pieces), num_workers)
        rows = np.zeros(shards, np.int64)
        for piece in pieces:
            rows[piece.index % shards] += statistics.piece_rows[piece.index]
        return cls(epochs, batch_size, statistics.rows // batch_size, shards,
                   tuple(int(b) for b in allocate(batch_size, rows)))

    def owned(self, rank, count):
        """The shards worker ``rank`` of ``count`` reads."""
        return [s for s in range(self.shards) if s % count == rank]

    def chunks(self, start):
        """Step counts of the traced calls from step ``start`` to the end;
        no call crosses the end of an epoch."""
        per_call = max(1, CHUNK_ROWS // self.batch_size)
        plan, step = [], int(start)
        total = self.epochs * self.steps_per_epoch
        while step < total:
            left = self.steps_per_epoch - step % self.steps_per_epoch
            plan.append(min(per_call, left))
            step += plan[-1]
        return plan


def train_stream(build, source, statistics, convert, loss, settings, workers, target_dtype,
                 checkpoints=None, resume=None, description="fit"):
    """Builds a Keras model and trains it on the rows of ``source``.

    Every random choice comes from ``settings.seed``, as in ``train_model``
    (no global seed is set).

    Args:
      build: zero-argument function returning an uncompiled Keras model.
      source: a bound Source.
      statistics: the source's DataStatistics.
      convert: chunk -> ``(x, y, weight)`` arrays (encoded features, the
        `(n, 1)` training target, normalized weights).
      loss: a Keras loss.
      settings: TrainingSettings (``strategy`` is ignored: ``workers`` rules).
      workers: the fit's Workers.
      target_dtype: dtype of the training target.
      checkpoints: a Checkpoints directory, or None.
      resume: ``(step, arrays, history, partial)`` of an interrupted fit, or None.
      description: label of the progress bar.

    Returns:
      ``(model, history)`` as ``train_model``.
    """
    plan = StreamPlan.make(source, statistics, settings, workers.count)
    pieces = source.pieces()
    window = max(plan.batch_size, source.shuffle_rows // plan.shards)
    owned = plan.owned(workers.rank, workers.count)
    streams = [ShardStream(source, [p for p in pieces if p.index % plan.shards == s],
                           statistics.piece_rows, window, settings.seed, s, convert)
               for s in owned]
    feed = WorkerFeed(streams, [plan.shard_batches[s] for s in owned])
    model = build()
    loop = _StreamLoop(model, loss, settings.learning_rate, plan.batch_size, feed.local_batch,
                       workers, target_dtype)
    state = loop.state()
    step, history, partial = 0, {"loss": []}, 0.0
    if resume is not None:
        step, arrays, history, partial = resume
        for variable, value in zip(state, arrays):
            variable.assign(value)
    else:
        workers.copy_from_chief(state)
    width = int(model.input_shape[-1])
    y_type = np.int32 if target_dtype == tf.int32 else np.float32

    def empty(_):
        return (np.zeros((0, width), np.float32), np.zeros((0, 1), y_type), np.zeros(0, np.float32))

    def begin():
        feed.seek(step)

    chunks = plan.chunks(step)
    show = workers.is_chief and progress_enabled(settings.verbose)
    progress = EpochProgress(plan.epochs, description) if show else None
    if progress is not None:
        progress.on_train_begin()
        progress.bar.update(step // plan.steps_per_epoch)
    prefetch = Prefetcher(chunks, lambda steps: feed.take(steps, empty), begin=begin)
    try:
        for steps, (x, y, weight) in prefetch:
            mean = float(loop.run_chunk(x, y, weight, tf.constant(steps, tf.int32)))
            partial += mean * steps
            step += steps
            if step % plan.steps_per_epoch == 0:
                history["loss"].append(partial / plan.steps_per_epoch)
                partial = 0.0
                workers.keep_identical(state)
                if progress is not None:
                    progress.on_epoch_end(len(history["loss"]) - 1, {"loss": history["loss"][-1]})
                if checkpoints is not None:
                    checkpoints.save(step, state, history, partial)
            elif checkpoints is not None and checkpoints.due():
                checkpoints.save(step, state, history, partial)
    finally:
        prefetch.close()
        if progress is not None:
            progress.on_train_end()
    return model, history
