"""Loader for the UCI Auto MPG data."""

import pandas as pd

from tf_lattice.datasets._files import data_path

TARGET = "Miles_per_Gallon"
ORIGINS = ("USA", "Europe", "Japan")


def load_auto_mpg():
    """Loads the Auto MPG data: fuel consumption of 398 cars from 1970-1982.

    Source: UCI Machine Learning Repository, Auto MPG data set (Quinlan,
    1993), as shipped in vega_datasets 0.9.0. License: CC BY 4.0. See
    ``data/ATTRIBUTION.md``.

    The source has 406 cars; the 8 without a ``Miles_per_Gallon`` label are
    dropped (398 remain, index reset). The car name is an identifier, not a
    feature, and is left out.

    Columns of ``X``:
      Cylinders (int64), Displacement (float64, cubic inches), Horsepower
      (float64; NaN for the 6 cars where it is missing), Weight_in_lbs
      (int64), Acceleration (float64, seconds 0-60 mph), Year (int64 model
      year, 1970-1982; the source lists the 1981 cars under 1982, so 1981
      never appears), Origin (category: "USA", "Europe", "Japan").

    Natural monotone relationships with miles per gallon: ``Weight_in_lbs``,
    ``Horsepower`` and ``Displacement`` decreasing (clean); ``Year``
    increasing.

    Returns:
      ``(X, y)``: DataFrame ``[398, 7]`` and float64 Series ``Miles_per_Gallon``.
    """
    with data_path("auto_mpg.csv").open("rb") as handle:
        frame = pd.read_csv(handle)
    frame = frame.dropna(subset=[TARGET]).reset_index(drop=True)
    frame = frame.drop(columns=["Name"])
    frame["Year"] = pd.to_datetime(frame["Year"]).dt.year.astype("int64")
    frame["Origin"] = pd.Categorical(frame["Origin"], categories=list(ORIGINS))
    frame["Horsepower"] = frame["Horsepower"].astype("float64")
    y = frame.pop(TARGET).astype("float64")
    return frame, y
