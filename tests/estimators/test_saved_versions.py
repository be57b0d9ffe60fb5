"""Models saved by earlier versions keep loading, predicting and certifying.

``data/ensemble_saved_by_0_1.*`` is a calibrated lattice ensemble saved by
tf_lattice 0.1.0 (one calibrator layer per column), the rows it was fitted
on and its predicted probabilities on them.
"""

import os

import numpy as np
import pandas as pd

from tf_lattice.estimators import CalibratedLatticeEnsembleClassifier

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_an_ensemble_saved_by_0_1_loads_predicts_and_certifies():
    model = CalibratedLatticeEnsembleClassifier.load(
        os.path.join(DATA, "ensemble_saved_by_0_1.keras"))
    frame = pd.read_csv(os.path.join(DATA, "ensemble_saved_by_0_1.csv"))
    expected = np.loadtxt(os.path.join(DATA, "ensemble_saved_by_0_1.proba.txt"))
    np.testing.assert_allclose(model.predict_proba(frame), expected, rtol=1e-5, atol=1e-6)
    certificate = model.certify()
    assert certificate.holds, str(certificate)
    names = " ".join(check.name for check in certificate.checks)
    assert "calibrator 'a'" in names and "declared monotonicity['a']=increasing" in names
    curves = {curve["name"]: curve for curve in model.calibrator_curves()}
    assert np.all(np.diff(curves["a"]["outputs"]) >= 0)
    assert curves["kind"]["categories"] == ["x", "y", "z", "<other>"]
