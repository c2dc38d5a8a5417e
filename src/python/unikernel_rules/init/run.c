/*
 * unikernel-init (see main.c): running the app as init's child: its stdio,
 * forwarded signals, reaping every zombie, the memory pressure watchdog, and
 * killing what is left when it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

/* ------------------------------------------------------------------------ */
/* Running the app                                                          */

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP,
                                        SIGQUIT, SIGUSR1, SIGUSR2};

/* Reap every exited child; returns the number reaped, -1 once none is left.
 * Stores the wait status of `app` in *app_status if it was among them. */
static int reap(pid_t app, int *app_status, int *app_done)
{
    int count = 0;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            return count ? count : -1; /* ECHILD: no processes left */
        if (pid == 0)
            return count;
        count++;
        if (pid == app) {
            *app_status = st;
            *app_done = 1;
        }
    }
}

/* The app's stdio: when the launcher attached the virtio consoles (QEMU
 * virtconsole ports 0, 1, 2 = guest /dev/hvc0 stdout, /dev/hvc1 stderr,
 * /dev/hvc2 stdin), make them fds 1, 2 and 0 in raw mode (no CR added to a
 * newline, no echo, no line editing), so the app's bytes reach `pants run`
 * unchanged while the serial console keeps only the kernel's and init's log.
 * Without them (an older launcher, or a kernel without CONFIG_VIRTIO_CONSOLE)
 * the serial console stays the app's stdio, as before, and init says so (the
 * launcher, qemu/launcher/console.py SERIAL_STDIO_LINE, then shows the serial
 * console as the app's output).  Called in the app's child just before
 * execve(); power_off() drains the consoles before QEMU is told to exit. */
static void setup_app_stdio(void)
{
    static const char *const paths[3] = {"/dev/hvc2", "/dev/hvc0", "/dev/hvc1"};
    static const int flags[3] = {O_RDONLY, O_WRONLY, O_WRONLY};
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = open(paths[i], flags[i] | O_NOCTTY | O_CLOEXEC);
    if (fds[1] < 0) {
        msg("no virtio console for the app (%s: %s): its output stays on the serial console",
            paths[1], strerror(errno));
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return;
    }
    if (fds[2] < 0)
        fds[2] = fcntl(fds[1], F_DUPFD_CLOEXEC, 3); /* no stderr port: join stdout */
    if (fds[0] < 0)
        fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC); /* no stdin port */
    struct termios tio;
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0 && tcgetattr(fds[i], &tio) == 0) {
            cfmakeraw(&tio);
            tcsetattr(fds[i], TCSANOW, &tio);
        }
    }
    /* dup2 clears FD_CLOEXEC on 0..2; a failed one leaves the serial console there. */
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0 && fds[i] != i)
            dup2(fds[i], i);
    for (int i = 0; i < 3; i++)
        if (fds[i] > 2)
            close(fds[i]);
}

/* Child side of fork(): never returns. */
__attribute__((noreturn)) static void exec_app(const sigset_t *orig_mask)
{
    sigprocmask(SIG_SETMASK, orig_mask, NULL);
    setsid();
    setup_app_stdio();
    ioctl(0, TIOCSCTTY, 0); /* console as controlling tty: nice to have */
    if (drop_privileges() != 0)
        _exit(STATUS_INIT_FAILED);
    execve(conf.argv[0], (char *const *)conf.argv, (char *const *)conf.envp);
    msg("cannot execute %s: %s", conf.argv[0], strerror(errno));
    _exit(STATUS_EXEC_FAILED);
}

/* Kill everything else: SIGTERM, ~100 ms grace, SIGKILL; reap meanwhile. */
static void kill_all(void)
{
    int dummy_status, dummy_done;
    struct timespec tick = {0, 10 * 1000 * 1000};
    if (kill(-1, SIGTERM) == 0) {
        for (int i = 0; i < 10; i++) {
            if (reap(0, &dummy_status, &dummy_done) < 0)
                return; /* nothing left */
            nanosleep(&tick, NULL);
        }
    }
    if (kill(-1, SIGKILL) == 0) {
        for (int i = 0; i < 10 && reap(0, &dummy_status, &dummy_done) >= 0; i++)
            nanosleep(&tick, NULL);
    }
}

/* Memory pressure watchdog. A VM too small for its app does not always end in an OOM kill:
 * a JVM or CPython whose code pages are evicted and read back from the disk root over and
 * over (thrashing) just never becomes ready. With CONFIG_PSI (the kernel's `disk` fragment),
 * /proc/pressure/memory says which share of the last 10 s the app spent stalled on memory;
 * when it stays high, say so once, with the fix. A healthy app is at ~0. */
#define PRESSURE_PATH "/proc/pressure/memory"
#define STALL_LIMIT_PCT 20 /* "some avg10" at or above this (a thrashing JVM: ~50) ... */
#define STALL_CHECKS 10    /* ... at this many checks in a row, 1 s apart */

/* "some avg10=12.34 ..." (the share of time at least one task was stalled on memory:
 * reclaim, refaults of evicted pages) -> 12; -1 if unavailable. */
static int memory_stall_pct(void)
{
    char buf[256];
    int fd = open(PRESSURE_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *some = strstr(buf, "some avg10=");
    return some ? atoi(some + strlen("some avg10=")) : -1;
}

/* Returns 1 when the app must be stopped: stalled for STALL_CHECKS s. */
static int check_memory_pressure(int *stalled_checks, int *warned)
{
    int pct = memory_stall_pct();
    *stalled_checks = pct >= STALL_LIMIT_PCT ? *stalled_checks + 1 : 0;
    if (*stalled_checks < STALL_CHECKS || *warned)
        return 0;
    *warned = 1;
    char need[64] = "";
    if (conf.memory_mib && conf.memory_mib[0])
        snprintf(need, sizeof need, " (the build estimated at least %s MiB)", conf.memory_mib);
    /* A runnable hint: twice this VM's RAM (thrashing means far too little). */
    struct sysinfo si;
    unsigned long long suggest = 128;
    if (sysinfo(&si) == 0)
        suggest = 2 * ((unsigned long long)si.totalram * si.mem_unit >> 20) + 16;
    msg("the app has been stalled waiting for memory for %d s (memory pressure %d%%): "
        "out of memory, its pages are evicted and read back faster than it runs; stopping "
        "it (status 137). Raise the `memory` field of the unikernel_image target%s, or for "
        "one run: `pants run --unikernel-run-memory=%llu %s`.", STALL_CHECKS, pct, need,
        suggest, conf.target ? conf.target : "<image>");
    return 1;
}

/* Run the app; returns its exit status (128+N if killed by signal N). */
int run_app(void)
{
    sigset_t set, orig;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&set, forwarded_signals[i]);
    /* Blocked before fork, so no SIGCHLD can be missed; fetched with
     * sigwaitinfo() below, so no signal handlers are needed. */
    sigprocmask(SIG_BLOCK, &set, &orig);

    pid_t app = fork();
    if (app < 0) {
        msg("fork: %s", strerror(errno));
        return STATUS_INIT_FAILED;
    }
    if (app == 0)
        exec_app(&orig);

    int status = 0, done = 0, stalled_checks = 0, warned = 0;
    int watch = memory_stall_pct() >= 0;
    const struct timespec second = {1, 0};
    while (!done) {
        siginfo_t info;
        int sig = watch ? sigtimedwait(&set, &info, &second) : sigwaitinfo(&set, &info);
        if (sig < 0 && errno == EAGAIN) {
            if (check_memory_pressure(&stalled_checks, &warned))
                kill(app, SIGKILL); /* reaped below: status 128 + 9 */
        }
        else if (sig == SIGCHLD)
            reap(app, &status, &done);
        else if (sig > 0)
            kill(app, sig); /* a forwarded signal */
    }
    kill_all();
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return STATUS_INIT_FAILED; /* not reached */
}
