"""Runs fuzz cases of the public ops in a process that may crash (see test_fuzz.py).

Reads one JSON case per line on stdin and answers each with one line
``FUZZ-RESULT {...}`` on stdout: ``{"status": "ok"}``, ``{"status": "error",
"type": ..., "message": ...}`` for an exception, or ``{"status": "silent_nan"}``
when an op returned NaN although every float input was finite. A case that
kills the process or never answers is what the parent reports as a crash or a
hang. Arrays are built here from their specs (shape, dtype, fill, specials),
so huge shapes cost nothing to send.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_lattice import ops  # noqa: E402
from tf_lattice import _native  # noqa: E402

SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "max": None, "-max": None}


def make_array(spec, rng):
    """Builds the array that ``spec`` describes.

    spec: dict with ``shape``, ``dtype``, ``fill`` ("normal", "uniform",
    "increasing", "positive", "zeros"), ``scale`` and ``specials`` (list of
    ``[flat_index, name]``; the index is taken modulo the size).
    """
    shape = tuple(spec["shape"])
    dtype = np.dtype(spec["dtype"])
    size = int(np.prod(shape, dtype=object))
    scale = spec.get("scale", 1.0)
    fill = spec.get("fill", "normal")
    if fill == "zeros" or size == 0:
        return np.zeros(shape, dtype)
    if fill == "uniform":
        low, high = spec.get("range", (0.0, 1.0))
        values = rng.uniform(low, high, size=size)
    elif fill == "increasing":
        rows = size // shape[-1] if shape else 1
        steps = rng.uniform(0.1, 2.0, size=(rows, shape[-1] if shape else 1))
        values = np.cumsum(steps, axis=-1).reshape(-1) * scale - scale
    elif fill == "positive":
        values = rng.uniform(0.1, 3.0, size=size) * scale
    else:
        values = rng.normal(size=size) * scale
    values = values.astype(dtype) if dtype.kind == "f" else np.round(values).astype(dtype)
    for index, name in spec.get("specials", []):
        if dtype.kind != "f":
            continue
        special = {"max": np.finfo(dtype).max, "-max": -np.finfo(dtype).max}.get(name)
        values[index % size] = SPECIALS[name] if special is None else special
    return values.reshape(shape)


def _finite(arrays):
    return all(np.all(np.isfinite(a)) for a in arrays
               if isinstance(a, np.ndarray) and a.dtype.kind == "f")


def run(case):
    """Runs one case; returns (output arrays, float input arrays)."""
    rng = np.random.default_rng(case["seed"])
    arrays = {name: make_array(spec, rng) for name, spec in case.get("arrays", {}).items()}
    kwargs = dict(case.get("kwargs", {}))
    op = case["op"]
    if op == "lattice_interpolation":
        out = ops.lattice_interpolation(arrays["inputs"], arrays["params"], **kwargs)
    elif op == "pwl_calibration":
        out = ops.pwl_calibration(arrays["inputs"], arrays["keypoints"], arrays["outputs"],
                                  **kwargs)
    elif op == "isotonic_projection":
        out = ops.isotonic_projection(arrays["values"], arrays.get("weights"), **kwargs)
    elif op == "lattice_projection":
        out = ops.lattice_projection(arrays["params"], **kwargs)
    elif op == "calibrator_projection":
        out = ops.calibrator_projection(arrays["outputs"], arrays["keypoints"], **kwargs)
    elif op == "partial_order_projection":
        out = ops.partial_order_projection(arrays["values"], **kwargs)
    elif op == "linear_projection":
        out = ops.linear_projection(arrays["weights"], **kwargs)
    elif op == "raw_lattice_interpolation":
        out = _native.load_ops().tf_lattice_lattice_interpolation(
            inputs=arrays["inputs"], params=arrays["params"], **kwargs)
    elif op == "harness_abort":  # the harness's own test: a crash
        os.abort()
    elif op == "harness_sleep":  # ... a hang
        time.sleep(case["seconds"])
        out = np.zeros(1)
    elif op == "harness_nan":  # ... and NaN from finite inputs
        out = np.array([np.nan]) + arrays["x"].sum()
    elif op == "raw_isotonic_projection":
        out = _native.load_ops().tf_lattice_isotonic_projection(
            values=arrays["values"], weights=arrays["weights"],
            increasing=np.array(kwargs["increasing"], bool),
            lower=arrays["lower"], upper=arrays["upper"])
    else:
        raise KeyError(op)
    return np.asarray(out), list(arrays.values())


def answer(case):
    try:
        out, inputs = run(case)
    except Exception as error:  # noqa: BLE001 - every exception is reported
        return {"status": "error", "type": type(error).__name__, "message": str(error)[:500]}
    if out.dtype.kind == "f" and np.any(np.isnan(out)) and _finite(inputs):
        return {"status": "silent_nan"}
    return {"status": "ok"}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        result = answer(json.loads(line))
        sys.stdout.write("FUZZ-RESULT " + json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
