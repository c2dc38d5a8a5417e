"""Report data shaped like real measurements, shared by the render tests."""

from __future__ import annotations

import datetime

from benchmarks.results import FloorResult, ImageReport, Machine, Probe, ReadyResult, RebuildResult

LAYER_LINE = "Building the CPython runtime: a runtime layer from 23 Debian packages"

MACHINE = Machine(nproc=2, cpu_model="Test CPU", qemu="QEMU emulator version 7.2.0", kvm="not usable", pants="2.17.1")
WHEN = datetime.datetime(2026, 11, 27, 12, 34, tzinfo=datetime.timezone.utc)


def c_report(address: str = "testprojects/c/hello_http:image", **kw) -> ImageReport:
    r = ImageReport(
        address=address,
        runtime="c",
        manifest={"kernel_version": "6.1.176", "memory_mib": 64, "memory_needed_mib": 13,
                  "ports": [{"host": 8080, "guest": 8080}],
                  "initrd": {"compression": "gzip", "entries": 11, "unpacked_bytes": 49742}},
        sizes={"kernel": 1_100_000, "initrd": 20_000, "total": 1_120_000},
        ready=ReadyResult(virtual_ms=[30.5, 30.5], wall_s=[2.0, 2.1], http_status=[200, 200]),
        floor=FloorResult(14, [Probe(64, True, "ok"), Probe(13, False, "initramfs unpacking failed"), Probe(14, True, "ok")], True),
        rebuilds=[
            RebuildResult("fresh", "testprojects/c/hello_http/main.c", wall_s=9.5, noop_wall_s=8.0,
                          completed=["Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)"]),
            RebuildResult("pantsd", "testprojects/c/hello_http/main.c", wall_s=1.2, noop_wall_s=0.4, start_wall_s=20.0,
                          completed=["Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)"]),
        ],
    )
    for k, v in kw.items():
        setattr(r, k, v)
    return r



def disk_report(**kw) -> ImageReport:
    r = c_report(
        "testprojects/python/hello_http:image",
        runtime="python",
        manifest={"kernel_version": "6.1.176", "memory_mib": 64, "ports": [{"host": 8080, "guest": 8080}],
                  "root": {"kind": "disk", "fstype": "squashfs", "compression": "lz4hc",
                           "unpacked_bytes": 40_000_000}},
        sizes={"kernel": 1_500_000, "initrd": 30_000, "rootfs.img": 17_000_000, "total": 18_530_000},
        ready=ReadyResult(virtual_ms=[1590.25, 1590.25], wall_s=[9.0, 9.1], http_status=[200, 200]),
        ready_poll=ReadyResult(virtual_ms=[339.1, 339.4], wall_s=[8.0, 8.2], http_status=[200, 200]),
    )
    r.rebuilds[0].completed = [LAYER_LINE, "Building the rootfs"]
    for k, v in kw.items():
        setattr(r, k, v)
    return r


