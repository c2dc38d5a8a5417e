"""Run real Pants on a copy of this repository (integration tests and benchmarks).

Tests run inside a Pants sandbox that holds the repository's config, lockfiles, plugin source
and test projects (declared as dependencies in tests/BUILD). `RepoCopy` copies them to a fresh
directory, so each test can add BUILD files or change sources freely, and so builds from two
different absolute paths can be compared byte for byte. The copies share the user's Pants
cache (~/.cache/pants) unless a test says otherwise, so the kernel is built once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

from pants.testutil.pants_integration_test import PantsResult, run_pants_with_workdir

REPO_ENTRIES = ("pants.toml", "pants", ".gitignore", "build-support", "3rdparty", "src", "testprojects")


def source_root() -> Path:
    """The directory holding the repository files: the test sandbox (or a checkout)."""
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "pants.toml").is_file() and (candidate / "src/python/unikernel_rules").is_dir():
            return candidate
    raise RuntimeError(f"no repository files found from {here}; check tests/BUILD dependencies")


def build_support_module(name: str):
    """Import build-support/<name>.py (a script, not a package) for its unit tests."""
    path = source_root() / "build-support" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class RepoCopy:
    def __init__(self, root: Path, src: Optional[Path] = None) -> None:
        src = src or source_root()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for entry in REPO_ENTRIES:
            s = src / entry
            if s.is_dir():
                shutil.copytree(
                    s, root / entry, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True
                )
            elif s.exists():
                shutil.copy2(s, root / entry)
        (root / "BUILD_ROOT").touch()

    def write(self, relpath: str, content: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
        return path

    @property
    def sandbox_root(self) -> Path:
        """Where this copy's Pants makes its process sandboxes (`--local-execution-root-dir`).

        Not the default (the system temp dir): a Pants run without pantsd may exit before it has
        removed its sandboxes (deletion is asynchronous), and each kernel build leaves ~1.4 GB.
        Next to the copy (never inside it: a tool that looks upwards for a VCS or config must not
        find the copy's files), so `cleanup()` and pytest's temp-dir rotation remove them."""
        return self.root.parent / f"{self.root.name}.sandboxes"

    def global_args(self) -> List[str]:
        """Global flags every Pants run of this copy gets (they go before the goal)."""
        self.sandbox_root.mkdir(parents=True, exist_ok=True)
        return [f"--local-execution-root-dir={self.sandbox_root}"]

    def pants_args(self, args: Iterable[str], *, no_local_cache: bool = False) -> List[str]:
        extra = ["--no-local-cache"] if no_local_cache else []
        return [*self.global_args(), *extra, *args]

    def cleanup(self) -> None:
        """Stop the copy's pantsd and remove the sandboxes its Pants runs left behind (the copy
        itself stays)."""
        self.stop_pantsd()
        shutil.rmtree(self.sandbox_root, ignore_errors=True)

    def env(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        env = dict(os.environ)
        env.pop("PANTS_PARENT_BUILD_ID", None)
        env.setdefault("NO_SCIE_WARNING", "1")
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        no_local_cache: bool = False,
        extra_env: Optional[Mapping[str, str]] = None,
        use_pantsd: bool = True,
    ) -> PantsResult:
        """`pants ARGS` in this copy, like a user in a fresh checkout.

        With a pantsd of this copy by default (started by the first run, reused by the next:
        a fresh Pants process costs 15-40 s on these machines, a pantsd run ~1-3 s); `cleanup()`
        stops it. `use_pantsd=False` for a run that must be a fresh process (`run_subprocess`
        too, for flags that only a child process can vary).
        """
        workdir = self._workdir()
        env = self.env(extra_env)
        if use_pantsd and "PANTS_CONCURRENT" not in (extra_env or {}):
            # PANTS_CONCURRENT=True (e.g. inherited from the Pants that runs us) disables pantsd.
            env["PANTS_CONCURRENT"] = "False"
        with _chdir(self.root):
            return run_pants_with_workdir(
                self.pants_args(args, no_local_cache=no_local_cache),
                workdir=str(workdir),
                hermetic=False,
                use_pantsd=use_pantsd,
                extra_env=env,
            )

    def pantsd_pids(self) -> List[int]:
        """The pids of live pantsd processes of this copy (from `.pids/<host>/pantsd/pid`)."""
        pids = []
        for pid_file in sorted(self.root.glob(".pids/*/pantsd/pid")):
            try:
                pid = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                continue
            if _alive(pid):
                pids.append(pid)
        return pids

    def stop_pantsd(self, grace_s: float = 10.0) -> None:
        """Stop the pantsd of this copy, if one runs: SIGTERM, then SIGKILL after `grace_s`."""
        for pid in self.pantsd_pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def popen(
        self, *args: str, extra_env: Optional[Mapping[str, str]] = None, bootstrap: bool = False
    ) -> subprocess.Popen:
        """Start `pants ARGS` in its own session (so a test can send it Ctrl-C's SIGINT).

        `bootstrap=True` runs the copy's `./pants` script (what users type) instead of the
        test's own Pants: its venv is the one the bootstrap made for this machine."""
        workdir = self._workdir()
        env = self.env(extra_env)
        if bootstrap:
            pants = ["./pants"]
        else:
            env["PYTHONPATH"] = os.pathsep.join(sys.path)
            pants = [sys.executable, "-m", "pants"]
        return subprocess.Popen(
            [*pants, "--no-pantsrc", "--no-pantsd", f"--pants-workdir={workdir}", *self.global_args(), *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run_subprocess(
        self,
        *args: str,
        extra_env: Optional[Mapping[str, str]] = None,
        wrapper: Sequence[str] = (),
        umask: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> "SubprocessResult":
        """`pants ARGS` as a child process (no pantsd), optionally under a `wrapper` command
        (e.g. `faketime DATE`) and with its own `umask`: what `run` (in-process) cannot vary."""
        workdir = self._workdir()
        env = self.env(extra_env)
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        preexec = (lambda: os.umask(umask)) if umask is not None else None  # noqa: E731
        proc = subprocess.run(
            [
                *wrapper, sys.executable, "-m", "pants", "--no-pantsrc", "--no-pantsd",
                f"--pants-workdir={workdir}", *self.global_args(), *args,
            ],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            preexec_fn=preexec,
            timeout=timeout,
        )
        return SubprocessResult(list(args), proc.returncode, proc.stdout, proc.stderr)

    def _workdir(self) -> Path:
        workdir = self.root / ".pants.d" / "workdir"
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir

    def write_python_app(
        self, directory: str, main: str, *, constraints: str = "CPython==3.11.*", dependencies: str = ""
    ) -> str:
        """A `pex_binary` app (main.py) of the python-apps resolve and its `unikernel_image`
        `image` in `directory`; returns the image's address."""
        self.write(f"{directory}/main.py", main)
        deps = f", dependencies=[{dependencies!r}]" if dependencies else ""
        ics = f'interpreter_constraints=["{constraints}"]'
        self.write(
            f"{directory}/BUILD",
            f"""\
            python_sources(resolve="python-apps", {ics}{deps})
            pex_binary(name="app", entry_point="main.py", resolve="python-apps", {ics})
            unikernel_image(name="image", dependencies=[":app"])
            """,
        )
        return f"{directory}:image"

    def write_java_app(
        self,
        directory: str,
        sources: Mapping[str, str],
        *,
        program: str = "",
        image: str = "",
    ) -> str:
        """A `java_program` `app` (the `.java` files `sources`, relative to `directory`; `program`:
        extra fields) and its `unikernel_image` `image` (`image`: extra fields); returns the
        image's address."""
        for name, text in sources.items():
            self.write(f"{directory}/{name}", text)
        self.write(
            f"{directory}/BUILD",
            f"""\
            java_program(name="app", {program})
            unikernel_image(name="image", dependencies=[":app"], {image})
            """,
        )
        return f"{directory}:image"

    def bundle(self, dotted_dir: str) -> Path:
        return self.root / "dist" / dotted_dir


@dataclass(frozen=True)
class SubprocessResult:
    args: List[str]
    exit_code: int
    stdout: str
    stderr: str

    def assert_success(self) -> None:
        assert self.exit_code == 0, f"pants {' '.join(self.args)} exited {self.exit_code}:\n{self.stderr[-8000:]}"

    def assert_failure(self) -> None:
        assert self.exit_code != 0, f"pants {' '.join(self.args)} succeeded:\n{self.stderr[-8000:]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    return True


def interrupt(proc: subprocess.Popen) -> None:
    """What Ctrl-C in a terminal does: SIGINT to the whole foreground process group."""
    os.killpg(proc.pid, signal.SIGINT)


def qemu_processes_for(marker: str) -> List[str]:
    """Running QEMU processes whose command line contains `marker` (e.g. a bundle's name)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "qemu-system" in line and marker in line]


def fails_with(repo: RepoCopy, *args: str, expect: Iterable[str], use_pantsd: bool = False) -> str:
    """Run `pants ARGS`; it must fail with a message holding every `expect` fragment and no
    Python traceback (user errors are one clear paragraph). Returns stderr. `use_pantsd`: see
    `RepoCopy.run` (then stop it when the module is done)."""
    result = repo.run(*args, use_pantsd=use_pantsd)
    result.assert_failure()
    text = result.stderr
    for fragment in expect:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert "Traceback (most recent call last)" not in text
    return text
