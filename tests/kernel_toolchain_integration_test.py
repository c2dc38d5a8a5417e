"""The kernel build reads nothing from the host: its toolchain is the Debian lock's.

Cost: one uncached kernel build (step 3). Step 1 is a cache hit whenever another test (or the
developer) built this kernel with this repository's lock; on a cold cache it is a second build.

1. `pants package` of the C example: the kernel (from the shared cache or built now).
2. The same build with the host's compiler toolchain made unusable (gcc's, make's, ld's, ...
   executables covered by /dev/null, /usr/lib/gcc and /usr/include hidden, in a private mount
   namespace around Pants): a cache hit, because no host tool is in the kernel's key.
3. Again without the local cache: the kernel is rebuilt while the host has no working
   compiler, and the new bytes equal step 1's.
The bad inputs (a toolchain package missing from the lock, a changed download, a tool the
toolchain lacks) are unit tests: src/python/unikernel_rules/kernel/toolchain_test.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil

from typing import Iterator

import pytest

from pants_repo import RepoCopy

IMAGE = "testprojects/c/hello_http:image"
BUNDLE = "testprojects.c.hello_http/image"
KERNEL_PROCESS = "Building the Linux"
# Host programs the kernel was once built with; each is covered by /dev/null in step 2 and 3.
HOST_TOOLS = ("gcc", "gcc-12", "cc", "cpp", "make", "ld", "ld.bfd", "as", "ar", "flex", "bison", "bc", "perl")
# Directories that hold the rest of a host compiler (cc1, crt files, headers).
HOST_DIRS = ("/usr/lib/gcc", "/usr/libexec/gcc", "/usr/include")

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


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("kernel-toolchain") / "repo")
    yield repo
    repo.cleanup()


def _kernel_sha256(repo: RepoCopy) -> str:
    return hashlib.sha256((repo.bundle(BUNDLE) / "kernel").read_bytes()).hexdigest()


def _masked_wrapper() -> tuple:
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        pytest.skip("masking the host toolchain needs root and util-linux's unshare")
    return (unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", MASK_SCRIPT, "mask")


def _masked_env() -> dict:
    return {"UK_TOOLS": " ".join(HOST_TOOLS), "UK_DIRS": " ".join(HOST_DIRS)}


def test_kernel_build_is_hermetic(repo: RepoCopy) -> None:
    repo.run("package", IMAGE).assert_success()
    before = _kernel_sha256(repo)
    wrapper = _masked_wrapper()

    # 2. No usable host compiler, same keys: the kernel comes from the cache.
    hit = repo.run_subprocess("package", IMAGE, extra_env=_masked_env(), wrapper=wrapper)
    hit.assert_success()
    assert "MASK FAILED" not in hit.stderr
    assert KERNEL_PROCESS not in hit.stderr, "the kernel was rebuilt: a host input is in its key"
    assert _kernel_sha256(repo) == before

    # 3. Rebuilt from nothing while the host has no usable compiler: the same bytes.
    shutil.rmtree(repo.bundle(BUNDLE))
    rebuilt = repo.run_subprocess("--no-local-cache", "package", IMAGE, extra_env=_masked_env(), wrapper=wrapper)
    rebuilt.assert_success()
    assert KERNEL_PROCESS in rebuilt.stderr, "expected an uncached kernel build"
    assert _kernel_sha256(repo) == before, "the locked toolchain built different kernel bytes"
