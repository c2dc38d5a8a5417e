from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from unikernel_rules.debian.lock import DebianLock, LockedDebianPackage
from unikernel_rules.rootfs.layer_rules import MissingLibrary
from unikernel_rules.runtimes.java_native import (
    check_debian_packages,
    excluded_but_used,
    headless_libraries,
    missing_libraries_error,
)

ADDRESS = Address("testprojects/java/h2", target_name="server")


def _lock(*names: str) -> DebianLock:
    packages = tuple(
        LockedDebianPackage(name=n, version="1", architecture="amd64", sha256="0" * 64, size=1, filename=f"pool/{n}.deb", depends=())
        for n in sorted(names)
    )
    return DebianLock("3rdparty/debian/debian.lock", ("bookworm",), ("main",), "amd64", (), "", packages)


def test_a_package_not_in_the_lock_names_it_and_the_relock_command() -> None:
    check_debian_packages(ADDRESS, ["libfreetype6"], _lock("libfreetype6", "libc6"))
    with pytest.raises(InvalidFieldException) as e:
        check_debian_packages(ADDRESS, ["libfreetype6", "libx11-6"], _lock("libfreetype6"))
    text = " ".join(str(e.value).split())
    assert "The `debian_packages` field of testprojects/java/h2:server" in text
    assert "libx11-6, which is not in the Debian lock" in text and "libfreetype6," not in text
    assert '`[debian-lock] packages.add = ["libx11-6"]`' in text
    assert "pants generate-lockfiles --resolve=debian" in text


def test_headless_trims_only_runtimes_with_java_desktop() -> None:
    option = ["libjsound.so", "libawt_xawt.so"]
    assert headless_libraries(True, ["java.base", "java.desktop"], option) == ("libawt_xawt.so", "libjsound.so")
    assert headless_libraries(True, ["java.base", "java.sql"], option) == ()
    assert headless_libraries(False, ["java.base", "java.desktop"], option) == ()
    assert excluded_but_used(["java.base", "java.desktop"], ["java.desktop", "jdk.zipfs"]) == ("java.desktop",)


def test_missing_libraries_of_a_gui_runtime_give_java_advice_and_every_package() -> None:
    missing = [
        MissingLibrary("libX11.so.6", "/opt/java/lib/libawt_xawt.so", (), ("libx11-6",)),
        MissingLibrary("libfreetype.so.6", "/opt/java/lib/libfontmanager.so", ("libfreetype6",), ()),
        MissingLibrary("libxcb.so.1", "/usr/lib/x86_64-linux-gnu/libX11.so.6", (), ("libxcb1",)),
    ]
    text = missing_libraries_error(ADDRESS, missing, headless=False, has_desktop=True)
    assert "libX11.so.6, needed by /opt/java/lib/libawt_xawt.so: not in the Debian lock; Debian's package for it is probably libx11-6" in text
    assert "libfreetype.so.6, needed by /opt/java/lib/libfontmanager.so: in the Debian lock's libfreetype6" in text
    assert "sets `headless=False`" in text and "java.desktop's AWT" in text
    assert 'Add "libfreetype6", "libx11-6", "libxcb1" to the `debian_packages` field of testprojects/java/h2:server.' in text
    assert '`[debian-lock] packages.add = ["libx11-6", "libxcb1"]`' in text
    # A JNI library of the program's own package: no AWT advice.
    jni = [MissingLibrary("libfoo.so.1", "/usr/lib/x86_64-linux-gnu/libbar.so.2", ("libfoo1",), ())]
    text = missing_libraries_error(ADDRESS, jni, headless=True, has_desktop=False)
    assert "AWT" not in text and 'Add "libfoo1" to the `debian_packages` field' in text
