"""Unit tests of console.py: scanning the guest's output and explaining how a boot ended."""

from __future__ import annotations

import re

import pytest

from unikernel_rules.qemu.launcher import (
    ConsoleState,
    explain_exit,
    log_tail,
)


def test_console_state_markers():
    st = ConsoleState(ready_re=re.compile(r"listening on (\d+)"))
    assert st.feed_line("[    0.5] booting\r\n") == []
    assert st.feed_line("app: listening on 8080\r") == ["ready"]
    assert st.feed_line("app: listening on 8081") == []  # only the first match counts
    assert st.ready_line == "app: listening on 8080"
    assert st.feed_line("UNIKERNEL_EXIT=3\r\n") == ["exit"]
    assert st.app_exit == 3 and st.panic_line is None


def test_console_state_exit_marker_shapes():
    st = ConsoleState()
    assert st.feed_line("XUNIKERNEL_EXIT=4") == []
    assert st.feed_line("UNIKERNEL_EXIT=4 and more") == []
    assert st.feed_line("[ 1.0] init: UNIKERNEL_EXIT=0  ") == ["exit"]
    assert st.app_exit == 0


def test_console_state_panic_and_memory():
    st = ConsoleState()
    st.feed_line("[    0.61] Initramfs unpacking failed: write error")
    events = st.feed_line("[    1.11] Kernel panic - not syncing: No working init found.  Try passing init=")
    assert events == ["panic"]
    assert st.panic_line == "Kernel panic - not syncing: No working init found.  Try passing init="
    assert st.initramfs_failed
    st.feed_line("[    1.12] Kernel panic - not syncing: second")
    assert "second" not in st.panic_line


def test_explain_exit_marker_wins():
    st = ConsoleState()
    st.feed_line("UNIKERNEL_EXIT=3")
    assert explain_exit(st, 7) == (3, None)
    assert explain_exit(st, 0) == (3, None)  # QEMU stopped by us after a grace period
    st.feed_line("UNIKERNEL_EXIT=300")
    assert explain_exit(st, None)[0] == 300 & 0xFF


def test_explain_exit_panic():
    st = ConsoleState()
    st.feed_line("[ 1.1] Kernel panic - not syncing: VFS: Unable to mount root fs")
    code, msg = explain_exit(st, 0, memory_mib=64)
    assert code == 1
    assert msg.startswith("unikernel: the guest kernel panicked (Kernel panic - not syncing: VFS")
    assert "the VM was stopped" in msg
    assert "no usable /init" in msg and "`pants run --unikernel-run-memory=128 <image target>`" in msg
    st = ConsoleState()
    st.feed_line("[ 1.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000700")
    code, msg = explain_exit(st, 0, memory_mib=64)
    assert code == 1 and "--unikernel-run-memory" not in msg


def test_explain_exit_panic_with_memory_hint():
    st = ConsoleState()
    st.feed_line("Initramfs unpacking failed: write error")
    st.feed_line("Kernel panic - not syncing: No working init found.")
    code, msg = explain_exit(st, 0, memory_mib=32, memory_needed_mib=40)
    assert code == 1
    assert "--unikernel-run-memory=80" in msg and "32 MiB" in msg and "40 MiB" in msg
    st = ConsoleState()
    st.feed_line("Out of memory: Killed process 1 (init)")
    st.feed_line("Kernel panic - not syncing: Attempted to kill init!")
    assert "--unikernel-run-memory=128" in explain_exit(st, 0, memory_mib=64)[1]


@pytest.mark.parametrize(
    "rc, code",
    [(7, 3), (3, 1), (255, 127), (0, 1), (1, 1), (-9, 1), (2, 1)],
)
def test_explain_exit_qemu_status(rc, code):
    got, msg = explain_exit(ConsoleState(), rc)
    assert got == code
    if rc > 1 and rc % 2 == 1:
        assert msg is None
    else:
        assert msg and msg.startswith("unikernel: ")


def test_explain_exit_silent_reset_hints_memory():
    code, msg = explain_exit(ConsoleState(), 0, memory_mib=16)
    assert code == 1 and "printed nothing" in msg and "16 MiB" in msg
    st = ConsoleState()
    st.feed_line("hello")
    assert "printed nothing" not in explain_exit(st, 0, memory_mib=16)[1]


def test_explain_exit_hostfwd_hint():
    stderr = "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:80-:80: Could not set up host forwarding rule 'tcp:127.0.0.1:80-:80'\n"
    code, msg = explain_exit(ConsoleState(), 1, stderr=stderr)
    assert code == 1 and "`pants run --unikernel-run-ports=18080:8080 <image target>`" in msg
    assert "`pants run --unikernel-run-ports=none <image target>`" in msg
    # The hint names the image when the caller knows it.
    hint = lambda *opts: " ".join(["pants run", *opts, "testprojects/c/hello_http:image"])  # noqa: E731
    code, msg = explain_exit(ConsoleState(), 1, stderr=stderr, run_hint=hint)
    assert "`pants run --unikernel-run-ports=none testprojects/c/hello_http:image`" in msg


def test_explain_exit_app_out_of_memory():
    # The JVM cannot reserve its heap: it exits 1; the message says to raise `memory`.
    st = ConsoleState()
    st.feed_line("Error occurred during initialization of VM")
    st.feed_line("Could not reserve enough space for object heap")
    st.feed_line("UNIKERNEL_EXIT=1")
    code, message = explain_exit(st, 7, memory_mib=32)
    assert code == 1
    assert message is not None and "out of memory" in message and "`memory` field" in message
    assert "memory=64" in message
    # A plain failure without memory trouble stays silent.
    st = ConsoleState()
    st.feed_line("UNIKERNEL_EXIT=1")
    assert explain_exit(st, 7, memory_mib=32) == (1, None)


def test_app_output_cannot_fake_the_exit_marker_or_a_panic():
    st = ConsoleState(ready_re=re.compile("READY"))
    assert st.feed_line("UNIKERNEL_EXIT=0", from_log=False) == []
    assert st.feed_line("Kernel panic - not syncing: no", from_log=False) == []
    assert st.app_exit is None and st.panic_line is None
    # The app's own output still counts for readiness and memory trouble.
    assert st.feed_line("READY 12", from_log=False) == ["ready"]
    st.feed_line("java.lang.OutOfMemoryError: Java heap space", from_log=False)
    assert st.out_of_memory
    assert st.feed_line("UNIKERNEL_EXIT=3") == ["exit"] and st.app_exit == 3


def test_console_state_collects_init_messages():
    st = ConsoleState()
    st.feed_line("[    0.5] something from the kernel")
    st.feed_line("unikernel-init: cannot execute /app/x: No such file or directory\r\n")
    assert st.init_messages == ["unikernel-init: cannot execute /app/x: No such file or directory"]


def test_log_tail_drops_marker_and_crs():
    text = "".join(f"line {i}\r\n" for i in range(50)) + "\r\nUNIKERNEL_EXIT=1\r\n"
    assert log_tail(text, 3) == "line 47\nline 48\nline 49"
