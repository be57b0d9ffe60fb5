"""Tabular input: column kinds, vocabularies, keypoints and numeric encoding.

The estimators feed their Keras model one float32 matrix of shape
`(batch_size, n_features)`: numeric and boolean columns as their values (NaN
where missing), categorical columns as the index of their category in the
training vocabulary, with one extra *default bucket* (index
``len(vocabulary)``) for missing values and for categories never seen in
training.
"""

import dataclasses

import numpy as np
import pandas as pd

from tf_lattice.estimators._keypoints import quantile_keypoints

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
    """

    name: str
    kind: str
    keypoints: tuple = ()
    vocabulary: tuple = ()
    has_missing: bool = False

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
            "has_missing": bool(self.has_missing),
        }

    @classmethod
    def from_json(cls, data):
        return cls(data["name"], data["kind"], tuple(data["keypoints"]),
                   tuple(data["vocabulary"]), bool(data["has_missing"]))


def _json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


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
        frame = X.copy()
        frame.columns = [str(c) for c in frame.columns]
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


def column_kind(series):
    """``"numeric"`` for number and boolean columns, else ``"categorical"``."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        if pd.api.types.is_complex_dtype(dtype):
            raise ValueError(f"Complex data not supported: column {series.name!r} has dtype {dtype}")
        return NUMERIC
    values = series.dropna()
    if len(values) and all(isinstance(v, (bool, np.bool_, int, float, np.number)) and
                           not isinstance(v, complex) for v in values):
        return NUMERIC
    return CATEGORICAL


def numeric_values(series):
    """Float64 values of a numeric column with NaN where missing.

    Raises:
      ValueError: on infinite values or values that are not numbers.
    """
    try:
        if pd.api.types.is_numeric_dtype(series.dtype):
            # Numbers, booleans and nullable dtypes convert without a Python loop.
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


def _vocabulary(series):
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return tuple(c for c in series.cat.categories if c in present)
    values = series.dropna().unique().tolist()
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(sorted(values, key=lambda v: (type(v).__name__, str(v))))


def fit_feature_specs(frame, num_keypoints):
    """Learns one :class:`FeatureSpec` per column of ``frame``.

    Args:
      frame: the training DataFrame.
      num_keypoints: int, None, or dict column -> int: the keypoints of
        numeric calibrators (placed at quantiles of the column); None, and
        columns a dict omits, get ``default_num_keypoints`` of the column's
        number of non-missing values.

    Returns:
      list of FeatureSpec in column order.
    """
    specs = []
    for name in frame.columns:
        series = frame[name]
        has_missing = bool(series.isna().any())
        if column_kind(series) == NUMERIC:
            count = num_keypoints.get(name) if isinstance(num_keypoints, dict) else num_keypoints
            keypoints = quantile_keypoints(numeric_values(series), count)
            specs.append(FeatureSpec(name, NUMERIC, tuple(float(k) for k in keypoints),
                                     has_missing=has_missing))
        else:
            specs.append(FeatureSpec(name, CATEGORICAL, vocabulary=_vocabulary(series),
                                     has_missing=has_missing))
    return specs


def check_columns(frame, specs):
    """Checks a predict-time frame has the training columns.

    Raises:
      ValueError: naming the missing and the unexpected columns.
    """
    expected = [spec.name for spec in specs]
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        unexpected = [name for name in frame.columns if name not in expected]
        raise ValueError(f"X is missing the columns {missing} seen in fit"
                         + (f" (and has unexpected columns {unexpected})" if unexpected else ""))


def encode(frame, specs):
    """Encodes ``frame`` into the float32 matrix the Keras model reads.

    Args:
      frame: DataFrame holding at least the columns of ``specs``.
      specs: list of FeatureSpec.

    Returns:
      float32 array of shape `(n_samples, len(specs))`.

    Raises:
      ValueError: on a missing column, infinite or non-numeric values.
    """
    check_columns(frame, specs)
    encoded = np.empty((len(frame), len(specs)), dtype=np.float32)
    for j, spec in enumerate(specs):
        series = frame[spec.name]
        if spec.kind == NUMERIC:
            encoded[:, j] = numeric_values(series)
        else:
            encoded[:, j] = _bucket_indices(series, spec)
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
