"""Hand-written notes per image, shown under "What limits it" after the measured ones. Edit freely."""

from __future__ import annotations

from typing import Dict, List

STATIC_NOTES: Dict[str, List[str]] = {
    "testprojects/c/hello_http:image": [
        "The app itself is a few KB of static musl code: size, boot time and memory are almost "
        "all the kernel's (config fragments in src/python/unikernel_rules/kernel/fragments/).",
        "Virtual ms to ready starts at the kernel's clock, so it does not include the firmware "
        "and the decompression of the zstd bzImage. Measured by hand (2026-11-26) with a /init "
        "that reads the TSC (1 tick per virtual ns under -icount): ~102 ms before the kernel's "
        "clock starts, so ~129 ms end to end. xz made the kernel 10% smaller but took ~750 ms "
        "to decompress; a PVH boot of the uncompressed vmlinux takes ~8.5 ms but is 11.5 MB.",
        "What the remaining time is (measured by hand): early memory setup ~10 ms (grows with "
        "RAM), initcalls ~8 ms (PCI enumeration, IPv4, virtio, initramfs), freeing/poisoning "
        "init memory ~6 ms, /init to READY ~2 ms. `-M microvm` (no PCI) gave 18 ms; `pc` "
        "stays the default.",
        "Memory floor: the kernel is loaded at 2 MiB (CONFIG_PHYSICAL_START) and its text must "
        "stay under the next 2 MiB boundary, or the floor jumps by 2 MiB (CONFIG_INIT_STACK_NONE "
        "keeps it 37 KB under; see base.config).",
        "Warm rebuild: a fresh Pants process spends most of its time starting up and reading "
        "BUILD files on these shared 2-core machines; with pantsd only the app's zig compile "
        "and the initramfs run.",
    ],
    "testprojects/python/hello_http:image": [
        "Boot time, measured by hand (2026-11-27) with `python -X importtime` under `idle=poll`: of "
        "~340 ms to READY, the kernel reaches /init in ~27–30 ms (like the C image); the rest is "
        "CPython starting and, above all, the app's own imports. `http.server` is 174 ms cumulative: its "
        "`http.client` pulls `ssl` (46 ms, of which `_ssl` loading libssl and libcrypto 25 ms) and "
        "`email.utils` (60 ms). Then `markupsafe` 22 ms (including `typing` 11 ms), `sqlite3` 14 ms, "
        "`runpy` for `-m` 20 ms (mostly `contextlib`, which `http.server` needs anyway), `site` 10 ms, "
        "`encodings` 5 ms. Getting under 250 ms means fewer or lighter imports (e.g. no `ssl` "
        "behind `http.client`), not a faster kernel.",
        "Size (by hand, 2026-11-27): the app sets `unikernel_stdlib=\"imported\"`, so rootfs.img "
        "holds only the standard-library modules its imports reach: 13.1 MB instead of 17.0 MB for "
        "the whole trimmed stdlib. What remains (uncompressed) is mostly the interpreter "
        "(python3.11, 6.8 MB), OpenSSL (libcrypto + libssl 5.4 MB, pulled in by `http.server` -> "
        "`http.client` -> `ssl`), glibc (libc + libm 2.8 MB) and SQLite (1.4 MB); lz4hc compresses "
        "binaries poorly. Measured alternatives for the whole-stdlib tree: zstd level 19 is ~23% "
        "smaller but ~2.7x slower to decompress in the guest; xz ~28% smaller and slower still; "
        "dropping the stdlib's .py sources saves ~2.5 MB. Even with zstd, the binaries alone keep "
        "the image above 8 MB.",
        "Memory: the page cache of a disk root is reclaimable, so the image boots with less RAM than "
        "its files' size. By hand (2026-11-27) it booted at 32 MiB, with more wall time, and failed "
        "lower; the bisection above is the measured floor. Near the floor boots are slow and the app "
        "may be killed (exit 137: SIGKILL, presumably the OOM killer), so a floor boot can fail once "
        "and pass once (\"unstable\").",
    ],
    "testprojects/java/hello_http:image": [
        "Boot time, measured by hand (2026-11-27, `idle=poll`): the kernel reaches /init in ~29 ms "
        "(like the C disk image); the rest is the JVM. The app's CDS archive (`cds=True`, "
        "opt-in) cut 697 -> 473 ms. Measured and left out of the defaults (see docs/java.md): "
        "`-XX:CompileThresholdScaling=5` 420 ms; no verification of class path classes "
        "(`-XX:-BytecodeVerificationRemote`) another ~50 ms, a safety trade-off; mapping the "
        "archive at its fixed address (`-XX:ArchiveRelocationMode=0`) ~7 ms, gives up ASLR; `-Xint` "
        "~485 ms. The JVM's own log (`-Xlog:startuptime`) shows ~155 ms to create the VM "
        "(universe genesis, java.lang and module system init) before `main` runs; the remaining "
        "classes of the app's path (93 in the example: lambda forms, `java.base` classes outside "
        "the default class list) still load from `lib/modules`.",
        "Size (by hand, 2026-11-27): rootfs.img with lz4hc holds `lib/modules` (java.base, "
        "java.sql which requires java.xml, jdk.httpserver; jlink --compress=0) 11.2 MB, "
        "libjvm.so 8.5 MB (Debian's: every GC, C1, C2, JFR; 20 MB after strip), the CDS archive "
        "~4 MB, glibc + libstdc++ ~2.5 MB. `disk_compression=\"zstd\"` gives a 20.6 MB rootfs.img "
        "(22.1 MB in all, still above 20) but +550 ms to READY (zstd decompression in the guest), "
        "so lz4 stays the default. Meeting 20 MB would need a smaller JVM build (a minimal VM "
        "variant, not in Debian) or dropping CDS (the default now: 25.2 MB in all, 697 ms).",
        "Warm rebuild after a comment line in Main.java: javac/jar/jdeps rerun (~3 s of JVM "
        "starts), their outputs are byte-identical to the previous build, so jlink, the CDS dump, "
        "the ELF closure and mksquashfs are cache hits. A real code change (a string literal in "
        "Main.java, by hand, 2026-11-27, warm pantsd, quiet machine) took 8.5 s: javac/jar/jdeps, "
        "the CDS dump (another JVM start) and mksquashfs of the whole ~70 MB tree rerun; jlink "
        "and the kernel do not (goal 8 s: just missed). A two-layer disk (the runtime cached as "
        "its own squashfs) would cut the mksquashfs part.",
    ],
}

