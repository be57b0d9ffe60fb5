"""The training loop shared by every estimator.

A call of a traced function runs every optimizer step of several epochs (up
to `STEPS_PER_CALL` steps; one epoch per call with early stopping, which
validates after each) in one graph loop: the batches are slices of per-epoch
permutations of rows held on the device, so no Python code runs between
steps, nor between the epochs of a call. Each
optimizer step applies the variables' projections (Keras runs a variable's
``constraint`` right after its update), so the constrained weights are
feasible after every step. Under a `tf.distribute` strategy each replica
computes the gradient of its share of the batch; the optimizer sums them
across replicas before the update and the projection, so every replica keeps
the same weights.
"""

import collections
import contextlib
import dataclasses
import json
import math
import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from tf_lattice import ops
from tf_lattice.estimators._graph_options import LeanFunction
from tf_lattice.estimators._progress import EpochProgress, progress_enabled
from tf_lattice.models.fused_scores import ensemble_scores
from tf_lattice.ops.adam_update import kernel_can_update

#: Fits of at most this many optimizer steps run eagerly: tracing the train
#: step costs more than running a handful of steps op by op.
EAGER_MAX_STEPS = 12
#: Optimizer steps per call of the traced loop, at most: whole epochs, at
#: least one per call (see `epochs_per_call`). Each call costs a fraction of
#: a millisecond besides its steps, and a small data set has many short
#: epochs: one call for all 60 epochs of the README's Heart model took its
#: repeated fit from 0.094-0.099 s to 0.072-0.082 s. The bound keeps the
#: row orders of a call within ``STEPS_PER_CALL * batch_size`` indices.
STEPS_PER_CALL = 1024
#: The default cap on the epochs of the automatic schedule (see `resolve_schedule`).
MAX_AUTOMATIC_EPOCHS = 60
#: Rows per chunk when predicting.
PREDICT_CHUNK = 8192

#: Epochs without improvement of the validation loss before stopping.
EARLY_STOPPING_PATIENCE = 10


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How to train.

    Attributes:
      epochs: passes over the data (None: automatic, see `resolve_schedule`).
      batch_size: examples per step (None: automatic).
      learning_rate: Adam step size.
      validation_fraction: share of the rows held out for early stopping.
      early_stopping: stop when the validation loss stops improving and keep
        the best weights.
      seed: seeds Python, NumPy and TensorFlow before building the model.
      verbose: 0 quiet, 1 a progress bar on a terminal or in a notebook, 2 always a bar.
      strategy: a `tf.distribute.Strategy` to build and train under, or None.
    """

    epochs: object = None
    batch_size: object = None
    learning_rate: float = 0.01
    validation_fraction: float = 0.1
    early_stopping: bool = False
    seed: int = 0
    verbose: int = 1
    strategy: object = None


def resolve_schedule(num_rows, epochs, batch_size, target_steps=600,
                     max_epochs=MAX_AUTOMATIC_EPOCHS):
    """The batch size and epochs to use.

    Automatic choices: ``batch_size = clip(n // 8, 32, 1024)`` and ``epochs =
    clip(round(target_steps / steps_per_epoch), 1, max_epochs)`` (rounded to
    the nearest whole epoch): about ``target_steps`` optimizer steps whatever
    the size, so small data sets get many passes and large ones a single pass
    (on 1e6 rows of ``make_monotone_regression`` one pass of 977 steps reaches
    the test error of five; with early stopping's 1,200 steps, 16 features
    and 32 lattices, one pass of 879 steps and two passes both reached a test
    RMSE of 0.1524, where rounding up to two passes took 1.6 times as long).
    ``max_epochs`` None leaves the epochs uncapped; with the default cap of
    60, data sets of fewer than about 8,000 rows (8 or 9 steps per epoch)
    stop short of ``target_steps``.
    """
    if batch_size is None:
        batch_size = int(np.clip(num_rows // 8, 32, 1024))
    if epochs is None:
        steps = max(1, math.ceil(num_rows / batch_size))
        epochs = max(1, math.floor(target_steps / steps + 0.5))
        if max_epochs is not None:
            epochs = min(epochs, int(max_epochs))
    return int(epochs), int(batch_size)


def validation_split(num_rows, fraction, rng, strata=None):
    """Indices ``(train, validation)``; stratified by ``strata`` when given.

    Every stratum keeps at least one training row; the validation set is
    empty when there are too few rows to hold any out.
    """
    if strata is None:
        strata = np.zeros(num_rows, dtype=np.int64)
    train, validation = [], []
    for value in np.unique(strata):
        rows = rng.permutation(np.flatnonzero(strata == value))
        held = int(round(fraction * len(rows)))
        held = min(held, len(rows) - 1)
        validation.append(rows[:held])
        train.append(rows[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))


def epoch_order(rows, batch_size, rng):
    """Row indices of one epoch, `(steps * batch_size,)` int32.

    A fresh permutation of the rows cut to whole batches: the rows left over
    differ from epoch to epoch, and every batch has one shape, so the train
    step is traced once.

    Args:
      rows: `(n,)` indices of the training rows (``np.arange(len(x))``
        when none is held out).
      batch_size: rows per step.
      rng: a NumPy Generator.
    """
    steps = len(rows) // batch_size
    return rng.permutation(rows)[:steps * batch_size].astype(np.int32)


def epochs_per_call(epochs, steps_per_epoch, early_stopping):
    """How many epochs one call of the traced loop runs.

    Every call but the last runs this many; the last runs the rest. With
    early stopping one (the validation loss is measured after each epoch),
    else as many whole epochs as `STEPS_PER_CALL` steps hold, at least one
    and at most ``epochs``.
    """
    if early_stopping:
        return 1
    return int(np.clip(STEPS_PER_CALL // max(1, steps_per_epoch), 1, max(1, epochs)))


class FusedAdam:
    """Adam in one update op for all variables, then the projections.

    The update is Keras' Adam (``beta_1=0.9``, ``beta_2=0.999``,
    ``epsilon=1e-7``): with ``t`` the step count, ``m = b1 m + (1 - b1) g``,
    ``v = b2 v + (1 - b2) g^2`` and ``w -= lr sqrt(1 - b2^t) / (1 - b1^t) *
    m / (sqrt(v) + epsilon)``, computed by `tf_lattice.ops.adam_update`: one
    op for every variable on the CPU (TensorFlow's ``ResourceApplyAdam``, one
    op per variable, elsewhere). After the update each variable with a
    ``constraint`` (a projection) is assigned its projection. The step size
    is a variable, so a traced loop serves every step size.

    Args:
      variables: the Keras variables to train.
      learning_rate: the step size.
    """

    BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7

    def __init__(self, variables, learning_rate):
        self.variables = list(variables)
        self.learning_rate = tf.Variable(float(learning_rate), trainable=False)
        self.first = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in self.variables]
        self.second = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False)
                       for v in self.variables]
        self.steps = tf.Variable(0.0, trainable=False)
        updated = [v.value for v in self.variables] + self.first + self.second
        self.implementation = "kernel" if all(map(kernel_can_update, updated)) else "portable"

    def reset(self, learning_rate):
        """Forgets the moments and the step count (a fresh start) and takes
        ``learning_rate`` as the step size."""
        for moment in self.first + self.second:
            moment.assign(tf.zeros_like(moment))
        self.steps.assign(0.0)
        self.learning_rate.assign(float(learning_rate))

    def apply(self, gradients):
        """One update of every variable (one op per dtype), then its projection."""
        steps = self.steps.assign_add(1.0)
        by_dtype = collections.defaultdict(list)
        for index, variable in enumerate(self.variables):
            by_dtype[variable.dtype].append(index)
        for dtype, indices in by_dtype.items():
            # The step count is a whole number, exact in every float dtype.
            count = tf.cast(steps, dtype)
            ops.adam_update(
                [self.variables[i].value for i in indices], [self.first[i] for i in indices],
                [self.second[i] for i in indices],
                [tf.convert_to_tensor(gradients[i]) for i in indices], self.learning_rate,
                self.BETA_1 ** count, self.BETA_2 ** count, beta_1=self.BETA_1,
                beta_2=self.BETA_2, epsilon=self.EPSILON, implementation=self.implementation)
        for variable in self.variables:
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))


#: Validation rows scored per call of the evaluation (bounds its activations).
EVALUATION_CHUNK = 8192


class _Loop:
    """A model, its optimizer and loss, and the traced epoch and loss functions.

    Without a strategy, a calibrated lattice ensemble's scores come from one
    op (`tf_lattice.models.fused_scores.ensemble_scores`) instead of its
    layers, forward and backward; other models run their layers.

    Args:
      model: a built Keras model.
      loss: a Keras loss; its unreduced ``call`` gives per-example losses.
      learning_rate: Adam step size.
      batch_size: global rows per optimizer step.
      strategy: a `tf.distribute.Strategy` or None.
      eager: run steps op by op instead of tracing.
    """

    def __init__(self, model, loss, learning_rate, batch_size, strategy, eager):
        self.model = model
        self.loss = loss
        self.batch_size = int(batch_size)
        self.strategy = strategy
        self._fused_scores = ensemble_scores(model) if strategy is None else None
        if strategy is None:
            self.optimizer = FusedAdam(model.trainable_variables, learning_rate)
        else:
            # Keras' optimizer sums the replicas' gradients before updating.
            self.optimizer = keras.optimizers.Adam(learning_rate)
            self.optimizer.build(model.trainable_variables)
        run = (lambda f: f) if eager else (lambda f: LeanFunction(tf.function(f, autograph=False)))
        self.run_epochs = run(self._epochs)
        self._loss_sum = run(self._weighted_loss_sum)
        self._penalty = run(self._regularization)

    def scope(self):
        """The strategy's scope, or a null context."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def _replicas(self):
        return 1 if self.strategy is None else self.strategy.num_replicas_in_sync

    def _scores(self, x, training):
        if self._fused_scores is not None:
            return self._fused_scores(x)
        return self.model(x, training=training)

    def _objective(self, x, y, weight, training):
        """Weighted loss sum over the rows divided by the global batch, plus
        this replica's share of the regularization."""
        scores = self._scores(x, training=training)
        per_example = tf.reshape(self.loss.call(y, scores), [-1])
        # Products with constant factors: their gradients skip the quotient
        # rule's derivative in the denominator.
        data = tf.reduce_sum(per_example * weight) * (1.0 / self.batch_size)
        # Each read of ``model.losses`` computes every penalty again.
        losses = self.model.losses
        if not losses:
            return data
        penalty = tf.add_n(losses)
        replicas = self._replicas()
        return data + (penalty if replicas == 1 else penalty * (1.0 / replicas))

    def _step(self, x, y, weight, rows):
        """One optimizer step on this replica's share of ``rows``."""
        share = self.batch_size // self._replicas()
        if self.strategy is not None:
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            rows = rows[replica * share:(replica + 1) * share]
        with tf.GradientTape() as tape:
            objective = self._objective(tf.gather(x, rows), tf.gather(y, rows),
                                        tf.gather(weight, rows), training=True)
        variables = self.model.trainable_variables
        gradients = tape.gradient(objective, variables)
        if self.strategy is None:
            self.optimizer.apply(gradients)
        else:
            self.optimizer.apply(gradients, variables)
        return objective

    def _distributed_step(self, x, y, weight, rows):
        if self.strategy is None:
            return self._step(x, y, weight, rows)
        values = self.strategy.run(self._step, args=(x, y, weight, rows))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

    def _epochs(self, x, y, weight, orders, num_epochs):
        """Runs the first ``num_epochs`` epochs of ``orders``; returns each
        one's mean objective over its steps, `(num_epochs,)` float32.

        Args:
          x, y, weight: the training tensors (see `_tensors`).
          orders: int32 `(epochs_per_call, steps * batch_size)`, one epoch's
            row order per row (see `epoch_order`); the rows past
            ``num_epochs`` are padding and never read, so that a last call
            with fewer epochs has the same shape (and trace) as the others.
          num_epochs: int32 scalar tensor, at most ``epochs_per_call``.
        """
        steps = int(orders.shape[1]) // self.batch_size
        batches = tf.reshape(orders, [-1, self.batch_size])
        total_steps = num_epochs * steps
        if tf.executing_eagerly():
            objectives = tf.stack([self._distributed_step(x, y, weight, batches[i])
                                   for i in range(int(total_steps))])
        else:
            def body(i, objectives):
                step = self._distributed_step(x, y, weight, batches[i])
                return i + 1, objectives.write(i, step)

            _, objectives = tf.while_loop(
                lambda i, _: i < total_steps, body,
                (tf.constant(0), tf.TensorArray(tf.float32, size=total_steps)))
            objectives = objectives.stack()
        return tf.reduce_mean(tf.reshape(objectives, [-1, steps]), axis=1)

    def _weighted_loss_sum(self, x, y, weight):
        """``sum_i weight_i loss_i`` over the rows of ``(x, y, weight)``."""
        scores = self._scores(x, training=False)
        per_example = tf.reshape(self.loss.call(y, scores), [-1])
        return tf.reduce_sum(per_example * weight)

    def _regularization(self):
        losses = self.model.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    def evaluate(self, x, y, weight):
        """The weighted mean loss on ``(x, y, weight)`` plus the regularization.

        The rows are scored `EVALUATION_CHUNK` at a time, so a large
        validation set costs the activations of one chunk, not of all rows.
        """
        num_rows = int(x.shape[0])
        total = 0.0
        for start in range(0, num_rows, EVALUATION_CHUNK):
            stop = start + EVALUATION_CHUNK
            total += float(self._loss_sum(x[start:stop], y[start:stop], weight[start:stop]))
        return total / max(1, num_rows) + float(self._penalty())


class _TraceCache:
    """Traced training loops kept across fits, keyed by the model's config.

    Two fits that build models with the same config (the same estimator
    settings on data with the same encoding, as in repeated or warm fits)
    and use the same loss and batch size run the same graph, whatever their
    learning rates (the graph reads it from a variable, so the candidates of
    a search over it share one trace). The first fit's model and traced loop
    are kept as a template: a later fit copies its freshly initialized
    weights into the template, trains the template with the traced loop (its
    optimizer state reset, its learning rate set) and copies the trained
    weights back, so nothing is traced again and the result is the same as a
    fit with a fresh trace. A template in use by another thread is not
    shared; that fit traces its own loop.
    """

    def __init__(self, capacity=8):
        self.capacity = int(capacity)
        self.entries = collections.OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def key(model, loss, batch_size):
        config = json.dumps(model.get_config(), sort_keys=True, default=repr)
        return (config, json.dumps(keras.losses.serialize(loss), sort_keys=True, default=repr),
                int(batch_size))

    @contextlib.contextmanager
    def checkout(self, key, create):
        """Yields the ``_Loop`` stored under ``key``, made by ``create()`` if
        there is none; no other thread gets it meanwhile (one that finds it
        in use makes a loop of its own, which is not stored)."""
        with self.lock:
            entry = self.entries.get(key)
            found = entry is not None and entry[1].acquire(blocking=False)
            if found:
                self.entries.move_to_end(key)
        if not found:
            loop, in_use = create(), threading.Lock()
            in_use.acquire()
            with self.lock:
                if key not in self.entries:
                    self.entries[key] = (loop, in_use)
                    while len(self.entries) > self.capacity:
                        self.entries.popitem(last=False)
            entry = (loop, in_use)
        try:
            yield entry[0]
        finally:
            entry[1].release()


_TRACES = _TraceCache()


def train_model(build, x, y, sample_weight, loss, settings, strata=None, description="fit"):
    """Builds a Keras model and fits it.

    Args:
      build: zero-argument function returning an uncompiled Keras model.
      x: float32 array `(n, d)`, the encoded features.
      y: array `(n,)` or `(n, 1)` of targets (class indices for
        classifiers).
      sample_weight: float array `(n,)`.
      loss: a Keras loss.
      settings: TrainingSettings.
      strata: class indices to stratify the validation split by, or None.
      description: label of the progress bar.

    Returns:
      ``(model, history)``: the trained model and the per-epoch losses
      (``"loss"``, and ``"val_loss"`` with early stopping). The weights
      satisfy every constraint: each step ends with the projections, whose
      results are exactly feasible, so no separate finalize pass is needed.

    Every random choice of the fit comes from ``settings.seed``: the rows'
    order and the validation split from a NumPy generator seeded with it,
    the models' random initial values (lattice structures, the deep lattice
    network's embeddings) from their own seeds. No global seed is set, so a
    fit leaves the caller's random state alone, and TensorFlow keeps its
    instantiated functions (``tf.random.set_seed`` clears them: a repeated
    fit of the README's Heart model spent 135 of its 365 ms instantiating
    its cached loop again).
    """
    rng = np.random.default_rng(settings.seed)
    epochs, batch_size = resolve_schedule(len(x), settings.epochs, settings.batch_size)
    validation, rows = None, np.arange(len(x))
    if settings.early_stopping:
        train_rows, held_rows = validation_split(len(x), settings.validation_fraction, rng, strata)
        if len(held_rows):
            # Only the held-out rows are copied; batches index the training
            # rows of the full arrays.
            validation = (x[held_rows], y[held_rows], sample_weight[held_rows])
            rows = train_rows
    num_train = len(rows)
    strategy = settings.strategy
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    batch_size = min(batch_size, num_train)
    batch_size = max(replicas, batch_size - batch_size % replicas)
    eager = strategy is None and epochs * (num_train // batch_size) <= EAGER_MAX_STEPS

    def scope():
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    with scope():
        model = build()
    data = _tensors(x, y, sample_weight)
    held = _tensors(*validation) if validation is not None else None
    if strategy is not None or eager:
        with scope():
            loop = _Loop(model, loss, settings.learning_rate, batch_size, strategy, eager)
        history = _train_epochs(loop, data, held, rows, epochs, rng, settings, description)
        return model, history
    key = _TraceCache.key(model, loss, batch_size)
    # The template is a model of its own: the one returned stays the caller's.
    template = lambda: _Loop(build(), loss, settings.learning_rate, batch_size, None, False)
    with _TRACES.checkout(key, template) as loop:
        loop.model.set_weights(model.get_weights())
        loop.optimizer.reset(settings.learning_rate)
        history = _train_epochs(loop, data, held, rows, epochs, rng, settings, description)
        model.set_weights(loop.model.get_weights())
        return model, history


def _train_epochs(loop, data, held, rows, epochs, rng, settings, description):
    """Runs the epochs (with early stopping when ``held`` is given); returns the history.

    ``rows`` are the training rows of ``data`` (see `epoch_order`). With
    early stopping the model ends with the weights of its best epoch.
    """
    model = loop.model
    progress = EpochProgress(epochs, description) if progress_enabled(settings.verbose) else None
    history = {"loss": []}
    if held is not None:
        history["val_loss"] = []
    best, best_weights, stale = np.inf, None, 0
    if progress is not None:
        progress.on_train_begin()
    steps = len(rows) // loop.batch_size
    per_call = epochs_per_call(epochs, steps, held is not None)
    orders = np.zeros([per_call, steps * loop.batch_size], np.int32)
    for first in range(0, epochs, per_call):
        count = min(per_call, epochs - first)
        for k in range(count):
            orders[k] = epoch_order(rows, loop.batch_size, rng)
        with loop.scope():
            losses = loop.run_epochs(*data, tf.constant(orders), tf.constant(count, tf.int32))
        history["loss"].extend(float(value) for value in np.asarray(losses))
        if held is not None:
            value = float(loop.evaluate(*held))
            history["val_loss"].append(value)
        if progress is not None:
            for epoch in range(first, first + count):
                logs = {"loss": history["loss"][epoch]}
                if held is not None:
                    logs["val_loss"] = value
                progress.on_epoch_end(epoch, logs)
        if held is not None:
            if value < best:
                best, best_weights, stale = value, model.get_weights(), 0
            else:
                stale += 1
                if stale >= EARLY_STOPPING_PATIENCE:
                    break
    if progress is not None:
        progress.on_train_end()
    if best_weights is not None:
        model.set_weights(best_weights)
    return history


def _tensors(x, y, sample_weight):
    """The training arrays as tensors, placed once: `(n, d)`, `(n, 1)`, `(n,)`."""
    y = np.asarray(y)
    return (shared_tensor(x, np.float32),
            shared_tensor(y.reshape(len(y), -1), np.float32 if y.dtype.kind == "f" else np.int32),
            shared_tensor(np.asarray(sample_weight).reshape(-1), np.float32))


#: TensorFlow's CPU tensors must start at a multiple of this many bytes.
TENSOR_ALIGNMENT = 64


def aligned_empty(shape, dtype):
    """An uninitialized C-contiguous array whose data starts at a multiple of
    `TENSOR_ALIGNMENT` bytes, so that `shared_tensor` can hand it to
    TensorFlow without a copy."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + TENSOR_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def shared_tensor(array, dtype):
    """A CPU tensor of ``array`` in ``dtype`` that shares its memory when it can.

    A C-contiguous, writeable array of the right dtype whose data is aligned
    for TensorFlow (see `aligned_empty`) is handed over through DLPack without
    a copy (the training matrix is the largest allocation of a fit); anything
    else is converted, which copies.
    """
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.size and array.flags.writeable and array.ctypes.data % TENSOR_ALIGNMENT == 0:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


_PREDICTORS = weakref.WeakKeyDictionary()


def predictor(model):
    """The model's forward pass as a traced function, one per model.

    Traced once for `(None, n_features)` float32 inputs, so every later call,
    one row or many, runs one graph instead of op by op; each call runs under
    the graph options of the training loop (see `_graph_options`).
    """
    function = _PREDICTORS.get(model)
    if function is None:
        spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32)
        # The concrete function: a call skips tf.function's signature dispatch.
        function = LeanFunction(tf.function(lambda x: model(x, training=False),
                                            input_signature=[spec],
                                            autograph=False).get_concrete_function())
        _PREDICTORS[model] = function
    return function


def predict_scores(model, x):
    """The model's `(n, units)` outputs as float64, computed in chunks."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float64)
    forward = predictor(model)
    chunks = [np.asarray(forward(tf.constant(x[start:start + PREDICT_CHUNK], tf.float32)),
                         np.float64)
              for start in range(0, len(x), PREDICT_CHUNK)]
    return np.concatenate(chunks, axis=0)
