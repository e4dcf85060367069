#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the e2e test guest's initramfs (copied in by vm-setup.sh; runs under
# the initramfs' static busybox). Mounts the host's / (9p, read-only) under a
# tmpfs overlay, the kernel's modules at /lib/modules, the job share at the
# same path as on the host, chroots, runs the job and powers off.
#
# The job share (set up by vm-run.sh) holds:
#   guest.env   JOB_DIR=<host path of the share>  JOB_TIMEOUT=<seconds>
#   run         the job, a shell script run as root inside the chroot
# and receives:
#   log         the job's stdout and stderr
#   rc          the job's exit code
export PATH=/bin
/bin/busybox --install -s /bin

poweroff_now() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 5
    poweroff -f
}
fatal() {
    echo "guest-init: FATAL: $*" > /dev/console
    [ -d /mnt/job ] && echo "guest-init: FATAL: $*" >> /mnt/job/init-error 2>/dev/null
    poweroff_now
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk 2>/dev/null   # keep module chatter off the console

for m in $(cat /modules/order); do
    insmod "/modules/$m" || fatal "insmod $m"
done

P9="trans=virtio,version=9p2000.L,msize=524288"
mkdir -p /mnt/lower /mnt/rw /mnt/root /mnt/job
mount -t 9p -o "$P9,ro" hostroot /mnt/lower || fatal "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=755 rw /mnt/rw || fatal "tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /mnt/root \
    || fatal "cannot mount the overlay"
mount -t 9p -o "$P9" job /mnt/job || fatal "cannot mount the job share (9p tag job)"
[ -f /mnt/job/guest.env ] || fatal "no guest.env in the job share"
. /mnt/job/guest.env
[ -n "$JOB_DIR" ] || fatal "guest.env has no JOB_DIR"

mkdir -p /mnt/root/lib/modules "/mnt/root$JOB_DIR"
mount -t 9p -o "$P9,ro" mods /mnt/root/lib/modules || fatal "cannot mount the modules (9p tag mods)"
mount --bind /mnt/job "/mnt/root$JOB_DIR" || fatal "cannot bind the job share"

# Inside the chroot: the host's own /bin/sh, fresh kernel filesystems.
chroot /mnt/root /bin/sh -c '
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /dev/shm
    mount -t tmpfs -o mode=755 tmpfs /run
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mkdir -p /run/netns
    ip link set lo up 2>/dev/null
    hostname ipsec-e2e-guest 2>/dev/null
    cd "$1"
    timeout -k 5 "$2" /bin/bash "$1/run" > "$1/log" 2>&1 < /dev/null
    rc=$?
    [ "$rc" = 124 ] && echo "guest-init: job timed out after $2 s" >> "$1/log"
    echo "$rc" > "$1/rc.tmp" && mv "$1/rc.tmp" "$1/rc"
    sync
' guest-job "$JOB_DIR" "${JOB_TIMEOUT:-240}" || echo "guest-init: chroot failed" > /dev/console

poweroff_now
