from __future__ import annotations

import pytest
from pants.engine.addresses import Address

from unikernel_rules.containers.checks import ContainerUnsuitableError, check_container_kernel, is_log_only

IMAGE = Address("src/app", target_name="image")
KERNEL = Address("3rdparty/kernel", target_name="linux")


def test_log_only_parameters() -> None:
    for p in ("loglevel=7", "quiet", "debug", "console=ttyS0", "earlyprintk=serial", "printk.time=1", "ignore_loglevel"):
        assert is_log_only(p), p
    for p in ("mitigations=off", "ipv6.disable=1", "sysctl.net.core.somaxconn=4096", "transparent_hugepage=never", "quietly"):
        assert not is_log_only(p), p


def test_nothing_asked_of_the_kernel() -> None:
    check = check_container_kernel(IMAGE, (), KERNEL, ())
    assert check.ignored_kernel_args == () and check.note() == ""


def test_log_parameters_are_ignored_with_a_note() -> None:
    check = check_container_kernel(IMAGE, ("loglevel=7", "printk.time=1"), KERNEL, ())
    assert check.ignored_kernel_args == ("loglevel=7", "printk.time=1")
    assert "`kernel_args` loglevel=7 printk.time=1 only shape the VM kernel's log" in check.note()


def test_kernel_args_refused() -> None:
    with pytest.raises(ContainerUnsuitableError) as e:
        check_container_kernel(IMAGE, ("loglevel=7", "mitigations=off"), KERNEL, ())
    message = str(e.value)
    assert "cannot run src/app:image as a container: its `kernel_args` field sets `mitigations=off`" in message
    assert "loglevel" not in message
    assert "Docker engine's kernel" in message
    assert "remove them from `kernel_args`" in message and "`fragments`" not in message


def test_kernel_fragments_refused() -> None:
    with pytest.raises(ContainerUnsuitableError) as e:
        check_container_kernel(IMAGE, (), KERNEL, ("3rdparty/kernel/io_uring.config",))
    message = str(e.value)
    assert "its kernel 3rdparty/kernel:linux enables what its own Kconfig `fragments` (3rdparty/kernel/io_uring.config)" in message
    assert "second `unikernel_image`" in message and "`kernel_args`" not in message


def test_both_reasons_in_one_paragraph() -> None:
    with pytest.raises(ContainerUnsuitableError) as e:
        check_container_kernel(IMAGE, ("ipv6.disable=1",), KERNEL, ("k.config",))
    message = str(e.value)
    assert "\n" not in message.strip()
    assert "`ipv6.disable=1`, kernel parameters its VM boots with and its kernel" in message
