"""`./pants run tests/benchmarks:platforms`: see benchmarks/platforms.py."""

import sys

from benchmarks.platforms import main

if __name__ == "__main__":
    sys.exit(main())
