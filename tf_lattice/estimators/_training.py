"""The training loop shared by every estimator."""

import contextlib
import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from tf_lattice.estimators._progress import EpochProgress, progress_enabled

#: Fits of at most this many optimizer steps run eagerly: tracing the train
#: step costs more than running a handful of steps op by op.
EAGER_MAX_STEPS = 12
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
      verbose: 0 quiet, 1 a progress bar on a terminal, 2 always a bar.
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


def resolve_schedule(num_rows, epochs, batch_size, target_steps=600):
    """The batch size and epochs to use.

    Automatic choices: ``batch_size = clip(n // 8, 32, 1024)`` and ``epochs =
    clip(ceil(target_steps / steps_per_epoch), 5, 60)``, so small data sets
    get enough optimizer steps and large ones few passes.
    """
    if batch_size is None:
        batch_size = int(np.clip(num_rows // 8, 32, 1024))
    if epochs is None:
        steps = max(1, math.ceil(num_rows / batch_size))
        epochs = int(np.clip(math.ceil(target_steps / steps), 5, 60))
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


def shuffled_batches(x, y, sample_weight, batch_size, seed):
    """A `tf.data.Dataset` of ``(x, y, sample_weight)`` batches of one size.

    Rows are reshuffled every epoch and the last partial batch is dropped (a
    different row each epoch), so the train step is traced for one batch
    shape only.
    """
    dataset = tf.data.Dataset.from_tensor_slices((x, y, sample_weight))
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(2)


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
      ``(model, history)``: the trained model with every layer's constraints
      finalized, and the per-epoch losses.
    """
    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    epochs, batch_size = resolve_schedule(len(x), settings.epochs, settings.batch_size)
    validation_data = None
    callbacks = []
    if settings.early_stopping:
        train_rows, held_rows = validation_split(len(x), settings.validation_fraction, rng, strata)
        if len(held_rows):
            validation_data = (x[held_rows], y[held_rows], sample_weight[held_rows])
            x, y, sample_weight = x[train_rows], y[train_rows], sample_weight[train_rows]
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=EARLY_STOPPING_PATIENCE, restore_best_weights=True))
    if progress_enabled(settings.verbose):
        callbacks.append(EpochProgress(epochs, description))

    def scope():
        return settings.strategy.scope() if settings.strategy is not None else contextlib.nullcontext()

    batch_size = min(batch_size, len(x))
    steps = epochs * (len(x) // batch_size)
    eager = settings.strategy is None and steps <= EAGER_MAX_STEPS
    with scope():
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=loss,
                      jit_compile=False, run_eagerly=eager)
    batches = shuffled_batches(x, y, sample_weight, batch_size, settings.seed)
    history = model.fit(batches, epochs=epochs, shuffle=False, verbose=0,
                        validation_data=validation_data,
                        callbacks=callbacks)
    with scope():
        for layer in model.layers:
            if hasattr(layer, "finalize_constraints"):
                layer.finalize_constraints()
    losses = {key: [float(v) for v in values] for key, values in history.history.items()}
    return model, losses


def predict_scores(model, x):
    """The model's `(n, units)` outputs, computed eagerly in chunks.

    Calling the model directly avoids tracing a predict function, which
    dominates the cost for the small batches estimators usually score.
    """
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float64)
    chunks = [np.asarray(model(x[start:start + PREDICT_CHUNK], training=False), np.float64)
              for start in range(0, len(x), PREDICT_CHUNK)]
    return np.concatenate(chunks, axis=0)
