"""Locating the data files bundled with the package."""

import importlib.resources


def data_path(file_name):
    """Returns a path-like object for a file in ``tf_lattice/datasets/data``."""
    return importlib.resources.files("tf_lattice.datasets").joinpath("data").joinpath(file_name)
