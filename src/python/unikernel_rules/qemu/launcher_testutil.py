"""Helpers shared by the launcher's unit tests (launcher/*_test.py)."""

from __future__ import annotations

from unikernel_rules.qemu.launcher import Bundle, HostInfo

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
