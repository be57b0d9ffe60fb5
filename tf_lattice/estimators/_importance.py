r"""``feature_importances_``: how much the prediction moves with each column.

The importance of column ``j`` is the mean absolute change of the model's
scores when the column is set to a reference value, over a sample of the
training rows ``x_1..x_m``, normalized to sum 1 over the columns:

.. math::

   a_j = \frac{1}{m} \sum_i \sum_u |s_u(x_i) - s_u(x_i \text{ with } x_{ij} = r_j)|,
   \qquad \mathrm{importance}_j = a_j / \sum_k a_k

where ``s`` are the model's raw scores (the standardized prediction of a
regressor, the log-odds of a binary classifier, the ``k`` class scores of a
multiclass one, summed over ``u``) and the reference ``r_j`` is the
column's median (numeric columns; missing values when it had no other) or
its most frequent bucket (categorical columns: a category, or the default
bucket of missing values). A column the model ignores has importance 0; a
model whose scores move with no column has all importances 0.

``fit`` keeps at most ``SAMPLE_ROWS`` training rows drawn with the fit's
seed (a streamed fit the uniform row sample of its statistics) and the
references (`importance_inputs`); the importances are computed from them on
the first read of ``feature_importances_`` (`feature_importances`: ``d + 1``
predictions of the sample, in one call), so a fit does not pay for them.
"""

import numpy as np

from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.estimators._training import predict_scores

#: Training rows the importances average over.
SAMPLE_ROWS = 1000


def reference_values(encoded, specs):
    """Per column of the encoded `(n, d)` matrix: its median (numeric; NaN
    when all missing) or its most frequent bucket id (categorical)."""
    references = np.empty(len(specs), np.float32)
    for j, spec in enumerate(specs):
        column = encoded[:, j]
        if spec.kind == NUMERIC:
            present = column[~np.isnan(column)]
            references[j] = np.median(present) if present.size else np.nan
        else:
            buckets, counts = np.unique(column, return_counts=True)
            references[j] = buckets[np.argmax(counts)]
    return references


def importance_inputs(encoded, specs, seed):
    """What the importances need from the training rows: ``(sample, references)``.

    Args:
      encoded: float32 `(n, d)` encoded training rows.
      specs: the FeatureSpec of every column.
      seed: seeds the choice of the sample rows.

    Returns:
      ``sample``: float32 `(min(n, SAMPLE_ROWS), d)` rows; ``references``:
      float32 `(d,)` (see `reference_values`, over all ``n`` rows).
    """
    encoded = np.asarray(encoded, np.float32)
    if len(encoded) > SAMPLE_ROWS:
        rows = np.random.default_rng(seed).choice(len(encoded), SAMPLE_ROWS, replace=False)
        sample = encoded[np.sort(rows)]
    else:
        sample = encoded.copy()
    return sample, reference_values(encoded, specs)


def feature_importances(model, sample, references):
    """The normalized importances `(d,)` (see the module docstring).

    Args:
      model: the fitted Keras model.
      sample: float32 `(m, d)` rows (see `importance_inputs`).
      references: float32 `(d,)` reference value of each column.
    """
    m, d = sample.shape
    # Block 0 holds the sample as it is, block j + 1 the sample with column j
    # at its reference: one prediction of `(d + 1) m` rows.
    stacked = np.tile(sample, (d + 1, 1))
    for j in range(d):
        stacked[(j + 1) * m:(j + 2) * m, j] = references[j]
    scores = predict_scores(model, stacked).reshape(d + 1, m, -1)
    changes = np.abs(scores[1:] - scores[0]).sum(axis=2).mean(axis=1)
    total = changes.sum()
    return changes / total if total > 0 else np.zeros_like(changes)
