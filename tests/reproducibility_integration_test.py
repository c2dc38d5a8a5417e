"""Two clean builds (`--no-local-cache`) from checkouts at different paths: identical bytes.

Covers every example image: the C image (initramfs root), a C image on a disk root, the
Python image (locked CPython layer, PEX installed into a venv, squashfs rootfs.img) and the
Java image (javac + jar, jlink + strip, the app's CDS archive), so the Debian extraction, the
ELF closure, the .pyc compilation, the JDK's tools, mksquashfs and both kernels are all
checked. Each build compiles two kernels (the plain one and the one with the disk fragment).
"""

from __future__ import annotations

import hashlib
from typing import Dict

from pants_repo import RepoCopy

BUNDLES = {
    "testprojects/c/hello_http:image": "testprojects.c.hello_http/image",
    "testprojects/c/disk_hello:image": "testprojects.c.disk_hello/image",
    "testprojects/python/hello_http:image": "testprojects.python.hello_http/image",
    "testprojects/java/hello_http:image": "testprojects.java.hello_http/image",
}


def _digests(repo: RepoCopy) -> Dict[str, str]:
    digests = {}
    for bundle_dir in BUNDLES.values():
        bundle = repo.bundle(bundle_dir)
        for path in sorted(bundle.iterdir()):
            digests[f"{bundle_dir}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def test_two_clean_builds_from_different_paths_are_identical(tmp_path) -> None:
    first = RepoCopy(tmp_path / "a" / "checkout")
    second = RepoCopy(tmp_path / "elsewhere" / "deeper" / "other-checkout")
    first.run("package", *BUNDLES, no_local_cache=True, extra_env={"TZ": "UTC"}).assert_success()
    second.run(
        "package", *BUNDLES, no_local_cache=True, extra_env={"TZ": "Asia/Kolkata", "LANG": "C"}
    ).assert_success()
    a, b = _digests(first), _digests(second)
    assert "testprojects.c.hello_http/image/initrd" in a
    assert "testprojects.python.hello_http/image/rootfs.img" in a
    assert "testprojects.c.disk_hello/image/rootfs.img" in a
    assert "testprojects.java.hello_http/image/rootfs.img" in a
    different = sorted(name for name in a if a[name] != b.get(name))
    assert sorted(a) == sorted(b)
    assert not different, f"not reproducible: {different}"
