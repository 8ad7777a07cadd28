"""``python -m dnn``: the command line (see :mod:`dnn.adapters.cli`)."""

import sys

from dnn.adapters.cli import main

if __name__ == "__main__":
    sys.exit(main())
