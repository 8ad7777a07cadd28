"""``python -m dnn``: the command line (see :mod:`dnn.cli`)."""

import sys

from dnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
