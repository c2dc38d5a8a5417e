"""Measure `unikernel_image`s (every one in testprojects/, or any addresses) and write docs/benchmarks.md.

    ./pants run tests/benchmarks:report
    ./pants run tests/benchmarks:report -- --images 'testprojects/c/*' --quick --output /tmp/b.md
    ./pants run tests/benchmarks:report -- testprojects/c/lua:image --until-exit --output /tmp/b.md

Everything runs in a copy of the repository in a temporary directory (`RepoCopy`): a nested
Pants on this buildroot would wait for the lock of the Pants that runs this script. The copy
shares ~/.cache/pants, so images that were built before are cache hits.

Per image:
  1. sizes of kernel, initrd and the whole bundle (manifest.json);
  2. virtual milliseconds to the app's ready line (or, for a batch app, to its exit): QEMU
     `-icount shift=0,sleep=off` makes guest time advance 1 ns per guest instruction with idle
     time skipped, so the app's CLOCK_MONOTONIC at READY is the same on every run and every
     machine (booted twice, compared);
  3. memory floor: the least integer MiB at which the image gets ready and answers HTTP 200
     (or exits with status 0) (bisection, TCG without icount);
  4. warm rebuild after a one-line change to the app's main source, in a fresh Pants process
     (what CI sees) and with a warm pantsd (what a developer sees), and which processes ran.
How an image gets ready is set per image (its `benchmark` field, or the command line:
settings.py). Images with goals (`GOALS` in settings.py) are checked against them.

Modules: settings.py (per-image settings, goals), measure.py (packaging, boots, rebuilds),
analysis.py (pure helpers), results.py (the measured data), render.py / render_image.py /
cells.py (markdown), reproducibility.py, notes.py (hand-written notes); this file is the CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from benchmarks.measure import Bench, BenchError, load_average, log, pants_version, probe_machine
from benchmarks.render import render_markdown
from benchmarks import ci_budget, containers, disk_formats, kernel_toolchain, platforms
from benchmarks.reproducibility import replace_reproducibility
from benchmarks.results import COMMAND, ImageReport
from benchmarks.settings import ALL, NO_HTTP, Overrides, SettingsError, split_override
from pants_repo import RepoCopy, source_root
from remote_cache import FIGURES_FILE, read_figures

DEFAULT_OUTPUT = "docs/benchmarks.md"


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=COMMAND + " --",
        description="Measure unikernel images: every one in testprojects/, or the ADDRESSES given.",
        epilog="Per-image options take ADDRESS=VALUE (one image: a full address `path:name`) or "
        "VALUE (every image of the run), and override the image's `benchmark` field for this run.",
    )
    p.add_argument(
        "addresses", nargs="*", metavar="ADDRESS",
        help="unikernel_image addresses or specs (`dir::`) to measure, anywhere in the repository; "
        "default: every image in testprojects/ (except testprojects/bad/ and tag `no-benchmark`)",
    )
    p.add_argument(
        "--ready-pattern", action="append", default=[], metavar="[ADDRESS=]REGEX",
        help="the app is ready when a line it prints matches REGEX (group 1, if any: the app's "
        "monotonic ms); repeatable",
    )
    p.add_argument(
        "--until-exit", action="append", default=[], nargs="?", const=ALL, metavar="ADDRESS",
        help="a batch app: measure the time to its exit (status 0 required) instead of a ready line; "
        "without a value: every image of the run (write `--until-exit=ADDRESS` for one)",
    )
    p.add_argument(
        "--http-path", action="append", default=[], metavar="[ADDRESS=]PATH",
        help=f"the path to GET on the image's first port once ready (default /), or `{NO_HTTP}`",
    )
    p.add_argument(
        "--edit", action="append", default=[], metavar="ADDRESS=FILE",
        help="the source file the warm-rebuild measurement changes (default: the app's first source)",
    )
    p.add_argument(
        "--images", action="append", default=[], metavar="PATTERN",
        help="only images whose address matches (fnmatch; `dir` or `dir::` work too); repeatable, "
        "or comma-separated",
    )
    p.add_argument("--skip-floor", action="store_true", help="do not bisect the memory floor")
    p.add_argument("--skip-rebuild", action="store_true", help="do not measure warm rebuilds")
    p.add_argument("--skip-boot", action="store_true", help="do not boot at all (sizes and rebuilds only)")
    p.add_argument(
        "--quick", action="store_true",
        help="development: skip the memory floor, boot once, and time only the fresh-process rebuild",
    )
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"markdown file to write (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temporary repository copy")
    p.add_argument(
        "--only-reproducibility", action="store_true",
        help="measure nothing: render the sections other commands measure anew in the existing report: "
        "reproducibility (from the figures file of tests/reproducibility_integration_test.py), the kernel "
        "toolchain comparison (tests/benchmarks:kernel-toolchain), bootable disks (tests/benchmarks:disk-formats) "
        "and CI wall time (.ci/run)",
    )
    p.add_argument(
        "--reproducibility-figures", metavar="FILE", default="",
        help=f"the figures tests/reproducibility_integration_test.py recorded (default $TMPDIR/{FIGURES_FILE})",
    )
    return p


def _report_flags(args: argparse.Namespace) -> List[str]:
    flags = list(args.addresses)
    for pat in args.images:
        flags.append(f"--images {pat}")
    for name in ("ready_pattern", "http_path", "edit"):
        for spec in getattr(args, name):
            flags.append(f"--{name.replace('_', '-')} {_shell_word(spec)}")
    for spec in args.until_exit:
        flags.append("--until-exit" if spec == ALL else f"--until-exit={spec}")
    for name in ("quick", "skip_floor", "skip_rebuild", "skip_boot"):
        if getattr(args, name):
            flags.append("--" + name.replace("_", "-"))
    return flags


def _shell_word(s: str) -> str:
    return s if all(c.isalnum() or c in "/:._=-" for c in s) else "'" + s.replace("'", "'\\''") + "'"


def _per_image(specs: Sequence[str]) -> Dict[str, str]:
    return dict(split_override(spec) for spec in specs)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.images = [p.strip() for spec in args.images for p in spec.split(",") if p.strip()]
    args.addresses = [a.lstrip("/") if not a.startswith("//") else a[2:] for a in args.addresses]
    edits = _per_image(args.edit)
    if ALL in edits:
        parser.error(f"--edit needs ADDRESS=FILE (a full address `path:name`), got {edits[ALL]!r}")
    args.overrides = Overrides(
        ready=_per_image(args.ready_pattern),
        until_exit=tuple(a.lstrip("/") for a in args.until_exit),
        http_path=_per_image(args.http_path),
        edit=edits,
    )
    return args



# The sections that their own commands measure, in the report's order: their last figures.
OWN_SECTIONS = (kernel_toolchain, disk_formats, platforms, containers, ci_budget)


def own_sections(text: str) -> str:
    """Each section from its command's last figures on this machine; a section whose figures
    are not here (measured on another machine: the temp dir holds them) keeps its text, which
    says when and where it was measured."""
    for module in OWN_SECTIONS:
        figures = module.read_figures()
        if figures is None and module.HEADING in text:
            continue
        text = module.replace_section(text, figures)
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    buildroot = source_root()
    output = Path(args.output)
    if not output.is_absolute():
        output = buildroot / output
    figures_file = Path(args.reproducibility_figures) if args.reproducibility_figures else None
    if args.only_reproducibility:
        if not output.is_file():
            log(f"--only-reproducibility: {output} does not exist yet; run the whole report first")
            return 1
        text = replace_reproducibility(output.read_text(encoding="utf-8"), read_figures(figures_file))
        text = own_sections(text)
        output.write_text(text, encoding="utf-8")
        print(output)
        return 0
    load_before = load_average()
    tmp = Path(tempfile.mkdtemp(prefix="unikernel-benchmarks-"))
    log(f"copying the repository to {tmp / 'repo'}")
    repo = RepoCopy(tmp / "repo", src=buildroot)
    bench = Bench(repo, args)
    reports: List[ImageReport] = []
    try:
        images, skipped = bench.discover()
        log(f"images: {images or 'none'}; skipped: {skipped or 'none'}")
        for address in images:
            try:
                log(f"{address}: measured {bench.settings(address).describe()}")
            except SettingsError as e:  # reported in the image's row by bench.measure()
                log(f"{e}")
        errors = bench.package(images)
        for address in images:
            bundle = bench.find_bundle(address)
            if bundle is not None:
                with contextlib.suppress(OSError, ValueError):
                    bench.runtimes[address] = json.loads((bundle / "manifest.json").read_text()).get("runtime", "")
        if not args.skip_rebuild:
            bench.find_main_sources([a for a in images if a not in errors])
        for address in images:
            if address in errors:
                reports.append(ImageReport(address=address, error=errors[address]))
                continue
            try:
                reports.append(bench.measure(address))
            except Exception as e:  # noqa: BLE001 - one broken image must not lose the others' numbers
                log(f"{address}: measuring failed: {type(e).__name__}: {e}")
                reports.append(ImageReport(address=address, error=f"measuring failed: {type(e).__name__}: {e}"))
    except BenchError as e:
        log(str(e))
        return 2
    finally:
        repo.stop_pantsd()
        repo.cleanup()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    machine = probe_machine()
    machine.pants = pants_version(buildroot)
    machine.load_before, machine.load_after = load_before, load_average()
    machine.pants_startup_s = bench.startup_s
    text = render_markdown(
        reports,
        machine,
        datetime.datetime.now(datetime.timezone.utc),
        flags=_report_flags(args),
        skipped=skipped,
        reproducibility=read_figures(figures_file),
    )
    # The kernel toolchain comparison and the bootable disks are measured by their own commands
    # (~20 min each): keep their last figures.
    text = own_sections(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
