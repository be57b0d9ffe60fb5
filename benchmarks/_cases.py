"""Benchmark cases shared by every side: definitions, inputs, timing, op counts.

This module imports only NumPy, so that both the tf_lattice benchmark and the
TensorFlow Lattice runner (which lives in its own virtual environment) build
bit-identical inputs from the same seed and time the same way.

A case is a plain dict (JSON-serialisable):

* lattice: ``{"op": "lattice", "name", "batch", "units", "lattice_sizes",
  "interpolation"}``; inputs ``x [batch, d]`` uniform on ``[0, m_k - 1]``,
  params ``[units, prod(m)]`` uniform on ``[-1, 1]``.
* calibration: ``{"op": "calibration", "name", "batch", "units",
  "num_keypoints"}``; keypoints ``[K]`` (shared, unevenly spaced: sorted
  cumulative sums of random gaps on ``[0, 1]``), outputs ``[units, K]``,
  inputs ``[batch, units]`` uniform on ``[-0.05, 1.05]`` (a few points fall
  outside the keypoint range, where the function is flat).

Every case also draws an upstream gradient ``[batch, units]`` so that the
backward pass is a vector-Jacobian product of a realistic, non-constant
cotangent.
"""

import math
import statistics
import time

import numpy as np

DEFAULT_SEED = 20240730

LATTICE_SIZES = ((2, 4), (2, 8), (2, 12), (3, 4), (3, 8))
INTERPOLATIONS = ("hypercube", "simplex")
CALIBRATION_UNITS = (1, 16)
CALIBRATION_KEYPOINTS = (10, 100, 1000)

# Smoke-run subset (--quick): one small and one large case of each kind.
QUICK_CASE_NAMES = (
    "lattice/hypercube/2^4", "lattice/hypercube/3^8", "lattice/simplex/3^8",
    "calibration/units=16/K=100",
)


def lattice_case(size, dims, interpolation, batch=4096, units=1):
    """Returns the case dict of a lattice with ``dims`` dimensions of ``size``."""
    return {
        "op": "lattice",
        "name": f"lattice/{interpolation}/{size}^{dims}",
        "batch": batch,
        "units": units,
        "lattice_sizes": [size] * dims,
        "interpolation": interpolation,
    }


def calibration_case(units, num_keypoints, batch=4096):
    """Returns the case dict of a ``units``-wide calibrator with K keypoints."""
    return {
        "op": "calibration",
        "name": f"calibration/units={units}/K={num_keypoints}",
        "batch": batch,
        "units": units,
        "num_keypoints": num_keypoints,
    }


def all_cases(batch=4096):
    """Returns every benchmark case, lattices first."""
    cases = [lattice_case(size, dims, interpolation, batch)
             for interpolation in INTERPOLATIONS for size, dims in LATTICE_SIZES]
    cases += [calibration_case(units, k, batch)
              for units in CALIBRATION_UNITS for k in CALIBRATION_KEYPOINTS]
    return cases


def select_cases(quick, batch=4096):
    """Returns the full case list, or the ``QUICK_CASE_NAMES`` subset."""
    cases = all_cases(batch)
    if quick:
        cases = [case for case in cases if case["name"] in QUICK_CASE_NAMES]
    return cases


def make_inputs(case, seed=DEFAULT_SEED, dtype=np.float32):
    """Draws the case's arrays from ``seed``; identical on every side.

    Returns:
      For lattices ``{"inputs" [batch, d], "params" [units, V], "upstream"
      [batch, units]}``; for calibration ``{"inputs" [batch, units],
      "keypoints" [K], "outputs" [units, K], "upstream" [batch, units]}``.
    """
    rng = np.random.default_rng(seed)
    batch, units = case["batch"], case["units"]
    if case["op"] == "lattice":
        sizes = np.asarray(case["lattice_sizes"], np.float64)
        vertices = int(np.prod(case["lattice_sizes"]))
        arrays = {
            "inputs": rng.uniform(0.0, 1.0, (batch, len(sizes))) * (sizes - 1.0),
            "params": rng.uniform(-1.0, 1.0, (units, vertices)),
        }
    elif case["op"] == "calibration":
        k = case["num_keypoints"]
        gaps = rng.uniform(0.5, 1.5, k - 1)
        keypoints = np.concatenate([[0.0], np.cumsum(gaps)])
        keypoints /= keypoints[-1]
        arrays = {
            "inputs": rng.uniform(-0.05, 1.05, (batch, units)),
            "keypoints": keypoints,
            "outputs": np.cumsum(rng.uniform(-0.5, 1.0, (units, k)), axis=1),
        }
    else:
        raise ValueError(f"case op must be 'lattice' or 'calibration', got {case['op']!r}")
    arrays["upstream"] = rng.uniform(0.5, 1.5, (batch, units))
    return {name: value.astype(dtype) for name, value in arrays.items()}


# ----------------------------------------------------------------------------
# Operation counts (floating-point operations per example, all units).
#
# One add, subtract, multiply, divide or compare counts as one operation;
# index arithmetic, loads and stores are not counted. The counts describe the
# algorithm of DESIGN.md, not any one implementation:
#
# Hypercube, d dimensions (per unit):
#   forward   d (1 - r_k) + (2^(d+1) - 4) corner weights by the product tree
#             (level k doubles 2^(k-1) partial products with two multiplies;
#             level 1 needs none) + 2 * 2^d multiply-adds of corner values
#   backward  recompute the forward weights (d + 2^(d+1) - 4)
#             + 2 * 2^d   params gradient: g * w_e, accumulated
#             + 2 * d * 2^d   input gradient: each corner adds theta * dw/dr_k
#               to each of the d partial derivatives (multiply-add)
#             + d   multiply by the upstream gradient
# Simplex, d dimensions (per unit):
#   forward   d * ceil(log2 d) compares to sort r + (d + 1) weights (one
#             subtraction each) + 2 * (d + 1) multiply-adds
#   backward  the forward sort and weights again + 2 * (d + 1) params
#             gradient multiply-adds + 2 * d input gradient (one difference of
#             neighbouring vertex values times the upstream gradient)
# Calibration, K keypoints (per unit):
#   forward   ceil(log2 K) compares (binary search) + 2 subtractions and a
#             division for the fraction + 3 for o_lo + (o_hi - o_lo) * f
#   backward  the search and fraction again (ceil(log2 K) + 3)
#             + 3 input gradient ((o_hi - o_lo) / (k_hi - k_lo) * g)
#             + 5 outputs gradient (g * (1 - f) and g * f, accumulated)
# ----------------------------------------------------------------------------


def operation_counts(case):
    """Returns ``{"forward", "backward", "total"}`` operations per example."""
    units = case["units"]
    if case["op"] == "lattice":
        d = len(case["lattice_sizes"])
        if case["interpolation"] == "hypercube":
            weights = d + 2 ** (d + 1) - 4
            forward = weights + 2 * 2 ** d
            backward = weights + 2 * 2 ** d + 2 * d * 2 ** d + d
        else:
            sort = d * math.ceil(math.log2(d)) if d > 1 else 0
            forward = sort + (d + 1) + 2 * (d + 1)
            backward = sort + (d + 1) + 2 * (d + 1) + 2 * d
    else:
        search = math.ceil(math.log2(case["num_keypoints"]))
        forward = search + 3 + 3
        backward = search + 3 + 3 + 5
    return {"forward": forward * units, "backward": backward * units,
            "total": (forward + backward) * units}


def time_callable(fn, warmup=2, repeats=10, min_repeats=3, budget_seconds=None):
    """Times ``fn()`` after ``warmup`` untimed calls.

    Args:
      fn: a callable that runs one step to completion.
      warmup: untimed calls first (tracing, XLA compilation, caches).
      repeats: timed calls at most.
      min_repeats: timed calls at least, whatever the budget.
      budget_seconds: stop timing once this much timed wall time is spent
        (after ``min_repeats``); None for no budget.

    Returns:
      ``{"first_call_seconds", "median_seconds", "seconds": [...]}``: the
      first warm-up call's wall time (includes tracing/compilation) and every
      timed call's wall time.
    """
    first = None
    for i in range(max(warmup, 1)):
        start = time.perf_counter()
        fn()
        if i == 0:
            first = time.perf_counter() - start
    seconds = []
    spent = 0.0
    while len(seconds) < repeats:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        seconds.append(elapsed)
        spent += elapsed
        if budget_seconds is not None and len(seconds) >= min_repeats and spent > budget_seconds:
            break
    return {"first_call_seconds": first, "median_seconds": statistics.median(seconds),
            "seconds": seconds}


def timing_settings(quick):
    """The timing settings used by every side for a run."""
    if quick:
        return {"warmup": 1, "repeats": 3, "min_repeats": 2, "budget_seconds": 1.0}
    return {"warmup": 2, "repeats": 15, "min_repeats": 5, "budget_seconds": 3.0}


def epoch_throughput(train_begin, epoch_ends, examples_per_epoch):
    """Training speed from clock readings taken during one fit.

    Every side reads ``time.perf_counter()`` once when its epochs are about
    to start (after the model is built and the data placed) and once after
    each epoch has finished. The first epoch holds the one-time tracing of the
    training step, so the steady speed counts the later epochs only.

    Args:
      train_begin: the reading before the first epoch.
      epoch_ends: the readings after each epoch, in order.
      examples_per_epoch: examples one epoch trains on.

    Returns:
      ``{"epochs", "examples_per_epoch", "first_epoch_seconds",
      "later_epochs_seconds", "examples_per_second",
      "examples_per_second_all_epochs"}``; ``examples_per_second`` (epochs 2
      to the last) is None when there was one epoch.
    """
    ends = [float(t) for t in epoch_ends]
    if not ends:
        raise ValueError("epoch_ends is empty: no epoch finished")
    first = ends[0] - float(train_begin)
    later = ends[-1] - ends[0] if len(ends) > 1 else None
    return {
        "epochs": len(ends),
        "examples_per_epoch": int(examples_per_epoch),
        "first_epoch_seconds": first,
        "later_epochs_seconds": later,
        "examples_per_second": (examples_per_epoch * (len(ends) - 1) / later
                                if later else None),
        "examples_per_second_all_epochs": examples_per_epoch * len(ends) / (ends[-1] - train_begin),
    }
