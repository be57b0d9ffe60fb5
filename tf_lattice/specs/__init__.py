"""Validated, frozen declarations of the constraints of each kind of layer.

A spec parses the user vocabulary (direction strings, index pairs, sizes,
bounds) once, checks every constraint family and their contradictions, and
raises a ``ValueError`` naming the argument. Layers build their spec at
construction and hand it to their projection, certificate, regularizers and
initializers, so whatever a layer accepts, its projection accepts. Each spec
has ``to_config()`` / ``from_config()`` (JSON-able, in the user vocabulary).

This package imports nothing from TensorFlow or Keras.
"""

from tf_lattice.specs._vocabulary import CONVEXITIES
from tf_lattice.specs._vocabulary import MONOTONICITIES
from tf_lattice.specs._vocabulary import TRUST_DIRECTIONS
from tf_lattice.specs._vocabulary import UNIMODALITIES
from tf_lattice.specs.calibrator import CalibratorSpec
from tf_lattice.specs.categorical import CategoricalSpec
from tf_lattice.specs.lattice import LatticeSpec
from tf_lattice.specs.linear import LinearSpec

__all__ = [
    "CONVEXITIES", "CalibratorSpec", "CategoricalSpec", "LatticeSpec", "LinearSpec",
    "MONOTONICITIES", "TRUST_DIRECTIONS", "UNIMODALITIES",
]
