"""Where a measuring command leaves its figures for the report to render: one JSON file per
command in the temp dir (the reproducibility test, the kernel-toolchain and disk-formats
benchmarks, `.ci/run`'s wall time), read back by `tests/benchmarks:report`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional


def figures_path(name: str) -> Path:
    return Path(tempfile.gettempdir()) / name


def read_figures(name: str, path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    """The figures recorded under `name` (or in `path`), None if there are none (yet)."""
    try:
        return json.loads((path or figures_path(name)).read_text())
    except (OSError, ValueError):
        return None


def write_figures(name: str, figures: Dict[str, Any]) -> Path:
    path = figures_path(name)
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
    return path
