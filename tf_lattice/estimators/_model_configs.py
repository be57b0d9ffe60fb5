"""The estimators' models as :mod:`tf_lattice.models` configs.

A fit learns one :class:`~tf_lattice.estimators._columns.FeatureSpec` per
column (its encoding) and resolves the column-named constraints
(:func:`~tf_lattice.estimators._constraints.resolve_constraints`); this
module turns both, with the resolved sizes and regularization amounts, into
:class:`~tf_lattice.models.FeatureConfig` records and a model config, which
the builders of :mod:`tf_lattice.models.builders` turn into the Keras model
over the encoded `(batch, d)` matrix (one input named ``"features"``, see
``_columns.encode``). Every model returns `(batch, units)` scores: one per
class for multiclass classifiers, one logit for binary classifiers, one
standardized value for regressors.

A column of the matrix is feature ``j`` of the configs: numeric columns keep
their keypoints, a categorical column of vocabulary ``V`` has ``len(V)``
buckets (the encoding puts missing and unseen categories at id
``len(V)``, the default bucket), and ``category_order`` pairs are
vocabulary indices.
"""

import dataclasses

from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.models import builders
from tf_lattice.models import configs
from tf_lattice.models.deep_lattice_network import deep_lattice_network

#: The regularization amounts an estimator resolves, by config attribute.
REGULARIZATION = ("calibration_laplacian", "calibration_hessian", "calibration_wrinkle",
                  "lattice_laplacian", "lattice_torsion", "l2")
_LATTICE_REGULARIZATION = ("lattice_laplacian", "lattice_torsion")


def feature_configs(specs, constraints, lattice_size):
    """One complete FeatureConfig per column: the resolved one, placed.

    Args:
      specs: the FeatureSpec of every column (numeric ones give the keypoints).
      constraints: the resolved ModelConstraints (its features carry the shapes).
      lattice_size: vertices per lattice dimension.
    """
    return tuple(
        dataclasses.replace(feature, keypoints=spec.keypoints, lattice_size=lattice_size)
        if spec.kind == NUMERIC else dataclasses.replace(feature, lattice_size=lattice_size)
        for spec, feature in zip(specs, constraints.features))


def _pairwise(specs, constraints):
    """The trusts and dominances by column name."""
    names = [spec.name for spec in specs]

    def by_name(entries):
        return tuple((names[e[0]], names[e[1]]) + tuple(e[2:]) for e in entries)

    return dict(edgeworth_trusts=by_name(constraints.edgeworth_trusts),
                trapezoid_trusts=by_name(constraints.trapezoid_trusts),
                monotonic_dominances=by_name(constraints.monotonic_dominances))


def model_config(kind, specs, constraints, *, units, lattice_size, interpolation, implementation,
                 initial_output, lattices=None, blocks=None, seed=0, **regularization):
    """The model config of one estimator model.

    Args:
      kind: ``"linear"``, ``"lattice"``, ``"ensemble"`` or ``"dln"``.
      specs, constraints: the columns' FeatureSpec and resolved ModelConstraints.
      units: outputs of the model.
      lattice_size: vertices per lattice dimension.
      interpolation: ``"hypercube"`` or ``"simplex"``.
      implementation: ``"kernel"`` or ``"portable"``.
      initial_output: the initial scores (the best constant fit), one per
        unit or one for all: the bias of the last linear layer of linear
        models, ensembles and deep lattice networks (a single lattice keeps
        the Lattice layer's initial function: on Heart, starting it at the
        prior lowered its repeated-split AUC).
      lattices: ensembles: the column indices of each lattice.
      blocks: deep lattice networks: a DeepLatticeLayerConfig per block.
      seed: deep lattice networks: the seed of the embedding initializers
        and lattice structures.
      **regularization: the amounts of :data:`REGULARIZATION`.

    Returns:
      A CalibratedLinearConfig, CalibratedLatticeConfig,
      CalibratedLatticeEnsembleConfig or DeepLatticeNetworkConfig.
    """
    features = feature_configs(specs, constraints, lattice_size)
    common = dict(features=features, units=units, implementation=implementation,
                  **_pairwise(specs, constraints),
                  **{name: float(regularization.get(name, 0.0)) for name in REGULARIZATION
                     if kind != "linear" or name not in _LATTICE_REGULARIZATION})
    initial_output = tuple(float(v) for v in initial_output)
    if kind == "linear":
        return configs.CalibratedLinearConfig(initial_output=initial_output, **common)
    if kind == "lattice":
        return configs.CalibratedLatticeConfig(interpolation=interpolation, **common)
    if kind == "ensemble":
        names = tuple(tuple(specs[f].name for f in subset) for subset in lattices)
        return configs.CalibratedLatticeEnsembleConfig(
            num_lattices=len(names), lattice_rank=max(len(lattice) for lattice in names),
            lattices=names, interpolation=interpolation, combination="linear",
            lattice_initializer="linear", initial_output=initial_output, **common)
    if kind == "dln":
        return configs.DeepLatticeNetworkConfig(
            layers=tuple(blocks), seed=int(seed), interpolation=interpolation,
            initial_output=initial_output, **common)
    raise ValueError(f"kind must be 'linear', 'lattice', 'ensemble' or 'dln', got {kind!r}")


def build(config):
    """The Keras model of a model config, reading the encoded matrix."""
    if isinstance(config, configs.CalibratedLinearConfig):
        return builders.calibrated_linear(config, encoded=True)
    if isinstance(config, configs.CalibratedLatticeConfig):
        return builders.calibrated_lattice(config, encoded=True)
    if isinstance(config, configs.DeepLatticeNetworkConfig):
        return deep_lattice_network(config, encoded=True)
    return builders.calibrated_lattice_ensemble(config, encoded=True)
