"""Bundled real datasets and synthetic generators with known ground truth.

Real data (UCI Machine Learning Repository, CC BY 4.0; see
``data/ATTRIBUTION.md``): `load_heart`, `load_adult`, `load_auto_mpg`.
Synthetic data: `make_restaurant_ctr` (true CTR `restaurant_ctr`) and
`make_monotone_regression` (ground truth `monotone_regression_function`).
"""

from tf_lattice.datasets.adult import load_adult
from tf_lattice.datasets.auto_mpg import load_auto_mpg
from tf_lattice.datasets.heart import load_heart
from tf_lattice.datasets.monotone_regression import make_monotone_regression
from tf_lattice.datasets.monotone_regression import monotone_regression_function
from tf_lattice.datasets.restaurants import make_restaurant_ctr
from tf_lattice.datasets.restaurants import restaurant_ctr
