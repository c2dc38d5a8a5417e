/* Run a program inside a tree of locked Debian packages, reading nothing from the host.
 *
 *   toolchain_sandbox [-e NAME=VALUE]... TREE WORKDIR PROGRAM [ARG]...
 *
 * TREE is a directory (relative to the current one) holding the extracted toolchain packages;
 * WORKDIR and PROGRAM are paths inside it (absolute, as seen after the chroot).
 *
 * 1. unshare(CLONE_NEWUSER | CLONE_NEWNS): a user namespace in which the caller is uid/gid 0
 *    (setgroups denied), with a private mount namespace. When user namespaces are refused and
 *    the caller is already root, a mount namespace alone is used.
 * 2. Bind-mounts the host's /dev/null, /dev/zero, /dev/random and /dev/urandom onto files of
 *    the tree's /dev (nothing else of the host is visible: no /proc, /sys, /etc, /tmp).
 * 3. chroot(TREE), chdir(WORKDIR), execve(PROGRAM) with exactly the -e variables.
 *
 * Built static with zig cc (kernel/rules.py), so the process reads no host library either.
 * Failures print one line "UNIKERNEL_SANDBOX_ERROR <what>: <errno text>" and exit 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SANDBOX_FAILURE 125
#define MAX_ENV 64

static const char *const DEVICES[] = {"null", "zero", "random", "urandom"};

static void die(const char *what, const char *arg) {
    fprintf(stderr, "UNIKERNEL_SANDBOX_ERROR %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
            strerror(errno));
    exit(SANDBOX_FAILURE);
}

static void usage(void) {
    fprintf(stderr,
            "UNIKERNEL_SANDBOX_ERROR usage: toolchain_sandbox [-e NAME=VALUE]... TREE WORKDIR "
            "PROGRAM [ARG]...\n");
    exit(SANDBOX_FAILURE);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die("open", path);
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) die("write", path);
    close(fd);
}

static void enter_namespaces(void) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
        char map[64];
        /* Without "deny", an unprivileged caller may not write gid_map. */
        int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "deny", 4) != 4) die("write", "/proc/self/setgroups");
            close(fd);
        }
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
        write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
        write_file("/proc/self/gid_map", map);
        return;
    }
    int user_errno = errno;
    if (uid == 0 && unshare(CLONE_NEWNS) == 0) return;
    errno = user_errno;
    die("unshare(CLONE_NEWUSER|CLONE_NEWNS): this kernel refuses user namespaces "
        "(check sysctls user.max_user_namespaces and kernel.unprivileged_userns_clone, or the "
        "container's seccomp policy)",
        NULL);
}

static void bind_devices(const char *tree) {
    char path[4096];
    snprintf(path, sizeof path, "%s/dev", tree);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
    for (size_t i = 0; i < sizeof DEVICES / sizeof DEVICES[0]; i++) {
        char host[64];
        snprintf(host, sizeof host, "/dev/%s", DEVICES[i]);
        snprintf(path, sizeof path, "%s/dev/%s", tree, DEVICES[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) die("create", path);
        close(fd);
        if (mount(host, path, NULL, MS_BIND, NULL) != 0) die("bind-mount", host);
    }
    snprintf(path, sizeof path, "%s/tmp", tree);
    if (mkdir(path, 01777) != 0 && errno != EEXIST) die("mkdir", path);
}

int main(int argc, char **argv) {
    char *env[MAX_ENV + 1];
    int nenv = 0;
    int i = 1;
    while (i < argc && strcmp(argv[i], "-e") == 0) {
        if (i + 1 >= argc || !strchr(argv[i + 1], '=') || nenv >= MAX_ENV) usage();
        env[nenv++] = argv[i + 1];
        i += 2;
    }
    env[nenv] = NULL;
    if (argc - i < 3) usage();
    const char *tree = argv[i];
    const char *workdir = argv[i + 1];
    char **program = &argv[i + 2];

    enter_namespaces();
    /* Nothing mounted here may propagate back to the host's mount namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make mounts private", NULL);
    bind_devices(tree);
    if (chdir(tree) != 0) die("chdir", tree);
    if (chroot(".") != 0) die("chroot", tree);
    if (chdir(workdir) != 0) die("chdir (inside the tree)", workdir);
    execve(program[0], program, env);
    die("execve (inside the tree)", program[0]);
    return SANDBOX_FAILURE;
}
