"""Third-party jars of a Java image: `java_jar` targets pinned by sha256, read from a file of the
repository or from a local Maven repository by coordinate (`[unikernel-java].maven_repository`)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from pants.engine.fs import Digest, DigestEntries, FileEntry, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import InvalidFieldException, Target
from pants.option.global_options import GlobMatchErrorBehavior
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.subsystems.java_runtime import JavaRuntimeSubsystem
from unikernel_rules.target_types import JavaJarCoordinateField, JavaJarFileField, JavaJarSha256Field


@dataclass(frozen=True)
class JavaJar:
    digest: Digest  # one file at `path`
    path: str  # sandbox path
    name: str  # file name in the image's /app/lib
    label: str  # for errors: address (and coordinate)
    coordinate: str = ""  # Maven `group:artifact:version`, or "" for a jar file of the repository
    sha256: str = ""


@dataclass(frozen=True)
class JavaJarRequest:
    target: Target


def _maven_path(coordinate: str) -> str:
    group, artifact, version = coordinate.split(":")
    return posixpath.join(*group.split("."), artifact, version, f"{artifact}-{version}.jar")


@rule(desc="Fetch a pinned jar", level=LogLevel.DEBUG)
async def java_jar(request: JavaJarRequest, subsystem: JavaRuntimeSubsystem) -> JavaJar:
    tgt = request.target
    address = tgt.address
    expected = tgt[JavaJarSha256Field].value
    coordinate = tgt[JavaJarCoordinateField].value
    if coordinate:
        repository = subsystem.maven_repository
        if not repository:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `java_jar` {address} names the Maven coordinate `{coordinate}`, but no
                    local Maven repository is configured. Set `[unikernel-java].maven_repository`
                    in pants.toml to a directory inside the build root in Maven's layout (e.g.
                    `3rdparty/jvm/repository`, copied from `~/.m2/repository`), or give the jar
                    file with `jar=` instead.
                    """
                )
            )
        if posixpath.isabs(repository) or repository.startswith(".."):
            raise InvalidFieldException(
                f"`[unikernel-java].maven_repository` is `{repository}`; it must be a directory "
                "inside the build root (relative to it), so that Pants can read, pin and cache "
                "its files. Copy the jars you need there, keeping their Maven paths."
            )
        path = posixpath.join(repository.strip("/"), _maven_path(coordinate))
        where = f"the Maven coordinate `{coordinate}` ({path} in `[unikernel-java].maven_repository`)"
        digest = await Get(Digest, PathGlobs([path], glob_match_error_behavior=GlobMatchErrorBehavior.ignore))
        label = f"{address} ({coordinate})"
    else:
        # Read directly (not hydrated as a source field), so that a missing file gets our message.
        path = posixpath.join(address.spec_path, tgt[JavaJarFileField].value or "")
        digest = await Get(Digest, PathGlobs([path], glob_match_error_behavior=GlobMatchErrorBehavior.ignore))
        where = f"the file {path} (its `jar` field)"
        label = str(address)
    entries = [e for e in await Get(DigestEntries, Digest, digest) if isinstance(e, FileEntry)]
    if not entries:
        raise InvalidFieldException(
            f"The `java_jar` {address} points at {where}, which does not exist. Put the jar "
            "there, or fix the target's field."
        )
    actual = entries[0].file_digest.fingerprint
    if actual != expected:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `java_jar` {address} pins sha256 {expected}, but {where} has sha256
                {actual}. If the jar was updated on purpose, set `sha256="{actual}"` on the
                target; otherwise restore the pinned file.
                """
            )
        )
    return JavaJar(
        digest=digest, path=entries[0].path, name=posixpath.basename(path), label=label, coordinate=coordinate or "", sha256=actual
    )


def rules():
    return collect_rules()
