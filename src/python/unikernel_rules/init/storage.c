/*
 * unikernel-init (see main.c): the disk root (a read-only disk under a
 * tmpfs-backed overlay), the volumes, the writable paths of an otherwise
 * read-only root, and the app's dropped privileges.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

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
void switch_to_disk_root(void)
{
    const char *dev = conf.rootdisk, *fstype = conf.rootdisk_fstype;
    char partition[64];

    mkdir("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") != 0 && errno != EBUSY)
        msg("cannot mount devtmpfs on /dev: %s", strerror(errno));
    if (strncmp(dev, "PARTUUID=", 9) == 0) { /* a partition of a disk image (GPT) */
        if (find_partuuid(dev + 9, partition, sizeof partition) != 0)
            disk_root_failed();
        dev = partition;
    } else if (wait_for_block_device(dev) != 0) {
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

void mount_volumes(void)
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
void prepare_writable_paths(void)
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

void lock_down_root(void)
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
int drop_privileges(void)
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
