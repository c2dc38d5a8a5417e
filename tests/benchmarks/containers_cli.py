"""`./pants run tests/benchmarks:containers`: see benchmarks/containers.py."""

import sys

from benchmarks.containers import main

if __name__ == "__main__":
    sys.exit(main())
