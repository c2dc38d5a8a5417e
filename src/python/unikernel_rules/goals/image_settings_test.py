from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_FILE_DIGEST, Directory, FileEntry, SymlinkEntry
from pants.engine.target import InvalidFieldException

from unikernel_rules.goals.image_settings import (
    ImageSettings,
    check_volumes_against_files,
    render_init_conf,
    resolve_command,
)
from unikernel_rules.target_types.guest import GuestUser, GuestVolume

ADDR = Address("testprojects/x", target_name="image")

ENTRIES = [
    Directory("app"),
    FileEntry("app/server", EMPTY_FILE_DIGEST, is_executable=True),
    FileEntry("app/config.toml", EMPTY_FILE_DIGEST),
    Directory("usr/bin"),
    FileEntry("usr/bin/python3.11", EMPTY_FILE_DIGEST, is_executable=True),
    SymlinkEntry("usr/bin/python3", "python3.11"),
    SymlinkEntry("bin", "usr/bin"),
    SymlinkEntry("app/venv-python", "/usr/bin/python3"),
    SymlinkEntry("app/dangling", "nowhere"),
]


def resolve(command, env=None):
    return resolve_command(ADDR, command, ENTRIES, env or {}, "command")


def test_absolute_commands_and_symlinks() -> None:
    assert resolve(["/app/server", "-v"]) == ("/app/server", "-v")
    assert resolve(["/usr/bin/python3"]) == ("/usr/bin/python3",)
    assert resolve(["/app/venv-python"]) == ("/app/venv-python",)
    # Through a symlinked parent directory (usr-merge: /bin -> usr/bin).
    assert resolve(["/bin/python3", "-c", "1"]) == ("/bin/python3", "-c", "1")


def test_bare_names_are_looked_up_on_the_images_path() -> None:
    assert resolve(["python3", "main.py"]) == ("/usr/bin/python3", "main.py")
    assert resolve(["server"], {"PATH": "/app:/usr/bin"}) == ("/app/server",)
    with pytest.raises(InvalidFieldException, match="on none of the image's `PATH`"):
        resolve(["server"])


@pytest.mark.parametrize(
    "command, message",
    [
        (["./server"], "a relative path.*`/app/server`"),
        (["/app/config.toml"], "exists in the image but is not executable"),
        (["/app"], "is a directory of the image"),
        (["/app/missing"], "is not a file of the image"),
        (["/opt/server"], "Did you mean /app/server"),
        (["/app/dangling"], "is not a file of the image"),
        ([], "is empty"),
    ],
)
def test_bad_commands(command, message) -> None:
    with pytest.raises(InvalidFieldException, match=message):
        resolve(command)


def test_volume_over_the_images_files_is_refused() -> None:
    check_volumes_against_files(ADDR, [GuestVolume("/var/lib/app", 64, "vol0")], ENTRIES)
    with pytest.raises(InvalidFieldException, match="would hide the image's own file /app/config.toml"):
        check_volumes_against_files(ADDR, [GuestVolume("/app", 64, "vol0")], ENTRIES)
    with pytest.raises(InvalidFieldException, match="hide the image's own file /app/server"):
        check_volumes_against_files(ADDR, [GuestVolume("/app/server", 64, "vol0")], ENTRIES)
    # A volume below a directory of the image is fine (only files below it would be hidden).
    check_volumes_against_files(ADDR, [GuestVolume("/usr/bin/data", 64, "vol0")], ENTRIES)


def settings(**kw) -> ImageSettings:
    base = dict(
        memory_mib=64,
        cpus=1,
        ports=((8080, 8080),),
        hostname="image",
        user=GuestUser("app", 1000, 1000),
        network="isolated",
        volumes=(),
        writable_paths=(),
        ca_certificates=None,
        timezone=None,
    )
    base.update(kw)
    return ImageSettings(**base)


def conf(**kw) -> list:
    return render_init_conf(
        ADDR,
        command=["/app/server"],
        env={"A": "1"},
        workdir="/app",
        settings=settings(**kw),
        memory_token="@M@",
    ).splitlines()


def test_init_conf_defaults_are_secure() -> None:
    lines = conf()
    assert "hostname image" in lines
    assert "net static 10.0.2.15 255.255.255.0 10.0.2.2" in lines
    assert "net_ports static 10.0.3.15 255.255.255.0" in lines
    assert "net_reject 10.0.2.2" in lines
    assert "user 1000 1000" in lines
    assert not any(line.startswith("writable") for line in lines)


def test_init_conf_opt_ins() -> None:
    lines = conf(
        user=GuestUser("root", 0, 0),
        network="host",
        writable_paths=("/",),
        volumes=(GuestVolume("/data", 64, "vol0"),),
    )
    assert not any(line.startswith("user ") for line in lines)
    assert "net_host_loopback" in lines and "net_reject 10.0.2.2" in lines
    assert "writable_root" in lines
    assert "volume vol0 ext4 /data" in lines
    assert "net none" in conf(network="none", ports=())
    assert "writable /var/cache" in conf(writable_paths=("/var/cache",))


def test_init_conf_on_a_dhcp_platform() -> None:
    lines = conf(dhcp=True)
    assert "net dhcp" in lines
    assert not any(line.startswith(("net static", "net_ports", "net_reject")) for line in lines)
    assert "net none" in conf(dhcp=True, network="none", ports=())


def test_init_conf_marks_where_the_images_args_start() -> None:
    lines = render_init_conf(
        ADDR, command=["/app/server", "--port", "80"], env={}, workdir="/app",
        settings=settings(), memory_token="@M@", args_from=1,
    ).splitlines()
    assert lines.index("args_from 1") < lines.index("arg /app/server")
