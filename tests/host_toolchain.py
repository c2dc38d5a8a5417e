"""Hide the host's compiler toolchain from a Pants run: the kernel must build without it.

`masked(command_env)` gives a wrapper that runs a command in a private mount namespace where
gcc's, make's, ld's, ... executables are covered by /dev/null and the rest of a host compiler
(/usr/lib/gcc, /usr/libexec/gcc, /usr/include) by empty tmpfs mounts. The wrapper first proves
the mask (the host gcc cannot compile) and exits 97 with "MASK FAILED" if it can. Needs root
and util-linux's `unshare`; `masked()` returns None without them.
"""

from __future__ import annotations

import os
import shutil
from typing import Dict, Optional, Tuple

# Host programs the kernel was once built with; each is covered by /dev/null.
HOST_TOOLS = ("gcc", "gcc-12", "cc", "cpp", "make", "ld", "ld.bfd", "as", "ar", "flex", "bison", "bc", "perl")
# Directories that hold the rest of a host compiler (cc1, crt files, headers).
HOST_DIRS = ("/usr/lib/gcc", "/usr/libexec/gcc", "/usr/include")
MASK_FAILED = "MASK FAILED"

MASK_SCRIPT = r"""
set -e
for tool in $UK_TOOLS; do
  p="$(command -v "$tool" || true)"
  [ -n "$p" ] || continue
  real="$(readlink -f "$p")"
  mount --bind /dev/null "$real"
done
for d in $UK_DIRS; do
  [ -d "$d" ] && mount -t tmpfs -o size=1m,mode=0755 none "$d"
done
# Prove the mask: the host cannot compile anything now.
if printf 'int main(void){return 0;}' | gcc -x c -o /dev/null - 2>/dev/null; then
  echo "MASK FAILED: the host gcc still compiles" >&2; exit 97
fi
exec "$@"
"""


def masked() -> Optional[Tuple[Tuple[str, ...], Dict[str, str]]]:
    """(wrapper argv, env to add) that hide the host toolchain, or None without root/unshare."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        return None
    wrapper = (unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", MASK_SCRIPT, "mask")
    return wrapper, {"UK_TOOLS": " ".join(HOST_TOOLS), "UK_DIRS": " ".join(HOST_DIRS)}
