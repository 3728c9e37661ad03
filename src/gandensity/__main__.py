"""``python -m gandensity``: the ``gandensity`` command (:mod:`gandensity.cli`)."""

import sys

from gandensity.cli import main

if __name__ == "__main__":
    sys.exit(main())
