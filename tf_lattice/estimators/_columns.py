"""Tabular input: column kinds, vocabularies, keypoints and numeric encoding.

The estimators feed their Keras model one float32 matrix of shape
`(batch_size, n_features)`: numeric and boolean columns as their values (NaN
where missing), categorical columns as the index of their category in the
training vocabulary, with one extra *default bucket* (index
``len(vocabulary)``) for missing values and for categories never seen in
training.

Column kinds (`column_kind`):

- numbers and booleans (any numeric or boolean dtype, or an object column
  holding only numbers) are numeric;
- pandas ``category`` columns, and object or string columns of text, are
  categorical; a column of text that all parses as numbers (``"02139"``)
  stays categorical, its strings being the categories;
- an object or string column whose non-missing values are mostly numbers
  (at least ``NUMERIC_LOOKING_FRACTION`` of them parse as numbers) but not
  all is refused: a few stray strings (``"n/a"``, ``"?"``) would otherwise
  turn a numeric column into hundreds of categories;
- date, time and timedelta columns are refused: convert them to numbers.

Numeric values must lie within the float32 range of the model.
"""

import dataclasses
import datetime
import os
import sys
import warnings

import numpy as np
import pandas as pd

from tf_lattice.estimators._training import aligned_empty
from tf_lattice.models.keypoints import MODEL_DTYPE, keypoints_from_quantiles

#: An object or string column is refused as "numeric with stray strings" when
#: at least this share of its non-missing values parse as numbers, but not all.
NUMERIC_LOOKING_FRACTION = 0.9

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """How one input column is encoded and calibrated.

    Attributes:
      name: the column name.
      kind: ``"numeric"`` (numbers and booleans) or ``"categorical"``.
      keypoints: numeric only: strictly increasing calibration keypoints.
      vocabulary: categorical only: the categories seen in training, in order.
      has_missing: whether training data had missing values in the column.
      has_other: categorical only: whether training rows had categories
        outside the vocabulary (a vocabulary capped at the most frequent
        categories), so that the default bucket learned from them too.
    """

    name: str
    kind: str
    keypoints: tuple = ()
    vocabulary: tuple = ()
    has_missing: bool = False
    has_other: bool = False

    @property
    def num_buckets(self):
        """Categorical only: the vocabulary plus the default bucket."""
        return len(self.vocabulary) + 1

    @property
    def default_bucket(self):
        """Categorical only: the bucket of missing and unseen categories."""
        return len(self.vocabulary)

    def to_json(self):
        return {
            "name": self.name, "kind": self.kind,
            "keypoints": [float(k) for k in self.keypoints],
            "vocabulary": [_json_scalar(v) for v in self.vocabulary],
            "has_missing": bool(self.has_missing), "has_other": bool(self.has_other),
        }

    @classmethod
    def from_json(cls, data):
        # Files written before ``has_other`` existed had no capped vocabularies in memory
        # fits; False is their value there (streamed fits then drew <other> as untrained).
        return cls(data["name"], data["kind"], tuple(data["keypoints"]),
                   tuple(data["vocabulary"]), bool(data["has_missing"]),
                   bool(data.get("has_other", False)))


def _json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def as_dataframe(X):
    """A pandas DataFrame for any data frame that can give one, else ``X``.

    pandas frames are returned as they are; other data frames (polars,
    pyarrow tables, ...) are converted with their ``to_pandas`` method, the
    dataframe interchange protocol (``__dataframe__``) or, failing those,
    column by column (``X.columns`` and ``X[name].to_numpy()``), keeping
    their column names. Arrays and lists are returned unchanged.
    """
    if isinstance(X, pd.DataFrame) or isinstance(X, (np.ndarray, list, tuple)):
        return X
    if hasattr(X, "to_pandas"):
        try:
            frame = X.to_pandas()
        except ImportError:  # e.g. polars without pyarrow
            frame = None
        if isinstance(frame, pd.DataFrame):
            return frame
    if hasattr(X, "__dataframe__"):
        try:
            return pd.api.interchange.from_dataframe(X)
        except (ImportError, ValueError, TypeError, NotImplementedError):
            pass
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(columns, str):
        return X
    try:
        names = list(columns)
    except TypeError:
        return X
    if not names or not all(isinstance(name, str) for name in names):
        return X
    try:
        data = {name: np.asarray(X[name].to_numpy()) for name in names}
    except (AttributeError, KeyError, TypeError, IndexError):
        return X
    return pd.DataFrame(data, columns=names)


def duplicate_columns(frame):
    """The column names (as strings) that occur more than once in ``frame``."""
    names = [str(c) for c in frame.columns]
    return sorted({name for name in names if names.count(name) > 1})


def to_frame(X, feature_names=None):
    """Returns ``X`` as a DataFrame with string column names.

    Args:
      X: a pandas DataFrame, or anything `numpy.asarray` turns into a 2-D
        array (its columns are then named ``x0, x1, ...``).
      feature_names: names to give array columns (defaults to ``x0..``).

    Raises:
      ValueError: if an array input is not 2-D or has no columns.
    """
    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)  # the values are only read: no copy of the data
        names = frame.columns.tolist()
        if not all(isinstance(name, str) for name in names):
            frame.columns = [str(name) for name in names]
        return frame
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {array.shape}; "
                         "reshape a single feature with X.reshape(-1, 1)")
    if array.dtype.kind in "cV" or (array.dtype.kind == "O" and _has_complex(array)):
        raise ValueError(f"X has unsupported dtype {array.dtype} (complex data)")
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(array.shape[1])]
    if len(names) != array.shape[1]:
        raise ValueError(f"X has {array.shape[1]} features, but the estimator was fitted "
                         f"with {len(names)} features")
    return pd.DataFrame(array, columns=names)


def _has_complex(array):
    return any(isinstance(v, complex) for v in array.ravel()[:100])


_TEMPORAL_TYPES = (datetime.date, datetime.time, datetime.timedelta, pd.Period, np.datetime64,
                   np.timedelta64)


def _is_temporal_dtype(dtype):
    return (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype))


def _refuse_temporal(series):
    raise ValueError(
        f"column {series.name!r} holds dates or times (dtype {series.dtype}); calibrators need "
        f"numbers: convert it first, e.g. to days since a reference date with "
        f"(X[{series.name!r}] - X[{series.name!r}].min()).dt.days, or to its year or month")


def column_kind(series):
    """``"numeric"`` for number and boolean columns, else ``"categorical"``.

    Raises:
      ValueError: naming the column, for complex numbers, dates and times,
        and text columns that are numbers but for a few values (see the
        module docstring).
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if _is_temporal_dtype(dtype.categories.dtype):
            _refuse_temporal(series)
        return CATEGORICAL
    if _is_temporal_dtype(dtype):
        _refuse_temporal(series)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        if pd.api.types.is_complex_dtype(dtype):
            raise ValueError(f"Complex data not supported: column {series.name!r} has dtype {dtype}")
        return NUMERIC
    values = series.dropna()
    if not len(values):
        return CATEGORICAL
    objects = values.astype("object").to_numpy()
    if any(isinstance(v, _TEMPORAL_TYPES) for v in objects):
        _refuse_temporal(series)
    if all(isinstance(v, (bool, np.bool_, int, float, np.number)) and not isinstance(v, complex)
           for v in objects):
        return NUMERIC
    _refuse_numbers_with_stray_text(series, objects)
    return CATEGORICAL


def _refuse_numbers_with_stray_text(series, objects):
    """Raises when most values are numbers but some are not (``"n/a"`` in a price column)."""
    parsed = pd.to_numeric(pd.Series(objects, dtype=object), errors="coerce").to_numpy(np.float64)
    numeric = ~np.isnan(parsed)
    share = float(numeric.mean())
    if NUMERIC_LOOKING_FRACTION <= share < 1.0:
        stray = objects[~numeric]
        examples = list(dict.fromkeys(str(v) for v in stray))[:3]
        raise ValueError(
            f"column {series.name!r} looks numeric ({share:.0%} of its values are numbers) but "
            f"holds {len(stray)} value(s) that are not, e.g. {examples[0]!r}"
            + (f" (others: {examples[1:]})" if len(examples) > 1 else "")
            + "; replace them with NaN (missing), e.g. with pd.to_numeric(X[col], "
            "errors='coerce'), or make the column categorical with .astype('category')")


def numeric_values(series):
    """Float64 values of a numeric column with NaN where missing.

    Raises:
      ValueError: on infinite values or values that are not numbers.
    """
    try:
        if isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiub":
            # NumPy numbers and booleans: NaN is their only missing value.
            values = series.to_numpy(dtype=np.float64)
        elif pd.api.types.is_numeric_dtype(series.dtype):
            # Nullable dtypes (pd.NA) convert without a Python loop too.
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = pd.to_numeric(series.astype("object").where(series.notna(), np.nan),
                                   errors="raise").astype(np.float64).to_numpy()
    except (TypeError, ValueError) as error:
        raise ValueError(f"column {series.name!r} must hold numbers: {error}") from None
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values))[0])
        raise ValueError(f"column {series.name!r} has an infinite value at row {row}; "
                         "replace it with a finite value or NaN (missing)")
    return values


def numeric_block(frame, names):
    """Float64 values `(n_rows, len(names))` of numeric columns, NaN where missing.

    Column by column through `numeric_values`, whose errors name the column,
    into one array; no sub-frame is built (for the few rows of a prediction
    its construction costs more than the values).

    Raises:
      ValueError: on infinite values or values that are not numbers.
    """
    values = np.empty((len(names), len(frame)), np.float64)  # row k: column names[k]
    for k, name in enumerate(names):
        values[k] = numeric_values(frame[name])
    return values.T


def _vocabulary(series):
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return tuple(c for c in series.cat.categories if c in present)
    values = series.dropna().unique().tolist()
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(sorted(values, key=lambda v: (type(v).__name__, str(v))))


def fit_feature_specs(frame, num_keypoints, categorical=()):
    """Learns one :class:`FeatureSpec` per column of ``frame``.

    Args:
      frame: the training DataFrame.
      num_keypoints: int, None, or dict column -> int: the keypoints of
        numeric calibrators (placed at quantiles of the column); None, and
        columns a dict omits, get ``default_num_keypoints`` of the column's
        number of non-missing values.
      categorical: names of columns to make categorical whatever their
        dtype (their distinct values are the categories).

    Returns:
      list of FeatureSpec in column order.
    """
    specs = []
    for name in frame.columns:
        series = frame[name]
        has_missing = bool(series.isna().any())
        if name in categorical:
            if _is_temporal_dtype(series.dtype):
                _refuse_temporal(series)
            specs.append(FeatureSpec(name, CATEGORICAL, vocabulary=_vocabulary(series),
                                     has_missing=has_missing))
        elif column_kind(series) == NUMERIC:
            count = num_keypoints.get(name) if isinstance(num_keypoints, dict) else num_keypoints
            values = numeric_values(series)
            check_model_range([series.name], values[:, np.newaxis])
            keypoints = keypoints_from_quantiles(values, count)
            specs.append(FeatureSpec(name, NUMERIC, tuple(float(k) for k in keypoints),
                                     has_missing=has_missing))
        else:
            specs.append(FeatureSpec(name, CATEGORICAL, vocabulary=_vocabulary(series),
                                     has_missing=has_missing))
    return specs


def check_model_range(names, values):
    """Raises ValueError when a value overflows float32, naming its column.

    The model reads float32: a larger value would become infinite.

    Args:
      names: the names of the ``k`` columns.
      values: float64 `(n, k)` values of those columns (NaN where missing).
    """
    limit = float(np.finfo(MODEL_DTYPE).max)
    with np.errstate(invalid="ignore"):
        beyond = np.abs(values) > limit
    if beyond.any():
        column = int(np.flatnonzero(beyond.any(axis=0))[0])
        row = int(np.flatnonzero(beyond[:, column])[0])
        raise ValueError(f"column {names[column]!r} has the value {float(values[row, column]):g} "
                         f"at row {row}, beyond the float32 range of the model (+-{limit:.4g}); "
                         "rescale the column (e.g. divide it by a power of ten or take its "
                         "logarithm)")


def check_exact_in_model_dtype(series):
    """Raises when distinct integers of ``series`` are equal in float32.

    Integers beyond 2**24 are not all representable in float32: 16777216 and
    16777217 become one value, and a monotone calibrator cannot tell them
    apart. Columns of non-integer floats are not checked (values closer than
    float32 resolution are one value to the model).

    Raises:
      ValueError: naming the column and two of the values.
    """
    values = series.dropna()
    if pd.api.types.is_bool_dtype(values.dtype) or not len(values):
        return
    if pd.api.types.is_integer_dtype(values.dtype):
        distinct = np.unique(values.to_numpy())
    else:
        try:
            floats = np.asarray(values.to_numpy(), dtype=np.float64)
        except (TypeError, ValueError):
            return
        floats = floats[np.isfinite(floats)]
        if not floats.size or np.any(floats != np.round(floats)):
            return
        distinct = np.unique(floats)
    rounded = distinct.astype(MODEL_DTYPE)
    same = np.flatnonzero(rounded[1:] == rounded[:-1])
    if same.size:
        low, high = (int(v) for v in distinct[same[0]:same[0] + 2])
        raise ValueError(
            f"column {series.name!r} has distinct integers that the model's float32 input cannot "
            f"tell apart, e.g. {low} and {high} (float32 holds integers exactly only up to "
            "2**24 = 16,777,216), so its shape constraint could not order them; subtract an "
            "offset or rescale the column")


#: `encode` converts numeric columns in groups of at most this many float64 bytes.
ENCODE_CHUNK_BYTES = 16 * 2**20

_PACKAGE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_stacklevel():
    """The ``warnings.warn`` stacklevel, seen from the caller, of the first
    frame outside tf_lattice: a warning points at the user's own call."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRECTORY):
        frame, level = frame.f_back, level + 1
    return level


def check_columns(frame, specs):
    """Checks a predict-time frame has the training columns.

    Raises:
      ValueError: naming the missing and the unexpected columns.
    """
    expected = [spec.name for spec in specs]
    given = frame.columns.tolist()
    present = set(given)
    missing = [name for name in expected if name not in present]
    if missing:
        unexpected = [name for name in given if name not in expected]
        raise ValueError(f"X is missing the columns {missing} seen in fit"
                         + (f" (and has unexpected columns {unexpected})" if unexpected else ""))


def encode(frame, specs):
    """Encodes ``frame`` into the float32 matrix the Keras model reads.

    One pass over the columns: each is checked and converted once. Numeric
    columns become their float64 values (NaN where missing) rounded to
    float32; categorical columns their bucket index (see `_bucket_indices`).
    A column with missing values that had none in training gets a
    ``UserWarning``: its output for missing values was never trained.

    Args:
      frame: DataFrame holding at least the columns of ``specs``.
      specs: list of FeatureSpec.

    Returns:
      float32 array of shape `(n_samples, len(specs))`.

    Raises:
      ValueError: naming the column, on a missing column, a date or time
        column, values that are not numbers, infinite, or beyond float32.
    """
    check_columns(frame, specs)
    dtypes = dict(zip(frame.columns.tolist(), frame.dtypes.tolist()))
    for spec in specs:
        if _is_temporal_dtype(dtypes[spec.name]):
            _refuse_temporal(frame[spec.name])
    # Aligned for TensorFlow, so that training reads this array without a copy.
    encoded = aligned_empty((len(frame), len(specs)), np.float32)
    missing = {}
    numeric = [j for j, spec in enumerate(specs) if spec.kind == NUMERIC]
    width = max(1, ENCODE_CHUNK_BYTES // (8 * max(1, len(frame))))
    for start in range(0, len(numeric), width):
        # A few columns at a time: the float64 values of one group exist at
        # once, never a float64 copy of the whole frame.
        group = numeric[start:start + width]
        names = [specs[j].name for j in group]
        values = numeric_block(frame, names)
        check_model_range(names, values)
        encoded[:, group] = values
        missing.update(zip(names, np.isnan(values).any(axis=0)))
    for j, spec in enumerate(specs):
        if spec.kind != NUMERIC:
            series = frame[spec.name]
            encoded[:, j] = _bucket_indices(series, spec)
            missing[spec.name] = not spec.has_missing and bool(series.isna().any())
    newly_missing = [spec.name for spec in specs if missing[spec.name] and not spec.has_missing]
    if newly_missing:
        warnings.warn(
            f"X has missing values in columns {newly_missing}, which had none in training; their "
            "output for missing values was never trained (numeric: the calibrator's initial "
            "missing output; categorical: the default bucket of unseen categories)",
            UserWarning, stacklevel=_user_stacklevel())
    return encoded


def _bucket_indices(series, spec):
    """Each row's bucket: its category's index in the vocabulary, else the
    default bucket (missing values and unseen categories).

    Rows are matched through the column's distinct values (``pd.factorize``),
    so only those pass through Python.
    """
    keyed = {_lookup_key(value): i for i, value in enumerate(spec.vocabulary)}
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    buckets = np.array([keyed.get(_lookup_key(value), spec.default_bucket)
                        for value in np.asarray(distinct, dtype=object)] + [spec.default_bucket],
                       dtype=np.float32)
    return buckets[codes]  # code -1 (missing) reads the appended default bucket


def _lookup_key(value):
    """Equal keys for a category and its JSON round trip (numpy scalars, ints)."""
    value = _json_scalar(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
