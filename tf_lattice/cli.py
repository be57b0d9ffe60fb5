"""The ``tf-lattice`` command line: fit, predict, certify and plot.

::

  tf-lattice fit data.csv --target y --increasing a,b --decreasing c \\
      --model ensemble --out model.keras
  tf-lattice predict model.keras new.csv --out predictions.csv
  tf-lattice certify model.keras        # exit code 1 if a constraint fails
  tf-lattice plot model.keras --out shapes.png

Every command wraps the scikit-learn estimators of
:mod:`tf_lattice.estimators` and their ``save``/``load``; the options of
``fit`` mirror the estimators' parameters and defaults. Data files are CSV or
Parquet (by extension; Parquet needs pyarrow).

Outputs are checked before any work: the output directory must exist and be
writable, an output is never one of the command's input files, and an
existing output is replaced only with ``--force``. Outputs are written to a
temporary file beside the destination and moved into place, so a failed
command leaves no partial file.

Exit codes: 0 success; 1 a constraint does not hold (``certify``, or the
model ``fit`` just saved); 2 anything else that went wrong (bad usage, a
missing, malformed or unsafe file, bad data, an unexpected error), reported
as one line naming the file and the problem.

TensorFlow's native libraries log to the process's standard error (device
probing, CPU features) whatever ``TF_CPP_MIN_LOG_LEVEL`` says; when standard
error is a file or terminal, the commands send those native lines to
``/dev/null`` and keep Python's own output (messages, progress bars,
warnings). Set ``TF_LATTICE_NATIVE_LOGS=1`` to see them.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import zipfile

EXIT_OK = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2

MODELS = ("linear", "lattice", "ensemble", "dln")
TASKS = ("auto", "classification", "regression")
ENSEMBLES = ("random", "rtl", "crystals")  # tf_lattice.models.ensembles.ENSEMBLES (tested)
INTERPOLATIONS = ("auto", "hypercube", "simplex")
IMPLEMENTATIONS = ("kernel", "portable")
_MODEL_CLASSES = {
    "linear": "CalibratedLinear",
    "lattice": "CalibratedLattice",
    "ensemble": "CalibratedLatticeEnsemble",
    "dln": "DeepLatticeNetwork",
}
#: Integer-valued targets with at most this many distinct values are
#: treated as class labels by ``--task auto``.
MAX_AUTO_CLASSES = 10
#: The archive member in which an estimator's ``save`` stores its description.
ESTIMATOR_MEMBER = "tf_lattice_estimator.json"
#: Image formats ``plot`` writes (matplotlib's, by extension).
IMAGE_EXTENSIONS = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff",
                    ".webp")

#: The estimators' defaults that ``fit`` mirrors (a test compares them with
#: the estimators' signatures, so the two cannot drift apart).
ESTIMATOR_DEFAULTS = {
    "num_keypoints": None, "lattice_size": 2, "interpolation": "auto",
    "calibration_laplacian": None, "calibration_hessian": None, "calibration_wrinkle": None,
    "lattice_laplacian": None, "lattice_torsion": None, "l2": None, "epochs": None,
    "batch_size": None, "learning_rate": 0.01, "validation_fraction": 0.1,
    "early_stopping": "auto", "random_state": None, "implementation": "kernel",
    "num_lattices": None, "lattice_rank": None, "ensemble": "rtl", "categorical_features": None,
    "num_layers": None, "monotone_dims": None, "free_dims": None,
}
#: Options of one model kind only.
MODEL_OPTIONS = {"ensemble": ("ensemble",), "num_layers": ("dln",), "monotone_dims": ("dln",),
                 "free_dims": ("dln",)}


class UsageError(Exception):
    """Bad input from the user: reported on stderr with exit code 2."""


def _one_line(text, limit=600):
    """``text`` on one line (Keras and TensorFlow messages span several)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# -- reading and writing tables ---------------------------------------------------


def _table_format(path):
    """``"csv"`` or ``"parquet"`` from the file name."""
    lower = os.fspath(path).lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def _require_pyarrow(path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(f"{path}: reading or writing Parquet needs pyarrow, which is not "
                         "installed; install it with `pip install pyarrow` or use CSV") from None


def _check_input(path, what="file"):
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory, expected a {what}")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: not readable (permission denied)")


def read_table(path):
    """Reads a CSV or Parquet file into a DataFrame.

    Raises:
      UsageError: the file is missing, unreadable, empty or malformed, or is
        Parquet and pyarrow is not installed.
    """
    import pandas as pd

    _check_input(path, "CSV or Parquet file")
    try:
        if _table_format(path) == "parquet":
            _require_pyarrow(path)
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    except UsageError:
        raise
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        raise UsageError(f"{path}: malformed {_table_format(path).upper()} file "
                         f"({_one_line(error, 300)})") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise UsageError(f"{path}: no data rows (shape {frame.shape})")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def check_output(path, inputs, force, option="--out", extensions=None):
    """Checks an output path before any work is done.

    Args:
      path: the output (``-`` is stdout and always accepted).
      inputs: the command's input files; the output may be none of them.
      force: whether an existing output may be replaced.
      option: the option's name, for messages.
      extensions: accepted endings (lower case), or None for any.

    Raises:
      UsageError: naming the path: it is an input, a directory, already
        exists (without ``force``), its directory is missing or not writable,
        or its extension is not accepted.
    """
    if path == "-":
        return
    for source in inputs:
        same = os.path.realpath(path) == os.path.realpath(source)
        if not same and os.path.exists(path) and os.path.exists(source):
            same = os.path.samefile(path, source)
        if same:
            raise UsageError(f"{path}: {option} is the input file {source}; refusing to overwrite "
                             "an input (choose another output file)")
    if os.path.isdir(path):
        raise UsageError(f"{path}: {option} is a directory; give a file name")
    if extensions and not path.lower().endswith(tuple(extensions)):
        raise UsageError(f"{path}: {option} must end in {' or '.join(extensions)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path}: the output directory {folder} does not exist")
    if os.path.exists(path) and not force:
        raise UsageError(f"{path}: already exists; pass --force to overwrite it")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: the output directory {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{path}: not writable (permission denied)")


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path beside ``path``; moves it into place on success.

    The temporary file keeps ``path``'s extension (writers choose the format
    by it). On an error the temporary file is removed and ``path`` is left as
    it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    extension = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(prefix=".tf-lattice-", suffix=extension, dir=folder)
    os.close(handle)
    os.remove(temporary)  # writers create it (Keras refuses to overwrite some files)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_table(frame, path):
    """Writes ``frame`` as CSV or Parquet (by extension); ``-`` is stdout."""
    if path == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    if _table_format(path) == "parquet":
        _require_pyarrow(path)
    with atomic_output(path) as temporary:
        if _table_format(path) == "parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)


# -- arguments -------------------------------------------------------------------------


def _column_list(text):
    """``"a,b"`` -> ``["a", "b"]`` (empty names dropped)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _trust(text):
    """``MAIN:CONDITIONAL:DIRECTION[:KIND]`` -> a trust tuple."""
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (3, 4) or not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected MAIN:CONDITIONAL:increasing|decreasing[:edgeworth|trapezoid], got {text!r}")
    return tuple(parts)


def _dominance(text):
    """``DOMINANT:WEAK`` -> a dominance pair."""
    parts = [part.strip() for part in text.split(":")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected DOMINANT:WEAK, got {text!r}")
    return tuple(parts)


def _category_order(text):
    """``COLUMN=low<mid<high`` -> ``(column, [(low, mid), (mid, high)])``."""
    column, _, chain = text.partition("=")
    categories = [c.strip() for c in chain.split("<")]
    if not column.strip() or len(categories) < 2 or not all(categories):
        raise argparse.ArgumentTypeError(f"expected COLUMN=LOW<...<HIGH, got {text!r}")
    return column.strip(), list(zip(categories[:-1], categories[1:]))


def _check_columns(option, names, frame, path):
    unknown = [name for name in names if name not in frame.columns]
    if unknown:
        raise UsageError(f"{option} names column(s) {unknown} not in {path} "
                         f"(columns: {list(frame.columns)})")


def _shape_options(args):
    """The per-column shape options as ``{option: (columns, argument, value)}``."""
    return {
        "--increasing": (args.increasing, "monotonicity", "increasing"),
        "--decreasing": (args.decreasing, "monotonicity", "decreasing"),
        "--convex": (args.convex, "convexity", "convex"),
        "--concave": (args.concave, "convexity", "concave"),
        "--valley": (args.valley, "unimodality", "valley"),
        "--peak": (args.peak, "unimodality", "peak"),
    }


def infer_task(target):
    """``"classification"`` or ``"regression"`` for a target column.

    Non-numeric and boolean targets are classes; numeric targets whose values
    are all integers and take at most ``MAX_AUTO_CLASSES`` distinct values
    are classes too; every other numeric target is a regression target.
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification"
    values = target.dropna().to_numpy(dtype=np.float64)
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        if len(np.unique(values)) <= MAX_AUTO_CLASSES:
            return "classification"
    return "regression"


def estimator_class(model, task):
    """The estimator class for a ``--model`` name and a task."""
    from tf_lattice import estimators

    suffix = "Classifier" if task == "classification" else "Regressor"
    return getattr(estimators, _MODEL_CLASSES[model] + suffix)


def _estimator_params(args, frame, task):
    """The estimator's parameters from the ``fit`` options, for ``task``."""
    shapes = {"monotonicity": {}, "convexity": {}, "unimodality": {}}
    for option, (columns, argument, value) in _shape_options(args).items():
        _check_columns(option, columns, frame, args.data)
        if args.target in columns:
            raise UsageError(f"{option} names the target column {args.target!r}")
        mapping = shapes[argument]
        for column in columns:
            if column in mapping:
                raise UsageError(f"column {column!r} is given two shapes: {mapping[column]!r} "
                                 f"and {value!r}")
            mapping[column] = value
    if args.categorical_features:
        _check_columns("--categorical-features", args.categorical_features, frame, args.data)
    for option, entries in (("--trust", args.trust), ("--dominance", args.dominance)):
        for entry in entries:
            _check_columns(option, list(entry[:2]), frame, args.data)
    order = {}
    for column, pairs in args.category_order:
        _check_columns("--category-order", [column], frame, args.data)
        order.setdefault(column, []).extend(pairs)
    params = {name: shapes[name] or None for name in shapes}
    params.update(
        trust=args.trust or None, dominance=args.dominance or None,
        category_order=order or None,
        verbose=0 if args.quiet else 2,
        **{name: getattr(args, name) for name in ESTIMATOR_DEFAULTS
           if name not in ("num_lattices", "lattice_rank") and name not in MODEL_OPTIONS})
    if args.model in ("ensemble", "dln"):
        params.update(num_lattices=args.num_lattices, lattice_rank=args.lattice_rank)
    params.update({name: getattr(args, name) for name, kinds in MODEL_OPTIONS.items()
                   if args.model in kinds})
    if args.class_weight is not None:
        if task != "classification":
            raise UsageError(f"--class-weight {args.class_weight} weighs classes: it needs a "
                             f"classification task, and this target is {task}")
        params["class_weight"] = args.class_weight
    return params


# -- loading saved estimators -----------------------------------------------------------


def saved_class_name(path):
    """The estimator class stored in a ``.keras`` file written by ``save``.

    Raises:
      UsageError: the file is missing or is not a saved tf_lattice estimator.
    """
    _check_input(path, "saved model (.keras)")
    try:
        with zipfile.ZipFile(path) as archive:
            if ESTIMATOR_MEMBER not in archive.namelist():
                raise UsageError(f"{path}: a Keras archive without a tf_lattice estimator; "
                                 "save models with `tf-lattice fit` or the estimators' save()")
            description = json.loads(archive.read(ESTIMATOR_MEMBER))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, EOFError):
        raise UsageError(f"{path}: not a saved tf_lattice model (expected a .keras file "
                         "written by `tf-lattice fit`; this one is not a zip archive or is "
                         "truncated)") from None
    name = description.get("class") if isinstance(description, dict) else None
    if not isinstance(name, str):
        raise UsageError(f"{path}: the estimator description names no class")
    return name


def load_estimator(path):
    """Loads the estimator saved at ``path`` (any tf_lattice estimator class).

    Raises:
      UsageError: naming ``path`` and why it cannot be loaded.
    """
    from tf_lattice import estimators

    name = saved_class_name(path)
    if name not in estimators.__all__:
        raise UsageError(f"{path}: holds an unknown estimator class {name!r}")
    try:
        return getattr(estimators, name).load(path)
    except ValueError as error:
        message = _one_line(error)
        raise UsageError(message if path in message else f"{path}: {message}") from None
    except Exception as error:  # Keras and h5py raise many kinds on corrupt files
        raise UsageError(f"{path}: cannot load the model ({type(error).__name__}: "
                         f"{_one_line(error, 300)})") from None


# -- commands -----------------------------------------------------------------------------


def _training_metrics(estimator, features, target, task):
    """One line: the final training loss and a metric on the training rows."""
    import numpy as np

    losses = getattr(estimator, "history_", {}) or {}
    parts = []
    if losses.get("loss"):
        parts.append(f"final training loss {losses['loss'][-1]:.4g}")
    if losses.get("val_loss"):
        parts.append(f"best validation loss {min(losses['val_loss']):.4g}")
    if task == "classification":
        accuracy = float(np.mean(estimator.predict(features) == target.to_numpy()))
        parts.append(f"training accuracy {accuracy:.4f}")
    else:
        predictions = estimator.predict(features)
        values = target.to_numpy(dtype=np.float64)
        rmse = float(np.sqrt(np.mean((predictions - values) ** 2)))
        spread = float(np.var(values))
        parts.append(f"training RMSE {rmse:.4g}")
        if spread > 0:
            parts.append(f"R^2 {1.0 - rmse ** 2 / spread:.4f}")
    return ", ".join(parts) + f" (on {len(features)} training rows)"


def _fits_files(args):
    """Whether ``fit`` streams its data: a glob or directory, or several workers."""
    from tf_lattice import distribute

    return (args.workers > 1 or distribute.num_workers() > 1 or os.path.isdir(args.data) or
            any(char in args.data for char in "*?["))


def command_fit_files(args):
    """``fit`` on files read as a stream, on ``--workers N`` local workers or
    on the workers ``TF_CONFIG`` lists; the chief saves and certifies."""
    from tf_lattice import distribute

    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    check_output(args.out, [], args.force, extensions=(".keras",))
    if args.workers > 1 and distribute.cluster_config() is None:
        command = [sys.executable, "-c", "import sys; from tf_lattice.cli import main; "
                   "sys.exit(main())", *args.argv]
        return distribute.launch(command, args.workers)
    strategy = distribute.strategy()  # before TensorFlow starts
    import pandas as pd

    from tf_lattice.estimators import FileSource
    from tf_lattice.estimators._sources import expand_files, file_format

    try:
        paths = expand_files(args.data)
    except ValueError as error:
        raise UsageError(str(error)) from None
    args.context = paths[0]
    try:  # the columns, and the target's values to infer the task, from the first file
        if file_format(paths[0]) == "parquet":
            _require_pyarrow(paths[0])
            import pyarrow.parquet as pq

            head = pd.DataFrame(columns=pq.read_schema(paths[0]).names)
            if args.target in head.columns:
                head = pd.read_parquet(paths[0], columns=[args.target]).reindex(
                    columns=head.columns)
        else:
            head = pd.read_csv(paths[0], nrows=100_000)
    except UsageError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise UsageError(f"{paths[0]}: unreadable ({_one_line(error, 300)})") from None
    if args.target not in head.columns:
        raise UsageError(f"--target {args.target!r} is not a column of {paths[0]} "
                         f"(columns: {list(head.columns)})")
    names = [name for name in (args.features or head.columns) if name != args.target]
    for option, columns in (("--features", args.features), ("--drop", args.drop)):
        if columns:
            _check_columns(option, columns, head, paths[0])
    names = [name for name in names if name not in (args.drop or [])]
    if not names:
        raise UsageError("no feature columns are left besides the target")
    task = infer_task(head[args.target]) if args.task == "auto" else args.task
    cls = estimator_class(args.model, task)
    estimator = cls(**_estimator_params(args, head, task), distribute_strategy=strategy)
    chief = distribute.is_chief()
    if chief and not args.quiet:
        print(f"fitting {cls.__name__} ({task}) on {len(paths)} file(s), {len(names)} features, "
              f"{distribute.num_workers()} worker(s)", file=sys.stderr)
    args.context = None
    estimator.fit(FileSource(paths, target=args.target, features=names))
    if not chief:
        return EXIT_OK
    print(f"final training loss {estimator.history_['loss'][-1]:.4g}")
    args.context = args.out
    with atomic_output(args.out) as temporary:
        estimator.save(temporary)
    certificate = estimator.certify()
    print(f"saved {args.out}; constraints {'hold' if certificate.holds else 'VIOLATED'} "
          f"({len(certificate.checks)} checks)")
    return EXIT_OK if certificate.holds else EXIT_VIOLATED


def command_fit(args):
    if _fits_files(args):
        return command_fit_files(args)
    check_output(args.out, [args.data], args.force, extensions=(".keras",))
    args.context = args.data
    frame = read_table(args.data)
    if args.target not in frame.columns:
        raise UsageError(f"--target {args.target!r} is not a column of {args.data} "
                         f"(columns: {list(frame.columns)})")
    features = frame.drop(columns=[args.target])
    if args.features:
        _check_columns("--features", args.features, frame, args.data)
        features = frame[[name for name in args.features if name != args.target]]
    if args.drop:
        _check_columns("--drop", args.drop, frame, args.data)
        features = features.drop(columns=[name for name in args.drop if name in features])
    if features.shape[1] == 0:
        raise UsageError("no feature columns are left besides the target")
    target = frame[args.target]
    if target.isna().any():
        raise UsageError(f"--target {args.target!r} has {int(target.isna().sum())} missing "
                         "values; every row needs a target")
    task = infer_task(target) if args.task == "auto" else args.task
    params = _estimator_params(args, frame, task)
    cls = estimator_class(args.model, task)
    if not args.quiet:
        print(f"fitting {cls.__name__} ({task}) on {len(frame)} rows, "
              f"{features.shape[1]} features", file=sys.stderr)
    estimator = cls(**params)
    estimator.fit(features, target)
    print(_training_metrics(estimator, features, target, task))
    args.context = args.out
    with atomic_output(args.out) as temporary:
        estimator.save(temporary)
    certificate = estimator.certify()
    print(f"saved {args.out}; constraints {'hold' if certificate.holds else 'VIOLATED'} "
          f"({len(certificate.checks)} checks)")
    for check in certificate.violations:
        print(f"  {check.name}: violated by {check.worst_violation:.3g} at {check.location}")
    return EXIT_OK if certificate.holds else EXIT_VIOLATED


def _prediction_frame(estimator, features):
    import pandas as pd

    result = pd.DataFrame({"prediction": estimator.predict(features)})
    if hasattr(estimator, "predict_proba"):
        probabilities = estimator.predict_proba(features)
        for k, label in enumerate(estimator.classes_):
            result[f"probability_{label}"] = probabilities[:, k]
    return result


def command_predict(args):
    check_output(args.out, [args.model, args.data], args.force)
    _check_input(args.data, "CSV or Parquet file")
    args.context = args.model
    estimator = load_estimator(args.model)
    args.context = args.data
    frame = read_table(args.data)
    names = [spec.name for spec in estimator.feature_specs_]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise UsageError(f"{args.data} lacks the model's feature column(s) {missing}")
    if args.keep:
        _check_columns("--keep", args.keep, frame, args.data)
    result = _prediction_frame(estimator, frame[names])
    for name in reversed(args.keep or []):
        result.insert(0, name, frame[name].to_numpy())
    args.context = args.out
    write_table(result, args.out)
    if args.out != "-":
        print(f"wrote {len(result)} predictions to {args.out}")
    return EXIT_OK


def command_certify(args):
    args.context = args.model
    estimator = load_estimator(args.model)
    certificate = estimator.certify()
    print(certificate)
    return EXIT_OK if certificate.holds else EXIT_VIOLATED


def command_plot(args):
    check_output(args.out, [args.model], args.force, extensions=IMAGE_EXTENSIONS)
    args.context = args.model
    estimator = load_estimator(args.model)
    names = [spec.name for spec in estimator.feature_specs_]
    if args.columns:
        unknown = [c for c in args.columns if c not in names]
        if unknown:
            raise UsageError(f"--columns names column(s) {unknown} the model was not trained on "
                             f"(columns: {names})")
    figure = estimator.plot_calibrators(columns=args.columns or None)
    args.context = args.out
    with atomic_output(args.out) as temporary:
        figure.savefig(temporary, dpi=args.dpi)
    print(f"wrote {args.out}")
    return EXIT_OK


# -- parser -------------------------------------------------------------------------------


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Adds ``(default: ...)`` to options whose help does not state it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default in (None, False, [], argparse.SUPPRESS)
                or not action.option_strings):
            return text
        return text + " (default: %(default)s)"


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _add_fit_options(fit):
    d = ESTIMATOR_DEFAULTS
    fit.add_argument("data", help="training table (.csv, or .parquet with pyarrow); a quoted "
                                  "glob ('data/*.parquet') or a directory reads many files "
                                  "as a stream")
    fit.add_argument("--target", required=True, help="the column to predict")
    fit.add_argument("--out", required=True, help="where to save the model (.keras)")
    fit.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    fit.add_argument("--model", choices=MODELS, default="lattice",
                     help="linear, lattice, ensemble or dln (deep lattice network)")
    fit.add_argument("--task", choices=TASKS, default="auto",
                     help="classification or regression (auto: inferred from the target)")
    fit.add_argument("--class-weight", choices=("balanced",), default=None,
                     help="classification: weigh each class by n / (classes * its count), as "
                          "the classifiers' class_weight='balanced' (default: every row 1)")
    shapes = fit.add_argument_group("shape constraints (comma-separated column lists)")
    for option, text in (("--increasing", "output rises with these columns"),
                         ("--decreasing", "output falls with these columns"),
                         ("--convex", "output is convex in these columns"),
                         ("--concave", "output is concave in these columns "
                                       "(diminishing returns)"),
                         ("--valley", "output falls then rises in these columns (unimodal; "
                                      "--model lattice)"),
                         ("--peak", "output rises then falls in these columns (unimodal; "
                                    "--model lattice)")):
        shapes.add_argument(option, type=_column_list, default=[], metavar="COLS", help=text)
    shapes.add_argument("--trust", type=_trust, action="append", default=[],
                        metavar="MAIN:COND:DIR[:KIND]",
                        help="the effect of monotone MAIN grows (DIR increasing) or shrinks "
                             "(decreasing) with COND; KIND edgeworth (the default) or "
                             "trapezoid; repeatable")
    shapes.add_argument("--dominance", type=_dominance, action="append", default=[],
                        metavar="DOMINANT:WEAK",
                        help="the effect of monotone DOMINANT is at least that of WEAK; "
                             "repeatable")
    shapes.add_argument("--category-order", type=_category_order, action="append", default=[],
                        metavar="COL=LOW<...<HIGH",
                        help="the output rises along these categories of COL; repeatable")
    columns = fit.add_argument_group("columns")
    columns.add_argument("--features", type=_column_list, default=None, metavar="COLS",
                         help="use only these columns as features (default: all but the target)")
    columns.add_argument("--drop", type=_column_list, default=None, metavar="COLS",
                         help="columns to leave out (ids, leaks)")
    columns.add_argument("--categorical-features", type=_column_list,
                         default=d["categorical_features"], metavar="COLS",
                         help="numeric columns of category codes to calibrate as categories "
                              "(default: text columns only)")
    model = fit.add_argument_group("model")
    model.add_argument("--num-keypoints", type=int, default=d["num_keypoints"],
                       help="keypoints per numeric calibrator (default: automatic, "
                            "clip(round(2 n^(1/3)), 10, 40) for n rows; linear models: at "
                            "most 1 + n / (10 d) for d columns)")
    model.add_argument("--lattice-size", type=int, default=d["lattice_size"],
                       help="vertices per lattice dimension")
    model.add_argument("--interpolation", choices=INTERPOLATIONS, default=d["interpolation"],
                       help="lattice interpolation (auto: simplex beyond 6 dimensions)")
    model.add_argument("--num-lattices", type=int, default=d["num_lattices"],
                       help="ensemble/dln: lattices (dln: per block; default: automatic, each "
                            "column (dln: embedding output) in about 3 lattices below 5,000 "
                            "rows, 6 from there on)")
    model.add_argument("--lattice-rank", type=int, default=d["lattice_rank"],
                       help="ensemble/dln: features (dln: embedding outputs) per lattice "
                            "(default: automatic, at most 3)")
    model.add_argument("--ensemble", choices=ENSEMBLES, default=d["ensemble"],
                       help="ensemble: how lattices pick their features")
    model.add_argument("--num-layers", type=int, default=d["num_layers"],
                       help="dln: blocks of embedding, calibrators and lattices (default: 1)")
    model.add_argument("--monotone-dims", type=int, default=d["monotone_dims"],
                       help="dln: embedding outputs monotone in the shaped columns, per block "
                            "(default: automatic, at most 6)")
    model.add_argument("--free-dims", type=int, default=d["free_dims"],
                       help="dln: embedding outputs of the unconstrained columns, per block "
                            "(default: automatic, at most 4)")
    model.add_argument("--implementation", choices=IMPLEMENTATIONS, default=d["implementation"],
                       help="compiled kernels, or portable stock TensorFlow ops")
    regularization = fit.add_argument_group("regularization")
    for name, text in (("calibration_laplacian", "calibrator first differences (l2)"),
                       ("calibration_hessian", "calibrator second differences (l2)"),
                       ("calibration_wrinkle", "calibrator third differences (l2)"),
                       ("lattice_laplacian", "lattice differences along each dimension (l2)"),
                       ("lattice_torsion", "lattice torsion between dimensions (l2)"),
                       ("l2", "l2 on linear weights and categorical calibrators")):
        regularization.add_argument("--" + name.replace("_", "-"), type=_float, default=d[name],
                                    metavar="AMOUNT",
                                    help=text + " (default: automatic, from the number of rows)")
    training = fit.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=d["epochs"],
                          help="passes over the data (default: automatic, from the data size)")
    training.add_argument("--batch-size", type=int, default=d["batch_size"],
                          help="examples per step (default: automatic, clip(n / 8, 32, 1024))")
    training.add_argument("--learning-rate", type=_float, default=d["learning_rate"],
                          help="Adam step size")
    training.add_argument("--early-stopping", action="store_true", default=d["early_stopping"],
                          help="hold out --validation-fraction of the rows and stop when their "
                               "loss stops improving (default: automatic, on from 10,000 rows "
                               "for lattice and dln models on data held in memory)")
    training.add_argument("--no-early-stopping", dest="early_stopping", action="store_false",
                          default=d["early_stopping"],
                          help="never stop early")
    training.add_argument("--validation-fraction", type=_float,
                          default=d["validation_fraction"],
                          help="share of rows held out with --early-stopping")
    training.add_argument("--random-state", type=int, default=d["random_state"],
                          help="seed (default: none, a different fit each run)")
    training.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    training.add_argument("--workers", type=int, default=1,
                          help="train on N local worker processes (MultiWorkerMirroredStrategy); "
                               "with TF_CONFIG set, on the workers it lists")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-lattice", formatter_class=_HelpFormatter,
        description="Fit, apply and check monotonic calibrated lattice models on tables.",
        epilog="Exit codes: 0 success, 1 a constraint does not hold, 2 any other error.")
    from tf_lattice import __version__
    parser.add_argument("--version", action="version", version=f"tf_lattice {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser("fit", help="fit a model on a CSV/Parquet table and save it",
                              formatter_class=_HelpFormatter,
                              description="Fit a calibrated model and save it as .keras. "
                                          "Exit code 1 if its constraints do not hold.")
    _add_fit_options(fit)
    fit.set_defaults(run=command_fit)

    predict = commands.add_parser("predict", help="predict with a saved model",
                                  formatter_class=_HelpFormatter,
                                  description="Write predictions (and class probabilities).")
    predict.add_argument("model", help="a .keras file written by `tf-lattice fit`")
    predict.add_argument("data", help="table with the model's feature columns")
    predict.add_argument("--out", default="-",
                         help="output .csv or .parquet (default: - for stdout)")
    predict.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    predict.add_argument("--keep", type=_column_list, default=None, metavar="COLS",
                         help="input columns to copy into the output (e.g. an id)")
    predict.set_defaults(run=command_predict)

    certify = commands.add_parser(
        "certify", help="check every declared constraint exactly (exit 1 if one fails)",
        formatter_class=_HelpFormatter,
        description="Check every declared shape constraint exactly on the saved parameters "
                    "and the model's structure. Exit code 1 if one does not hold.")
    certify.add_argument("model", help="a .keras file written by `tf-lattice fit`")
    certify.set_defaults(run=command_certify)

    plot = commands.add_parser("plot", help="draw the learned calibrators to an image",
                               formatter_class=_HelpFormatter,
                               description="Draw every learned calibrator (feature shape).")
    plot.add_argument("model", help="a .keras file written by `tf-lattice fit`")
    plot.add_argument("--out", required=True, help="image file (.png, .pdf, .svg, ...)")
    plot.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    plot.add_argument("--columns", type=_column_list, default=None, metavar="COLS",
                      help="draw only these columns (default: all)")
    plot.add_argument("--dpi", type=int, default=100, help="image resolution")
    plot.set_defaults(run=command_plot)
    return parser


@contextlib.contextmanager
def native_logs_silenced():
    """Sends native writes to file descriptor 2 to /dev/null; Python's stay.

    ``sys.stderr`` is re-opened on a copy of the original descriptor, so
    messages, warnings and progress bars still show. Does nothing when
    ``sys.stderr`` is not descriptor 2 (captured, redirected in Python) or
    ``TF_LATTICE_NATIVE_LOGS`` is set.
    """
    try:
        real = sys.stderr.fileno() == 2 and not os.environ.get("TF_LATTICE_NATIVE_LOGS")
    except (AttributeError, OSError, ValueError):
        real = False
    if not real:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0),
                                  encoding=python_stderr.encoding, errors="backslashreplace",
                                  line_buffering=True, write_through=True)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        sys.stderr.flush()
        replacement, sys.stderr = sys.stderr, python_stderr
        os.dup2(saved, 2)
        os.close(saved)
        replacement.close()


def _report(args, message):
    """Prints one error line naming the file the command was working on."""
    message = _one_line(message)
    context = getattr(args, "context", None)
    if context and context not in message:
        message = f"{context}: {message}"
    print(f"tf-lattice {args.command}: error: {message}", file=sys.stderr)


def main(argv=None):
    """Runs the command line; returns the exit code.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 on success, 1 when a constraint does not hold, 2 on any other error
      (one line on stderr naming the file and the problem, no traceback).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_request:  # --help, --version and usage errors
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    args.context = None
    with native_logs_silenced():
        try:
            return args.run(args)
        except (UsageError, ValueError) as error:  # ValueError: the estimators' data checks
            _report(args, error)
        except KeyboardInterrupt:
            _report(args, "interrupted")
        except MemoryError:
            _report(args, "out of memory")
        except Exception as error:  # anything else still ends in one line, never a traceback
            _report(args, f"unexpected {type(error).__name__}: {error}")
    return EXIT_USAGE
