"""Configurations and builders of calibrated models (linear, lattice,
lattice ensembles, deep lattice networks)."""

from tf_lattice.models.builders import calibrated_lattice
from tf_lattice.models.builders import calibrated_lattice_ensemble
from tf_lattice.models.builders import calibrated_linear
from tf_lattice.models.builders import ensemble_structure
from tf_lattice.models.builders import feature_arrays
from tf_lattice.models.configs import CalibratedLatticeConfig
from tf_lattice.models.configs import CalibratedLatticeEnsembleConfig
from tf_lattice.models.configs import CalibratedLinearConfig
from tf_lattice.models.configs import DeepLatticeLayerConfig
from tf_lattice.models.configs import DeepLatticeNetworkConfig
from tf_lattice.models.configs import FeatureConfig
from tf_lattice.models.deep_lattice_network import deep_lattice_network
from tf_lattice.models.ensembles import ENSEMBLES
from tf_lattice.models.ensembles import close_under_dominance
from tf_lattice.models.ensembles import crystals_structure
from tf_lattice.models.ensembles import interaction_strengths
from tf_lattice.models.ensembles import lattice_structure
from tf_lattice.models.ensembles import random_structure
from tf_lattice.models.ensembles import rtl_structure
from tf_lattice.models.keypoints import default_num_keypoints
from tf_lattice.models.keypoints import keypoints_from_quantiles
from tf_lattice.models.keypoints import refine_keypoints
