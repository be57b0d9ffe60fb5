"""Keras models of the estimators, assembled by :mod:`tf_lattice.models.fused`
(and, for deep lattice networks, :mod:`tf_lattice.models.deep_lattice_network`).

This module turns the estimators' column specs and resolved constraints into
the fused assembly's :class:`~tf_lattice.models.fused.CalibratedColumn`
records and adds each model kind's head. Every model reads the encoded
`(batch, n_features)` matrix (see ``_columns.encode``) and returns `(batch, units)` scores: one per class for
multiclass classifiers, one logit for binary classifiers, one standardized
value for regressors.

How declared shapes reach the output: each feature's calibrator carries the
feature's own shape (increasing/decreasing, convex/concave, the partial order
of categories), and every layer after the calibrators is increasing in each
calibrated value of a shaped feature (lattice dimensions marked
``"increasing"``, linear weights >= 0). An increasing function of a monotone
(or unimodal) calibrator keeps that shape, so monotonicity holds on the model
output and on every class score. Convexity holds on the whole real line on
the output of calibrated linear models (whose unbounded calibrators continue
their end segments beyond the keypoints), and on the calibrators of lattice
models between their first and last keypoint (bounded calibrators are flat
beyond them). Unimodality is a lattice
constraint: the calibrator is increasing and the (single) lattice is
valley- or peak-shaped along that feature.
"""

import dataclasses

import keras
import numpy as np

from tf_lattice import layers as tfl_layers
from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.models import fused
from tf_lattice.models.deep_lattice_network import deep_lattice_core


@dataclasses.dataclass(frozen=True)
class NetworkSettings:
    """Sizes and regularization shared by every model kind.

    Attributes:
      units: outputs of the model.
      lattice_size: vertices per lattice dimension.
      interpolation: ``"hypercube"`` or ``"simplex"``.
      calibration_laplacian, calibration_hessian, calibration_wrinkle: l2
        amounts of the calibrator regularizers (first, second and third
        differences of keypoint outputs).
      lattice_laplacian, lattice_torsion: l2 amounts of the lattice
        regularizers.
      l2: l2 amount on linear weights and categorical calibrator outputs.
      implementation: ``"kernel"`` (compiled ops) or ``"portable"`` (stock
        TensorFlow ops, e.g. under XLA).
      initial_output: the model's initial scores, one per unit (or one for
        all): the best constant fit (class log-odds, standardized mean 0), so
        training starts from the prior instead of spending steps on the bias.
    """

    units: int = 1
    lattice_size: int = 2
    interpolation: str = "hypercube"
    calibration_laplacian: float = 0.0
    calibration_hessian: float = 0.0
    calibration_wrinkle: float = 0.0
    lattice_laplacian: float = 0.0
    lattice_torsion: float = 0.0
    l2: float = 0.0
    implementation: str = "kernel"
    initial_output: tuple = (0.0,)

    def initial_bias(self):
        """The initial output as a `(units,)` bias initializer."""
        values = np.broadcast_to(np.asarray(self.initial_output, np.float64), (self.units,))
        return keras.initializers.Constant([float(v) for v in values])


def _calibrator_regularizers(settings):
    terms = [("laplacian", 0.0, settings.calibration_laplacian),
             ("hessian", 0.0, settings.calibration_hessian),
             ("wrinkle", 0.0, settings.calibration_wrinkle)]
    return [term for term in terms if term[2] > 0] or None


def _lattice_regularizers(settings):
    terms = [("laplacian", 0.0, settings.lattice_laplacian),
             ("torsion", 0.0, settings.lattice_torsion)]
    return [term for term in terms if term[2] > 0] or None


def _l2(settings):
    return keras.regularizers.L2(settings.l2) if settings.l2 > 0 else None


def _columns(specs, constraints, output_min, output_max):
    """The fused assembly's record of each column: keypoints or vocabulary
    size (the encoding puts missing and unseen categories at id
    ``len(vocabulary)``), constraints and calibrator bounds."""
    return [fused.CalibratedColumn(
        keypoints=spec.keypoints if spec.kind == NUMERIC else (),
        num_categories=None if spec.kind == NUMERIC else len(spec.vocabulary),
        constraints=feature, output_min=output_min, output_max=output_max)
        for spec, feature in zip(specs, constraints.features)]


def calibrated_features(inputs, specs, constraints, settings, output_min, output_max):
    """Every column calibrated by the fused layers of
    :func:`tf_lattice.models.fused.calibrated_features`; returns `(batch, d)`.

    Numeric columns share one PWLCalibration (``numeric_calibration``, one
    unit per column), categorical columns without a category order one
    CategoricalCalibration (``categorical_calibration``); a column with a
    category order has a layer of its own.
    """
    return fused.calibrated_features(
        inputs, _columns(specs, constraints, output_min, output_max),
        implementation=settings.implementation,
        calibration_regularizer=_calibrator_regularizers(settings),
        categorical_regularizer=_l2(settings))


def lattice_ensemble(calibrated, subsets, constraints, settings, name, output_min=None,
                     output_max=None):
    """Lattices over ``subsets`` (:func:`tf_lattice.models.fused.lattice_ensemble`);
    returns `(batch, len(subsets))`."""
    return fused.lattice_ensemble(
        calibrated, subsets, constraints, settings.lattice_size, name,
        interpolation=settings.interpolation, output_min=output_min, output_max=output_max,
        kernel_regularizer=_lattice_regularizers(settings), implementation=settings.implementation)


def _inputs(specs):
    return keras.Input(shape=(len(specs),), dtype="float32", name="features")


def calibrated_linear(specs, constraints, settings):
    """Calibrators (unbounded) then a linear layer, weights >= 0 on shaped features."""
    inputs = _inputs(specs)
    calibrated = calibrated_features(inputs, specs, constraints, settings, None, None)
    monotonicities, _ = fused.lattice_directions(constraints)
    outputs = tfl_layers.Linear(
        implementation=settings.implementation,
        num_input_dims=len(specs), units=settings.units, monotonicities=monotonicities,
        monotonic_dominances=list(constraints.monotonic_dominances) or None,
        bias_initializer=settings.initial_bias(),
        kernel_regularizer=_l2(settings), name="linear")(calibrated)
    return keras.Model(inputs, outputs, name="calibrated_linear")


def calibrated_lattice(specs, constraints, settings):
    """Calibrators onto `[0, lattice_size - 1]` then one lattice over all features."""
    inputs = _inputs(specs)
    top = settings.lattice_size - 1.0
    calibrated = calibrated_features(inputs, specs, constraints, settings, 0.0, top)
    monotonicities, unimodalities = fused.lattice_directions(constraints)
    sizes = [settings.lattice_size] * len(specs)
    outputs = tfl_layers.Lattice(
        implementation=settings.implementation,
        lattice_sizes=sizes, units=settings.units,
        interpolation=settings.interpolation, monotonicities=monotonicities,
        unimodalities=unimodalities,
        edgeworth_trusts=fused.calibrated_trusts(constraints.edgeworth_trusts, constraints) or None,
        trapezoid_trusts=fused.calibrated_trusts(constraints.trapezoid_trusts, constraints) or None,
        monotonic_dominances=list(constraints.monotonic_dominances) or None,
        kernel_regularizer=_lattice_regularizers(settings), name="lattice")(calibrated)
    return keras.Model(inputs, outputs, name="calibrated_lattice")


def _combine(lattice_outputs, num_lattices, settings):
    """The increasing linear layer that sums an ensemble's lattices into the scores."""
    return tfl_layers.Linear(
        implementation=settings.implementation,
        num_input_dims=num_lattices, units=settings.units, monotonicities="increasing",
        bias_initializer=settings.initial_bias(),
        kernel_regularizer=_l2(settings), name="combine")(lattice_outputs)


def calibrated_lattice_ensemble(specs, constraints, settings, subsets):
    """Shared calibrators, lattices over ``subsets``, then an increasing linear layer."""
    inputs = _inputs(specs)
    top = settings.lattice_size - 1.0
    calibrated = calibrated_features(inputs, specs, constraints, settings, 0.0, top)
    lattices = lattice_ensemble(calibrated, subsets, constraints, settings, "lattice")
    outputs = _combine(lattices, len(subsets), settings)
    return keras.Model(inputs, outputs, name="calibrated_lattice_ensemble")


def deep_lattice_network(specs, constraints, settings, blocks, seed):
    """The published deep lattice network on the fused calibrators.

    Calibrators onto `[0, 1]` (each with its column's shape, missing values
    and category order) -> the blocks of
    :func:`tf_lattice.models.deep_lattice_network.deep_lattice_core` (linear
    embedding, calibrators, random tiny lattices; ``blocks``:
    DeepLatticeLayerConfig per block) -> a linear layer, weights >= 0 on the
    signals of shaped columns, starting from ``settings.initial_output``.
    The column calibrators take the calibrator regularizers, the lattices the
    lattice regularizers and the output layer the l2 amount; the embedding
    (L1-normalized) and its calibrators (on a fixed grid) take none.
    """
    inputs = _inputs(specs)
    calibrated = calibrated_features(inputs, specs, constraints, settings, 0.0, 1.0)
    monotonicities, _ = fused.lattice_directions(constraints)
    outputs = deep_lattice_core(
        calibrated, [m == "increasing" for m in monotonicities], blocks, units=settings.units,
        seed=seed, interpolation=settings.interpolation,
        lattice_regularizer=_lattice_regularizers(settings), output_regularizer=_l2(settings),
        bias_initializer=settings.initial_bias(), implementation=settings.implementation)
    return keras.Model(inputs, outputs, name="deep_lattice_network")
