/*
 * guest_probe: checks, from inside a unikernel_rules guest, that it looks like a container's
 * and is locked down as documented in docs/guest.md. One line per check ("ok ..." or
 * "FAIL ..."); exits 0 if every check passed, 1 otherwise.
 *
 *   guest_probe [--expect-user NAME] [--host-port N] [--expect-host-reachable]
 *               [--expect-writable-root] [--expect-tz ABBREV] [--expect-ca-bundle]
 *               [--counter PATH]
 *
 * --host-port N: try to connect to 10.0.2.2:N (QEMU's alias of the host's 127.0.0.1); the
 * connection must fail unless --expect-host-reachable. --counter PATH: append a line to PATH
 * and print "counter=<lines>" (a volume keeps it across boots).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "ok" : "FAIL", what, detail[0] ? ": " : "", detail);
    failures += !ok;
}

static int can_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    unlink(path);
    return 0;
}

static const char *status_field(const char *name, char *buf, size_t size)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return "?";
    char line[256];
    size_t len = strlen(name);
    snprintf(buf, size, "?");
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            char *v = line + len + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(buf, size, "%s", v);
            break;
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *expect_user = "app", *counter = NULL;
    int host_port = 0, expect_host = 0, writable_root = 0, expect_ca = 0;
    const char *expect_tz = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect-user") == 0 && i + 1 < argc)
            expect_user = argv[++i];
        else if (strcmp(argv[i], "--host-port") == 0 && i + 1 < argc)
            host_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--expect-host-reachable") == 0)
            expect_host = 1;
        else if (strcmp(argv[i], "--expect-tz") == 0 && i + 1 < argc)
            expect_tz = argv[++i];
        else if (strcmp(argv[i], "--expect-ca-bundle") == 0)
            expect_ca = 1;
        else if (strcmp(argv[i], "--expect-writable-root") == 0)
            writable_root = 1;
        else if (strcmp(argv[i], "--counter") == 0 && i + 1 < argc)
            counter = argv[++i];
    }
    char detail[512], buf[128];

    /* Identity: host name, /etc/hosts, the user. */
    char host[256] = "";
    gethostname(host, sizeof host);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    char ip[INET_ADDRSTRLEN] = "";
    if (gai == 0)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
    snprintf(detail, sizeof detail, "hostname=%s resolves to %s", host, gai ? gai_strerror(gai) : ip);
    check(host[0] && gai == 0, "hostname", detail);
    if (res)
        freeaddrinfo(res);
    struct passwd *pw = getpwuid(getuid());
    snprintf(detail, sizeof detail, "uid=%u name=%s home=%s", (unsigned)getuid(),
             pw ? pw->pw_name : "(none)", pw ? pw->pw_dir : "");
    check(pw && strcmp(pw->pw_name, expect_user) == 0, "user", detail);

    /* Privileges. */
    int is_root = strcmp(expect_user, "root") == 0;
    snprintf(detail, sizeof detail, "CapEff=%s", status_field("CapEff", buf, sizeof buf));
    check(is_root || strcmp(buf, "0000000000000000") == 0, "no capabilities", detail);
    snprintf(detail, sizeof detail, "NoNewPrivs=%s", status_field("NoNewPrivs", buf, sizeof buf));
    check(strcmp(buf, "1") == 0, "no_new_privs", detail);

    /* Devices and file systems. */
    const char *devices[] = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/tty",
                             "/proc/self", "/sys/kernel", "/dev/shm"};
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        snprintf(detail, sizeof detail, "%s", access(devices[i], F_OK) == 0 ? "" : strerror(errno));
        char what[64];
        snprintf(what, sizeof what, "exists %s", devices[i]);
        check(access(devices[i], F_OK) == 0, what, detail);
    }
    const char *etc[] = {"/etc/hostname", "/etc/hosts", "/etc/passwd", "/etc/group",
                         "/etc/nsswitch.conf"};
    for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "exists %s", etc[i]);
        check(access(etc[i], R_OK) == 0, what, "");
    }
    int r = can_create("/probe-root");
    snprintf(detail, sizeof detail, "%s", r ? strerror(-r) : "the root is writable");
    if (writable_root)
        check(r == 0, "root writable", detail);
    else
        check(r == -EROFS || r == -EACCES, "root read-only", detail);
    r = can_create("/tmp/probe");
    check(r == 0, "/tmp writable", r ? strerror(-r) : "");
    char cwd[256] = "";
    getcwd(cwd, sizeof cwd);
    r = can_create("probe-workdir");
    snprintf(detail, sizeof detail, "%s %s", cwd, r ? strerror(-r) : "");
    check(r == 0, "workdir writable", detail);

    /* Ports below 1024 without privileges. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r = bind(s, (struct sockaddr *)&sin, sizeof sin);
    check(r == 0, "bind port 80", r ? strerror(errno) : "");
    close(s);

    /* The host's loopback through QEMU's gateway alias. */
    if (host_port) {
        s = socket(AF_INET, SOCK_STREAM, 0);
        struct timeval tv = {3, 0};
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        struct sockaddr_in gw = {.sin_family = AF_INET, .sin_port = htons((unsigned short)host_port)};
        inet_pton(AF_INET, "10.0.2.2", &gw.sin_addr);
        r = connect(s, (struct sockaddr *)&gw, sizeof gw);
        snprintf(detail, sizeof detail, "connect 10.0.2.2:%d: %s", host_port, r ? strerror(errno) : "connected");
        check(expect_host ? r == 0 : r != 0,
              expect_host ? "host loopback reachable" : "host loopback unreachable", detail);
        close(s);
    }

    if (expect_tz) {
        /* The zone's abbreviation in winter or in summer (CET/CEST for Europe/Paris). */
        time_t winter = 1767225600, summer = 1782864000; /* 2026-01-01, 2026-07-01 */
        struct tm tw, ts;
        localtime_r(&winter, &tw);
        localtime_r(&summer, &ts);
        snprintf(detail, sizeof detail, "TZ=%s zones %s/%s", getenv("TZ") ? getenv("TZ") : "(unset)",
                 tw.tm_zone, ts.tm_zone);
        check(strncmp(tw.tm_zone, expect_tz, strlen(expect_tz)) == 0, "time zone", detail);
    }
    if (expect_ca) {
        FILE *f = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
        int certs = 0;
        char cline[128];
        while (f && fgets(cline, sizeof cline, f))
            certs += strncmp(cline, "-----BEGIN CERTIFICATE-----", 27) == 0;
        if (f)
            fclose(f);
        snprintf(detail, sizeof detail, "%d certificates, SSL_CERT_FILE=%s", certs,
                 getenv("SSL_CERT_FILE") ? getenv("SSL_CERT_FILE") : "(unset)");
        check(certs > 100 && getenv("SSL_CERT_FILE"), "CA bundle", detail);
    }
    if (counter) {
        FILE *f = fopen(counter, "a");
        if (f) {
            fputs("boot\n", f);
            fclose(f);
        }
        int lines = 0, c;
        f = fopen(counter, "r");
        while (f && (c = fgetc(f)) != EOF)
            lines += c == '\n';
        if (f)
            fclose(f);
        printf("counter=%d\n", lines);
        check(lines > 0, "volume writable", counter);
    }
    printf("probe: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
