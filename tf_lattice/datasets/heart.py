"""Loader for the UCI Heart Disease (Cleveland) data."""

import pandas as pd

from tf_lattice.datasets._files import data_path

TARGET = "target"


def load_heart():
    """Loads the Cleveland heart disease data: 303 patients, 13 features.

    Source: UCI Machine Learning Repository, Heart Disease data set (Janosi,
    Steinbrunn, Pfisterer and Detrano, 1989), Cleveland subset, as shipped in
    scikit-lego 0.9.10. License: CC BY 4.0. See ``data/ATTRIBUTION.md``.

    Columns of ``X`` (all int64 except ``oldpeak`` float64 and ``thal``):
      age: years. sex: 1 male, 0 female. cp: chest pain type (1-4).
      trestbps: resting blood pressure (mm Hg). chol: serum cholesterol
      (mg/dl). fbs: fasting blood sugar > 120 mg/dl (1/0). restecg: resting
      ECG result (0-2). thalach: maximum heart rate achieved. exang: exercise
      induced angina (1/0). oldpeak: ST depression induced by exercise.
      slope: slope of the peak exercise ST segment (1-3). ca: number of major
      vessels colored by fluoroscopy (0-3). thal: pandas category with values
      "normal", "fixed", "reversible" and two stray values "1" and "2" (one
      row each) kept as they are in the source.

    Natural monotone relationships with the risk of heart disease (seen in
    binned target means): ``ca`` increasing (clean); ``thalach`` decreasing;
    ``oldpeak`` and ``age`` increasing (mostly); ``trestbps`` and ``chol``
    increasing by domain knowledge.

    Returns:
      ``(X, y)``: DataFrame ``[303, 13]`` and int64 Series ``target``
      (1 = heart disease, 0 = none).
    """
    with data_path("heart.csv").open("rb") as handle:
        frame = pd.read_csv(handle)
    frame["thal"] = frame["thal"].astype("category")
    y = frame.pop(TARGET).astype("int64")
    return frame, y
