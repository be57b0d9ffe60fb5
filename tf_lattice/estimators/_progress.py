"""A tqdm progress bar over training epochs, showing the running loss."""

import sys

import keras
from tqdm.auto import tqdm


def progress_enabled(verbose, stream=None):
    """Whether to show a bar: ``verbose >= 2`` always, ``verbose == 1`` only
    when ``stream`` (default stderr) is a terminal, ``verbose == 0`` never."""
    stream = sys.stderr if stream is None else stream
    if verbose >= 2:
        return True
    if verbose == 1:
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())
    return False


class EpochProgress(keras.callbacks.Callback):
    """Advances a tqdm bar once per epoch with the latest losses.

    Args:
      epochs: total epochs (the bar's length).
      description: the bar's label.
      stream: where to draw (default stderr).
    """

    def __init__(self, epochs, description="fit", stream=None):
        super().__init__()
        self.epochs = int(epochs)
        self.description = description
        self.stream = sys.stderr if stream is None else stream
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, desc=self.description, unit="epoch",
                        file=self.stream, leave=True, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {key: f"{float(value):.4g}" for key, value in logs.items()
                 if key in ("loss", "val_loss")}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
