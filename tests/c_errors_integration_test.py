"""Every user mistake from the C-image issue gets one clear message naming target, field, fix.

All runs share one pantsd (a fresh Pants process costs 15-40 s on these machines; the module's
dozen runs took 200-1100 s without it)."""

from __future__ import annotations

import json
import textwrap

from typing import Iterator

import pytest

from pants_repo import RepoCopy, fails_with


def _kernel(name: str, **fields: str) -> str:
    return f'unikernel_kernel(name="{name}"' + "".join(f", {k}={v}" for k, v in fields.items()) + ")\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("c-errors") / "repo")
    repo.write("testprojects/bad/ok.c", "int main(void) { return 0; }\n")
    repo.write(
        "testprojects/bad/broken.c",
        "#include <stdio.h>\nint main(void) {\n  printf(\"hi\\n\")\n  return 0;\n}\n",
    )
    repo.write("testprojects/bad/fragments/unknown.config", "CONFIG_TTY=y\nCONFIG_NO_SUCH_OPTION_XYZ=y\n")
    repo.write(
        "testprojects/bad/BUILD",
        textwrap.dedent(
            """\
        c_program(name="ok", sources=["ok.c"])
        c_program(name="ok2", sources=["ok.c"])
        c_program(name="broken", sources=["broken.c"])
        files(name="data", sources=["ok.c"])

        unikernel_image(name="no_app", dependencies=[":data"])
        unikernel_image(name="two_apps", dependencies=[":ok", ":ok2"])
        unikernel_image(name="broken_image", dependencies=[":broken"])
        unikernel_image(name="missing_fragment", dependencies=[":ok"], kernel=":kernel_missing")
        unikernel_image(name="unknown_option", dependencies=[":ok"], kernel=":kernel_unknown")
        unikernel_image(name="locked_source", dependencies=[":ok"], kernel=":kernel_source")
        unikernel_image(name="unlocked", dependencies=[":ok"], kernel=":kernel_unlocked")
        unikernel_image(name="not_a_kernel", dependencies=[":ok"], kernel=":data")
        """
        )
        + _kernel("kernel_missing", fragments='["fragments/does_not_exist.config"]')
        + _kernel("kernel_unknown", fragments='["fragments/unknown.config"]')
        + _kernel("kernel_source")
        + _kernel("kernel_unlocked", source_package='"linux-source-9.9"'),
    )
    # Edited copies of the Debian lock: the kernel source tampered with, or vanished.
    lock = json.loads((repo.root / "3rdparty/debian/debian.lock").read_text())
    source = lock["packages"]["linux-source-6.1"]
    tampered = json.loads(json.dumps(lock))
    tampered["packages"]["linux-source-6.1"]["sha256"] = "0" * 64
    repo.write("3rdparty/debian/tampered.lock", json.dumps(tampered, indent=2, sort_keys=True))
    vanished = json.loads(json.dumps(lock))
    vanished["packages"]["linux-source-6.1"]["filename"] = source["filename"].replace("6.1.176-1", "6.1.1-0")
    vanished["packages"]["linux-source-6.1"]["sha256"] = "1" * 64
    repo.write("3rdparty/debian/vanished.lock", json.dumps(vanished, indent=2, sort_keys=True))
    yield repo
    repo.stop_pantsd()
    repo.cleanup()


def test_no_app(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:no_app",
        use_pantsd=True, expect=["testprojects/bad:no_app", "`dependencies`", "exactly one app", "names 0", 'dependencies=[":app"]'],
    )


def test_two_apps(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:two_apps",
        use_pantsd=True, expect=["testprojects/bad:two_apps", "names 2", "testprojects/bad:ok", "testprojects/bad:ok2", "one `unikernel_image` per app"],
    )


@pytest.mark.parametrize(
    "memory, expect",
    [('"lots"', "is 'lots', which is not a memory size"), ("2", "asks for 2 MiB"), ('"3T"', "not a memory size")],
)
def test_invalid_memory(repo: RepoCopy, memory: str, expect: str) -> None:
    repo.write("testprojects/bad/memory/BUILD", f'unikernel_image(name="img", dependencies=["//testprojects/bad:ok"], memory={memory})\n')
    fails_with(repo, "package", "testprojects/bad/memory:img", use_pantsd=True, expect=["`memory` field of testprojects/bad/memory:img", expect, "memory=64"])


@pytest.mark.parametrize("ports", ['["http"]', '["70000"]', '["8080:0"]', '["1:2:3"]', '["8080", "8080:81"]'])
def test_invalid_ports(repo: RepoCopy, ports: str) -> None:
    repo.write("testprojects/bad/ports/BUILD", f'unikernel_image(name="img", dependencies=["//testprojects/bad:ok"], ports={ports})\n')
    fails_with(repo, "package", "testprojects/bad/ports:img", use_pantsd=True, expect=["`ports` field of testprojects/bad/ports:img"])


def test_c_compile_error_shows_file_and_line(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:broken_image",
        use_pantsd=True, expect=["c_program testprojects/bad:broken", "testprojects/bad/broken.c:3:", "error:"],
    )


def test_missing_kernel_fragment(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:missing_fragment",
        use_pantsd=True, expect=["`fragments` field of testprojects/bad:kernel_missing", "testprojects/bad/fragments/does_not_exist.config", "does not exist"],
    )


def test_kernel_fragment_with_unknown_option(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:unknown_option",
        use_pantsd=True, expect=[
            "kernel config of testprojects/bad:kernel_unknown",
            "testprojects/bad/fragments/unknown.config:2",
            "CONFIG_NO_SUCH_OPTION_XYZ does not exist",
        ],
    )


@pytest.mark.parametrize(
    "lockfile, expect",
    [
        ("tampered", "did not match the lock"),
        ("vanished", "linux-source-6.1_6.1.1-0_all.deb has vanished from the archive (HTTP 404)"),
    ],
)
def test_kernel_source_download_failure_says_how_to_relock(repo: RepoCopy, lockfile: str, expect: str) -> None:
    fails_with(
        repo, f"--debian-lock-lockfile=3rdparty/debian/{lockfile}.lock", "package", "testprojects/bad:locked_source",
        use_pantsd=True, expect=[
            "Fetching the Debian package linux-source-6.1",
            "the kernel source of testprojects/bad:kernel_source (field `source_package`)",
            expect,
            "Re-lock with `pants generate-lockfiles --resolve=debian`",
        ],
    )


def test_kernel_source_package_not_in_the_lock(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:unlocked",
        use_pantsd=True, expect=[
            "the kernel source of testprojects/bad:kernel_unlocked (field `source_package`) needs the Debian package linux-source-9.9",
            "`[debian-lock].packages`",
            "pants generate-lockfiles --resolve=debian",
        ],
    )


def test_kernel_field_pointing_at_a_non_kernel(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/bad:not_a_kernel",
        use_pantsd=True, expect=["The `kernel` of testprojects/bad:not_a_kernel", "not a `unikernel_kernel`"],
    )


def test_qemu_not_installed(repo: RepoCopy) -> None:
    fails_with(
        repo, "run", "--qemu-executable-search-paths=['/nonexistent']", "testprojects/c/hello_http:image",
        use_pantsd=True, expect=["qemu-system-x86_64", "was not found", "apt-get install qemu-system-x86", "[qemu].executable_search_paths"],
    )
