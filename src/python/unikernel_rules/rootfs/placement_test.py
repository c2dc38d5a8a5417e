from __future__ import annotations

from textwrap import dedent
from typing import Dict, List

import pytest
from pants.core.target_types import (
    FilesGeneratorTarget,
    FileTarget,
    RelocatedFiles,
    ResourcesGeneratorTarget,
    ResourceTarget,
)
from pants.core.target_types import rules as core_target_type_rules
from pants.core.util_rules import source_files, stripped_source_files
from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent, SymlinkEntry
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import RuleRunner

from unikernel_rules.rootfs import placement
from unikernel_rules.rootfs.placement import (
    ImageFiles,
    ImageFilesRequest,
    PlacedFile,
    check_no_conflicts,
    relocated_dest_problem,
)
from unikernel_rules.target_types import (
    CLibraryTarget,
    CProgramTarget,
    UnikernelFilesTarget,
    UnikernelImageDependenciesField,
    UnikernelImageTarget,
    UnikernelKernelTarget,
    guest_path_problem,
)

APP = Address("app", target_name="app")


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *placement.rules(),
            *core_target_type_rules(),
            *source_files.rules(),
            *stripped_source_files.rules(),
            QueryRule(ImageFiles, [ImageFilesRequest]),
            QueryRule(Digest, [CreateDigest]),
            QueryRule(DigestContents, [Digest]),
        ],
        target_types=[
            UnikernelImageTarget,
            UnikernelKernelTarget,
            UnikernelFilesTarget,
            CProgramTarget,
            CLibraryTarget,
            FilesGeneratorTarget,
            FileTarget,
            ResourcesGeneratorTarget,
            ResourceTarget,
            RelocatedFiles,
        ],
    )
    runner.set_options(["--source-root-patterns=['/src']"])
    return runner


def _write(rule_runner: RuleRunner, image_deps: List[str], **files: str) -> None:
    rule_runner.write_files(
        {
            "app/BUILD": 'c_program(name="app", sources=["main.c"])\n',
            "app/main.c": "int main(void) { return 0; }\n",
            "img/BUILD": f'unikernel_image(name="img", dependencies={image_deps!r})\n',
            **{path: dedent(text) for path, text in files.items()},
        }
    )


def _place(rule_runner: RuleRunner, app_files: Dict[str, bytes] = {"app/app": b"\x7fELF"}) -> ImageFiles:
    app_digest = rule_runner.request(
        Digest, [CreateDigest([FileContent(p, c) for p, c in app_files.items()])]
    )
    deps = rule_runner.get_target(Address("img", target_name="img"))[UnikernelImageDependenciesField]
    return rule_runner.request(
        ImageFiles, [ImageFilesRequest(Address("img", target_name="img"), deps, APP, app_digest)]
    )


def _contents(rule_runner: RuleRunner, image_files: ImageFiles) -> Dict[str, bytes]:
    return {fc.path: fc.content for fc in rule_runner.request(DigestContents, [image_files.digest])}


def _fails(rule_runner: RuleRunner, *fragments: str) -> str:
    with pytest.raises(ExecutionError) as e:
        _place(rule_runner)
    message = str(e.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message}"
    return message


def test_every_file_kind_lands_where_documented(rule_runner: RuleRunner) -> None:
    _write(
        rule_runner,
        ["//app", "//data:files", "//src/pkg:res", "//scripts:moved", "//etc:config", "//kernel:k"],
        **{
            "data/BUILD": 'files(name="files", sources=["*.txt"])',
            "data/a.txt": "a",
            "src/pkg/BUILD": 'resources(name="res", sources=["r.json"])',
            "src/pkg/r.json": "{}",
            "lua/BUILD": 'files(name="script", sources=["hello.lua"])',
            "lua/hello.lua": "print(1)",
            "scripts/BUILD": 'relocated_files(name="moved", files_targets=["//lua:script"], src="lua", dest="scripts")',
            "etc/BUILD": 'unikernel_files(name="config", sources=["myapp.toml", "conf.d/*"], destination="/etc/myapp/")',
            "etc/myapp.toml": "x = 1",
            "etc/conf.d/extra.toml": "y = 2",
            "kernel/BUILD": 'unikernel_kernel(name="k")',
        },
    )
    placed = _place(rule_runner)
    assert _contents(rule_runner, placed) == {
        "app/app": b"\x7fELF",
        "app/data/a.txt": b"a",
        "app/pkg/r.json": b"{}",
        "app/scripts/hello.lua": b"print(1)",
        "etc/myapp/myapp.toml": b"x = 1",
        "etc/myapp/conf.d/extra.toml": b"y = 2",
    }
    assert {(f.path, f.owner.spec) for f in placed.placed} == {
        ("app/data/a.txt", "data/a.txt:files"),
        ("app/pkg/r.json", "src/pkg/r.json:res"),
        ("app/scripts/hello.lua", "scripts:moved"),
        ("etc/myapp/myapp.toml", "etc:config"),
        ("etc/myapp/conf.d/extra.toml", "etc:config"),
    }


def test_unikernel_files_in_the_root_build_file_at_the_guest_root(rule_runner: RuleRunner) -> None:
    _write(rule_runner, ["//app", "//:top"], **{"BUILD": 'unikernel_files(name="top", sources=["motd"], destination="/")', "motd": "hi"})
    assert _contents(rule_runner, _place(rule_runner))["motd"] == b"hi"


def test_unusable_dependency_is_named_with_its_type(rule_runner: RuleRunner) -> None:
    _write(rule_runner, ["//app", "//lib:lib"], **{"lib/BUILD": 'c_library(name="lib")', "lib/l.c": ""})
    _fails(
        rule_runner,
        "The `dependencies` field of the `unikernel_image` img:img",
        "lib:lib (a `c_library` target)",
        "app target's own `dependencies`",
        "unikernel_files",
    )


@pytest.mark.parametrize("dest", ["../etc", "/etc", "a/../../b"])
def test_relocated_files_out_of_app_is_an_error(rule_runner: RuleRunner, dest: str) -> None:
    _write(
        rule_runner,
        ["//app", "//moved:moved"],
        **{
            "data/BUILD": 'files(name="f", sources=["x"])',
            "data/x": "x",
            "moved/BUILD": f'relocated_files(name="moved", files_targets=["//data:f"], src="data", dest={dest!r})',
        },
    )
    _fails(rule_runner, "The `dest` field of the `relocated_files` moved:moved", repr(dest), "outside the image's", 'destination="/etc/myapp"')


def test_two_targets_at_one_path(rule_runner: RuleRunner) -> None:
    _write(
        rule_runner,
        ["//app", "//data:f", "//moved:moved"],
        **{
            "data/BUILD": 'files(name="f", sources=["x"])',
            "data/x": "x",
            # Relocates data/x to data/x: the same guest path as the `files` target's.
            "moved/BUILD": 'relocated_files(name="moved", files_targets=["//data:f"], src="", dest="")',
        },
    )
    _fails(rule_runner, "img:img place files at the guest path /app/data/x", "data/x:f", "moved:moved")


def test_a_file_over_the_apps_binary(rule_runner: RuleRunner) -> None:
    _write(rule_runner, ["//app", "//over:f"], **{"over/BUILD": 'unikernel_files(name="f", sources=["app"], destination="/app")', "over/app": "x"})
    _fails(rule_runner, "the guest path /app/app", "app:app (the app)", "over:f")


@pytest.mark.parametrize(
    "destination, problem",
    [
        ("etc/myapp", "not absolute"),
        ("/../etc", "climbs above the guest's root"),
        ("/proc/x", "mounts a file system on /proc"),
        ("/tmp", "mounts a file system on /tmp"),
        ("/.uk", "belongs to the image's init"),
    ],
)
def test_bad_destination(rule_runner: RuleRunner, destination: str, problem: str) -> None:
    rule_runner.write_files({"etc/BUILD": f'unikernel_files(name="c", sources=["a"], destination={destination!r})', "etc/a": ""})
    with pytest.raises(ExecutionError) as e:
        rule_runner.get_target(Address("etc", target_name="c"))
    assert "The `destination` field of the `unikernel_files` etc:c" in str(e.value)
    assert problem in str(e.value)


def test_guest_path_problem() -> None:
    assert guest_path_problem("/etc/myapp") is None
    assert guest_path_problem("/") is None
    assert guest_path_problem("/etc/../var/lib") is None
    assert guest_path_problem("/tmpfiles") is None  # only /tmp itself and below
    assert guest_path_problem("/init") is not None
    assert guest_path_problem("/dev") is not None


def test_relocated_dest_problem() -> None:
    assert relocated_dest_problem("") is None
    assert relocated_dest_problem("scripts/lua") is None
    assert relocated_dest_problem("a/../b") is None
    assert relocated_dest_problem("..") is not None


def test_conflicts_between_a_file_and_a_directory() -> None:
    image = Address("img", target_name="img")
    with pytest.raises(placement.PlacementError) as e:
        check_no_conflicts(image, APP, ["app/data"], [PlacedFile("app/data/x", Address("d", target_name="f"))])
    assert "/app/data" in str(e.value) and "app:app (the app) (a file there)" in str(e.value)
    with pytest.raises(placement.PlacementError):
        check_no_conflicts(image, APP, ["app/data/x"], [PlacedFile("app/data", Address("d", target_name="f"))])
    # The same target may hold several files; different paths never conflict.
    check_no_conflicts(
        image, APP, ["app/app"], [PlacedFile("etc/a", Address("d", target_name="f")), PlacedFile("etc/b", Address("d", target_name="f"))]
    )


def test_app_symlinks_count_as_files(rule_runner: RuleRunner) -> None:
    _write(rule_runner, ["//app", "//over:f"], **{"over/BUILD": 'unikernel_files(name="f", sources=["python3"], destination="/usr/bin")', "over/python3": ""})
    app_digest = rule_runner.request(Digest, [CreateDigest([SymlinkEntry("usr/bin/python3", "python3.11")])])
    deps = rule_runner.get_target(Address("img", target_name="img"))[UnikernelImageDependenciesField]
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(ImageFiles, [ImageFilesRequest(Address("img", target_name="img"), deps, APP, app_digest)])
    assert "/usr/bin/python3" in str(e.value)
