#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run one job script as root inside the e2e test guest (qemu TCG + Debian
# kernel, see docs/vm-harness.md), print its output, exit with its exit code.
#
#   vm-run.sh JOB_SCRIPT [ARGS...]
#
# The guest sees the host's / (read-only, under a throw-away tmpfs overlay), so
# binaries built in the checkout are there at the same paths; /tmp and /run
# are fresh tmpfs inside. Exit codes: the job's own (77 = skipped passes
# through); 77 with "SKIPPED: ..." when no guest can be had (no qemu, no
# kernel: run vm-setup.sh); 1 when the guest hangs, dies or cannot report.
#
# Environment:
#   IPSEC_VM_CACHE     what vm-setup.sh prepared (default /var/cache/ipsecctl-vm)
#   IPSEC_VM_JOBS      where per-run job folders go (default /var/tmp; never /tmp)
#   IPSEC_VM_TIMEOUT   seconds for the whole guest (default 300)
#   IPSEC_VM_MEM       guest memory in MiB (default 1024)
#   IPSEC_VM_SLOTS     at most this many guests at once on this machine (default 2)
#   IPSEC_VM_KEEP=1    keep the job folder even when the job passed
#   IPSECCTL, IPSECD, HOST_TESTS, IPSEC_*, E2E_*   passed to the job (binaries under
#                      /tmp are copied into the job share first)
set -uo pipefail

CACHE=${IPSEC_VM_CACHE:-/var/cache/ipsecctl-vm}
TIMEOUT=${IPSEC_VM_TIMEOUT:-300}
MEM=${IPSEC_VM_MEM:-1024}
SLOTS=${IPSEC_VM_SLOTS:-2}

say()  { printf 'vm-run: %s\n' "$*" >&2; }
skip() { printf 'SKIPPED: %s\n' "$*"; exit 77; }
fail() { printf 'vm-run: FAILED: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || fail "usage: vm-run.sh JOB_SCRIPT [ARGS...]"
script=$(realpath -e "$1" 2>/dev/null) || fail "no such job script: $1"
shift

# binaries a job may be given, by the variable naming them: checked by
# "# vm-run: requires VAR" markers, copied into the share when under /tmp
BINARY_VARS=(IPSECCTL IPSECD HOST_TESTS)

# ---- a job that declares "# vm-run: requires VAR" skips without a boot when
# that binary is not built (the job itself would say the same, 10 s later)
for var in "${BINARY_VARS[@]}"; do
    grep -q "^# vm-run: requires $var\$" "$script" || continue
    [ "$var" = IPSECCTL ] && [ "${E2E_APPLY:-}" = ipxfrm ] && continue
    if [ -z "${!var:-}" ] || [ ! -x "${!var}" ]; then
        skip "${var,,} not built ($var='${!var:-}')"
    fi
done

# ---- genuinely unavailable resources: skip
command -v qemu-system-x86_64 >/dev/null 2>&1 \
    || skip "qemu-system-x86_64 is not installed (run tests/e2e/vm-setup.sh)"
[ -r "$CACHE/current" ] || skip "no guest kernel prepared in $CACHE (run tests/e2e/vm-setup.sh)"
kver=$(cat "$CACHE/current")
KDIR=$CACHE/$kver
for f in "$KDIR/vmlinuz" "$KDIR/initrd.gz" "$KDIR/root/lib/modules/$kver/modules.dep"; do
    [ -r "$f" ] || skip "guest kernel incomplete: $f missing (run tests/e2e/vm-setup.sh)"
done
[ "$(id -u)" -eq 0 ] || skip "must run as root (the guest's 9p shares need it)"

# ---- per-run job folder (not under /tmp: the guest has its own /tmp)
base=${IPSEC_VM_JOBS:-/var/tmp}
mkdir -p "$base" || fail "cannot create $base"
base=$(realpath "$base")
case $base/ in /tmp/*) fail "IPSEC_VM_JOBS=$base is under /tmp, invisible in the guest";; esac
JOB=$(mktemp -d "$base/ipsecctl-e2e.XXXXXX") || fail "mktemp in $base failed"
chmod 755 "$JOB"

# a checkout under /tmp (a CI clone, say) would be invisible inside: copy the
# scripts and examples the jobs use into the share, at the same relative paths
ROOT=$(realpath "$(dirname "$0")/../..")
case $script in
    /tmp/*)
        case $script in "$ROOT"/*) ;; *) fail "job script $script is under /tmp but not in $ROOT";; esac
        mkdir -p "$JOB/src/tests"
        cp -a "$ROOT/tests/e2e" "$JOB/src/tests/e2e" && cp -a "$ROOT/policies" "$JOB/src/policies" \
            || fail "cannot copy the checkout's tests/e2e and policies into $JOB/src"
        script=$JOB/src/${script#"$ROOT"/}
        say "checkout under /tmp: copied tests/e2e and policies into the job share";;
esac

# a binary built under /tmp would be invisible inside: copy it into the share
for var in "${BINARY_VARS[@]}"; do
    [ -n "${!var:-}" ] && [ -x "${!var}" ] || continue
    case $(realpath "${!var}")/ in
        /tmp/*) bin=$(basename "${!var}")
                mkdir -p "$JOB/bin"; cp "${!var}" "$JOB/bin/$bin" || fail "cannot copy ${!var}"
                printf -v "$var" '%s' "$JOB/bin/$bin"
                say "copied $bin ($var) from /tmp into the job share";;
    esac
done

# the same for folders a job is given (package_deb's output for packaged-unit)
for var in E2E_DEB_DIR; do
    [ -n "${!var:-}" ] && [ -d "${!var}" ] || continue
    case $(realpath "${!var}")/ in
        /tmp/*) cp -a "${!var}" "$JOB/$var" || fail "cannot copy ${!var}"
                say "copied ${!var} ($var) from /tmp into the job share"
                printf -v "$var" '%s' "$JOB/$var";;
    esac
done

{
    echo "JOB_DIR='$JOB'"
    echo "JOB_TIMEOUT='$(( TIMEOUT > 60 ? TIMEOUT - 30 : TIMEOUT * 3 / 4 ))'"
} > "$JOB/guest.env"
{
    echo '#!/bin/bash'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    echo 'export HOME=/root LC_ALL=C.UTF-8'
    printf 'export JOB_DIR=%q\n' "$JOB"
    for v in $(compgen -e); do
        case $v in IPSECCTL|IPSECD|HOST_TESTS|IPSEC_*|E2E_*) printf 'export %s=%q\n' "$v" "${!v}";; esac
    done
    printf 'exec /bin/bash %q' "$script"
    for a in "$@"; do printf ' %q' "$a"; done
    echo
} > "$JOB/run"

# ---- at most $SLOTS guests at once (TCG eats a whole core each)
lockdir=$CACHE/locks
mkdir -p "$lockdir" 2>/dev/null && [ -w "$lockdir" ] || { lockdir=/var/tmp/ipsecctl-vm-locks; mkdir -p "$lockdir"; }
got=""
for (( waited = 0; waited < 1800; waited++ )); do
    for (( s = 0; s < SLOTS; s++ )); do
        exec 9>"$lockdir/slot.$s"
        if flock -n 9; then got=$s; break 2; fi
        exec 9>&-
    done
    (( waited % 60 == 0 )) && say "waiting for a free guest slot ($SLOTS in use)"
    sleep 1
done
[ -n "$got" ] || fail "no free guest slot after 1800 s"

name=$(basename "$script" .sh)
say "booting guest (kernel $kver, job $name, folder $JOB, timeout ${TIMEOUT}s)"
t0=$(date +%s)
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
    -accel tcg -cpu max -m "$MEM" -smp 1 \
    -display none -monitor none -serial "file:$JOB/console.log" -no-reboot \
    -kernel "$KDIR/vmlinuz" -initrd "$KDIR/initrd.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off no_timer_check" \
    -nic none \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$KDIR/root/lib/modules,mount_tag=mods,security_model=none,readonly=on" \
    -virtfs "local,path=$JOB,mount_tag=job,security_model=none" \
    < /dev/null > "$JOB/qemu.out" 2>&1
qrc=$?
exec 9>&-
t1=$(date +%s)

show_console() {
    echo "---- guest console (last 40 lines) ----"
    tail -n 40 "$JOB/console.log" 2>/dev/null
    [ -s "$JOB/qemu.out" ] && { echo "---- qemu ----"; cat "$JOB/qemu.out"; }
    [ -s "$JOB/init-error" ] && { echo "---- init ----"; cat "$JOB/init-error"; }
}

echo "==== job $name: output ===="
[ -f "$JOB/log" ] && cat "$JOB/log"
echo "==== end of job output ===="

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    show_console
    fail "guest did not power off within ${TIMEOUT}s (hung boot or job); kept $JOB"
fi
if [ ! -f "$JOB/rc" ]; then
    show_console
    fail "guest exited (qemu rc $qrc) without reporting the job's exit code; kept $JOB"
fi
rc=$(cat "$JOB/rc")
say "guest ran $(( t1 - t0 ))s; job $name exit code $rc"
if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then
    [ "${IPSEC_VM_KEEP:-0}" = 1 ] && say "kept $JOB" || rm -rf "$JOB"
else
    say "job failed; kept $JOB (log, console.log, artifacts)"
fi
exit "$rc"
