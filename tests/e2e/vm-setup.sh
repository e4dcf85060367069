#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Prepare the test guest for tests/e2e (see docs/vm-harness.md): a Debian
# kernel (which has ESP/AH as modules, unlike the build machine's) and a tiny
# busybox initramfs that mounts the host's root over 9p.
#
# Idempotent: every step is skipped when its result is already there.
#
#   IPSEC_VM_CACHE   cache folder (default /var/cache/ipsecctl-vm)
#   IPSEC_VM_KERNEL  a kernel package name to use instead of the one
#                    linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64)
#   IPSEC_VM_OFFLINE=1  do not run apt-get; use what is in the cache
#
# Result, in the cache folder:
#   current            the kernel version (e.g. 6.1.0-56-amd64)
#   <ver>/vmlinuz      the kernel
#   <ver>/initrd.gz    the initramfs
#   <ver>/root/lib/modules/<ver>   the modules tree (shared with the guest)
set -euo pipefail

CACHE=${IPSEC_VM_CACHE:-/var/cache/ipsecctl-vm}
SELF=$(realpath "${BASH_SOURCE[0]}")
SELF_DIR=$(dirname "$SELF")
say() { printf 'vm-setup: %s\n' "$*"; }
die() { printf 'vm-setup: ERROR: %s\n' "$*" >&2; exit 1; }

# Modules the initramfs loads to reach the host's root (9p over virtio-pci,
# overlayfs on top). Dependencies are added by modprobe --show-depends.
INITRD_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else die "need root to run: $*"; fi
}

# ---------------------------------------------------------------- packages
# command -> Debian package that provides it
declare -A NEED=(
    [qemu-system-x86_64]=qemu-system-x86
    [cpio]=cpio
    [depmod]=kmod
    [modprobe]=kmod
    [ip]=iproute2
    [tcpdump]=tcpdump
    [timeout]=coreutils
    [flock]=util-linux
    [apt-get]=apt
    [dpkg]=dpkg
    [gzip]=gzip
)
missing=()
for cmd in "${!NEED[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
# a static busybox is required (the initramfs has no libc); busybox-static
# replaces the dynamic busybox package
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    [ "${IPSEC_VM_OFFLINE:-0}" = 1 ] && die "missing packages and IPSEC_VM_OFFLINE=1: ${missing[*]}"
    say "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q || die "apt-get update failed"
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || die "could not install: ${missing[*]}"
else
    say "packages present (qemu-system-x86, busybox-static, cpio, kmod, iproute2, tcpdump)"
fi
export PATH=$PATH:/usr/sbin:/sbin
BUSYBOX=$(command -v busybox) || die "busybox not found after install"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# ---------------------------------------------------------------- kernel
mkdir -p "$CACHE" || die "cannot create cache folder $CACHE (set IPSEC_VM_CACHE)"
cd "$CACHE"

kpkg=${IPSEC_VM_KERNEL:-}
if [ -z "$kpkg" ] && [ "${IPSEC_VM_OFFLINE:-0}" != 1 ]; then
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends:/{print $2; exit}') || true
    if [ -z "$kpkg" ]; then
        say "apt-cache knows no linux-image-amd64; running apt-get update"
        as_root apt-get update -q || true
        kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends:/{print $2; exit}') || true
    fi
fi
deb=""
if [ -n "$kpkg" ]; then
    kver=${kpkg#linux-image-}
    deb=$(ls -1 "$CACHE"/"${kpkg}"_*_amd64.deb 2>/dev/null | sort -V | tail -n1 || true)
    if [ -z "$deb" ]; then
        if [ "${IPSEC_VM_OFFLINE:-0}" = 1 ]; then
            die "$kpkg not in $CACHE and IPSEC_VM_OFFLINE=1"
        fi
        say "downloading $kpkg into $CACHE"
        # apt-get download drops privileges to _apt, which must be able to write here
        chmod 755 "$CACHE" 2>/dev/null || true
        (cd "$CACHE" && apt-get download "$kpkg") || die "apt-get download $kpkg failed"
        deb=$(ls -1 "$CACHE"/"${kpkg}"_*_amd64.deb 2>/dev/null | sort -V | tail -n1 || true)
        [ -n "$deb" ] || die "apt-get download $kpkg produced no .deb in $CACHE"
    else
        say "kernel package cached: $(basename "$deb")"
    fi
else
    # apt-cache unusable (offline): take the newest cached kernel package
    deb=$(ls -1 "$CACHE"/linux-image-*-amd64_*_amd64.deb 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$deb" ] || die "cannot find the kernel package name (apt-cache depends linux-image-amd64) and none is cached in $CACHE"
    kpkg=$(basename "$deb"); kpkg=${kpkg%%_*}
    kver=${kpkg#linux-image-}
    say "using cached kernel package $(basename "$deb") (apt-cache gave no answer)"
fi

KDIR=$CACHE/$kver
ROOT=$KDIR/root
MODS=$ROOT/lib/modules/$kver
if [ ! -f "$KDIR/.unpacked" ] || [ "$KDIR/.unpacked" -ot "$deb" ]; then
    say "unpacking $(basename "$deb") into $ROOT"
    rm -rf "$KDIR"
    mkdir -p "$ROOT"
    dpkg -x "$deb" "$ROOT" || die "dpkg -x $deb failed"
    [ -d "$MODS" ] || die "no lib/modules/$kver in $(basename "$deb")"
    cp "$ROOT/boot/vmlinuz-$kver" "$KDIR/vmlinuz" || die "no boot/vmlinuz-$kver in $(basename "$deb")"
    touch "$KDIR/.unpacked"
else
    say "kernel $kver already unpacked in $KDIR"
fi
if [ ! -f "$MODS/modules.dep" ] || [ "$MODS/modules.dep" -ot "$KDIR/.unpacked" ]; then
    say "depmod -b $ROOT $kver"
    depmod -b "$ROOT" "$kver" || die "depmod failed"
fi

# the transforms the tests need must exist as modules (or be built in)
for m in esp4 esp6 ah4 ah6 xfrm_user veth; do
    modprobe -d "$ROOT" -S "$kver" --show-depends "$m" >/dev/null 2>&1 \
        || die "kernel $kver has no module $m"
done

# ---------------------------------------------------------------- initramfs
INITRD=$KDIR/initrd.gz
INIT_SRC=$SELF_DIR/guest-init.sh
[ -f "$INIT_SRC" ] || die "missing $INIT_SRC"
if [ -f "$INITRD" ] && [ "$INITRD" -nt "$INIT_SRC" ] && [ "$INITRD" -nt "$MODS/modules.dep" ] \
   && [ "$INITRD" -nt "$BUSYBOX" ] && [ "$INITRD" -nt "$SELF" ]; then
    say "initramfs up to date: $INITRD"
else
    say "building initramfs $INITRD"
    stage=$(mktemp -d "$CACHE/initrd.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage"/{bin,dev,proc,sys,mnt,modules}
    cp "$BUSYBOX" "$stage/bin/busybox"
    ln -s busybox "$stage/bin/sh"
    : > "$stage/modules/order"
    for m in "${INITRD_MODULES[@]}"; do
        while read -r kind path _; do
            [ "$kind" = insmod ] || continue       # 'builtin NAME' needs nothing
            name=$(basename "$path")
            grep -qx "$name" "$stage/modules/order" && continue
            cp "$path" "$stage/modules/$name"
            echo "$name" >> "$stage/modules/order"
        done < <(modprobe -d "$ROOT" -S "$kver" --show-depends "$m" \
                   || die "modprobe --show-depends $m failed")
    done
    say "initramfs modules (load order): $(tr '\n' ' ' < "$stage/modules/order")"
    cp "$INIT_SRC" "$stage/init"
    chmod 755 "$stage/init"
    (cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet | gzip -9) > "$INITRD.tmp" \
        || die "cpio/gzip failed"
    mv "$INITRD.tmp" "$INITRD"
    rm -rf "$stage"; trap - EXIT
fi

[ "$(cat "$CACHE/current" 2>/dev/null)" = "$kver" ] || { echo "$kver" > "$CACHE/current.tmp" && mv "$CACHE/current.tmp" "$CACHE/current"; }
say "ready: kernel $kver, $KDIR/vmlinuz, $INITRD, modules $MODS"
