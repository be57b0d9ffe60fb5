"""The settings an estimator chooses from the data when the user leaves them open.

Every automatic choice is made by one pure function, `resolve_defaults`, from
the number of training rows ``n``, the number of columns ``d``, the task and
the model kind. A parameter the user set is never changed. The fitted
estimator reports the result as ``resolved_params_`` (a dict of parameter
values): passing that dict back to the estimator's constructor fits the same
model.

The rules (``n`` rows of ``d`` columns):

- ``num_keypoints`` (None): ``clip(1 + floor(n / (10 d)), 2, rice(n))``
  (`automatic_num_keypoints`, `ROWS_PER_PARAMETER` = 10) for every model
  kind; a dict keeps its counts and gives the omitted columns the automatic
  count. ``rice(n) = clip(round(2 n^(1/3)), 10, 40)`` is the Rice rule for
  the number of histogram bins of ``n`` values (see
  `tf_lattice.models.keypoints.default_num_keypoints`): more data supports a finer
  calibrator, up to 40 keypoints, where UCI Adult stops improving. The row
  budget: a calibrator of ``K`` keypoints has ``K - 1`` free slopes, and the
  rule of ten rows per parameter (the "one in ten" rule of regression
  modelling) caps the model's ``d (K - 1)`` calibrator slopes at ``n / 10``,
  so with many columns on few rows the calibrators become affine (2
  keypoints) and the model spends its rows on what follows them: the linear
  weights, or the lattices' interactions. Measured on 5x2-fold
  cross-validation (training folds of ``n`` rows), Rice rule to row budget:
  calibrated linear models on breast cancer (n = 284, d = 30: 13 keypoints to
  2) 0.9917 to 0.9951 AUC, logistic regression 0.9954; Heart (151, 13: 11 to
  2) 0.9099 to 0.9152 AUC; Auto MPG (199, 7: 12 to 3) 2.929 to 2.960 RMSE and
  diabetes (221, 10: 12 to 3) 54.73 to 54.96 RMSE, both within one standard
  error (0.037 and 0.66); make_monotone_regression (1,500, 8: 23 to 19)
  0.5159 to 0.5158 RMSE; Adult (2,500, 14: 27 to 18; 2x2 folds) 0.9099 AUC
  both. The default ensemble: breast cancer 0.9927 to 0.9949 AUC (paired
  difference to logistic regression -0.0027 +- 0.0008 to -0.0006 +- 0.0004),
  Heart 0.9061 to 0.9099, diabetes 55.55 to 55.21 RMSE, Auto MPG 2.876 to
  2.927 RMSE (SE 0.03); the calibrated lattice: Heart 0.852 to 0.856, Auto
  MPG 3.050 to 2.972, diabetes 58.40 to 58.06. Full data sets (UCI Adult,
  32,561 rows) keep the Rice rule's 40.
- ``lattice_rank`` (None; ensembles and deep lattice networks):
  ``min(3, d)``.
- ``num_lattices`` (None): ``max(4, ceil(k d / rank))`` lattices, so that each
  column appears in about ``k`` of them, ``k = 3`` below `LARGE_ROWS` rows
  and ``6`` from there on: on small data more lattices add fit time and
  variance but no accuracy (Heart: 0.907 AUC with 13 lattices, 0.902 with
  26; Auto MPG: 2.84 RMSE with 7, 2.86 with 14).
- Deep lattice networks: ``num_layers`` (None) `DLN_LAYERS` = 1 block;
  ``monotone_dims`` (None) ``min(d, 6)`` and ``free_dims`` (None)
  ``min(d, 4)`` embedding outputs (a part with no columns to read is left out
  when the network is built); ``lattice_rank`` (None) ``min(3, width)`` and
  ``num_lattices`` (None) the rule above over the ``width = monotone_dims +
  free_dims`` embedding outputs instead of the columns. Measured on Heart (5
  stratified 70/30 splits, test AUC): 0.8958 with these defaults (10
  lattices), 0.8876 with 8 + 8 outputs (16 lattices), 0.8941 with 6 + 4 and
  8 lattices, 0.8901 with 4 + 4 and 0.8678 with two blocks of 4 + 4 (the
  two-ensemble network of earlier versions: 0.8662); on Adult 0.9210 (was
  0.9207).
- Calibrator smoothing: the keypoint count above (fewer keypoints on fewer
  rows: a coarser, smoother calibrator), ``calibration_hessian`` (None)
  `CALIBRATION_HESSIAN` = ``1e-4`` below `HESSIAN_MAX_ROWS` rows, else 0, and,
  for models with lattices on fewer than `SMOOTHING_MAX_ROWS` rows,
  ``calibration_wrinkle`` (None) ``SMOOTHING_ROWS / n`` (1 on 150 rows), else
  0; ``calibration_laplacian`` (None) 0. Both penalties measure slopes per
  unit of the keypoint range (keypoint ``j`` at ``j / (K - 1)``, see
  `tf_lattice.layers.pwl_calibration.calibrator_regularizer_builders`), so
  with keypoints at quantiles a calibrator is smoothed as a function of its
  column's quantile, and rescaling a column changes nothing. (Slopes in the
  column's own units made the default model depend on them: min-max scaling
  Adult's numeric columns took the default ensemble from 0.9206 to 0.9107
  AUC, standard scaling to 0.9164, and dividing the columns of
  ``make_monotone_regression`` by 1,000 took it from 0.509 to 0.964 RMSE.)
  The Hessian, measured on the quality benchmark's 5x2-fold
  cross-validation against no effective smoothing: on
  ``make_monotone_regression`` (1,500 training rows, 19 keypoints) it takes
  the calibrated linear model from 0.525 to 0.515 RMSE, the default ensemble
  from 0.527 to 0.518, the lattice from 0.602 to 0.579 and the deep lattice
  network from 0.543 to 0.532; on Adult (2,500 rows) the ensemble from
  0.9073 to 0.9079 AUC, the lattice from 0.8960 to 0.8996, the deep lattice
  network from 0.9057 to 0.9063 and the calibrated linear model from 0.9092
  to 0.9086; on diabetes (3 keypoints) it moves every model by less than
  one standard error.
  Against the penalty on slopes in the columns' units (which acted on
  columns of small units only), Adult's models gain 0.0006 to 0.0014 AUC,
  Auto MPG and ``make_monotone_regression`` stay within 0.02 and 0.0015
  RMSE, and on diabetes, whose columns are scaled to a range of about 0.2
  (so that penalty was 25 times stronger there), the deep lattice network
  goes from 55.80 to 56.91 RMSE and the ensemble from 55.36 to 55.64. It is
  off from `HESSIAN_MAX_ROWS` on, where it costs accuracy: on Adult the
  default ensemble loses 0.0013 AUC with it on 4,000 training rows (0.9102
  against 0.9115, seeds 0-2), 0.0026 on 8,000 and 0.0042 on the full split
  (0.9163 against 0.9206; an amount of 1e-6 still costs 0.0013). The
  wrinkle, measured on the default ensemble (2x2-fold cross-validation, with
  the penalty on slopes in the columns' units): it took Auto MPG from 2.95 to
  2.84 RMSE, Heart from 0.897 to 0.907 AUC and breast cancer from 0.989 to
  0.992 AUC, and cost diabetes 0.6 RMSE (54.4 to 55.0, within one standard
  error); it needs 4 keypoints, which the row budget above gives none of
  those data sets now. It is off on more rows: on 1,500 rows of
  ``make_monotone_regression`` (columns uniform on [0, 1], where both ways
  of measuring slopes agree) a wrinkle of 0.1 took the ensemble from 0.503
  to 0.65 RMSE and one of 0.002 to 0.567. Calibrated linear models get no
  wrinkle: their calibrators are unbounded (a linear weight sets their
  scale) and it cost them (Auto MPG 2.88 to 2.99 RMSE, Heart 0.900 to 0.893
  AUC).
- Lattice regularization, ``lattice_laplacian`` (None): 0 at every size,
  and ``lattice_torsion`` (None): for the calibrated lattice on fewer than
  `SMOOTHING_MAX_ROWS` rows ``TORSION_ROWS / n``, else 0 (ensembles and
  deep lattice networks: 0). One lattice over every column has far more
  vertices than small data can place (8,192 for Heart's 13 columns on 151
  rows); the torsion pulls the vertices no row reaches towards an additive
  function of the columns (a multilinear lattice of zero torsion has no
  interactions), so the interactions it keeps are the ones the rows
  support. Measured on the quality benchmark's 5x2-fold cross-validation,
  multilinear interpolation (the rule below), against none: Heart 0.8564 to
  0.8841 AUC (``0.3 / n``: 0.8820, ``1 / n``: 0.8728, ``3 / n``: 0.8610),
  diabetes 57.95 to 55.52 RMSE (``0.3 / n``: 55.55), Auto MPG 2.960 to
  2.973 (within its standard error of 0.033; ``0.3 / n``: 2.990). On more
  rows it costs: ``0.3 / n`` took the lattice on 2,500 rows of Adult from
  0.9006 to 0.8906 AUC, while on 1,500 rows of ``make_monotone_regression``
  it gained 0.5308 to 0.5236 RMSE. Ensembles lose by it: torsion ``150 /
  n`` took the default ensemble from 2.84 to 2.96 RMSE on Auto MPG (``15 /
  n``: 2.95) and from 0.907 to 0.904 AUC on Heart; laplacian ``150 / n`` to
  4.16 RMSE on Auto MPG. Lattices of rank 3 are already small; their
  interactions are what the ensemble adds over a calibrated linear model.
- ``interpolation`` ("auto"): multilinear (``"hypercube"``, every vertex of
  the cell) when the lattices have at most `HYPERCUBE_MAX_DIMS` dimensions
  or the rows times the vertices of a lattice are at most
  `HYPERCUBE_MAX_COST`, else ``"simplex"`` (``d + 1`` vertices per row):
  `automatic_interpolation`. A fit's interpolation work grows with the rows
  times the vertices, so the rule spends it where that product is small:
  on 2,500 rows of Adult (14 columns) the calibrated lattice took 11.2 s
  with multilinear interpolation against simplex's 0.80 s, for 0.9006
  against 0.8997 AUC. Where it applies it wins or ties: without torsion,
  simplex to multilinear took diabetes from 58.64 to 57.95 RMSE,
  ``make_monotone_regression`` (8 columns, 1,500 rows) from 0.5787 to
  0.5308, Heart from 0.8562 to 0.8564 AUC and Auto MPG from 2.963 to 2.960;
  with torsion ``0.3 / n``, Heart 0.8659 to 0.8820 AUC, diabetes 55.77 to
  55.55 and Auto MPG 2.944 to 2.990 (within one standard error).
- ``l2`` (None): ``L2_ROWS / n`` on linear weights and categorical
  calibrators, the amount that shrinks as the data grows (the penalty is
  added to the *mean* loss, so a fixed amount would count for more the fewer
  rows there are): on Heart 0.900 to 0.904 AUC for the calibrated linear
  model (``0.3 / n``: 0.895), Auto MPG 2.90 to 2.88 RMSE. A calibrated
  linear model whose numeric calibrators are all affine (2 keypoints) gets
  ``l2 = 0`` (categorical calibrators included): an affine calibrator
  ``a x + b`` has no curvature for the hessian to penalize, so nothing
  bounds its slope ``a``, and ``w a`` is the
  same model for any split of the product between the weight ``w`` and the
  slope; the penalty on ``w`` then shrinks no model, it only slows the
  weights. (With more keypoints the hessian on the calibrator and the l2 on
  its weight together penalize the curvature of ``w c``.) Measured with the
  2 keypoints above (5x2 folds): breast cancer 0.9938 AUC with ``1.5 / n``,
  0.9945 with ``0.5 / n``, 0.9951 with 0; Heart 0.9160, 0.9161, 0.9152
  (within noise, SE 0.0025).
- ``early_stopping`` ("auto"): on for the models in
  `EARLY_STOPPING_MODELS` (the calibrated lattice and the deep lattice
  network) when ``n >= EARLY_STOPPING_MIN_ROWS`` and the fit reads its rows
  in memory (streamed fits have no validation split).
  Below that the held-out share costs more than the stopping saves (a
  validation set of a few dozen rows picks its epoch by noise): turned on for
  2,500 training rows of Adult it cost the default ensemble 0.004-0.009 AUC,
  and on 1,500 rows of ``make_monotone_regression`` 0.01-0.025 RMSE. The
  threshold is scikit-learn HistGradientBoosting's (10,000 rows); above it,
  where a validation set of 1,000 rows or more is reliable, early stopping
  lets the schedule run twice as many steps without overfitting. On the full
  Adult split (32,561 rows), turning it off (600 steps on every row) moved
  the test AUC of the calibrated lattice by -0.0008 and of the deep lattice
  network by -0.0005 (seeds 0-2; both ran all 41 epochs, so the longer
  schedule is what they gain): they keep it. The calibrated linear model and
  the ensemble do not gain from the longer schedule, only pay for it, so
  they train without it. Seeds 0-4 on Adult, with against without: the
  default ensemble 0.92062 against 0.92060 mean test AUC, its lowest seed
  0.9198 against 0.9203, 26-41 epochs against 19 (each with a pass over the
  validation rows); the calibrated linear model 0.91971 against 0.91976,
  32-41 epochs against 19.
- ``epochs``, ``batch_size`` (None): the schedule of
  `_training.resolve_schedule` on the rows left for training (after the
  validation split when early stopping is on), with
  `EARLY_STOPPING_STEPS` optimizer steps instead of 600 when early stopping
  guards against overfitting. Classifiers cap the epochs at 60
  (`_training.MAX_AUTOMATIC_EPOCHS`), which stops data sets of fewer than
  about 8,000 rows short of 600 steps; regressors are not capped. The cap
  is a regularizer that only the log loss needs: on small data the log
  loss keeps falling as the scores grow (its minimum is at infinity when
  the classes separate), so more steps fit the training rows ever more
  sharply, while the squared loss has a finite minimum, which more steps
  only approach. Measured on 5x2-fold cross-validation, uncapped against
  capped: Heart (151 training rows, 120 epochs instead of 60) lost 0.005 to
  0.007 AUC on the calibrated linear model (0.915 to 0.908), the default
  ensemble and the deep lattice network (the calibrated lattice gained
  0.014, to 0.871); breast cancer and Adult 5k did not change beyond
  0.0015; Auto MPG (199 rows, 86 epochs) went from 2.927 to 2.907 RMSE with
  the default ensemble, 2.898 to 2.878 with the deep lattice network and
  2.971 to 2.947 with the calibrated lattice; on diabetes the deep lattice
  network went from 56.28 to 55.83, the calibrated lattice from 58.17 to
  58.78 and the others by less than 0.2 (standard errors 0.5 to 0.7);
  ``make_monotone_regression`` moved by less than 0.007.

Class balance: classifiers with a final linear layer (calibrated linear,
ensembles, deep lattice networks) start from the class prior (its bias is
the log-odds of the weighted class frequencies, see `_tasks.prior_scores`;
a single lattice keeps its layer's initial function, which scored better on
Heart's repeated splits) and
the validation split is stratified by class, so an imbalanced target neither
spends the first steps on the bias nor loses its rare class from the
validation rows. ``sample_weight`` reweights classes when the user wants it.
"""

import dataclasses
import math

import numpy as np

from tf_lattice.models.keypoints import default_num_keypoints
from tf_lattice.estimators._training import MAX_AUTOMATIC_EPOCHS, resolve_schedule

#: Model kinds: calibrated linear, one lattice, a lattice ensemble, a deep lattice network.
MODELS = ("linear", "lattice", "ensemble", "dln")
TASKS = ("classification", "regression")
#: The value of ``early_stopping`` that lets `resolve_defaults` decide.
AUTO = "auto"

#: The l2 amount is ``L2_ROWS / n``.
L2_ROWS = 1.5
#: The calibrated lattice's torsion amount is ``TORSION_ROWS / n`` below
#: ``SMOOTHING_MAX_ROWS`` rows.
TORSION_ROWS = 0.1
#: Automatic interpolation: multilinear up to this many lattice dimensions, or
#: while the rows times the vertices of a lattice are at most
#: `HYPERCUBE_MAX_COST`; simplex beyond.
HYPERCUBE_MAX_DIMS = 6
HYPERCUBE_MAX_COST = 1 << 22
#: Calibrator wrinkle of lattice models: ``SMOOTHING_ROWS / n`` below
#: ``SMOOTHING_MAX_ROWS`` rows, 0 from there on.
SMOOTHING_ROWS = 150.0
SMOOTHING_MAX_ROWS = 1000
#: From this many rows on, ensembles put each column in about 6 lattices (else 3).
LARGE_ROWS = 5000
#: Early stopping from this many rows on (with ``early_stopping="auto"``), for
#: these model kinds.
EARLY_STOPPING_MIN_ROWS = 10000
EARLY_STOPPING_MODELS = ("lattice", "dln")
#: Optimizer steps of the automatic schedule with and without early stopping.
DEFAULT_STEPS = 600
EARLY_STOPPING_STEPS = 1200
#: The rank of automatic ensembles (features per lattice).
DEFAULT_RANK = 3
#: Calibrated linear models keep at least this many rows per calibrator slope.
ROWS_PER_PARAMETER = 10
#: Deep lattice networks: blocks, and the most outputs of the monotone and
#: free parts of an embedding.
DLN_LAYERS = 1
DLN_MONOTONE_DIMS = 6
DLN_FREE_DIMS = 4
#: The automatic calibrator Hessian below `HESSIAN_MAX_ROWS` rows (0 from there on).
CALIBRATION_HESSIAN = 1e-4
HESSIAN_MAX_ROWS = 3000

_REGULARIZERS = ("calibration_laplacian", "calibration_hessian", "calibration_wrinkle",
                 "lattice_laplacian", "lattice_torsion", "l2")


@dataclasses.dataclass(frozen=True)
class ResolvedSettings:
    """Every setting of a fit, the automatic ones resolved.

    Attributes hold estimator parameter values (see `resolve_defaults`);
    ``num_lattices`` and ``lattice_rank`` are None for models without an
    ensemble. `as_params` gives them as a dict of constructor arguments.
    """

    num_keypoints: object
    lattice_size: int
    num_lattices: object
    lattice_rank: object
    calibration_laplacian: float
    calibration_hessian: float
    calibration_wrinkle: float
    lattice_laplacian: float
    lattice_torsion: float
    l2: float
    interpolation: object
    epochs: int
    batch_size: int
    learning_rate: float
    validation_fraction: float
    early_stopping: bool
    num_layers: object = None
    monotone_dims: object = None
    free_dims: object = None

    def as_params(self):
        """The settings as constructor arguments (those a model kind has no use
        for, None, left out)."""
        params = dataclasses.asdict(self)
        for name in ("num_lattices", "lattice_rank", "num_layers", "monotone_dims", "free_dims",
                     "interpolation"):
            if params[name] is None:
                del params[name]
        return params


def default_num_lattices(num_rows, num_features, rank):
    """``max(4, ceil(k d / rank))`` lattices: each column in about ``k`` of
    them, ``k = 3`` below `LARGE_ROWS` rows and 6 from there on (see the
    module docstring)."""
    appearances = 6 if num_rows >= LARGE_ROWS else 3
    return max(4, math.ceil(appearances * num_features / max(1, min(int(rank), num_features))))


def automatic_num_keypoints(num_rows, num_features):
    """The automatic keypoint count of every model kind:
    ``clip(1 + floor(n / (10 d)), 2, rice(n))`` with ``rice(n)`` the count of
    `tf_lattice.models.keypoints.default_num_keypoints`, so that the ``d (K - 1)`` calibrator
    slopes are at most ``n / ROWS_PER_PARAMETER`` (see the module docstring).
    """
    budget = 1 + int(num_rows) // (ROWS_PER_PARAMETER * max(1, int(num_features)))
    return int(min(default_num_keypoints(num_rows), max(2, budget)))


def automatic_interpolation(lattice_dims, lattice_size, num_rows=None):
    """``"hypercube"`` for lattices of at most `HYPERCUBE_MAX_DIMS`
    dimensions or, with ``num_rows`` known, of at most `HYPERCUBE_MAX_COST`
    vertices times rows; ``"simplex"`` otherwise (see the module docstring)."""
    if lattice_dims <= HYPERCUBE_MAX_DIMS:
        return "hypercube"
    if num_rows is not None and num_rows * lattice_size ** lattice_dims <= HYPERCUBE_MAX_COST:
        return "hypercube"
    return "simplex"


def _affine(num_keypoints):
    """Whether every numeric calibrator of this ``num_keypoints`` (int or dict) is affine."""
    counts = num_keypoints.values() if isinstance(num_keypoints, dict) else [num_keypoints]
    return all(int(count) <= 2 for count in counts)


def _given(params, name):
    """Whether the user set ``name`` (None and "auto" leave it open)."""
    value = params.get(name)
    return value is not None and not (isinstance(value, str) and value == AUTO)


def resolve_defaults(num_rows, num_features, task, params, model="ensemble", columns=None,
                     streamed=False):
    """Resolves the automatic settings of one fit (the rules are in the module docstring).

    Args:
      num_rows: ``n``, the training rows (>= 1).
      num_features: ``d``, the columns (>= 1).
      task: ``"classification"`` or ``"regression"``.
      params: the estimator's parameters (``get_params()``); a value of None
        (or ``"auto"`` for ``early_stopping``) is resolved, any other value
        is kept as it is.
      model: ``"linear"``, ``"lattice"``, ``"ensemble"`` or ``"dln"``.
      columns: the column names; with a ``num_keypoints`` dict, the columns it
        omits get the automatic count in the result.
      streamed: the fit streams its rows (no validation split is possible).

    Returns:
      A `ResolvedSettings`.

    Raises:
      ValueError: for an unknown task or model, or fewer than one row or column.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if int(num_rows) < 1 or int(num_features) < 1:
        raise ValueError(f"need at least one row and one column, got {num_rows} rows and "
                         f"{num_features} columns")
    n, d = int(num_rows), int(num_features)

    keypoints = automatic_num_keypoints(n, d)
    num_keypoints = params.get("num_keypoints")
    if isinstance(num_keypoints, dict):
        num_keypoints = dict(num_keypoints)
        for column in columns or ():
            num_keypoints.setdefault(str(column), keypoints)
    elif num_keypoints is None:
        num_keypoints = keypoints

    rank = count = None
    network = {}
    lattice_dims = d if model == "lattice" else None
    if model == "dln":
        network = {name: int(params[name]) if _given(params, name) else automatic
                   for name, automatic in (("num_layers", DLN_LAYERS),
                                           ("monotone_dims", min(d, DLN_MONOTONE_DIMS)),
                                           ("free_dims", min(d, DLN_FREE_DIMS)))}
        width = network["monotone_dims"] + network["free_dims"]
        rank = (params["lattice_rank"] if _given(params, "lattice_rank")
                else min(DEFAULT_RANK, width))
        count = (params["num_lattices"] if _given(params, "num_lattices")
                 else default_num_lattices(n, width, rank))
        lattice_dims = min(int(rank), width)
    elif model == "ensemble":
        rank = params["lattice_rank"] if _given(params, "lattice_rank") else min(DEFAULT_RANK, d)
        count = (params["num_lattices"] if _given(params, "num_lattices")
                 else default_num_lattices(n, d, rank))
        lattice_dims = min(int(rank), d)

    smoothing = (SMOOTHING_ROWS / n if model != "linear" and n < SMOOTHING_MAX_ROWS
                 else 0.0)
    hessian = CALIBRATION_HESSIAN if n < HESSIAN_MAX_ROWS else 0.0
    automatic = {"calibration_laplacian": 0.0, "calibration_hessian": hessian,
                 "calibration_wrinkle": smoothing, "lattice_laplacian": 0.0,
                 "lattice_torsion": (TORSION_ROWS / n if model == "lattice"
                                     and n < SMOOTHING_MAX_ROWS else 0.0),
                 "l2": 0.0 if model == "linear" and _affine(num_keypoints) else L2_ROWS / n}
    amounts = {name: float(params[name]) if _given(params, name) else float(automatic[name])
               for name in _REGULARIZERS}

    lattice_size = int(params.get("lattice_size", 2))
    if _given(params, "interpolation"):
        interpolation = params["interpolation"]
    elif lattice_dims is not None:
        interpolation = automatic_interpolation(lattice_dims, lattice_size, n)
    else:
        interpolation = None

    if _given(params, "early_stopping"):
        early_stopping = bool(params["early_stopping"])
    else:
        early_stopping = (model in EARLY_STOPPING_MODELS and n >= EARLY_STOPPING_MIN_ROWS
                          and not streamed)
    fraction = float(params.get("validation_fraction", 0.1))
    training_rows = n - int(round(fraction * n)) if early_stopping else n
    epochs, batch_size = resolve_schedule(
        max(1, training_rows), params.get("epochs"), params.get("batch_size"),
        target_steps=EARLY_STOPPING_STEPS if early_stopping else DEFAULT_STEPS,
        max_epochs=MAX_AUTOMATIC_EPOCHS if task == "classification" else None)

    return ResolvedSettings(
        num_keypoints=num_keypoints, lattice_size=lattice_size, interpolation=interpolation,
        num_lattices=None if count is None else int(count),
        lattice_rank=None if rank is None else int(rank), epochs=int(epochs),
        batch_size=int(batch_size), learning_rate=float(params.get("learning_rate", 0.01)),
        validation_fraction=fraction, early_stopping=early_stopping, **network, **amounts)


def describe(settings):
    """``resolved_params_``: the settings as a JSON-friendly dict of parameter values."""
    params = settings.as_params()
    if isinstance(params["num_keypoints"], dict):
        params["num_keypoints"] = {str(k): int(v) for k, v in params["num_keypoints"].items()}
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}
