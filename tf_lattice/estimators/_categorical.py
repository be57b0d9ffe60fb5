"""``categorical_features``: which columns get categorical calibrators.

By default a column's kind follows its dtype (see
:func:`tf_lattice.estimators._columns.column_kind`): numbers are numeric,
text and pandas categories categorical. ``categorical_features`` makes
columns of integer codes (``cp = 0, 1, 2, 3`` in the Heart data) categorical
too, as scikit-learn's ``HistGradientBoosting*`` does. It takes:

- None or ``"from_dtype"``: kinds from dtypes only;
- a list of column names or int positions (see
  :func:`tf_lattice.estimators._constraints.column_name`);
- a boolean mask with one entry per column.

A listed column's distinct values (numbers, booleans or text) become its
categories; missing values go to the default bucket.
"""

import numpy as np

from tf_lattice.estimators._constraints import column_name

ARGUMENT = "categorical_features"


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def categorical_columns(categorical_features, columns):
    """The set of column names ``categorical_features`` lists.

    Args:
      categorical_features: see the module docstring.
      columns: the training column names, in order.

    Raises:
      ValueError: naming the argument: an unknown column or position, a
        mask of the wrong length, or a value of another type.
    """
    value = categorical_features
    if value is None or (isinstance(value, str) and value == "from_dtype"):
        return set()
    if isinstance(value, str) or not hasattr(value, "__iter__") or isinstance(value, dict):
        raise ValueError(f"{ARGUMENT} must be None, 'from_dtype', a list of column names or "
                         f"positions, or a boolean mask with one entry per column, got {value!r}")
    entries = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) \
        else list(value)
    if entries and all(_is_bool(entry) for entry in entries):
        if len(entries) != len(columns):
            raise ValueError(f"{ARGUMENT} as a boolean mask must have one entry per column of X "
                             f"({len(columns)}: {list(columns)}), got {len(entries)}")
        return {name for name, flag in zip(columns, entries) if flag}
    if any(_is_bool(entry) for entry in entries):
        raise ValueError(f"{ARGUMENT} mixes booleans with column names or positions: {entries!r}")
    return {column_name(ARGUMENT, entry, columns) for entry in entries}
