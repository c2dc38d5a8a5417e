"""`python3 path/to/launcher ARGS`: run the launcher package as a script (how `pants run` runs it).

Run as a directory, this file is `__main__` of no package: put the directory's parent on
sys.path and import the package under its directory name, so its relative imports work.
"""

import importlib
import os
import sys

if __package__:
    from .cli import main
else:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    main = importlib.import_module(os.path.basename(here) + ".cli").main

if __name__ == "__main__":
    sys.exit(main())
