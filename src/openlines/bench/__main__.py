"""``python -m openlines.bench``."""

import sys

from openlines.bench.main import main

sys.exit(main(sys.argv[1:]))
