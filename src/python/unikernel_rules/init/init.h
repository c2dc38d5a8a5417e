/*
 * unikernel-init: what its translation units share (the overview and the
 * file map are in main.c).  Everything else is static to its file.
 */
#ifndef UNIKERNEL_INIT_H
#define UNIKERNEL_INIT_H

#include <netinet/in.h> /* struct in_addr */
#include <stddef.h>
#include <sys/types.h>

#define CONF_PATH "/.uk/init.conf"

#define MAX_ARGS 4096         /* max argv entries (config + command line) */
#define MAX_ENV 4096          /* max environment entries */
#define MAX_MOUNTS 64         /* max volumes, and max writable paths */

#define STATUS_INIT_FAILED 125
#define STATUS_EXEC_FAILED 127

/* ------------------------------------------------------------------------ */
/* Configuration (config.c): /.uk/init.conf, parsed                         */

struct init_config {
    const char *target;       /* "target": for messages */
    const char *memory_mib;   /* "memory_needed_mib": for messages */
    const char *workdir;      /* "workdir" */
    const char *argv[MAX_ARGS + 1];
    int argc;
    int args_from;            /* "args_from <n>": where the image's `args` start (-1: none) */
    const char *envp[MAX_ENV + 1];
    int envc;
    int net_static;           /* "net static ..." seen */
    int net_dhcp;             /* "net dhcp": the kernel configured eth0 (ip=dhcp) */
    struct in_addr ip, netmask, gateway;
    int ports_static;         /* "net_ports static <ip> <mask>": eth1, forwarded ports */
    struct in_addr ports_ip, ports_netmask;
    const char *dns;          /* "dns", or NULL */
    char *rootdisk;           /* "rootdisk <device> <fstype>": device (a path, or
                                 "PARTUUID=<uuid>"), or NULL */
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
};

extern struct init_config conf; /* defined in config.c */

int read_config(void);     /* Returns 0, or an errno value. */
int parse_config(void);    /* Returns 0, or -1 after printing a message. */
void add_default_env(void);

/* ------------------------------------------------------------------------ */
/* Messages and power off (log.c)                                           */

void write_all(int fd, const char *buf, size_t len);
/* Print "unikernel-init: <message>\n" to stderr (the console). */
__attribute__((format(printf, 1, 2))) void msg(const char *fmt, ...);
/* Report the status on the console and to the host, then power off. */
__attribute__((noreturn)) void power_off(int status);

/* ------------------------------------------------------------------------ */
/* System setup (setup.c)                                                   */

void ensure_stdio(void);
int mkdir_p(const char *path, mode_t mode); /* 0 if path is a directory afterwards */
void mount_filesystems(void);
void setup_network(void);
void setup_identity(void);

/* ------------------------------------------------------------------------ */
/* Disk root, volumes, read-only root, privileges (storage.c)               */

void switch_to_disk_root(void);
void prepare_writable_paths(void);
void mount_volumes(void);
void lock_down_root(void);
int drop_privileges(void); /* in the app's child; 0, or -1 after a message */

/* The /dev node of the GPT partition whose unique partition GUID is `partuuid`
 * (text form), on any disk; waits up to ~2 s for it.  Returns 0, or -1 after a
 * message (gpt.c). */
int find_partuuid(const char *partuuid, char *dev, size_t size);

/* ------------------------------------------------------------------------ */
/* Running the app (run.c)                                                  */

int run_app(void); /* the app's exit status (128+N if killed by signal N) */

#endif
