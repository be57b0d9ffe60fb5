"""A tqdm progress bar over training epochs, showing the running loss.

The bar is ``tqdm.auto``'s: a widget in a Jupyter notebook with ipywidgets
installed, else text. tqdm is imported on the first bar, with its warning
about a missing ipywidgets silenced (the text bar is then used), so that
importing the estimators prints nothing.
"""

import sys
import warnings

import keras


def in_notebook():
    """Whether this process is a Jupyter kernel (tqdm.auto's own test)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # an IPython without a usable shell
        return False


def progress_enabled(verbose, stream=None):
    """Whether to show a bar: ``verbose >= 2`` always, ``verbose == 1`` when
    ``stream`` (default stderr) is a terminal or in a Jupyter notebook,
    ``verbose == 0`` never."""
    stream = sys.stderr if stream is None else stream
    if verbose >= 2:
        return True
    if verbose == 1:
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty()) or in_notebook()
    return False


def bar_class():
    """``tqdm.auto.tqdm`` without the warning it gives in a notebook lacking ipywidgets."""
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


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
        self.bar = bar_class()(total=self.epochs, desc=self.description, unit="epoch",
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
