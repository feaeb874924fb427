"""`python -m inspector` behaves exactly like `keras-inspector`."""

import sys

from inspector.cli import main

if __name__ == "__main__":
    sys.exit(main())
