/*
 * unikernel-init: the PID 1 of a unikernel_rules VM image.
 *
 * The initramfs built by unikernel_rules holds this program as /init, a
 * config file /.uk/init.conf, the application, and a marker file
 * /.uk/complete that is the very last archive entry.  This program:
 *
 *   1. makes sure fds 0..2 are the console,
 *   2. reads /.uk/init.conf (see parse_config() in config.c for the format),
 *   3. checks /.uk/complete exists (if not, the kernel ran out of memory
 *      while unpacking the initramfs and files are missing),
 *   4. if init.conf has a "rootdisk" line: mounts that disk (or the GPT
 *      partition with that PARTUUID, on any disk) read-only, a tmpfs for a
 *      writable upper layer and an overlay of the two, and makes the overlay
 *      the root (see switch_to_disk_root() in storage.c),
 *   5. mounts /proc, /sys, /dev, /dev/shm, /tmp, sets up lo (and eth0), the
 *      host name, the volumes (ext4 data disks found by their virtio serial),
 *      then makes the root read-only except the working directory, /tmp and
 *      the image's writable paths (see lock_down_root() in storage.c),
 *   6. runs the application as its child, as the image's unprivileged user
 *      with no capabilities and no_new_privs (see drop_privileges() in
 *      storage.c), forwarding signals to it and reaping every zombie, and
 *      stops it with "raise memory" if it stays stalled on memory (thrashing;
 *      /proc/pressure/memory, kernels with CONFIG_PSI; see run_app() in
 *      run.c),
 *   7. when the application exits, kills what is left, syncs, prints
 *      "UNIKERNEL_EXIT=<status>" and powers off, preferably through QEMU's
 *      isa-debug-exit device so the host sees the status in QEMU's exit code.
 *
 * Status codes reported besides the app's own: 128+N if the app was killed
 * by signal N, 127 if it could not be executed, 125 if init itself failed
 * (bad or missing config, incomplete initramfs, disk root missing, ...).
 *
 * PID 1 must never exit (the kernel would panic), so every path ends in
 * power_off().  Everything lives in static buffers; nothing is malloc'ed.
 *
 * The source, one concern per file (init.h declares what they share):
 *   main.c     this overview, the boot sequence (main) and the incomplete
 *              initramfs report
 *   log.c      messages, reporting the exit status and powering off
 *   config.c   /.uk/init.conf: reading, parsing, the default environment
 *   setup.c    console stdio, kernel file systems, network, host name
 *   storage.c  disk root, volumes, writable paths, read-only root,
 *              dropping privileges
 *   gpt.c      the disk root's partition by GPT unique partition GUID
 *              (rootdisk PARTUUID=...): sysfs, the disks' GPTs
 *   run.c      running the app: its stdio, signals, reaping, the memory
 *              pressure watchdog
 *
 * Build: zig cc -target x86_64-linux-musl -static -Os -s -o init *.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "init.h"

#define COMPLETE_PATH "/.uk/complete"

/* ------------------------------------------------------------------------ */
/* Incomplete initramfs                                                     */

__attribute__((noreturn)) static void report_incomplete(void)
{
    struct sysinfo si;
    unsigned long long total_mib = 0;
    if (sysinfo(&si) == 0)
        total_mib = (unsigned long long)si.totalram * si.mem_unit >> 20;
    const char *target = conf.target ? conf.target : "(unknown target)";
    char need[64] = "more memory";
    /* The fix hint's figure: the build's estimate, else twice what the VM had. */
    unsigned long long suggest = 2 * (total_mib ? total_mib : 64);
    if (conf.memory_mib && conf.memory_mib[0]) {
        snprintf(need, sizeof need, "at least %s MiB", conf.memory_mib);
        unsigned long long est = strtoull(conf.memory_mib, NULL, 10);
        if (est > 0)
            suggest = est + 16;
    }
    msg("the initramfs was only partly unpacked (out of memory): %s is "
        "missing. Image %s needs %s but this VM has %llu MiB of usable RAM; "
        "raise the `memory` field of the unikernel_image target, or for one "
        "run: `pants run --unikernel-run-memory=%llu %s`.",
        COMPLETE_PATH, target, need, total_mib, suggest, target);
    power_off(STATUS_INIT_FAILED);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    ensure_stdio();

    int err = read_config();
    /* init.conf comes early in the archive, /.uk/complete last: check the
     * marker first, so a truncated archive always gets the memory hint. */
    if (access(COMPLETE_PATH, F_OK) != 0) {
        if (err == 0)
            parse_config(); /* for target and memory_needed_mib */
        report_incomplete();
    }
    if (err != 0) {
        msg("cannot read %s: %s; this initramfs was not built for "
            "unikernel-init or is damaged.", CONF_PATH, strerror(err));
        power_off(STATUS_INIT_FAILED);
    }
    if (parse_config() != 0)
        power_off(STATUS_INIT_FAILED);

    /* `pants run --unikernel-run-replace-args ... -- ARGS`: ARGS instead of the image's `args`
     * (the launcher puts UNIKERNEL_REPLACE_ARGS=1 on the kernel command line; the kernel
     * passes unknown KEY=VALUE words to init's environment). */
    const char *replace = getenv("UNIKERNEL_REPLACE_ARGS");
    if (replace && strcmp(replace, "1") == 0 && conf.args_from > 0 && conf.args_from <= conf.argc)
        conf.argc = conf.args_from;
    /* Words after " -- " on the kernel command line arrive as argv[1..]. */
    for (int i = 1; i < argc; i++) {
        if (conf.argc >= MAX_ARGS) {
            msg("too many arguments (max %d)", MAX_ARGS);
            power_off(STATUS_INIT_FAILED);
        }
        conf.argv[conf.argc++] = argv[i];
    }
    conf.argv[conf.argc] = NULL;
    add_default_env();

    if (conf.rootdisk)
        switch_to_disk_root();
    mount_filesystems();
    ensure_stdio(); /* again: /dev/console may only exist in devtmpfs */
    setup_network();
    setup_identity();
    prepare_writable_paths();
    mount_volumes();
    lock_down_root();

    if (conf.workdir) {
        if (mkdir_p(conf.workdir, 0755) != 0 || chdir(conf.workdir) != 0) {
            msg("cannot use workdir %s: %s", conf.workdir, strerror(errno));
            power_off(STATUS_INIT_FAILED);
        }
    }

    power_off(run_app());
}
