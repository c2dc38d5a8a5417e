"""Which Debian package ships a shared library: names from Debian's library packaging policy,
matched against the packages of the lock (stdlib only; used by the ELF-closure error messages).

Debian Policy 8.1: the package that ships the shared library `libfoo.so.N` is named `libfooN`
(`libfoo-N` when the library name ends in a digit), lower case, e.g. `libX11.so.6` ->
`libx11-6`, `libpng16.so.16` -> `libpng16-16`. Transitions add suffixes (`libharfbuzz0b`,
`libjpeg62-turbo`, `t64`), so a locked package whose name starts with the policy name followed
by such a suffix is a candidate too. The caller then checks a candidate's files.
"""

from __future__ import annotations

import re
from typing import Iterable, List

# Libraries whose package does not follow the policy name.
KNOWN_PACKAGES = {
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
    "libresolv.so.2": "libc6",
    "libutil.so.1": "libc6",
    "ld-linux-x86-64.so.2": "libc6",
    "libgcc_s.so.1": "libgcc-s1",
    "libstdc++.so.6": "libstdc++6",
    "libz.so.1": "zlib1g",
    "libbz2.so.1.0": "libbz2-1.0",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlienc.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libgmodule-2.0.so.0": "libglib2.0-0",
    "libcrypto.so.3": "libssl3",
    "libssl.so.3": "libssl3",
}

_SUFFIX = re.compile(r"^(?:[a-z]|t64|-[a-z][a-z0-9]*)$")


def policy_name(soname: str) -> str:
    """The package name Debian's policy gives the library `soname` (its best guess)."""
    if soname in KNOWN_PACKAGES:
        return KNOWN_PACKAGES[soname]
    name, sep, version = soname.partition(".so")
    version = version.lstrip(".")
    if not sep:
        return soname.lower()
    name = name.lower().replace("_", "-")
    if not version:  # libfoo-1.2.so: the version is in the name
        return name
    return f"{name}-{version}" if name[-1:].isdigit() else f"{name}{version}"


def candidates(soname: str, package_names: Iterable[str]) -> List[str]:
    """The packages of `package_names` that may ship `soname`: the policy name itself first,
    then names with a transition suffix (`libharfbuzz0b`, `libjpeg62-turbo`), sorted."""
    base = policy_name(soname)
    exact, suffixed = [], []
    for name in sorted(set(package_names)):
        if name == base:
            exact.append(name)
        elif name.startswith(base) and _SUFFIX.match(name[len(base):]):
            suffixed.append(name)
    return exact + suffixed
