"""Helpers shared by the launcher's unit tests (launcher/*_test.py)."""

from __future__ import annotations

import io
import json
import tarfile

from unikernel_rules.qemu.launcher import Bundle, HostInfo, LaunchOptions, load_bundle

TCG_HOST = HostInfo(cpu_flags=frozenset({"fpu", "sse2"}), kvm_usable=True)
KVM_HOST = HostInfo(cpu_flags=frozenset({"fpu", "vmx"}), kvm_usable=True)


def make_bundle(manifest=None, cmdline="console=ttyS0 panic=-1 quiet", path="/b"):
    m = {
        "schema": 1,
        "memory_mib": 64,
        "cpus": 1,
        "ports": [{"host": 8080, "guest": 8080}],
        "files": {"kernel": {}, "initrd": {}, "cmdline": {}},
    }
    m.update(manifest or {})
    return Bundle(path=path, manifest=m, cmdline=cmdline)


def opt_value(argv, flag, nth=0):
    idx = [i for i, a in enumerate(argv) if a == flag]
    return argv[idx[nth] + 1]


def opt_values(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


# --- disk images (disk_test.py, disk_run_test.py) ---------------------------------------------

ALL_FORMATS = {
    "bundle": {"files": ["kernel", "initrd", "cmdline"]},
    "raw": {"file": "disk.raw", "qemu_format": "raw"},
    "qcow2": {"file": "disk.qcow2", "qemu_format": "qcow2"},
    "vmdk": {"file": "disk.vmdk", "qemu_format": "vmdk"},
    "vhd": {"file": "disk.vhd", "qemu_format": "vpc"},
    "gce": {"file": "disk.tar.gz", "qemu_format": None, "member": "disk.raw"},
}
DISK = {"firmware": ["bios", "uefi"], "root_partuuid": "0d6c1b5e-3f5a-4a8e-9d5b-6f0c2a1e7b44", "cmdline": "x"}


def disk_image(tmp_path, formats=("raw",), manifest=None, path="img"):
    """A fake image directory with the disk files of `formats` (and the bundle's, if listed)."""
    d = tmp_path / path
    d.mkdir(parents=True, exist_ok=True)
    m = {"network": "isolated", "target": "a/b:img", "disk": DISK, "formats": {f: ALL_FORMATS[f] for f in formats}}
    m.update(manifest or {})
    for f in formats:
        if f == "bundle":
            for name in ("kernel", "initrd"):
                (d / name).write_bytes(b"x")
            (d / "cmdline").write_text("console=ttyS0\n")
        elif f == "gce":
            write_gce(d / "disk.tar.gz", {"disk.raw": b"MBR" + bytes(3 << 20) + b"END"})
        else:
            (d / ALL_FORMATS[f]["file"]).write_bytes(b"disk")
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def write_gce(path, members):
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def bundle_of(tmp_path, formats=("raw",), manifest=None):
    return load_bundle(str(disk_image(tmp_path, formats, manifest)))


def fake_ovmf(tmp_path, split=True):
    d = tmp_path / "ovmf"
    d.mkdir(exist_ok=True)
    if split:
        (d / "OVMF_CODE_4M.fd").write_bytes(b"code")
        (d / "OVMF_VARS_4M.fd").write_bytes(b"vars")
        return str(d / "OVMF_CODE_4M.fd")
    (d / "OVMF.fd").write_bytes(b"fw")
    return str(d / "OVMF.fd")


def opts(**kw):
    return LaunchOptions(**{"console": "serial", "work_dir": "/w", "qemu": "qemu", **kw})
