/*
 * unikernel-init (see main.c): reading and parsing /.uk/init.conf into
 * `conf` (the format: parse_config() below), and the default environment.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "init.h"

#define CONF_MAX (256 * 1024) /* max size of init.conf */

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

struct init_config conf; /* zero until parse_config() fills it */

static char conf_buf[CONF_MAX + 1];

/* Read /.uk/init.conf into conf_buf.  Returns 0, or an errno value. */
int read_config(void)
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

/* The value of "net" (eth0) and of "net_ports" (eth1, the forwarded ports' NIC, which has no
 * route): "static" and then exactly `count` IPv4 addresses (at most 3), stored into
 * *dst[0..count-1] only if the whole value is valid; or, if `none_ok`, "none".  Returns 1
 * for "static ...", 0 for "none", -1 if invalid. */
static int parse_net_static(char *value, struct in_addr *const dst[], int count, int none_ok)
{
    char *save = NULL;
    char *mode = strtok_r(value, " \t", &save);
    if (none_ok && mode && strcmp(mode, "none") == 0 && !strtok_r(NULL, " \t", &save))
        return 0;
    if (!mode || strcmp(mode, "static") != 0 || count > 3)
        return -1;
    struct in_addr addr[3];
    for (int i = 0; i < count; i++) {
        char *word = strtok_r(NULL, " \t", &save);
        if (!word || inet_pton(AF_INET, word, &addr[i]) != 1)
            return -1;
    }
    if (strtok_r(NULL, " \t", &save))
        return -1;
    for (int i = 0; i < count; i++)
        *dst[i] = addr[i];
    return 1;
}

/* "PARTUUID=" and a GUID's 36-character text form (any case), e.g.
 * "PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de4". */
static int is_partuuid(const char *device)
{
    if (strncmp(device, "PARTUUID=", 9) != 0 || strlen(device) != 9 + 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = device[9 + i];
        if (i == 8 || i == 13 || i == 18 || i == 23 ? c != '-' : !isxdigit((unsigned char)c))
            return 0;
    }
    return 1;
}

/* Parse "<device> <fstype>" (e.g. "/dev/vda squashfs" or "PARTUUID=<uuid>
 * squashfs").  Returns 0 if valid. */
static int parse_rootdisk(char *value)
{
    char *save = NULL;
    char *device = strtok_r(value, " \t", &save);
    char *fstype = strtok_r(NULL, " \t", &save);
    if (!device || !fstype || (device[0] != '/' && !is_partuuid(device)) ||
        strtok_r(NULL, " \t", &save))
        return -1;
    conf.rootdisk = device;
    conf.rootdisk_fstype = fstype;
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
 *   net dhcp                     eth0 was configured by the kernel's DHCP client
 *                                (ip=dhcp: a cloud platform); DNS from it
 *   dns <ip>                     nameserver for /etc/resolv.conf
 *   rootdisk <device> <fstype>   e.g. "rootdisk /dev/vda squashfs": the app's
 *                                files are on that read-only disk; init
 *                                mounts it under a tmpfs-backed overlay and
 *                                switches root to it before anything else.
 *                                <device> may be PARTUUID=<uuid>: the GPT
 *                                partition with that unique partition GUID,
 *                                on any disk (see find_partuuid() in gpt.c)
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
int parse_config(void)
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
        } else if (strcmp(line, "net") == 0 && strcmp(value, "dhcp") == 0) {
            conf.net_dhcp = 1;
        } else if (strcmp(line, "net") == 0) {
            struct in_addr *const eth0[] = {&conf.ip, &conf.netmask, &conf.gateway};
            int is_static = parse_net_static(value, eth0, 3, 1);
            if (is_static >= 0)
                conf.net_static = is_static;
            else
                msg("%s:%d: expected \"net static <ip> <netmask> <gateway>\", "
                    "\"net dhcp\" or \"net none\", ignoring", CONF_PATH, lineno);
        } else if (strcmp(line, "rootdisk") == 0) {
            if (parse_rootdisk(value) != 0) {
                msg("%s:%d: expected \"rootdisk <device> <fstype>\", e.g. "
                    "\"rootdisk /dev/vda squashfs\" or \"rootdisk PARTUUID=<uuid> "
                    "squashfs\"", CONF_PATH, lineno);
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
            struct in_addr *const eth1[] = {&conf.ports_ip, &conf.ports_netmask};
            if (parse_net_static(value, eth1, 2, 0) > 0)
                conf.ports_static = 1;
            else
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
void add_default_env(void)
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
