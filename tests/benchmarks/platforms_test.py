from __future__ import annotations

from benchmarks import platforms as pf

MANIFEST = {
    "platform": {"name": "vmware", "disk": "pvscsi", "nic": "vmxnet3", "address": "dhcp"},
    "files": {"kernel": {"size": 2_000_000}, "disk.vmdk": {"size": 2_200_000}},
    "formats": {"bundle": {"files": ["kernel"]}, "vmdk": {"file": "disk.vmdk"}},
    "kernel": {"fragments": ["builtin:base", "builtin:platform-vmware"]},
    "total_bytes": 2_100_000,
}
FIGURES = {
    "measured": "2026-12-02 15:00 UTC",
    "machine": {"nproc": 2, "cpu": "x", "qemu": "QEMU 7.2", "pants": "2.17.1"},
    "boots": 1,
    "images": {"testprojects/platforms:vmware": {**pf.image_entry(MANIFEST),
                                                 "boots": [{"monotonic_ms": 812.4, "http_status": 200}]}},
}


def test_image_entry_reads_the_manifest() -> None:
    e = pf.image_entry(MANIFEST)
    assert e == {"platform": "vmware", "devices": "pvscsi + vmxnet3", "kernel_bytes": 2_000_000,
                 "fragment": "builtin:platform-vmware", "format": "vmdk", "disk_bytes": 2_200_000,
                 "bundle_bytes": 2_100_000}


def test_render_and_replace() -> None:
    text = "\n".join(pf.render(FIGURES))
    assert "| `testprojects/platforms:vmware` | `vmware` |" in text and "812 ms (HTTP 200 ✅)" in text
    failed = {**FIGURES, "images": {"testprojects/platforms:vmware": {**FIGURES["images"]["testprojects/platforms:vmware"],
                                                                       "boots": [{"error": "no READY/HTTP"}]}}}
    assert "❌ no READY/HTTP" in "\n".join(pf.render(failed))
    md = "# Benchmarks\n\n## Reproducibility and remote cache\n\nx\n"
    once = pf.replace_section(md, FIGURES)
    assert once.index(pf.HEADING) < once.index("## Reproducibility") and pf.replace_section(once, FIGURES) == once
    assert "Not measured" in "\n".join(pf.render(None))
