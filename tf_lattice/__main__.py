"""``python -m tf_lattice``: the ``tf-lattice`` command line."""

import sys

from tf_lattice.cli import main

if __name__ == "__main__":
    sys.exit(main())
