/*
 * unikernel-init: the PID 1 of a unikernel_rules VM image.
 *
 * The initramfs built by unikernel_rules holds this program as /init, a
 * config file /.uk/init.conf, the application, and a marker file
 * /.uk/complete that is the very last archive entry.  This program:
 *
 *   1. makes sure fds 0..2 are the console,
 *   2. reads /.uk/init.conf (see parse_config() for the format),
 *   3. checks /.uk/complete exists (if not, the kernel ran out of memory
 *      while unpacking the initramfs and files are missing),
 *   4. if init.conf has a "rootdisk" line: mounts that disk read-only, a
 *      tmpfs for a writable upper layer and an overlay of the two, and makes
 *      the overlay the root (see switch_to_disk_root()),
 *   5. mounts /proc, /sys, /dev, /dev/shm, /tmp, sets up lo (and eth0), the
 *      host name, the volumes (ext4 data disks found by their virtio serial),
 *      then makes the root read-only except the working directory, /tmp and
 *      the image's writable paths (see lock_down_root()),
 *   6. runs the application as its child, as the image's unprivileged user
 *      with no capabilities and no_new_privs (see drop_privileges()),
 *      forwarding signals to it and reaping every zombie, and stops it with
 *      "raise memory" if it stays stalled on memory (thrashing;
 *      /proc/pressure/memory, kernels with CONFIG_PSI),
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
 * Build: zig cc -target x86_64-linux-musl -static -Os -s -o init init.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CONF_PATH "/.uk/init.conf"
#define COMPLETE_PATH "/.uk/complete"
#define DEFAULT_DNS "10.0.2.3"

#define CONF_MAX (256 * 1024) /* max size of init.conf */
#define MAX_ARGS 4096         /* max argv entries (config + command line) */
#define MAX_ENV 4096          /* max environment entries */
#define MAX_MOUNTS 64         /* max volumes, and max writable paths */

#define STATUS_INIT_FAILED 125
#define STATUS_EXEC_FAILED 127

/* isa-debug-exit: QEMU exits with (value << 1) | 1 when it is written. */
#define DEBUG_EXIT_PORT 0xf4

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

static void write_all(int fd, const char *buf, size_t len)
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
__attribute__((format(printf, 1, 2))) static void msg(const char *fmt, ...)
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
__attribute__((noreturn)) static void power_off(int status)
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
    /* The app's virtio consoles (setup_app_stdio()): wait until QEMU has taken
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

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

static struct {
    const char *target;       /* "target": for messages */
    const char *memory_mib;   /* "memory_needed_mib": for messages */
    const char *workdir;      /* "workdir" */
    const char *argv[MAX_ARGS + 1];
    int argc;
    int args_from;            /* "args_from <n>": where the image's `args` start (-1: none) */
    const char *envp[MAX_ENV + 1];
    int envc;
    int net_static;           /* "net static ..." seen */
    struct in_addr ip, netmask, gateway;
    int ports_static;         /* "net_ports static <ip> <mask>": eth1, forwarded ports */
    struct in_addr ports_ip, ports_netmask;
    const char *dns;          /* "dns", or NULL */
    char *rootdisk;           /* "rootdisk <device> <fstype>": device, or NULL */
    char *rootdisk_fstype;
    const char *hostname;     /* "hostname" */
    int has_user;             /* "user <uid> <gid>" seen: drop root for the app */
    uid_t uid;
    gid_t gid;
    int net_reject_count;     /* "net_reject <ip>": host routes rejected in the guest */
    int net_host_loopback;    /* "net_host_loopback": network="host", no reject routes */
    struct in_addr net_reject[8];
    struct {
        char *serial, *fstype, *path;
    } volumes[MAX_MOUNTS];    /* "volume <serial> <fstype> <path>" */
    int volume_count;
    const char *writable[MAX_MOUNTS]; /* "writable <path>" */
    int writable_count;
    int writable_root;        /* "writable_root": leave / writable */
} conf;

static char conf_buf[CONF_MAX + 1];

/* Read /.uk/init.conf into conf_buf.  Returns 0, or an errno value. */
static int read_config(void)
{
    int fd = open(CONF_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, conf_buf + len, CONF_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > CONF_MAX) {
            close(fd);
            return EFBIG;
        }
    }
    close(fd);
    conf_buf[len] = '\0';
    return 0;
}

/* Parse "static <ip> <netmask> <gateway>" or "none".  Returns 0 if valid. */
static int parse_net(char *value)
{
    char *save = NULL;
    char *mode = strtok_r(value, " \t", &save);
    if (mode && strcmp(mode, "none") == 0 && !strtok_r(NULL, " \t", &save)) {
        conf.net_static = 0;
        return 0;
    }
    if (!mode || strcmp(mode, "static") != 0)
        return -1;
    struct in_addr *dst[3] = {&conf.ip, &conf.netmask, &conf.gateway};
    for (int i = 0; i < 3; i++) {
        char *word = strtok_r(NULL, " \t", &save);
        if (!word || inet_pton(AF_INET, word, dst[i]) != 1)
            return -1;
    }
    if (strtok_r(NULL, " \t", &save))
        return -1;
    conf.net_static = 1;
    return 0;
}

/* Parse "<device> <fstype>" (e.g. "/dev/vda squashfs").  Returns 0 if valid. */
static int parse_rootdisk(char *value)
{
    char *save = NULL;
    char *device = strtok_r(value, " \t", &save);
    char *fstype = strtok_r(NULL, " \t", &save);
    if (!device || !fstype || device[0] != '/' || strtok_r(NULL, " \t", &save))
        return -1;
    conf.rootdisk = device;
    conf.rootdisk_fstype = fstype;
    return 0;
}

/* Parse "static <ip> <netmask>" (the forwarded ports' NIC, eth1).  Returns 0 if valid. */
static int parse_net_ports(char *value)
{
    char *save = NULL;
    char *mode = strtok_r(value, " \t", &save);
    char *ip = strtok_r(NULL, " \t", &save);
    char *mask = strtok_r(NULL, " \t", &save);
    if (!mode || strcmp(mode, "static") != 0 || !ip || !mask || strtok_r(NULL, " \t", &save) ||
        inet_pton(AF_INET, ip, &conf.ports_ip) != 1 ||
        inet_pton(AF_INET, mask, &conf.ports_netmask) != 1)
        return -1;
    conf.ports_static = 1;
    return 0;
}

/* Parse "<serial> <fstype> <absolute path>".  Returns 0 if valid. */
static int parse_volume(char *value)
{
    char *save = NULL;
    char *serial = strtok_r(value, " \t", &save);
    char *fstype = strtok_r(NULL, " \t", &save);
    char *path = strtok_r(NULL, "", &save);
    if (!serial || !fstype || !path || path[0] != '/' || conf.volume_count >= MAX_MOUNTS)
        return -1;
    conf.volumes[conf.volume_count].serial = serial;
    conf.volumes[conf.volume_count].fstype = fstype;
    conf.volumes[conf.volume_count].path = path;
    conf.volume_count++;
    return 0;
}

/* Parse "<uid> <gid>".  Returns 0 if valid. */
static int parse_user(char *value)
{
    char *end = NULL;
    unsigned long uid = strtoul(value, &end, 10);
    if (end == value || *end != ' ')
        return -1;
    char *gid_start = end + 1;
    unsigned long gid = strtoul(gid_start, &end, 10);
    if (end == gid_start || *end != '\0' || uid > 0x7ffffffe || gid > 0x7ffffffe)
        return -1;
    conf.has_user = 1;
    conf.uid = (uid_t)uid;
    conf.gid = (gid_t)gid;
    return 0;
}

/*
 * One directive per line: "<key> <value>", the value running to the end of
 * the line (spaces included, no escaping).  Empty lines and lines starting
 * with '#' are ignored.  The buffer is split in place: values point into it.
 * Keys:
 *   target <address>             the image target, for messages
 *   memory_needed_mib <n>        the build's memory estimate, for messages
 *   workdir <absolute path>      the app's working directory (created)
 *   args_from <n>                argv[n..] are the image's `args`: dropped when
 *                                the launcher asks to replace them (the kernel
 *                                command line's UNIKERNEL_REPLACE_ARGS=1)
 *   arg <word>                   one argv entry, in order; the first is the
 *                                program's absolute path
 *   env <KEY=VALUE>              one environment variable
 *   net static <ip> <mask> <gw>  configure eth0 (or "net none")
 *   dns <ip>                     nameserver for /etc/resolv.conf
 *   rootdisk <device> <fstype>   e.g. "rootdisk /dev/vda squashfs": the app's
 *                                files are on that read-only disk; init
 *                                mounts it under a tmpfs-backed overlay and
 *                                switches root to it before anything else
 *   hostname <name>              the guest's host name
 *   net_ports static <ip> <mask> eth1, the NIC forwarded ports come in on
 *                                (no route: replies go back on its subnet)
 *   net_host_loopback            network="host": skip the net_reject routes
 *                                (unless the launcher's UNIKERNEL_NETWORK says
 *                                otherwise for this run)
 *   net_reject <ip>              a host route the guest rejects (10.0.2.2:
 *                                QEMU's alias of the host's loopback)
 *   volume <serial> <fstype> <path>
 *                                mount the virtio-blk disk whose serial is
 *                                <serial> (a persistent volume) at <path>
 *   writable <path>              a directory the app may write (RAM-backed)
 *   writable_root                leave the whole root writable
 *   user <uid> <gid>             run the app as this user, without
 *                                capabilities (absent: as root)
 * Returns 0, or -1 after printing a message.
 */
static int parse_config(void)
{
    char *line = conf_buf;
    for (int lineno = 1; line && *line; lineno++) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[len - 1] = '\0';

        if (line[0] == '\0' || line[0] == '#') {
            line = next;
            continue;
        }
        char *value = strchr(line, ' ');
        if (value)
            *value++ = '\0';
        else
            value = line + strlen(line); /* key without value: "" */

        if (strcmp(line, "target") == 0) {
            conf.target = value;
        } else if (strcmp(line, "memory_needed_mib") == 0) {
            conf.memory_mib = value;
        } else if (strcmp(line, "workdir") == 0) {
            if (value[0] != '/')
                msg("%s:%d: workdir must be absolute, ignoring", CONF_PATH, lineno);
            else
                conf.workdir = value;
        } else if (strcmp(line, "arg") == 0) {
            if (conf.argc >= MAX_ARGS) {
                msg("%s:%d: more than %d args", CONF_PATH, lineno, MAX_ARGS);
                return -1;
            }
            conf.argv[conf.argc++] = value;
        } else if (strcmp(line, "env") == 0) {
            if (!strchr(value, '=') || value[0] == '=') {
                msg("%s:%d: env needs KEY=VALUE, ignoring \"%s\"", CONF_PATH, lineno, value);
            } else if (conf.envc >= MAX_ENV - 3) { /* room for defaults */
                msg("%s:%d: more than %d env entries", CONF_PATH, lineno, MAX_ENV - 3);
                return -1;
            } else {
                conf.envp[conf.envc++] = value;
            }
        } else if (strcmp(line, "net") == 0) {
            if (parse_net(value) != 0)
                msg("%s:%d: expected \"net static <ip> <netmask> <gateway>\" "
                    "or \"net none\", ignoring", CONF_PATH, lineno);
        } else if (strcmp(line, "rootdisk") == 0) {
            if (parse_rootdisk(value) != 0) {
                msg("%s:%d: expected \"rootdisk <device> <fstype>\", e.g. "
                    "\"rootdisk /dev/vda squashfs\"", CONF_PATH, lineno);
                return -1;
            }
        } else if (strcmp(line, "args_from") == 0) {
            char *end = NULL;
            long n = strtol(value, &end, 10);
            if (end == value || *end != '\0' || n < 1 || n > MAX_ARGS) {
                msg("%s:%d: args_from needs a positive number", CONF_PATH, lineno);
                return -1;
            }
            conf.args_from = (int)n;
        } else if (strcmp(line, "hostname") == 0) {
            conf.hostname = value;
        } else if (strcmp(line, "net_ports") == 0) {
            if (parse_net_ports(value) != 0)
                msg("%s:%d: expected \"net_ports static <ip> <netmask>\", ignoring",
                    CONF_PATH, lineno);
        } else if (strcmp(line, "net_host_loopback") == 0) {
            conf.net_host_loopback = 1;
        } else if (strcmp(line, "net_reject") == 0) {
            if (conf.net_reject_count >= 8 ||
                inet_pton(AF_INET, value, &conf.net_reject[conf.net_reject_count]) != 1) {
                msg("%s:%d: net_reject needs an IPv4 address (at most 8)", CONF_PATH, lineno);
                return -1; /* a security setting: never ignore it */
            }
            conf.net_reject_count++;
        } else if (strcmp(line, "volume") == 0) {
            if (parse_volume(value) != 0) {
                msg("%s:%d: expected \"volume <serial> <fstype> <absolute path>\"",
                    CONF_PATH, lineno);
                return -1;
            }
        } else if (strcmp(line, "writable") == 0) {
            if (value[0] != '/' || conf.writable_count >= MAX_MOUNTS) {
                msg("%s:%d: writable needs an absolute path (at most %d)", CONF_PATH, lineno,
                    MAX_MOUNTS);
                return -1;
            }
            conf.writable[conf.writable_count++] = value;
        } else if (strcmp(line, "writable_root") == 0) {
            conf.writable_root = 1;
        } else if (strcmp(line, "user") == 0) {
            if (parse_user(value) != 0) {
                msg("%s:%d: expected \"user <uid> <gid>\"", CONF_PATH, lineno);
                return -1; /* never fall back to root silently */
            }
        } else if (strcmp(line, "dns") == 0) {
            struct in_addr tmp;
            if (inet_pton(AF_INET, value, &tmp) != 1)
                msg("%s:%d: dns needs an IPv4 address, ignoring", CONF_PATH, lineno);
            else
                conf.dns = value;
        } else {
            msg("%s:%d: unknown key \"%s\", ignoring", CONF_PATH, lineno, line);
        }
        line = next;
    }
    if (conf.argc == 0) {
        msg("%s has no \"arg\" line: no program to run", CONF_PATH);
        return -1;
    }
    if (conf.argv[0][0] != '/') {
        msg("%s: the first arg must be an absolute path, got \"%s\"", CONF_PATH,
            conf.argv[0]);
        return -1;
    }
    return 0;
}

/* Add PATH/HOME/TMPDIR unless the config already set them. */
static void add_default_env(void)
{
    static const char *const defaults[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "TMPDIR=/tmp"};
    for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
        size_t keylen = (size_t)(strchr(defaults[d], '=') - defaults[d]) + 1;
        int found = 0;
        for (int i = 0; i < conf.envc && !found; i++)
            found = strncmp(conf.envp[i], defaults[d], keylen) == 0;
        if (!found)
            conf.envp[conf.envc++] = defaults[d];
    }
    conf.envp[conf.envc] = NULL;
}

/* ------------------------------------------------------------------------ */
/* System setup                                                             */

/* If any of fds 0..2 is closed, open /dev/console for it. */
static void ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) != -1)
            continue;
        /* All lower fds are open, so open() returns fd itself. */
        int got = open("/dev/console", O_RDWR | O_NOCTTY);
        if (got < 0)
            return;
        if (got != fd) {
            dup2(got, fd);
            close(got);
        }
    }
}

/* mkdir -p; returns 0 if path exists as a directory afterwards. */
static int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST)
                return -1;
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static void mount_filesystems(void)
{
    static const struct {
        const char *type, *dir, *options;
        int quiet; /* failure is fine: don't warn */
    } mounts[] = {
        {"proc", "/proc", NULL, 0},
        {"sysfs", "/sys", NULL, 0},
        {"devtmpfs", "/dev", "mode=0755", 1}, /* else keep the archive's /dev */
        {"tmpfs", "/dev/shm", "mode=1777", 0},
        {"devpts", "/dev/pts", "mode=0620,ptmxmode=0666", 1}, /* extra */
        {"tmpfs", "/tmp", "mode=1777", 0},
    };
    for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
        mkdir(mounts[i].dir, 0755);
        if (mount(mounts[i].type, mounts[i].dir, mounts[i].type,
                  MS_NOSUID | (strcmp(mounts[i].type, "devtmpfs") ? MS_NODEV : 0),
                  mounts[i].options) != 0 &&
            !mounts[i].quiet && errno != EBUSY)
            msg("cannot mount %s on %s: %s", mounts[i].type, mounts[i].dir,
                strerror(errno));
    }
    /* Conveniences that a udev-less devtmpfs lacks; failures don't matter. */
    symlink("/proc/self/fd", "/dev/fd");
    symlink("/proc/self/fd/0", "/dev/stdin");
    symlink("/proc/self/fd/1", "/dev/stdout");
    symlink("/proc/self/fd/2", "/dev/stderr");
}

/* Set IFF_UP (and IFF_RUNNING) on an interface; returns 0 or -1 (errno). */
static int if_up(int sock, const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* Fill an ifreq/rtentry address field with an AF_INET address. */
static void set_sin(struct sockaddr *sa, struct in_addr addr)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr = addr;
    memcpy(sa, &sin, sizeof sin);
}

static void write_resolv_conf(const char *nameserver)
{
    if (mkdir("/etc", 0755) != 0 && errno != EEXIST)
        return;
    unlink("/etc/resolv.conf"); /* may be a dangling symlink in the image */
    int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        msg("cannot write /etc/resolv.conf: %s", strerror(errno));
        return;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "nameserver %s\n", nameserver);
    write_all(fd, line, (size_t)n);
    close(fd);
}

static void setup_network(void)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        msg("no network: socket: %s", strerror(errno));
        return;
    }
    if (if_up(sock, "lo") != 0) /* the kernel then adds 127.0.0.1/8 itself */
        msg("cannot bring up lo: %s", strerror(errno));

    if (conf.net_static) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strcpy(ifr.ifr_name, "eth0");
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
            msg("warning: no eth0 (%s); running without network", strerror(errno));
        } else {
            set_sin(&ifr.ifr_addr, conf.ip);
            if (ioctl(sock, SIOCSIFADDR, &ifr) != 0)
                msg("eth0: SIOCSIFADDR: %s", strerror(errno));
            set_sin(&ifr.ifr_netmask, conf.netmask);
            if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0)
                msg("eth0: SIOCSIFNETMASK: %s", strerror(errno));
            if (if_up(sock, "eth0") != 0)
                msg("cannot bring up eth0: %s", strerror(errno));

            struct rtentry rt; /* default route: 0.0.0.0/0 via gateway */
            memset(&rt, 0, sizeof rt);
            set_sin(&rt.rt_dst, (struct in_addr){0});
            set_sin(&rt.rt_genmask, (struct in_addr){0});
            set_sin(&rt.rt_gateway, conf.gateway);
            rt.rt_flags = RTF_UP | RTF_GATEWAY;
            rt.rt_dev = ifr.ifr_name;
            if (ioctl(sock, SIOCADDRT, &rt) != 0 && errno != EEXIST)
                msg("eth0: cannot add default route: %s", strerror(errno));
        }
    }
    /* eth1: the NIC forwarded ports arrive on (the launcher adds it only when it forwards
     * ports).  Just an address: its subnet route carries the replies. */
    if (conf.ports_static) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strcpy(ifr.ifr_name, "eth1");
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
            set_sin(&ifr.ifr_addr, conf.ports_ip);
            if (ioctl(sock, SIOCSIFADDR, &ifr) != 0)
                msg("eth1: SIOCSIFADDR: %s", strerror(errno));
            set_sin(&ifr.ifr_netmask, conf.ports_netmask);
            if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0)
                msg("eth1: SIOCSIFNETMASK: %s", strerror(errno));
            if (if_up(sock, "eth1") != 0)
                msg("cannot bring up eth1: %s", strerror(errno));
        }
    }
    /* Rejected hosts (QEMU's 10.0.2.2 = the host's loopback): an unreachable /32 route.  The
     * default route keeps 10.0.2.2 as its next hop (resolved on the link, not through the
     * table), so only connections *to* it fail.  The app has no CAP_NET_ADMIN to undo it. */
    /* `pants run --unikernel-run-network=host`: the developer lifts the wall for one run (the
     * launcher, on the host, writes UNIKERNEL_NETWORK=host on the kernel command line). */
    const char *run_network = getenv("UNIKERNEL_NETWORK");
    int reject = run_network ? strcmp(run_network, "host") != 0 : !conf.net_host_loopback;
    for (int i = 0; reject && i < conf.net_reject_count; i++) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        set_sin(&rt.rt_dst, conf.net_reject[i]);
        set_sin(&rt.rt_genmask, (struct in_addr){htonl(0xffffffffu)});
        rt.rt_flags = RTF_UP | RTF_HOST | RTF_REJECT;
        rt.rt_dev = conf.net_static ? "eth0" : "lo";
        if (ioctl(sock, SIOCADDRT, &rt) != 0 && errno != EEXIST) {
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &conf.net_reject[i], ip, sizeof ip);
            msg("cannot reject the route to %s: %s; stopping (a network isolation setting "
                "of the image)", ip, strerror(errno));
            close(sock);
            power_off(STATUS_INIT_FAILED);
        }
    }
    close(sock);

    /* The image ships /etc/resolv.conf; write one only if asked or missing. */
    if (conf.dns || (conf.net_static && access("/etc/resolv.conf", F_OK) != 0))
        write_resolv_conf(conf.dns ? conf.dns : DEFAULT_DNS);
}

/* Host name, and ports below 1024 for the unprivileged app (as Docker does). */
static void setup_identity(void)
{
    if (conf.hostname && sethostname(conf.hostname, strlen(conf.hostname)) != 0)
        msg("cannot set the host name %s: %s", conf.hostname, strerror(errno));
    int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        write_all(fd, "0\n", 2);
        close(fd);
    }
}

/* ------------------------------------------------------------------------ */
/* Disk root: read-only disk + tmpfs upper layer -> overlay -> new root     */

#define DISK_LOWER "/.uk/lower" /* the read-only disk */
#define DISK_RW "/.uk/rw"       /* tmpfs holding the overlay's upper and work dirs */
#define DISK_ROOT "/.uk/root"   /* the overlay: the new root */

__attribute__((noreturn)) static void disk_root_failed(void)
{
    msg("cannot start %s from its disk root; stopping.",
        conf.target ? conf.target : "the image");
    power_off(STATUS_INIT_FAILED);
}

/* Wait briefly for the disk's device node (devtmpfs creates it when the
 * driver probes the disk, normally before init runs).  Returns 0 if found. */
static int wait_for_block_device(const char *path)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    struct stat st;
    for (int i = 0; i < 20; i++) {
        if (stat(path, &st) == 0) {
            if (S_ISBLK(st.st_mode))
                return 0;
            errno = ENOTBLK;
            return -1;
        }
        if (errno != ENOENT)
            return -1;
        nanosleep(&tick, NULL);
    }
    return -1;
}

/*
 * Like a container: the app's files come read-only from the disk (a
 * compressed squashfs, read lazily through the page cache, so its size costs
 * no RAM up front), and every write goes to a RAM-backed tmpfs layered on
 * top by overlayfs, so the app can write anywhere.  Then the overlay becomes
 * "/" the way busybox's switch_root does it: MS_MOVE onto / and chroot.  The
 * initramfs (init + init.conf, a few KB) stays underneath, unreachable.
 */
static void switch_to_disk_root(void)
{
    const char *dev = conf.rootdisk, *fstype = conf.rootdisk_fstype;

    mkdir("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") != 0 && errno != EBUSY)
        msg("cannot mount devtmpfs on /dev: %s", strerror(errno));
    if (wait_for_block_device(dev) != 0) {
        msg("the image's rootfs.img was not attached: boot with `pants run` or attach it "
            "as a virtio-blk disk (QEMU: -drive file=rootfs.img,if=none,id=root,format=raw,"
            "readonly=on -device virtio-blk-pci,drive=root); %s: %s", dev, strerror(errno));
        disk_root_failed();
    }
    if (mkdir_p(DISK_LOWER, 0755) != 0 || mkdir_p(DISK_RW, 0755) != 0 ||
        mkdir_p(DISK_ROOT, 0755) != 0) {
        msg("cannot create the disk root's mount points under /.uk: %s", strerror(errno));
        disk_root_failed();
    }
    if (mount(dev, DISK_LOWER, fstype, MS_RDONLY | MS_NODEV, NULL) != 0) {
        int err = errno;
        if (err == ENODEV)
            msg("cannot mount the disk root %s: this kernel has no %s support "
                "(the `disk` kernel fragment provides it)", dev, fstype);
        else if (err == ENXIO || err == ENOMEDIUM)
            msg("the image's rootfs.img was not attached: %s has no medium (%s)", dev,
                strerror(err));
        else
            msg("cannot mount the disk root %s as %s: %s; is it the image's rootfs.img? "
                "(wrong file attached, or damaged: rebuild it with `pants package`)",
                dev, fstype, strerror(err));
        disk_root_failed();
    }
    if (mount("tmpfs", DISK_RW, "tmpfs", 0, "mode=0755") != 0 ||
        mkdir(DISK_RW "/upper", 0755) != 0 || mkdir(DISK_RW "/work", 0755) != 0) {
        msg("cannot set up the tmpfs for the disk root's writable layer: %s", strerror(errno));
        disk_root_failed();
    }
    if (mount("overlay", DISK_ROOT, "overlay", 0,
              "lowerdir=" DISK_LOWER ",upperdir=" DISK_RW "/upper,workdir=" DISK_RW "/work") != 0) {
        msg("cannot mount the writable overlay over the disk root: %s%s", strerror(errno),
            errno == ENODEV ? " (this kernel has no overlayfs: the `disk` kernel fragment "
                              "provides it)" : "");
        disk_root_failed();
    }
    /* Keep /dev (and the console behind it) in the new root. */
    mkdir(DISK_ROOT "/dev", 0755);
    if (mount("/dev", DISK_ROOT "/dev", NULL, MS_MOVE, NULL) != 0)
        msg("cannot move /dev into the disk root: %s", strerror(errno));
    if (chdir(DISK_ROOT) != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 ||
        chroot(".") != 0 || chdir("/") != 0) {
        msg("cannot switch the root to the disk root: %s", strerror(errno));
        disk_root_failed();
    }
}

/* ------------------------------------------------------------------------ */
/* Volumes, a read-only root, an unprivileged app                           */

/* The /dev node of the virtio-blk disk whose serial is `serial` (QEMU's
 * -device virtio-blk-pci,serial=...), via /sys/block/vd* /serial.  Waits
 * briefly for the disk to be probed.  Returns 0 and fills `dev`, or -1. */
static int find_disk_by_serial(const char *serial, char *dev, size_t size)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int attempt = 0; attempt < 50; attempt++) {
        for (char letter = 'a'; letter <= 'z'; letter++) {
            char path[64], buf[64];
            snprintf(path, sizeof path, "/sys/block/vd%c/serial", letter);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n <= 0)
                continue;
            buf[n] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            if (strcmp(buf, serial) == 0) {
                snprintf(dev, size, "/dev/vd%c", letter);
                return 0;
            }
        }
        nanosleep(&tick, NULL);
    }
    return -1;
}

static void mount_volumes(void)
{
    for (int i = 0; i < conf.volume_count; i++) {
        const char *serial = conf.volumes[i].serial, *path = conf.volumes[i].path;
        char dev[32];
        if (find_disk_by_serial(serial, dev, sizeof dev) != 0) {
            msg("the volume %s (serial %s) is not attached: boot the image with `pants run` "
                "(it attaches and formats the image's volumes), or attach the disk as "
                "virtio-blk with serial=%s", path, serial, serial);
            power_off(STATUS_INIT_FAILED);
        }
        if (mkdir_p(path, 0755) != 0) {
            msg("cannot create the mount point of the volume %s: %s", path, strerror(errno));
            power_off(STATUS_INIT_FAILED);
        }
        /* sync,dirsync: `pants run` may end the VM at any moment (Ctrl-C, a timeout, a test
         * done with it), which is a power cut for the guest; with ext4's usual 5 s commit
         * and delayed allocation the last writes would be lost (measured: SQLite's last
         * transaction rolled back by its undeleted journal, a new file left empty). */
        if (mount(dev, path, conf.volumes[i].fstype,
                  MS_NOSUID | MS_NODEV | MS_SYNCHRONOUS | MS_DIRSYNC, NULL) != 0) {
            int err = errno;
            if (err == ENODEV)
                msg("cannot mount the volume %s (%s, %s): %s (this kernel has no such "
                    "filesystem: the `disk` fragment provides ext4)", path, dev,
                    conf.volumes[i].fstype, strerror(err));
            else
                msg("cannot mount the volume %s (%s, %s): %s; is its disk damaged or not "
                    "formatted? Wipe it with `pants run --unikernel-run-wipe-volumes %s` (its "
                    "data is lost)", path, dev, conf.volumes[i].fstype, strerror(err),
                    conf.target ? conf.target : "<image>");
            power_off(STATUS_INIT_FAILED);
        }
        if (conf.has_user && chown(path, conf.uid, conf.gid) != 0)
            msg("cannot give the volume %s to uid %u: %s", path, (unsigned)conf.uid,
                strerror(errno));
    }
}

/* A directory the app may write: owned by it, and a mount point of its own
 * (a bind mount onto itself), so it stays writable when / is made
 * read-only.  Its contents live where the root's do: RAM. */
static void make_writable(const char *path)
{
    if (strcmp(path, "/") == 0)
        return;
    if (mkdir_p(path, 0755) != 0) {
        msg("cannot create the writable directory %s: %s", path, strerror(errno));
        power_off(STATUS_INIT_FAILED);
    }
    if (conf.has_user && chown(path, conf.uid, conf.gid) != 0)
        msg("cannot give %s to uid %u: %s", path, (unsigned)conf.uid, strerror(errno));
    /* MS_REC: a volume or other mount below it stays visible. */
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) {
        msg("cannot make %s writable (bind mount): %s", path, strerror(errno));
        power_off(STATUS_INIT_FAILED);
    }
}

/* Like `docker run --read-only`: the app may write only /tmp, /dev/shm, its
 * working directory, the volumes and the image's writable paths.  Two steps:
 * the writable directories become mount points of their own (before the
 * volumes are mounted, so that a volume inside one, e.g. the venv's
 * var/<app>-instance below the working directory, is mounted on top and not
 * hidden under a bind mount), then, after the volumes, / turns read-only. */
static void prepare_writable_paths(void)
{
    if (conf.writable_root) {
        if (conf.has_user && conf.workdir && chown(conf.workdir, conf.uid, conf.gid) != 0)
            msg("cannot give %s to uid %u: %s", conf.workdir, (unsigned)conf.uid,
                strerror(errno));
        return;
    }
    if (conf.workdir)
        make_writable(conf.workdir);
    for (int i = 0; i < conf.writable_count; i++)
        make_writable(conf.writable[i]);
}

static void lock_down_root(void)
{
    if (conf.writable_root)
        return;
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
        msg("cannot make the root file system read-only: %s; stopping (set "
            "`writable_paths=[\"/\"]` on the image to run with a writable root)",
            strerror(errno));
        power_off(STATUS_INIT_FAILED);
    }
}

/* In the app's child, before execve: its user (if not root), no capabilities
 * left in any set, and no_new_privs (no setuid binary can give them back).
 * Returns 0, or -1 after a message. */
static int drop_privileges(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        msg("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    if (!conf.has_user)
        return 0; /* `user="root"`: the opt-in keeps root's capabilities */
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
            msg("cannot drop capability %d: %s", cap, strerror(errno));
            return -1;
        }
    /* Leaving uid 0 (all of real, effective and saved) clears the permitted,
     * effective and ambient sets; keep-caps is off. */
    if (setgroups(0, NULL) != 0 || setgid(conf.gid) != 0 || setuid(conf.uid) != 0) {
        msg("cannot switch to uid %u gid %u: %s", (unsigned)conf.uid, (unsigned)conf.gid,
            strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* paranoia: must be impossible now */
        msg("still able to become root after dropping privileges; stopping");
        return -1;
    }
    return 0;
}

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
static int run_app(void)
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
