"""`./pants run tests/benchmarks:kernel-toolchain`: see benchmarks/kernel_toolchain.py."""

import sys

from benchmarks.kernel_toolchain import main

if __name__ == "__main__":
    sys.exit(main())
