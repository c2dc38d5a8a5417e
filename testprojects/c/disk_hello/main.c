/*
 * disk_hello: a C app booted from a disk root (squashfs + tmpfs overlay).
 *
 *   disk_hello [STATUS]          check the root, write to the workdir, /tmp and a read-only
 *                                part of the image (the overlay makes it writable), print
 *                                READY, exit with STATUS (default 0)
 *                                (READY monotonic_ms=<kernel clock> tsc_ms=<TSC / 1e6>: under
 *                                `qemu -icount` the TSC counts virtual ns since QEMU started,
 *                                so tsc_ms includes firmware and kernel decompression)
 *   disk_hello --read-all DIR    read every file under DIR, print bytes, virtual ms and
 *                                CPU ms (measures the disk's decompression speed)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The time-stamp counter. Under TCG with `-icount shift=0` QEMU derives it from the virtual
 * clock (1 ns per guest instruction, counted from QEMU's start, not the kernel's). */
static unsigned long long rdtsc(void)
{
    unsigned int lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long long)hi << 32) | lo;
}

/* A `files` target keeps its repository path under /app. */
#define DATA_DIR "/app/testprojects/c/disk_hello/data"

/* CPU time of this process: decompression runs in the reader's context, so this counts it;
 * waiting for the disk is sleep and is not counted (unlike the wall clock, which under
 * `qemu -icount sleep=off` jumps to the next timer whenever the guest idles on I/O). */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char buf[1 << 16];

static long long read_all(const char *dir, long long *files)
{
    long long total = 0;
    DIR *d = opendir(dir);
    if (!d) {
        printf("opendir %s: %s\n", dir, strerror(errno));
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            total += read_all(path, files);
        } else if (S_ISREG(st.st_mode)) {
            int fd = open(path, O_RDONLY);
            ssize_t n;
            while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
                total += n;
            if (fd >= 0)
                close(fd);
            (*files)++;
        }
    }
    closedir(d);
    return total;
}

/* Write a file, read it back; returns 0 if the content survived. */
static int write_check(const char *path)
{
    const char text[] = "written inside the VM\n";
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("WRITE_FAILED %s: %s\n", path, strerror(errno));
        return 1;
    }
    char back[64] = {0};
    f = fopen(path, "r");
    if (!f || !fgets(back, sizeof back, f)) {
        printf("READ_FAILED %s: %s\n", path, strerror(errno));
        return 1;
    }
    fclose(f);
    if (strcmp(back, text) != 0) {
        printf("MISMATCH %s\n", path);
        return 1;
    }
    printf("WROTE %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--read-all")) {
        long long files = 0;
        double start = now_ms(), cpu_start = cpu_ms();
        long long bytes = read_all(argv[2], &files);
        printf("READ_ALL files=%lld bytes=%lld ms=%.1f cpu_ms=%.1f\n", files, bytes,
               now_ms() - start, cpu_ms() - cpu_start);
        return 0;
    }

    /* Which filesystem is "/"?  (overlay on a disk root, rootfs on an initramfs) */
    char line[512];
    FILE *m = fopen("/proc/self/mounts", "r");
    while (m && fgets(line, sizeof line, m)) {
        char dev[128], dir[256], type[64];
        if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 && !strcmp(dir, "/"))
            printf("ROOT_FS %s\n", type);
    }
    if (m)
        fclose(m);

    char cwd[256];
    printf("CWD %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    struct stat st;
    printf("DATA %s\n", stat(DATA_DIR "/message.txt", &st) == 0 ? "present" : "missing");
    int bad = write_check("written.txt") + write_check("/tmp/scratch.txt") +
              write_check(DATA_DIR "/new.txt") + write_check("/etc/new.conf");

    unsigned long long tsc = rdtsc();
    printf("READY monotonic_ms=%.0f tsc_ms=%.3f\n", now_ms(), tsc / 1e6);
    fflush(stdout);
    if (bad)
        return 99;
    return argc > 1 ? atoi(argv[1]) : 0;
}
