"""The ``tf-lattice`` command line: fit, predict, certify and plot.

::

  tf-lattice fit data.csv --target y --increasing a,b --decreasing c \\
      --model ensemble --out model.keras
  tf-lattice predict model.keras new.csv --out predictions.csv
  tf-lattice certify model.keras        # exit code 1 if a constraint fails
  tf-lattice plot model.keras --out shapes.png

Every command wraps the scikit-learn estimators of
:mod:`tf_lattice.estimators` and their ``save``/``load``. Data files are CSV or
Parquet (by extension; Parquet needs pyarrow). Exit codes: 0 success, 1 a
declared constraint does not hold (``certify``), 2 bad usage or bad input (a
missing or malformed file, an unknown column), with a message naming the
problem.
"""

import argparse
import json
import os
import sys
import zipfile

EXIT_OK = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2

MODELS = ("linear", "lattice", "ensemble", "dln")
TASKS = ("auto", "classification", "regression")
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


class UsageError(Exception):
    """Bad input from the user: reported on stderr with exit code 2."""


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


def read_table(path):
    """Reads a CSV or Parquet file into a DataFrame.

    Raises:
      UsageError: the file is missing, unreadable, empty or malformed, or is
        Parquet and pyarrow is not installed.
    """
    import pandas as pd

    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory, expected a CSV or Parquet file")
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
        raise UsageError(f"{path}: malformed {_table_format(path).upper()} file ({error})") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise UsageError(f"{path}: no data rows (shape {frame.shape})")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def write_table(frame, path):
    """Writes ``frame`` as CSV or Parquet (by extension); ``-`` is stdout."""
    if path == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    if _table_format(path) == "parquet":
        _require_pyarrow(path)
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


# -- arguments -------------------------------------------------------------------------


def _column_list(text):
    """``"a,b"`` -> ``["a", "b"]`` (empty names dropped)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _check_columns(option, names, frame, path):
    unknown = [name for name in names if name not in frame.columns]
    if unknown:
        raise UsageError(f"{option} names column(s) {unknown} not in {path} "
                         f"(columns: {list(frame.columns)})")


def _shape_options(args):
    """The per-column shape options as ``{option: (columns, value)}``."""
    return {
        "--increasing": (args.increasing, "increasing"),
        "--decreasing": (args.decreasing, "decreasing"),
        "--convex": (args.convex, "convex"),
        "--concave": (args.concave, "concave"),
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


def _estimator_params(args, frame):
    monotonicity, convexity = {}, {}
    for option, (columns, value) in _shape_options(args).items():
        _check_columns(option, columns, frame, args.data)
        if args.target in columns:
            raise UsageError(f"{option} names the target column {args.target!r}")
        mapping = monotonicity if value in ("increasing", "decreasing") else convexity
        for column in columns:
            if column in mapping:
                raise UsageError(f"column {column!r} is given two shapes: {mapping[column]!r} "
                                 f"and {value!r}")
            mapping[column] = value
    params = {"monotonicity": monotonicity or None, "convexity": convexity or None,
              "num_keypoints": args.num_keypoints, "lattice_size": args.lattice_size,
              "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "random_state": args.random_state,
              "verbose": 0 if args.quiet else 2}
    if args.model in ("ensemble", "dln"):
        params.update(num_lattices=args.num_lattices, lattice_rank=args.lattice_rank,
                      ensemble=args.ensemble)
    return params


# -- loading saved estimators -----------------------------------------------------------


def saved_class_name(path):
    """The estimator class stored in a ``.keras`` file written by ``save``.

    Raises:
      UsageError: the file is missing or is not a saved tf_lattice estimator.
    """
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            if ESTIMATOR_MEMBER not in archive.namelist():
                raise UsageError(f"{path}: a Keras archive without a tf_lattice estimator; "
                                 "save models with `tf-lattice fit` or the estimators' save()")
            description = json.loads(archive.read(ESTIMATOR_MEMBER))
    except (zipfile.BadZipFile, IsADirectoryError, json.JSONDecodeError):
        raise UsageError(f"{path}: not a saved tf_lattice model (expected a .keras file "
                         "written by `tf-lattice fit`)") from None
    name = description.get("class") if isinstance(description, dict) else None
    if not isinstance(name, str):
        raise UsageError(f"{path}: the estimator description names no class")
    return name


def load_estimator(path):
    """Loads the estimator saved at ``path`` (any tf_lattice estimator class)."""
    from tf_lattice import estimators

    name = saved_class_name(path)
    cls = getattr(estimators, name, None)
    if cls is None:
        raise UsageError(f"{path}: holds an unknown estimator class {name!r}")
    return cls.load(path)


# -- commands -----------------------------------------------------------------------------


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
        raise UsageError(f"{paths[0]}: unreadable ({error})") from None
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
    if not args.out.endswith(".keras"):
        raise UsageError(f"--out must end in '.keras', got {args.out!r}")
    task = infer_task(head[args.target]) if args.task == "auto" else args.task
    cls = estimator_class(args.model, task)
    estimator = cls(**_estimator_params(args, head), distribute_strategy=strategy)
    chief = distribute.is_chief()
    if chief and not args.quiet:
        print(f"fitting {cls.__name__} ({task}) on {len(paths)} file(s), {len(names)} features, "
              f"{distribute.num_workers()} worker(s)", file=sys.stderr)
    estimator.fit(FileSource(paths, target=args.target, features=names))
    if chief:
        estimator.save(args.out)
        certificate = estimator.certify()
        print(f"saved {args.out}; constraints {'hold' if certificate.holds else 'VIOLATED'} "
              f"({len(certificate.checks)} checks)")
    return EXIT_OK


def command_fit(args):
    if _fits_files(args):
        return command_fit_files(args)
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
    if not args.out.endswith(".keras"):
        raise UsageError(f"--out must end in '.keras', got {args.out!r}")
    params = _estimator_params(args, frame)
    cls = estimator_class(args.model, task)
    if not args.quiet:
        print(f"fitting {cls.__name__} ({task}) on {len(frame)} rows, "
              f"{features.shape[1]} features", file=sys.stderr)
    estimator = cls(**params)
    estimator.fit(features, target)
    estimator.save(args.out)
    certificate = estimator.certify()
    print(f"saved {args.out}; constraints {'hold' if certificate.holds else 'VIOLATED'} "
          f"({len(certificate.checks)} checks)")
    return EXIT_OK


def _prediction_frame(estimator, features):
    import pandas as pd

    result = pd.DataFrame({"prediction": estimator.predict(features)})
    if hasattr(estimator, "predict_proba"):
        probabilities = estimator.predict_proba(features)
        for k, label in enumerate(estimator.classes_):
            result[f"probability_{label}"] = probabilities[:, k]
    return result


def command_predict(args):
    estimator = load_estimator(args.model)
    frame = read_table(args.data)
    names = [str(name) for name in estimator.feature_names_in_]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise UsageError(f"{args.data} lacks the model's feature column(s) {missing}")
    result = _prediction_frame(estimator, frame[names])
    if args.keep:
        _check_columns("--keep", args.keep, frame, args.data)
        for name in reversed(args.keep):
            result.insert(0, name, frame[name].to_numpy())
    write_table(result, args.out)
    if args.out != "-":
        print(f"wrote {len(result)} predictions to {args.out}")
    return EXIT_OK


def command_certify(args):
    estimator = load_estimator(args.model)
    certificate = estimator.certify()
    print(certificate)
    return EXIT_OK if certificate.holds else EXIT_VIOLATED


def command_plot(args):
    estimator = load_estimator(args.model)
    if args.columns:
        unknown = [c for c in args.columns if c not in [str(n) for n in estimator.feature_names_in_]]
        if unknown:
            raise UsageError(f"--columns names column(s) {unknown} the model was not trained on "
                             f"(columns: {list(estimator.feature_names_in_)})")
    figure = estimator.plot_calibrators(columns=args.columns or None)
    figure.savefig(args.out, dpi=args.dpi)
    print(f"wrote {args.out}")
    return EXIT_OK


# -- parser -------------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-lattice",
        description="Fit, apply and check monotonic calibrated lattice models on tables.")
    from tf_lattice import __version__
    parser.add_argument("--version", action="version", version=f"tf_lattice {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser("fit", help="fit a model on a CSV/Parquet table and save it",
                              description="Fit a calibrated model and save it as .keras.")
    fit.add_argument("data", help="training table (.csv, or .parquet with pyarrow); a quoted "
                                  "glob ('data/*.parquet') or a directory reads many files "
                                  "as a stream")
    fit.add_argument("--target", required=True, help="the column to predict")
    fit.add_argument("--out", required=True, help="where to save the model (.keras)")
    fit.add_argument("--model", choices=MODELS, default="lattice",
                     help="linear, lattice (default), ensemble or dln (deep lattice network)")
    fit.add_argument("--task", choices=TASKS, default="auto",
                     help="classification or regression (default: inferred from the target)")
    for option, text in (("--increasing", "output rises with these columns"),
                         ("--decreasing", "output falls with these columns"),
                         ("--convex", "output is convex in these columns"),
                         ("--concave", "output is concave in these columns "
                                       "(diminishing returns)")):
        fit.add_argument(option, type=_column_list, default=[], metavar="COLS",
                         help=text + " (comma-separated)")
    fit.add_argument("--features", type=_column_list, default=None, metavar="COLS",
                     help="use only these columns as features (default: all but the target)")
    fit.add_argument("--drop", type=_column_list, default=None, metavar="COLS",
                     help="columns to leave out (ids, leaks)")
    fit.add_argument("--epochs", type=int, default=None, help="passes over the data (default: auto)")
    fit.add_argument("--batch-size", type=int, default=None, help="examples per step (default: auto)")
    fit.add_argument("--learning-rate", type=float, default=0.01)
    fit.add_argument("--num-keypoints", type=int, default=10, help="keypoints per calibrator")
    fit.add_argument("--lattice-size", type=int, default=2, help="vertices per lattice dimension")
    fit.add_argument("--num-lattices", type=int, default=None, help="ensemble/dln: lattices")
    fit.add_argument("--lattice-rank", type=int, default=3, help="ensemble/dln: features per lattice")
    fit.add_argument("--ensemble", choices=("random", "rtl", "crystals"), default="rtl",
                     help="ensemble/dln: how lattices pick their features")
    fit.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    fit.add_argument("--workers", type=int, default=1,
                     help="train on N local worker processes (MultiWorkerMirroredStrategy); "
                          "with TF_CONFIG set, the workers it lists")
    fit.set_defaults(run=command_fit)

    predict = commands.add_parser("predict", help="predict with a saved model",
                                  description="Write predictions (and class probabilities).")
    predict.add_argument("model", help="a .keras file written by `tf-lattice fit`")
    predict.add_argument("data", help="table with the model's feature columns")
    predict.add_argument("--out", default="-", help="output .csv or .parquet (default: stdout)")
    predict.add_argument("--keep", type=_column_list, default=None, metavar="COLS",
                         help="input columns to copy into the output (e.g. an id)")
    predict.set_defaults(run=command_predict)

    certify = commands.add_parser(
        "certify", help="check every declared constraint exactly (exit 1 if one fails)",
        description="Check every declared shape constraint exactly on the saved parameters.")
    certify.add_argument("model", help="a .keras file written by `tf-lattice fit`")
    certify.set_defaults(run=command_certify)

    plot = commands.add_parser("plot", help="draw the learned calibrators to an image",
                               description="Draw every learned calibrator (feature shape).")
    plot.add_argument("model", help="a .keras file written by `tf-lattice fit`")
    plot.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    plot.add_argument("--columns", type=_column_list, default=None, metavar="COLS",
                      help="draw only these columns")
    plot.add_argument("--dpi", type=int, default=100)
    plot.set_defaults(run=command_plot)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit code.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 on success, 1 when ``certify`` finds a violated constraint, 2 on bad
      usage or input.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_request:  # --help, --version and usage errors
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as error:
        print(f"tf-lattice {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as error:  # the estimators' validation of columns and data
        print(f"tf-lattice {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
