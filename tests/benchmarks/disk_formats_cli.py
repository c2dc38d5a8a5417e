"""`./pants run tests/benchmarks:disk-formats`: see benchmarks/disk_formats.py."""

import sys

from benchmarks.disk_formats import main

if __name__ == "__main__":
    sys.exit(main())
