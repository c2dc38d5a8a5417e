from benchmarks import containers

FIGURES = {
    "measured": "2026-12-03 07:00 UTC",
    "machine": {"nproc": 2, "cpu": "Intel(R) Xeon(R) Processor", "qemu": "QEMU emulator version 7.2.22", "pants": "2.17.1"},
    "load_start": "1.0 1.0 1.0",
    "load_end": "1.0 1.0 1.0",
    "rounds": 2,
    "docker": "20.10.24+dfsg1",
    "duration_s": 300,
    "images": {
        "testprojects/c/hello_http:image": {
            "bundle_bytes": 1_500_000, "container_bytes": 30_720, "runtime": "c",
            "vm": [{"s": 2.0}, {"s": 4.0}], "container": [{"s": 0.5}, {"s": 0.5}],
            "layer_bytes": 17_000, "republish_s": 1.4, "republish_uploads": 0, "republish_ok": True,
            "artifact_bytes": 1_520_000, "sbom": {"bytes": 15_000, "files": 14, "packages": 6, "origins": {"app": 1}},
        },
        "testprojects/java/hello_http:image": {
            "bundle_bytes": 30_000_000, "container_bytes": 25_000_000, "runtime": "java",
            "vm": [{"s": 9.0}, {"error": "timed out"}], "container": [{"s": 1.0}, {"s": 1.2}],
        },
    },
}


def test_not_measured_yet() -> None:
    assert containers.render(None)[-1] == f"Not measured on this machine yet: `{containers.COMMAND}`."


def test_rows_medians_and_errors() -> None:
    lines = containers.render(FIGURES)
    c = next(line for line in lines if "c/hello_http" in line)
    assert "2.00 s / 4.00 s" in c and "0.50 s / 0.50 s" in c and c.endswith("| 6.0× |")
    assert "30,720 bytes" in c
    java = next(line for line in lines if "java/hello_http" in line)
    assert "❌ timed out" in java and java.endswith("| — |")  # no ratio from a failed sample


def test_section_replaced_in_place() -> None:
    before = f"# R\n\n{containers.HEADING}\n\nold\n\n## Reproducibility and remote cache\n\nx\n"
    after = containers.replace_section(before, FIGURES)
    assert "old" not in after and "| `testprojects/c/hello_http:image` |" in after
    assert after.endswith("## Reproducibility and remote cache\n\nx\n")


def test_publish_rows() -> None:
    lines = containers.render(FIGURES)
    row = next(line for line in lines if "c/hello_http" in line and "1.4 s" in line)
    assert "| 0 |" in row and row.endswith("no blob, ≤ 3 s ✅ |")
    assert "1,520,000 bytes" in row and "| 14, 6, 15,000 bytes (0.01 MB) |" in row
    assert not any("java/hello_http" in line and "s |" in line and "no blob" in line for line in lines)
