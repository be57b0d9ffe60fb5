"""Small synthetic frames shared by the estimator tests."""

import numpy as np
import pandas as pd

# Portable ops: these tests exercise the estimators; the kernels have their own
# tests under tests/ops (and agree with the portable twins there).
IMPLEMENTATION = "kernel"
FAST = dict(epochs=8, batch_size=64, learning_rate=0.05, random_state=0, verbose=0,
            implementation=IMPLEMENTATION)


def mixed_frame(n=160, seed=0):
    """Numeric, boolean, category, object and string columns with missing values
    and a constant column; the target rises with ``x`` and depends on ``color``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    flag = rng.random(n) < 0.5
    color = rng.choice(["red", "green", "blue"], n)
    frame = pd.DataFrame({
        "x": x,
        "flag": flag,
        "color": pd.Categorical(color),
        "shape": rng.choice(["round", "square"], n).astype(object),
        "label": pd.array(rng.choice(["a", "b"], n), dtype="string"),
        "constant": np.full(n, 3.0),
    })
    frame.loc[::7, "x"] = np.nan
    frame.loc[::11, "shape"] = None
    frame.loc[::13, "label"] = pd.NA
    frame.loc[::5, "color"] = np.nan
    y = 0.5 * np.nan_to_num(frame["x"].to_numpy(), nan=5.0) + (color == "red") + 0.3 * flag
    return frame, y + rng.normal(0, 0.2, n)
