"""Training data read piece by piece: files, tf.data datasets and frames.

A source is a list of *pieces*, each read on its own as a stream of chunks
of at most ``read_rows`` rows: a Parquet row group, a CSV file, a shard of a
dataset, a slice of an in-memory frame. Workers split the pieces between
them, so each reads only its share, and reading never holds more than one
chunk of a piece at a time, whatever the size of the file.

Every chunk is checked as it is read; a problem raises :class:`DataError`
naming the file and the row (0-based, not counting the header), e.g.
``data/part-3.csv, row 1041: column 'age' has the non-number 'n/a '``.
"""

import csv
import dataclasses
import gzip
import os

import numpy as np
import pandas as pd

from tf_lattice.estimators._columns import CATEGORICAL, NUMERIC, column_kind, to_frame

#: Rows per chunk read from a piece.
DEFAULT_READ_ROWS = 65536
#: Rows shuffled together (split between the shards of a fit); sources of at
#: most this many rows train in memory, exactly like a DataFrame.
DEFAULT_SHUFFLE_ROWS = 2 ** 18
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")
#: Bytes per CSV read block.
CSV_BLOCK_BYTES = 1 << 22


class DataError(ValueError):
    """Malformed training data; the message names the file and row."""


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401
        import pyarrow.csv  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError("reading Parquet and CSV files needs pyarrow; install it with "
                          "`pip install pyarrow`") from None
    return pyarrow


@dataclasses.dataclass(frozen=True)
class Piece:
    """A part of a source read on its own.

    Attributes:
      index: position in the source's list of pieces.
      path: the file (or a ``<dataset>``/``<frame>`` label).
      part: Parquet row group, dataset shard or frame slice (-1: whole file).
      first_row: the row of ``path`` the piece starts at.
      rows: the piece's row count when known before reading, else None.
    """

    index: int
    path: str
    part: int = -1
    first_row: int = 0
    rows: object = None


@dataclasses.dataclass
class Chunk:
    """Rows read from a piece: features, targets, weights and where they are from."""

    features: pd.DataFrame
    y: np.ndarray
    weight: object
    piece: Piece
    start: int

    def __len__(self):
        return len(self.features)

    def where(self, offset=0):
        """``"path, row r"`` of the chunk's row ``offset``."""
        return f"{self.piece.path}, row {self.piece.first_row + self.start + int(offset)}"


def expand_files(files):
    """The files a pattern, path, directory or list of them names, in order.

    Glob patterns (``*``, ``?``, ``[``; ``**`` recursive) and directories
    (their Parquet and CSV files) expand in sorted order.

    Raises:
      ValueError: if a pattern matches nothing.
    """
    patterns = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not patterns:
        raise ValueError("no files given")
    paths = []
    for pattern in patterns:
        pattern = os.fspath(pattern)
        if os.path.isdir(pattern):
            matched = [os.path.join(pattern, name) for name in os.listdir(pattern)
                       if name.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES)]
        elif any(char in pattern for char in "*?["):
            import glob
            matched = [path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path)]
        else:
            matched = [pattern] if os.path.isfile(pattern) else []
        if not matched:
            raise ValueError(f"no files match {pattern!r}")
        paths.extend(sorted(matched))
    return list(dict.fromkeys(paths))


def file_format(path, forced=None):
    """``"parquet"`` or ``"csv"``: ``forced`` if given, else by extension."""
    if forced is not None:
        return forced
    return "parquet" if os.fspath(path).lower().endswith(PARQUET_SUFFIXES) else "csv"


def _arrow_kind(arrow_type):
    pa = _pyarrow()
    types = pa.types
    if (types.is_integer(arrow_type) or types.is_floating(arrow_type) or
            types.is_boolean(arrow_type) or types.is_decimal(arrow_type) or
            types.is_null(arrow_type)):
        return NUMERIC
    if (types.is_string(arrow_type) or types.is_large_string(arrow_type) or
            types.is_dictionary(arrow_type) or types.is_binary(arrow_type) or
            getattr(types, "is_string_view", lambda _: False)(arrow_type)):
        return CATEGORICAL
    return None


class Source:
    """Training data as pieces read in chunks (see the module docstring).

    Subclasses implement ``_bind`` (find the columns and pieces) and
    ``_chunks`` (read one piece).

    Args:
      read_rows: rows per chunk.
      shuffle_rows: rows shuffled together; a source of at most this many
        rows trains in memory on one worker, exactly like a DataFrame.
      max_categories: the most categories a categorical column keeps; the
        rarer ones share the default bucket.
      encoding: a fitted estimator (or the path of one saved as ``.keras``)
        whose keypoints, vocabularies and target scaling or classes to keep
        instead of learning them: a refit with the same encoding.
    """

    def __init__(self, *, read_rows=DEFAULT_READ_ROWS, shuffle_rows=DEFAULT_SHUFFLE_ROWS,
                 max_categories=1000, encoding=None):
        self.read_rows = int(read_rows)
        self.shuffle_rows = int(shuffle_rows)
        self.max_categories = int(max_categories)
        self.encoding = encoding
        if self.read_rows < 1 or self.shuffle_rows < 1 or self.max_categories < 1:
            raise ValueError("read_rows, shuffle_rows and max_categories must be >= 1, got "
                             f"{read_rows!r}, {shuffle_rows!r}, {max_categories!r}")
        self.kinds = None
        self.numeric_categories = set()
        self.classification = None
        self._pieces = None

    def bind(self, classification, num_workers=1):
        """Finds the feature columns, their kinds and the pieces; returns self.

        Args:
          classification: whether the target holds class labels (regression
            targets must be numbers).
          num_workers: workers of the fit (datasets make one piece per worker).
        """
        self.classification = bool(classification)
        self._bind(int(num_workers))
        return self

    def make_categorical(self, names):
        """Reads the columns ``names`` as categories whatever their type
        (``categorical_features``); numeric ones keep their numbers as
        categories. Call after :meth:`bind`."""
        self.numeric_categories = {name for name in names if self.kinds[name] == NUMERIC}
        for name in names:
            self.kinds[name] = CATEGORICAL
        return self

    def pieces(self):
        return list(self._pieces)

    def feature_names(self):
        return list(self.kinds)

    def describe(self):
        """A JSON description of the data and of how it is read (a resumed
        fit checks that it reads the same)."""
        return {"read_rows": self.read_rows, "shuffle_rows": self.shuffle_rows,
                "max_categories": self.max_categories}

    def read(self, piece, skip=0):
        """Yields the checked chunks of ``piece`` from its row ``skip`` on."""
        for chunk in self._chunks(piece, int(skip)):
            self._check(chunk)
            yield chunk

    def _check(self, chunk):
        y = chunk.y
        missing = pd.isna(y) if y.dtype.kind == "O" else (np.isnan(y) if y.dtype.kind == "f" else None)
        if missing is not None and missing.any():
            raise DataError(f"{chunk.where(np.flatnonzero(missing)[0])}: the target is missing; "
                            "every row needs a target")
        if not self.classification and np.isinf(y).any():
            raise DataError(f"{chunk.where(np.flatnonzero(np.isinf(y))[0])}: the target is infinite")
        if chunk.weight is not None:
            bad = ~np.isfinite(chunk.weight) | (chunk.weight < 0)
            if bad.any():
                row = np.flatnonzero(bad)[0]
                raise DataError(f"{chunk.where(row)}: the weight {chunk.weight[row]!r} is not a "
                                "finite non-negative number")
        for name, kind in self.kinds.items():
            if kind == NUMERIC:
                values = chunk.features[name].to_numpy()
                infinite = np.isinf(values)
                if infinite.any():
                    raise DataError(f"{chunk.where(np.flatnonzero(infinite)[0])}: column {name!r} "
                                    "has an infinite value; use a finite value or leave it "
                                    "missing")


# -- files ----------------------------------------------------------------------------------


class FileSource(Source):
    """Training data in Parquet or CSV files, read as a stream.

    Example::

      source = FileSource("data/part-*.parquet", target="price", weight="w")
      CalibratedLatticeEnsembleRegressor(monotonicity={"size": "increasing"}).fit(source)

    Every file must have the target, the weight and the feature columns of
    the first file (other columns are ignored); numeric columns must hold
    numbers in every file.

    Args:
      files: a glob pattern, a file, a directory (its ``.parquet`` and
        ``.csv`` files) or a list of these; files are read in sorted order.
      target: the target column.
      weight: the sample-weight column, or None.
      features: the feature columns (default: every column of the first
        file but the target and weight).
      format: ``"parquet"``, ``"csv"`` or None (by each file's extension).
      **options: ``read_rows``, ``shuffle_rows``, ``max_categories`` and
        ``encoding``, see :class:`Source`.
    """

    def __init__(self, files, target, weight=None, *, features=None, format=None, **options):
        super().__init__(**options)
        if format not in (None, "parquet", "csv"):
            raise ValueError(f"format must be 'parquet', 'csv' or None, got {format!r}")
        if not isinstance(target, str):
            raise ValueError(f"target must name a column, got {target!r}")
        self.files = files
        self.target = target
        self.weight = weight
        self.features = None if features is None else [str(f) for f in features]
        self.format = format
        self.paths = None

    def describe(self):
        return dict(super().describe(), kind="files", target=self.target, weight=self.weight,
                    features=self.feature_names(),
                    files=[[path, os.path.getsize(path)] for path in self.paths])

    def _schema(self, path):
        pa = _pyarrow()
        try:
            if file_format(path, self.format) == "parquet":
                return pa.parquet.read_schema(path)
            with pa.csv.open_csv(path, read_options=pa.csv.ReadOptions(
                    block_size=CSV_BLOCK_BYTES)) as reader:
                return reader.schema
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"{path}: not a readable {file_format(path, self.format)} file "
                            f"({error})") from None

    def _bind(self, num_workers):
        self.paths = expand_files(self.files)
        reference = self.paths[0]
        schema = self._schema(reference)
        names = list(schema.names)
        for role, column in (("target", self.target), ("weight", self.weight)):
            if column is not None and column not in names:
                raise DataError(f"{reference}: the {role} column {column!r} is not in the file "
                                f"(columns: {names})")
        features = self.features
        if features is None:
            features = [name for name in names if name not in (self.target, self.weight)]
        unknown = [name for name in features if name not in names]
        if unknown:
            raise DataError(f"{reference}: no column(s) {unknown} (columns: {names})")
        if not features:
            raise ValueError(f"{reference}: no feature columns besides the target")
        self.kinds = {}
        for name in features:
            kind = _arrow_kind(schema.field(name).type)
            if kind is None:
                raise DataError(f"{reference}: column {name!r} has type {schema.field(name).type}, "
                                "neither numbers nor text")
            self.kinds[name] = kind
        target_type = schema.field(self.target).type
        if not self.classification and _arrow_kind(target_type) != NUMERIC:
            raise DataError(f"{reference}: the target {self.target!r} holds {target_type}, not "
                            "numbers; a regressor needs numeric targets")
        self._target_type = target_type
        self._pieces = []
        for path in self.paths:
            self._pieces.extend(self._file_pieces(path, len(self._pieces)))

    def _needed(self):
        return self.feature_names() + [self.target] + ([self.weight] if self.weight else [])

    def _file_pieces(self, path, index):
        if file_format(path, self.format) != "parquet":
            return [Piece(index, path)]
        pa = _pyarrow()
        try:
            metadata = pa.parquet.ParquetFile(path).metadata
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"{path}: not a readable Parquet file ({error})") from None
        schema = metadata.schema.to_arrow_schema()
        self._check_schema(path, schema)
        pieces, first = [], 0
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            if rows:
                pieces.append(Piece(index + len(pieces), path, group, first, rows))
            first += rows
        return pieces

    def _check_schema(self, path, schema):
        for name in self._needed():
            if name not in schema.names:
                raise DataError(f"{path}: no column {name!r} (the first file, {self.paths[0]}, "
                                f"has it; columns here: {list(schema.names)})")

    def _chunks(self, piece, skip):
        if file_format(piece.path, self.format) == "parquet":
            yield from self._parquet_chunks(piece, skip)
        else:
            yield from self._csv_chunks(piece, skip)

    def _parquet_chunks(self, piece, skip):
        pa = _pyarrow()
        try:
            # One decoded row group (a streaming batch reader holds several times that).
            table = pa.parquet.ParquetFile(piece.path).read_row_group(
                piece.part, columns=self._needed())
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"{piece.path}: not a readable Parquet file ({error})") from None
        yield from self._from_batches(table.to_batches(), piece, skip)

    def _csv_types(self):
        pa = _pyarrow()
        types = {name: pa.float64() if kind == NUMERIC or name in self.numeric_categories
                 else pa.string() for name, kind in self.kinds.items()}
        if self.classification:
            target = self._target_type
            types[self.target] = (pa.string() if _arrow_kind(target) != NUMERIC else
                                  target if not pa.types.is_null(target) else pa.float64())
        else:
            types[self.target] = pa.float64()
        if self.weight:
            types[self.weight] = pa.float64()
        return types

    def _csv_chunks(self, piece, skip):
        pa = _pyarrow()
        types = self._csv_types()
        try:
            reader = pa.csv.open_csv(
                piece.path, read_options=pa.csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                convert_options=pa.csv.ConvertOptions(
                    column_types=types, include_columns=self._needed(), strings_can_be_null=True))
        except (pa.ArrowException, OSError) as error:
            raise self._csv_error(piece, 0, error) from None
        rows = 0

        def batches():
            nonlocal rows
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowException, OSError) as error:
                    raise self._csv_error(piece, rows, error) from None
                rows += batch.num_rows
                yield batch

        with reader:
            yield from self._from_batches(batches(), piece, skip)

    def _csv_error(self, piece, rows_read, error):
        """A DataError naming the first bad row at or after ``rows_read``."""
        message = str(error)
        if "include_columns" in message and "does not exist" in message:
            return DataError(f"{piece.path}: {message.split(':', 1)[-1].strip()} (the first file, "
                             f"{self.paths[0]}, has every column)")
        opener = gzip.open if piece.path.lower().endswith(".gz") else open
        numeric = [name for name, kind in self.kinds.items() if kind == NUMERIC]
        numeric += [self.target] if not self.classification else []
        numeric += [self.weight] if self.weight else []
        try:
            with opener(piece.path, "rt", newline="") as handle:
                rows = csv.reader(handle)
                header = next(rows)
                positions = {name: header.index(name) for name in numeric if name in header}
                for row_number, row in enumerate(rows):
                    if row_number < rows_read:
                        continue
                    if len(row) != len(header):
                        return DataError(f"{piece.path}, row {row_number}: {len(row)} fields where "
                                         f"the header has {len(header)}")
                    for name, position in positions.items():
                        if not _parses_as_number(row[position]):
                            return DataError(f"{piece.path}, row {row_number}: column {name!r} has "
                                             f"the non-number {row[position]!r}")
        except (OSError, UnicodeDecodeError, csv.Error, StopIteration):
            pass
        return DataError(f"{piece.path}, after row {rows_read}: malformed CSV ({message})")

    def _from_batches(self, batches, piece, skip):
        start = 0
        for batch in batches:
            rows = batch.num_rows
            if start + rows <= skip:
                start += rows
                continue
            if skip > start:
                batch = batch.slice(skip - start)
                start = skip
            for offset in range(0, batch.num_rows, self.read_rows):
                part = batch.slice(offset, self.read_rows)
                yield self._chunk(part, piece, start)
                start += part.num_rows

    def _chunk(self, batch, piece, start):
        def where(row):
            return f"{piece.path}, row {piece.first_row + start + int(row)}"

        features = {name: (_numeric(batch.column(name), name, where) if kind == NUMERIC
                           else _categories(batch.column(name)))
                    for name, kind in self.kinds.items()}
        frame = pd.DataFrame(features, copy=False)
        y = _target(batch.column(self.target), self.classification, where)
        weight = None
        if self.weight:
            weight = _numeric(batch.column(self.weight), self.weight, where)
            if np.isnan(weight).any():
                raise DataError(f"{where(np.flatnonzero(np.isnan(weight))[0])}: the weight is "
                                "missing")
        return Chunk(frame, y, weight, piece, start)


_NULL_TEXT = {"", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>", "-1.#ind", "1.#ind",
              "1.#qnan", "-1.#qnan", "#n/a n/a"}


def _parses_as_number(text):
    if text.strip().lower() in _NULL_TEXT:
        return True
    try:
        float(text)
        return True
    except ValueError:
        return False


def _numeric(array, name, where):
    """A numeric Arrow column as float64 with NaN where missing."""
    pa = _pyarrow()
    if _arrow_kind(array.type) == NUMERIC:
        return pa.compute.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    text = pd.Series(array.to_pandas(), dtype=object)
    text = text.where(~text.astype(str).str.strip().str.lower().isin(_NULL_TEXT) | text.isna())
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & text.notna().to_numpy()
    if bad.any():
        row = np.flatnonzero(bad)[0]
        raise DataError(f"{where(row)}: column {name!r} has the non-number {text.iloc[row]!r}")
    return values


def _categories(array):
    """A text Arrow column as an object array of str (NaN where missing)."""
    pa = _pyarrow()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    values = array.to_numpy(zero_copy_only=False)
    if values.dtype.kind != "O":
        values = values.astype(object)
    if array.null_count:
        values = np.where(pd.isna(values), np.nan, values)
    if len(values) and isinstance(values[0], bytes):
        values = np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                           for v in values], dtype=object)
    return values


def _target(array, classification, where):
    pa = _pyarrow()
    if array.null_count:
        row = np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0]
        raise DataError(f"{where(row)}: the target is missing; every row needs a target")
    if not classification:
        return _numeric(array, "target", where)
    if _arrow_kind(array.type) == CATEGORICAL:
        return _categories(array)
    return array.to_numpy(zero_copy_only=False) if not pa.types.is_decimal(array.type) else \
        pa.compute.cast(array, pa.float64()).to_numpy(zero_copy_only=False)


# -- tf.data datasets ----------------------------------------------------------------------


class DatasetSource(Source):
    """A ``tf.data.Dataset`` of ``(features, y)`` or ``(features, y, weight)``.

    ``features`` is a dict of column name -> tensor (numbers or strings);
    elements may be single rows or batches (a batch when ``y`` has a
    dimension). Under several workers each reads every ``num_workers``-th
    element (``Dataset.shard``), so a dataset that reads files should list
    them itself; a :class:`FileSource` reads only each worker's files.

    Args:
      dataset: the ``tf.data.Dataset``.
      **options: see :class:`Source`.
    """

    def __init__(self, dataset, **options):
        super().__init__(**options)
        self.dataset = dataset

    def describe(self):
        return dict(super().describe(), kind="dataset", spec=repr(self.dataset.element_spec))

    def _bind(self, num_workers):
        import tensorflow as tf

        spec = self.dataset.element_spec
        if not (isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[0], dict)):
            raise ValueError("a dataset for fit must yield (features, y) or (features, y, "
                             f"weight) with features a dict of columns, got elements {spec}")
        self.batched = spec[1].shape.rank is not None and spec[1].shape.rank >= 1
        self.has_weight = len(spec) == 3
        self.kinds = {}
        for name, column in spec[0].items():
            if column.dtype == tf.string:
                self.kinds[str(name)] = CATEGORICAL
            elif column.dtype.is_bool or column.dtype.is_integer or column.dtype.is_floating:
                self.kinds[str(name)] = NUMERIC
            else:
                raise ValueError(f"dataset feature {name!r} has dtype {column.dtype.name}, "
                                 "neither numbers nor strings")
        if not self.classification and spec[1].dtype == tf.string:
            raise ValueError("the dataset's targets are strings; a regressor needs numbers")
        self._names = {str(name): name for name in spec[0]}
        self._pieces = [Piece(k, "<dataset>", k) for k in range(num_workers)]

    def _chunks(self, piece, skip):
        dataset = self.dataset
        if len(self._pieces) > 1:
            dataset = dataset.shard(len(self._pieces), piece.part)
        if not self.batched:
            dataset = dataset.batch(self.read_rows)
        start = 0
        for element in dataset.as_numpy_iterator():
            columns, y = element[0], np.asarray(element[1]).reshape(-1)
            rows = len(y)
            if start + rows <= skip:
                start += rows
                continue
            cut = max(0, skip - start)
            frame = pd.DataFrame({
                name: (np.asarray(columns[key], np.float64).reshape(-1)[cut:] if
                       self.kinds[name] == NUMERIC else
                       _decoded(np.asarray(columns[key]).reshape(-1)[cut:]))
                for name, key in self._names.items()})
            if y.dtype.kind in "SO":
                y = _decoded(y)
            if y.dtype.kind in "iub" and not self.classification:
                y = y.astype(np.float64)
            weight = (np.asarray(element[2], np.float64).reshape(-1)[cut:]
                      if self.has_weight else None)
            yield Chunk(frame, y[cut:], weight, piece, start + cut)
            start += rows


def _decoded(values):
    return np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values],
                    dtype=object)


# -- frames ----------------------------------------------------------------------------------


class FrameSource(Source):
    """An in-memory DataFrame (or array) read in slices of ``read_rows`` rows:
    how a multi-worker or checkpointed fit reads ``fit(X, y)``; every worker
    holds the frame and trains on its share of the slices."""

    def __init__(self, X, y, sample_weight=None, **options):
        super().__init__(**options)
        self.X, self.y, self.sample_weight = X, y, sample_weight

    def describe(self):
        frame = self.frame
        digest = pd.util.hash_pandas_object(frame.head(1000), index=False).sum()
        return dict(super().describe(), kind="frame", shape=list(frame.shape),
                    columns=list(frame.columns), head_hash=int(digest) % (1 << 62))

    def _bind(self, num_workers):
        from sklearn.utils.validation import column_or_1d

        if self.y is None:
            raise ValueError("fit needs y: the targets of X's rows")
        self.frame = to_frame(self.X)
        if len(self.frame) == 0:
            raise ValueError("X has no rows")
        self.targets = column_or_1d(np.asarray(self.y), warn=True)
        if len(self.targets) != len(self.frame):
            raise ValueError(f"y has {len(self.targets)} entries but X has {len(self.frame)} rows")
        if not self.classification:
            try:
                self.targets = self.targets.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError("y must hold numbers for a regressor") from None
        self.weights = None
        if self.sample_weight is not None:
            self.weights = np.asarray(self.sample_weight, np.float64).reshape(-1)
            if len(self.weights) != len(self.frame):
                raise ValueError(f"sample_weight has {len(self.weights)} entries but X has "
                                 f"{len(self.frame)} rows")
        self.kinds = {name: column_kind(self.frame[name]) for name in self.frame.columns}
        rows = len(self.frame)
        self._pieces = [Piece(k, "<frame>", k, start, min(self.read_rows, rows - start))
                        for k, start in enumerate(range(0, rows, self.read_rows))]

    def _chunks(self, piece, skip):
        from tf_lattice.estimators._columns import numeric_values

        begin, end = piece.first_row + skip, piece.first_row + piece.rows
        if begin >= end:
            return
        part = self.frame.iloc[begin:end]
        features = {}
        for name, kind in self.kinds.items():
            series = part[name]
            features[name] = numeric_values(series) if kind == NUMERIC else series.to_numpy()
        weight = None if self.weights is None else self.weights[begin:end]
        yield Chunk(pd.DataFrame(features), self.targets[begin:end], weight, piece, skip)


# -- choosing the source ---------------------------------------------------------------------


def _is_paths(X):
    if isinstance(X, (str, os.PathLike)):
        return True
    return (isinstance(X, (list, tuple)) and len(X) > 0 and
            all(isinstance(item, (str, os.PathLike)) for item in X))


def _is_dataset(X):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, tf.data.Dataset)


def is_source(X):
    """Whether ``X`` is a source, files or a dataset rather than in-memory data."""
    return isinstance(X, Source) or _is_paths(X) or _is_dataset(X)


def as_source(X, y=None, sample_weight=None):
    """The :class:`Source` reading ``X``.

    Args:
      X: a Source; files (a glob pattern, path or list of them, with ``y``
        the target column and ``sample_weight`` the weight column); a
        ``tf.data.Dataset``; or a DataFrame/array with ``y`` and
        ``sample_weight`` as in ``fit``.
    """
    if isinstance(X, Source) or _is_dataset(X):
        if y is not None or sample_weight is not None:
            raise ValueError("a source or dataset carries its own targets and weights; call "
                             "fit(source) without y and sample_weight")
        return X if isinstance(X, Source) else DatasetSource(X)
    if _is_paths(X):
        if not isinstance(y, str):
            raise ValueError("fit(files, y) needs y to name the target column, got "
                             f"{type(y).__name__}")
        if sample_weight is not None and not isinstance(sample_weight, str):
            raise ValueError("with files, sample_weight names the weight column, got "
                             f"{type(sample_weight).__name__}")
        return FileSource(X, y, sample_weight)
    return FrameSource(X, y, sample_weight)
