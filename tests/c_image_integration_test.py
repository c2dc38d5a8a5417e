"""`pants package` + boot of testprojects/c/hello_http, and `pants run` behaviour."""

from __future__ import annotations

import json
import re
import time
import uuid

from typing import Iterator

import pytest

from pants_repo import RepoCopy, interrupt, qemu_processes_for
from unikernel_rules.qemu import launcher

IMAGE = "testprojects/c/hello_http:image"
BUNDLE = "testprojects.c.hello_http/image"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("c-image") / "repo")
    yield repo
    repo.cleanup()


def test_package_boot_and_fetch(repo: RepoCopy) -> None:
    repo.run("package", IMAGE).assert_success()
    bundle = repo.bundle(BUNDLE)
    assert sorted(p.name for p in bundle.iterdir()) == ["cmdline", "container.tar", "initrd", "kernel", "manifest.json", "sbom.spdx.json"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["target"] == IMAGE
    assert manifest["runtime"] == "c"
    assert manifest["ports"] == [{"host": 8080, "guest": 8080}]
    assert manifest["kernel_version"].startswith("6.1.")
    for name in ("kernel", "initrd", "cmdline"):
        assert manifest["files"][name]["size"] == (bundle / name).stat().st_size
    assert (bundle / "cmdline").read_text().count("\n") == 1

    port = launcher.free_port()
    result = launcher.boot(
        str(bundle),
        ports=[(port, 8080)],
        accel="tcg",
        ready=r"READY",
        stop_after_ready=True,
        http_get="8080/",
        timeout=120,
        quiet=True,
    )
    assert result.ready_line and "monotonic_ms=" in result.ready_line, result.output
    assert result.http_status == 200, result.output
    assert result.http_body == "Hello from a unikernel!\n"
    assert result.exit_code == 0


def _exit_program(repo: RepoCopy, name: str, body: str, **image_fields: str) -> str:
    fields = "".join(f", {k}={v}" for k, v in image_fields.items())
    repo.write(
        f"testprojects/run/{name}/main.c",
        "#include <stdio.h>\n#include <stdlib.h>\nint main(int argc, char **argv) {\n" + body + "\n}\n",
    )
    repo.write(
        f"testprojects/run/{name}/BUILD",
        f"""\
        c_program(name="app", sources=["main.c"])
        unikernel_image(name="image", dependencies=[":app"]{fields})
        """,
    )
    return f"testprojects/run/{name}:image"


def test_run_exit_status_and_args(repo: RepoCopy) -> None:
    target = _exit_program(
        repo,
        "exit_code",
        'for (int i = 1; i < argc; i++) printf("arg[%d]=%s\\n", i, argv[i]);\n'
        "return argc > 2 ? atoi(argv[2]) : 0;",
        args='["configured"]',
    )
    result = repo.run("run", target, "--", "0", "with space")
    assert result.exit_code == 0, result.stderr
    assert "arg[3]=with space" in result.stdout
    result = repo.run("run", target, "--", "3")
    assert result.exit_code == 3, result.stderr
    assert "arg[1]=configured" in result.stdout
    assert "arg[2]=3" in result.stdout


def test_run_crash_reports_signal(repo: RepoCopy) -> None:
    target = _exit_program(repo, "crash", "volatile int *p = 0; *p = 1; return 0;")
    result = repo.run("run", target)
    assert result.exit_code == 128 + 11, result.stdout + result.stderr


def test_guest_kernel_panic_is_reported(repo: RepoCopy) -> None:
    # No /nonexistent: the kernel falls back to mounting a root disk, has none, and panics.
    target = _exit_program(repo, "panic", "return 0;", kernel_args='["rdinit=/nonexistent"]')
    started = time.monotonic()
    result = repo.run("run", target)
    assert result.exit_code == 1
    # The log is on stdout with the serial console, its tail on stderr with the virtio consoles.
    assert "Kernel panic" in result.stdout + result.stderr
    assert "the guest kernel panicked" in result.stderr
    assert time.monotonic() - started < 120


def test_too_little_memory_is_detected_by_init(repo: RepoCopy) -> None:
    # 16 MB of files in a 48 MiB VM: the kernel unpacks the initramfs only partly, boots
    # anyway, and init must notice and say how much memory the image needs.
    blob = repo.root / "testprojects/run/bigmem/blob.bin"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(b"\0" * 16_000_000)
    repo.write(
        "testprojects/run/bigmem/BUILD",
        """\
        files(name="blob", sources=["blob.bin"])
        unikernel_image(
            name="image",
            dependencies=["//testprojects/c/hello_http:app", ":blob"],
            memory=48,
            initrd_compression="none",
        )
        """,
    )
    result = repo.run("run", "testprojects/run/bigmem:image")
    assert result.exit_code == 125, result.stdout + result.stderr
    log = result.stdout + result.stderr  # init's messages: the console, or the log on stderr
    assert "initramfs was only partly unpacked" in log
    assert re.search(r"needs at least \d+ MiB but this VM has \d+ MiB", log)
    assert "`memory` is 48 MiB but the image probably needs about" in result.stderr
    assert "raise the `memory` field" in log
    assert re.search(r"`pants run --unikernel-run-memory=\d+ testprojects/run/bigmem:image`", log)


def test_ctrl_c_leaves_no_qemu(repo: RepoCopy) -> None:
    name = f"ctrlc_{uuid.uuid4().hex[:8]}"
    repo.write(
        f"testprojects/run/{name}/BUILD",
        f"""\
        unikernel_image(name="{name}", dependencies=["//testprojects/c/hello_http:app"], ports=["{launcher.free_port()}:8080"])
        """,
    )
    proc = repo.popen("run", f"testprojects/run/{name}:{name}")
    assert proc.stdout is not None
    output = []
    deadline = time.monotonic() + 300
    for line in iter(proc.stdout.readline, b""):
        output.append(line.decode(errors="replace"))
        if "READY" in output[-1] or time.monotonic() > deadline:
            break
    assert any("READY" in line for line in output), "".join(output)
    assert qemu_processes_for(name), "QEMU should be running before Ctrl-C"
    interrupt(proc)
    proc.wait(timeout=60)
    time.sleep(1)
    assert not qemu_processes_for(name), "a QEMU process survived Ctrl-C"
