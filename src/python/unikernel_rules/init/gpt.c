/*
 * unikernel-init (see main.c): the disk root's partition found by its GPT
 * unique partition GUID ("rootdisk PARTUUID=<uuid> <fstype>"): every disk
 * in /sys/block, the GPT read from its devtmpfs node, the partition's node.
 */
#define _GNU_SOURCE
#define _LARGEFILE64_SOURCE /* musl: getdents64() */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h> /* BLKSSZGET */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

static char seen[640]; /* what the last scan saw, for the message */

/* Append to `seen`, cutting it short when full. */
__attribute__((format(printf, 1, 2))) static void see(const char *fmt, ...)
{
    size_t len = strlen(seen);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(seen + len, sizeof seen - len, fmt, ap);
    va_end(ap);
}

/* The little-endian unsigned integer of `n` bytes at `p`. */
static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    while (n-- > 0)
        v = v << 8 | p[n];
    return v;
}

/* pread() exactly `len` bytes; a short read is EINVAL (no GPT there). */
static int read_at(int fd, void *buf, size_t len, uint64_t offset)
{
    ssize_t n = pread(fd, buf, len, (off_t)offset);
    if (n >= 0 && (size_t)n != len)
        errno = EINVAL;
    return (size_t)n == len ? 0 : -1;
}

/*
 * The GPT of the disk open as `fd` (logical block size `block_size`): the
 * number (1-based entry index, the kernel's partition number) of the
 * partition whose unique partition GUID is `partuuid` (its 36-character text
 * form, any case), 0 if none, or -1 with errno (EINVAL: no GPT).  Appends
 * the partitions it saw to `seen` ("GPT: 1 <guid>, 2 <guid>").  Only the
 * primary header (LBA 1) is read, without checking its CRCs: the kernel does
 * that before it makes the partition's device, which the caller needs too.
 */
static int gpt_find_partuuid(int fd, unsigned block_size, const char *partuuid)
{
    /* The text's byte order: a GUID's first three fields are little-endian. */
    static const unsigned char order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[92];
    if (read_at(fd, buf, 92, block_size) != 0)
        return -1;
    uint64_t entries = le(buf + 72, 8) * block_size;
    uint32_t count = (uint32_t)le(buf + 80, 4), entry_size = (uint32_t)le(buf + 84, 4);
    if (memcmp(buf, "EFI PART", 8) != 0 || entry_size < 128 || count > 4096) {
        errno = EINVAL;
        return -1;
    }
    int found = 0, used = 0;
    see("GPT:");
    for (uint32_t i = 0; i < count; i++) {
        /* The partition type GUID (0: unused entry), the unique partition GUID. */
        if (read_at(fd, buf, 32, entries + (uint64_t)i * entry_size) != 0)
            return -1;
        if (le(buf, 8) == 0 && le(buf + 8, 8) == 0)
            continue;
        char text[37], *p = text;
        for (int b = 0; b < 16; b++) {
            if (b == 4 || b == 6 || b == 8 || b == 10)
                *p++ = '-';
            *p++ = hex[buf[16 + order[b]] >> 4];
            *p++ = hex[buf[16 + order[b]] & 15];
        }
        *p = '\0';
        see("%s %u %s", used++ ? "," : "", (unsigned)i + 1, text);
        int k = 0; /* hex digits and '-': | 0x20 makes lowercase, changes nothing else */
        while (k < 36 && (text[k] | 0x20) == (partuuid[k] | 0x20))
            k++;
        if (k == 36 && !partuuid[36] && !found)
            found = (int)i + 1;
    }
    if (!used)
        see(" no partitions");
    return found;
}

/* A directory read without opendir(), which would link malloc. */
struct dir {
    int fd;
    long pos, len;
    char buf[2048] __attribute__((aligned(8)));
};

static int open_dir(struct dir *dir, const char *path)
{
    dir->pos = dir->len = 0;
    dir->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return dir->fd < 0 ? -1 : 0;
}

/* The next entry's name (not "." or ".."), or NULL at the end. */
static const char *next_entry(struct dir *dir)
{
    for (;;) {
        if (dir->pos >= dir->len) {
            dir->pos = 0;
            dir->len = getdents64(dir->fd, (void *)dir->buf, sizeof dir->buf);
            if (dir->len <= 0)
                return NULL;
        }
        struct dirent *d = (struct dirent *)(dir->buf + dir->pos);
        dir->pos += d->d_reclen;
        if (d->d_name[0] != '.')
            return d->d_name;
    }
}

/* /dev/<name> for the sysfs block device `name` ('!' in it stands for '/'). */
static void dev_path(char *dev, size_t size, const char *name)
{
    snprintf(dev, size, "/dev/%s", name);
    for (char *p = dev; *p; p++)
        if (*p == '!')
            *p = '/';
}

/* One pass over the disks in /sys/block.  Returns 0 and fills `dev` if
 * found; else -1, with `seen` and match_* saying what there was. */
static int scan_disks(const char *partuuid, char *dev, size_t size)
{
    struct dir dir;
    const char *name;
    seen[0] = '\0';
    if (open_dir(&dir, "/sys/block") != 0) {
        see("no /sys/block (%s)", strerror(errno));
        return -1;
    }
    while ((name = next_entry(&dir))) {
        int number = -1, block_size = 512;
        dev_path(dev, size, name);
        see("%s%s (", seen[0] ? "; " : "", name);
        int fd = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ioctl(fd, BLKSSZGET, &block_size); /* the logical block size */
            number = gpt_find_partuuid(fd, (unsigned)block_size, partuuid);
        }
        int err = errno;
        if (fd >= 0)
            close(fd);
        see("%s)", number >= 0 ? "" : err == EINVAL ? "no GPT" : strerror(err));
        if (number > 0) {
            /* The kernel names partition N of disk D "DN", or "DpN" if D ends in a
             * digit (nvme0n1p2); devtmpfs makes its node. */
            char part[272];
            struct stat st;
            snprintf(part, sizeof part, "%s%s%d", name,
                     isdigit((unsigned char)name[strlen(name) - 1]) ? "p" : "", number);
            dev_path(dev, size, part);
            if (stat(dev, &st) == 0 && S_ISBLK(st.st_mode)) {
                close(dir.fd);
                return 0;
            }
            see(" [no device %s]", part); /* a kernel without CONFIG_EFI_PARTITION */
        }
    }
    close(dir.fd);
    return -1;
}

/* The /dev node of the partition whose GPT unique partition GUID is
 * `partuuid`, on any disk.  Waits up to ~2 s for it (a disk can appear a
 * little after init starts, e.g. after firmware boots).  Returns 0 and fills
 * `dev`, or -1 after a message. */
int find_partuuid(const char *partuuid, char *dev, size_t size)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    mkdir("/sys", 0755);
    int mounted = mount("sysfs", "/sys", "sysfs", 0, NULL) == 0;
    for (int i = 0; i < 200; i++) {
        if (scan_disks(partuuid, dev, size) == 0) {
            if (mounted)
                umount("/sys"); /* the disk root gets its own */
            return 0;
        }
        nanosleep(&tick, NULL);
    }
    msg("the disk root PARTUUID=%s was not found within 2 s; seen: %s. The image's disk "
        "was not attached, or it is not this image's disk (another image, or an older "
        "build of it): rebuild it with `pants package` and boot that disk", partuuid,
        seen[0] ? seen : "no block devices");
    return -1;
}
