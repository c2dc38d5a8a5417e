"""`[unikernel-publish]`: registry aliases and the OCI client for `pants publish` of a
`unikernel_image` (like `[docker].registries` for `docker_image`)."""

from __future__ import annotations

from typing import Any, Dict

from pants.core.util_rules.search_paths import ExecutableSearchPathsOptionMixin
from pants.option.option_types import DictOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


class UnikernelPublishSubsystem(Subsystem):
    options_scope = "unikernel-publish"
    help = softwrap(
        """
        Where `pants publish` pushes `unikernel_image`s (their `registries` field names these
        aliases as `@alias`, or an address directly) and with which client: `skopeo`, found on
        the host like `docker` for `docker_image` (docs/publish.md).
        """
    )

    registries = DictOption[Any](
        help=softwrap(
            """
            Registry aliases: `{"internal": {"address": "registry.example.com:5000"}}`, then
            `registries=["@internal"]` on an image. Keys of each entry: `address` (`host` or
            `host:port`), `insecure` (bool: plain HTTP or an unverified certificate; default:
            true only for `localhost` and `127.0.0.1`, as Docker treats them).
            """
        ),
    )
    class EnvironmentAware(ExecutableSearchPathsOptionMixin, Subsystem.EnvironmentAware):
        executable_search_paths_help = "The PATH value used to find `skopeo` (Debian/Ubuntu package `skopeo`)."

    def alias_table(self) -> Dict[str, Dict[str, Any]]:
        return {str(k): dict(v) if isinstance(v, dict) else {"address": str(v)} for k, v in self.registries.items()}


def rules():
    return [*UnikernelPublishSubsystem.rules()]
