/*
 * unikernel-init (see main.c): messages on the console, and the way out of
 * PID 1: report the exit status to the host and power off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

/* isa-debug-exit: QEMU exits with (value << 1) | 1 when it is written. */
#define DEBUG_EXIT_PORT 0xf4

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Print "unikernel-init: <message>\n" to stderr (the console). */
__attribute__((format(printf, 1, 2))) void msg(const char *fmt, ...)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "unikernel-init: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(buf);
    buf[len++] = '\n';
    write_all(2, buf, len);
}

/* ------------------------------------------------------------------------ */
/* Power off, reporting the exit status                                     */

/* Write the status to QEMU's isa-debug-exit device, which makes QEMU exit
 * at once with status (status << 1) | 1.  Returns if there is no device. */
static void debug_exit(int status)
{
    if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0)
        outl((unsigned int)status, DEBUG_EXIT_PORT);
    /* Kernels without CONFIG_X86_IOPL_IOPERM: /dev/port does a one-byte
     * outb, which the device accepts too (the status fits in a byte). */
    int fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT &&
        mknod("/dev/port", S_IFCHR | 0600, makedev(1, 4)) == 0)
        fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        unsigned char byte = (unsigned char)status;
        if (pwrite(fd, &byte, 1, DEBUG_EXIT_PORT) != 1)
            msg("/dev/port: %s", strerror(errno));
        close(fd);
    }
}

/* reboot(RB_POWER_OFF) without a power-off driver halts and never returns,
 * so only use it with ACPI (how a PC powers off). */
static int can_power_off(void)
{
    mkdir("/sys", 0755);
    mount("sysfs", "/sys", "sysfs", 0, NULL); /* EBUSY if already mounted */
    return access("/sys/firmware/acpi", F_OK) == 0;
}

/* Report the status on the console and to the host, then power off. */
__attribute__((noreturn)) void power_off(int status)
{
    /* The guest's clock at exit, for the benchmark of batch apps (under
     * `qemu -icount` it is deterministic), on its own line before the status. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[96];
    int n = snprintf(line, sizeof line, "\nUNIKERNEL_EXIT_MONOTONIC_MS=%lld.%03ld\nUNIKERNEL_EXIT=%d\n",
                     (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                     (ts.tv_nsec / 1000) % 1000, status);
    write_all(1, line, (size_t)n);
    /* The serial driver sends bytes asynchronously; wait until the UART has
     * actually transmitted them, or QEMU could exit before they are out. */
    tcdrain(1);
    /* The app's virtio consoles (run.c, setup_app_stdio()): wait until QEMU has taken
     * their last bytes; their write()s may still sit in the hvc driver. */
    static const char *const app_consoles[] = {"/dev/hvc0", "/dev/hvc1", "/dev/hvc2"};
    for (size_t i = 0; i < sizeof app_consoles / sizeof app_consoles[0]; i++) {
        int fd = open(app_consoles[i], O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            tcdrain(fd);
            close(fd);
        }
    }
    sync();

    debug_exit(status);

    /* Still here: no such device.  Power off, else reboot (the host runs
     * QEMU with -no-reboot, so that ends it as well). */
    if (can_power_off())
        reboot(RB_POWER_OFF);
    reboot(RB_AUTOBOOT);
    msg("cannot power off: %s", strerror(errno));
    for (;;)
        pause(); /* returning from PID 1 would only panic the kernel */
}
