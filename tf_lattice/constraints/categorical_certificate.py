"""Exact certificate of a categorical calibrator's partial order and bounds."""

import numpy as np

from tf_lattice.constraints import _exact
from tf_lattice.constraints.certificate import Certificate, ConstraintCheck
from tf_lattice.ops._pairwise import check_pairs
from tf_lattice.specs import CategoricalSpec


def certify_categorical(outputs, *, pairs=(), output_min=None, output_max=None,
                        tolerance=0.0, subject="categorical calibrator", spec=None):
    """Checks a categorical calibrator's partial order and bounds exactly.

    Args:
      outputs: ``[units, C]`` outputs, one per category.
      pairs: ``(a, b)`` category index pairs, each meaning
        ``outputs[:, a] <= outputs[:, b]``; the violation ``o_a - o_b`` is
        located at ``(unit, (a, b))``.
      output_min: lower bound or None (located at ``(unit, category)``).
      output_max: upper bound or None.
      tolerance: violations up to this size count as holding.
      subject: the name reported in the certificate.
      spec: a :class:`tf_lattice.specs.CategoricalSpec` in place of
        ``pairs`` and the bounds (its ``category_order`` and bounds).

    Returns:
      A :class:`Certificate` with a "partial_order" check (when pairs are
      given) and one check per bound.

    Raises:
      TypeError: both ``spec`` and pairs or bounds.
      ValueError: bad shapes or pair indices.
    """
    outputs = np.asarray(outputs, np.float64)
    if outputs.ndim != 2:
        raise ValueError(f"outputs must have shape [units, C], got shape {outputs.shape}")
    if spec is None:
        pairs = check_pairs(pairs, outputs.shape[1])
    else:
        if not isinstance(spec, CategoricalSpec):
            raise TypeError(
                f"certify_categorical spec must be a CategoricalSpec, got {type(spec).__name__}")
        if len(pairs) or output_min is not None or output_max is not None:
            raise TypeError("certify_categorical takes either spec or pairs and bounds")
        if outputs.shape[1] < spec.num_buckets:
            raise ValueError(f"certify_categorical: the spec declares {spec.num_buckets} "
                             f"categories, the outputs have {outputs.shape[1]}")
        pairs, output_min, output_max = spec.category_order, spec.output_min, spec.output_max
    checks = []
    if pairs:
        lower = outputs[:, [a for a, _ in pairs]]
        upper = outputs[:, [b for _, b in pairs]]
        checks.append(_check("partial_order", lower - upper, tolerance,
                             lambda index: (index[0], pairs[index[1]])))
    at = lambda index: index  # noqa: E731
    if output_min is not None:
        checks.append(_check(f"output_min={output_min}", float(output_min) - outputs,
                             tolerance, at))
    if output_max is not None:
        checks.append(_check(f"output_max={output_max}", outputs - float(output_max),
                             tolerance, at))
    return Certificate(subject, tuple(checks))


def _check(name, violation, tolerance, locate):
    violation = np.where(np.isnan(violation), np.inf, violation)
    value, location = _exact.worst(violation, locate)
    return ConstraintCheck(name, value, location, tolerance)
