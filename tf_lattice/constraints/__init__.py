"""Shape constraints: exact certificates of declared constraints on parameters."""

from tf_lattice.constraints.certificate import Certificate, ConstraintCheck
from tf_lattice.constraints.lattice_certificate import certify_lattice
