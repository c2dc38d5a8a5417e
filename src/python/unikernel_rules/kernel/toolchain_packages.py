"""The Debian packages the kernel is built with (stdlib only: `[debian-lock]`'s defaults use it).

The kernel build runs inside a tree made of exactly these packages and their locked closure
(kernel/sandbox.py): nothing of the host. Essential packages (bash, coreutils, sed, ...) are
listed explicitly: the lock adds Essential packages only when something depends on them.
"""

from __future__ import annotations

# The compiler, linker and the tools Kbuild itself calls.
KERNEL_TOOLCHAIN_COMPILERS = (
    "gcc",  # /usr/bin/gcc (Kbuild calls `gcc`), depends on gcc-12 and cpp
    "gcc-12",
    "binutils",
    "libc6-dev",
    "linux-libc-dev",
    "make",
    "flex",
    "bison",
    "bc",
    "perl",
    # objtool and other host programs of the tree link against libelf (and zlib).
    "libelf-dev",
    "zlib1g-dev",
)
# The userland Kbuild's shell scripts call.
KERNEL_TOOLCHAIN_USERLAND = (
    "bash",
    "dash",
    "coreutils",
    "sed",
    "grep",
    "mawk",
    "findutils",
    "diffutils",
    "tar",
    "cpio",
    # Kernel and initramfs compressors a fragment may choose (CONFIG_KERNEL_*, CONFIG_RD_*).
    "xz-utils",
    "gzip",
    "zstd",
    "bzip2",
    "lz4",
)
KERNEL_TOOLCHAIN_PACKAGES = (*KERNEL_TOOLCHAIN_COMPILERS, *KERNEL_TOOLCHAIN_USERLAND)
