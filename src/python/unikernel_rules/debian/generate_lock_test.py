from __future__ import annotations

import textwrap

import pytest

from unikernel_rules.debian.generate_lock import Index, Resolver, ResolveError

PACKAGES = textwrap.dedent(
    """\
    Package: app
    Version: 1.0-1
    Architecture: amd64
    Depends: libc6 (>= 2.36), liba | libb, mail-transport-agent, python3:any, onlyarm [arm64]
    Pre-Depends: dpkg (>= 1.15)
    Filename: pool/main/a/app/app_1.0-1_amd64.deb
    Size: 10
    SHA256: 0000000000000000000000000000000000000000000000000000000000000001

    Package: libc6
    Version: 2.36-9
    Architecture: amd64
    Filename: pool/main/g/glibc/libc6_2.36-9_amd64.deb
    Size: 11
    SHA256: 0000000000000000000000000000000000000000000000000000000000000002

    Package: libc6
    Version: 2.35-1
    Architecture: amd64
    Filename: pool/main/g/glibc/libc6_2.35-1_amd64.deb
    Size: 12
    SHA256: 0000000000000000000000000000000000000000000000000000000000000003

    Package: libb
    Version: 1
    Architecture: amd64
    Filename: pool/main/b/libb_1_amd64.deb
    Size: 13
    SHA256: 0000000000000000000000000000000000000000000000000000000000000004

    Package: postfix
    Version: 3.7
    Architecture: amd64
    Provides: mail-transport-agent
    Depends: libc6
    Filename: pool/main/p/postfix_3.7_amd64.deb
    Size: 14
    SHA256: 0000000000000000000000000000000000000000000000000000000000000005

    Package: exim4
    Version: 4.96
    Architecture: amd64
    Provides: mail-transport-agent
    Filename: pool/main/e/exim4_4.96_amd64.deb
    Size: 15
    SHA256: 0000000000000000000000000000000000000000000000000000000000000006

    Package: python3
    Version: 3.11.2-1
    Architecture: amd64
    Filename: pool/main/p/python3_3.11.2-1_amd64.deb
    Size: 16
    SHA256: 0000000000000000000000000000000000000000000000000000000000000007

    Package: dpkg
    Version: 1.21
    Architecture: amd64
    Essential: yes
    Filename: pool/main/d/dpkg_1.21_amd64.deb
    Size: 17
    SHA256: 0000000000000000000000000000000000000000000000000000000000000008

    Package: armonly
    Version: 1
    Architecture: arm64
    Filename: pool/main/a/armonly_1_arm64.deb
    Size: 18
    SHA256: 0000000000000000000000000000000000000000000000000000000000000009

    Package: needs-new-libc
    Version: 1
    Architecture: all
    Depends: libc6 (>= 3.0)
    Filename: pool/main/n/needs-new-libc_1_all.deb
    Size: 19
    SHA256: 000000000000000000000000000000000000000000000000000000000000000a

    Package: via-versioned-virtual
    Version: 1
    Architecture: all
    Depends: libfoo-abi (= 2)
    Filename: pool/main/v/via_1_all.deb
    Size: 20
    SHA256: 000000000000000000000000000000000000000000000000000000000000000b

    Package: libfoo2
    Version: 2.0
    Architecture: amd64
    Provides: libfoo-abi (= 2)
    Filename: pool/main/l/libfoo2_2.0_amd64.deb
    Size: 21
    SHA256: 000000000000000000000000000000000000000000000000000000000000000c

    Package: libfoo1
    Version: 1.0
    Architecture: amd64
    Provides: libfoo-abi (= 1)
    Filename: pool/main/l/libfoo1_1.0_amd64.deb
    Size: 22
    SHA256: 000000000000000000000000000000000000000000000000000000000000000d

    Package: chain-top
    Version: 1
    Architecture: all
    Depends: chain-mid
    Filename: pool/main/c/chain-top_1_all.deb
    Size: 23
    SHA256: 000000000000000000000000000000000000000000000000000000000000000e

    Package: chain-mid
    Version: 1
    Architecture: all
    Depends: nonexistent (>= 1) | libc6 (>= 9)
    Filename: pool/main/c/chain-mid_1_all.deb
    Size: 24
    SHA256: 000000000000000000000000000000000000000000000000000000000000000f
    """
)


def resolve(*roots: str) -> dict:
    index = Index("amd64", ["bookworm"])
    index.add_packages_text("bookworm", PACKAGES)
    index.finish()
    return Resolver(index).resolve(roots)


def test_closure_alternatives_provides_versions() -> None:
    locked = resolve("app")
    # Versioned dependency: the highest version that satisfies it.
    assert locked["libc6"]["version"] == "2.36-9"
    assert locked["libc6"]["sha256"].endswith("2")
    # `liba | libb`: liba does not exist, libb is the first satisfiable alternative.
    assert "libb" in locked and "liba" not in locked
    # A virtual package with several providers: the provider with the smallest name.
    assert "exim4" in locked and "postfix" not in locked
    # `:any` qualifier; Pre-Depends followed; arch-restricted relation of another arch ignored.
    assert {"python3", "dpkg"} <= set(locked) and "armonly" not in locked
    assert locked["app"]["depends"] == ["dpkg", "exim4", "libb", "libc6", "python3"]
    assert locked["app"]["filename"] == "pool/main/a/app/app_1.0-1_amd64.deb"
    assert locked["app"]["size"] == 10 and locked["app"]["suite"] == "bookworm"
    assert sorted(locked) == ["app", "dpkg", "exim4", "libb", "libc6", "python3"]


def test_versioned_provides() -> None:
    locked = resolve("via-versioned-virtual")
    assert sorted(locked) == ["libfoo2", "via-versioned-virtual"]


def test_unsatisfiable_names_the_chain() -> None:
    with pytest.raises(ResolveError) as e:
        resolve("chain-top")
    msg = str(e.value)
    assert "nonexistent (>= 1) | libc6 (>= 9)" in msg
    assert "chain-top -> chain-mid" in msg
    assert "2.36-9" in msg  # available versions are named


def test_conflict_with_an_earlier_choice() -> None:
    with pytest.raises(ResolveError) as e:
        resolve("app", "needs-new-libc")
    assert "libc6 (>= 3.0)" in str(e.value) and "already chosen" in str(e.value)


def test_unknown_root_and_virtual_root() -> None:
    with pytest.raises(ResolveError, match="does not exist"):
        resolve("no-such-package")
    with pytest.raises(ResolveError, match="virtual package provided by exim4, postfix"):
        resolve("mail-transport-agent")
