"""Shape constraints: exact certificates of declared constraints on parameters."""

from tf_lattice.constraints.calibrator_certificate import certify_calibrator
from tf_lattice.constraints.categorical_certificate import certify_categorical
from tf_lattice.constraints.certificate import Certificate, ConstraintCheck
from tf_lattice.constraints.lattice_certificate import certify_lattice
from tf_lattice.constraints.linear_certificate import certify_linear
