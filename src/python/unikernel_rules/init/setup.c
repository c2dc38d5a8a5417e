/*
 * unikernel-init (see main.c): the console as stdio, the kernel file systems
 * (/proc, /sys, /dev, /tmp, ...), the network (lo, eth0, eth1, rejected
 * routes, resolv.conf) and the host name.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"

#define DEFAULT_DNS "10.0.2.3"

/* ------------------------------------------------------------------------ */
/* System setup                                                             */

/* If any of fds 0..2 is closed, open /dev/console for it. */
void ensure_stdio(void)
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
int mkdir_p(const char *path, mode_t mode)
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

void mount_filesystems(void)
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

/* Give an interface an address and netmask and bring it up; failures after the first are
 * logged.  Returns -1 (errno set) when the interface does not exist, else 0. */
static int if_configure(int sock, const char *name, struct in_addr ip, struct in_addr netmask)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
        return -1;
    set_sin(&ifr.ifr_addr, ip);
    if (ioctl(sock, SIOCSIFADDR, &ifr) != 0)
        msg("%s: SIOCSIFADDR: %s", name, strerror(errno));
    set_sin(&ifr.ifr_netmask, netmask);
    if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0)
        msg("%s: SIOCSIFNETMASK: %s", name, strerror(errno));
    if (if_up(sock, name) != 0)
        msg("cannot bring up %s: %s", name, strerror(errno));
    return 0;
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

/* "net dhcp": the kernel's DHCP client configured eth0 and wrote what it learnt to
 * /proc/net/pnp ("nameserver <ip>" lines, resolv.conf's syntax).  Without a nameserver
 * there (or with no address: DHCP failed, e.g. no NIC the kernel drives) say so; the app
 * runs on. */
static void dhcp_resolv_conf(void)
{
    char buf[512];
    int fd = open("/proc/net/pnp", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!strstr(buf, "nameserver")) {
        msg("DHCP gave no nameserver: no /etc/resolv.conf (the network gives none, as QEMU's "
            "does with network=\"isolated\"; or the kernel found no NIC it drives, or no DHCP "
            "server answered)");
        return;
    }
    if (access("/etc/resolv.conf", F_OK) == 0)
        return; /* the image's own */
    if (mkdir("/etc", 0755) != 0 && errno != EEXIST)
        return;
    unlink("/etc/resolv.conf");
    int out = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        msg("cannot write /etc/resolv.conf: %s", strerror(errno));
        return;
    }
    write_all(out, buf, strlen(buf));
    close(out);
}

void setup_network(void)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        msg("no network: socket: %s", strerror(errno));
        return;
    }
    if (if_up(sock, "lo") != 0) /* the kernel then adds 127.0.0.1/8 itself */
        msg("cannot bring up lo: %s", strerror(errno));

    if (conf.net_static) {
        if (if_configure(sock, "eth0", conf.ip, conf.netmask) != 0) {
            msg("warning: no eth0 (%s); running without network", strerror(errno));
        } else {
            struct rtentry rt; /* default route: 0.0.0.0/0 via gateway */
            memset(&rt, 0, sizeof rt);
            set_sin(&rt.rt_dst, (struct in_addr){0});
            set_sin(&rt.rt_genmask, (struct in_addr){0});
            set_sin(&rt.rt_gateway, conf.gateway);
            rt.rt_flags = RTF_UP | RTF_GATEWAY;
            rt.rt_dev = "eth0";
            if (ioctl(sock, SIOCADDRT, &rt) != 0 && errno != EEXIST)
                msg("eth0: cannot add default route: %s", strerror(errno));
        }
    }
    /* eth1: the NIC forwarded ports arrive on (the launcher adds it only when it forwards
     * ports).  Just an address: its subnet route carries the replies. */
    if (conf.ports_static)
        if_configure(sock, "eth1", conf.ports_ip, conf.ports_netmask);
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
    else if (conf.net_dhcp)
        dhcp_resolv_conf();
}

/* Host name, and ports below 1024 for the unprivileged app (as Docker does). */
void setup_identity(void)
{
    if (conf.hostname && sethostname(conf.hostname, strlen(conf.hostname)) != 0)
        msg("cannot set the host name %s: %s", conf.hostname, strerror(errno));
    int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        write_all(fd, "0\n", 2);
        close(fd);
    }
}
