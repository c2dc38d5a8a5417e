"""The kernel build reads nothing from the host: its toolchain is the Debian lock's.

Cheap (cache hits only, once the kernel is built):

1. `pants package` of the C example: the kernel (from the shared cache or built now).
2. The same build with the host's compiler toolchain made unusable (gcc's, make's, ld's, ...
   executables covered by /dev/null, /usr/lib/gcc and /usr/include hidden, in a private mount
   namespace around Pants: tests/host_toolchain.py): a cache hit, because no host tool is in
   the kernel's key.

The expensive half, a kernel built from nothing while the host has no working compiler and
its bytes equal to a normal build's, is build B of tests/reproducibility_integration_test.py
(it runs under the same mask and is compared byte for byte with build A): one uncached kernel
build serves both checks. The bad inputs (a toolchain package missing from the lock, a changed
download, a tool the toolchain lacks) are unit tests: src/python/unikernel_rules/kernel/toolchain_test.py.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import pytest

from host_toolchain import MASK_FAILED, masked
from pants_repo import RepoCopy

IMAGE = "testprojects/c/hello_http:image"
BUNDLE = "testprojects.c.hello_http/image"
KERNEL_PROCESS = "Building the Linux"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("kernel-toolchain") / "repo")
    yield repo
    repo.cleanup()


def _kernel_sha256(repo: RepoCopy) -> str:
    return hashlib.sha256((repo.bundle(BUNDLE) / "kernel").read_bytes()).hexdigest()


def test_kernel_key_has_no_host_tool(repo: RepoCopy) -> None:
    mask = masked()
    if mask is None:
        pytest.skip("masking the host toolchain needs root and util-linux's unshare")
    wrapper, env = mask
    repo.run("package", IMAGE).assert_success()
    before = _kernel_sha256(repo)

    # No usable host compiler, same keys: the kernel comes from the cache.
    hit = repo.run_subprocess("package", IMAGE, extra_env=env, wrapper=wrapper)
    hit.assert_success()
    assert MASK_FAILED not in hit.stderr
    assert KERNEL_PROCESS not in hit.stderr, "the kernel was rebuilt: a host input is in its key"
    assert _kernel_sha256(repo) == before
