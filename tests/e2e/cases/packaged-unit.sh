#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: the Debian package's ipsecd run exactly as ipsecd.service runs it. systemd
# cannot be PID 1 in this guest (busybox init, a chroot into a 9p overlay), so
# this job plays the service manager: it unpacks the .deb over the guest's
# overlay, makes /run/ipsecd with the package's tmpfiles.d entry, reads
# Environment=, EnvironmentFile= (/etc/default/ipsecd), ExecStart= and
# ExecReload= from the installed unit and expands them as systemd does ($VAR
# split at white space), sets UMask= and listens on NOTIFY_SOCKET (python3,
# with the sender's credentials, as NotifyAccess=main needs them).
# Proves, in namespace left against a second packaged ipsecd on right
# (ikev2-psk-transport): READY=1 from the main process once the control socket
# is up; `systemctl reload` (ExecReload = ipsecctl load of IPSECD_CONFIG, now
# with left.json) sends RELOADING=1 then READY=1, and the connection comes up:
# the kernel holds its transport SAs and policies; a reload with a broken file
# list is refused (all or nothing) and the CHILD SA stays; `systemctl restart`
# (ExecStop= run as in a restart job, told so by a stand-in systemctl, then ExecStart=)
# keeps the tunnel: the kernel's SAs untouched, the same IKE and CHILD SA continued by
# the new process; SIGTERM (the unit's stop) sends STOPPING=1, exits 0 and leaves no SA,
# policy or per-socket policy.
# Needs the package: ctest -R e2e_packaged_unit builds it first (package_deb).
. "$(dirname "$(realpath "$0")")/../lib.sh"
arch=$(dpkg --print-architecture)
deb=$(ls "${E2E_DEB_DIR:-/nonexistent}"/ipsecctl_*_"$arch".deb 2>/dev/null | head -n1)
[ -n "$deb" ] || skip "no ipsecctl_*_$arch.deb in E2E_DEB_DIR='${E2E_DEB_DIR:-}' (ctest -R package_deb builds it)"
for tool in python3 jq dpkg-deb systemd-tmpfiles; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
load_modules
topo_two_hosts
L=192.0.2.1 R=192.0.2.2 CONN=host-right
UNIT=/lib/systemd/system/ipsecd.service
NOTIFY=/run/ipsecd-notify.sock
NLOG=$E2E_OUT/notify.log
TAB=$'\t'

step "unpack $(basename "$deb") over the guest's overlay (the maintainer scripts need systemd)"
# --keep-directory-symlink: /lib is a symlink to usr/lib on Debian 12
dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C / || fail "unpacking $deb"
IPSECD=/usr/sbin/ipsecd IPSECCTL=/usr/sbin/ipsecctl
require_ipsecd
run "$IPSECCTL" --version
run systemd-tmpfiles --create /usr/lib/tmpfiles.d/ipsecd.conf || fail "systemd-tmpfiles --create"
assert_eq "/run/ipsecd made by the package's tmpfiles.d entry" "750 root:root" "$(stat -c '%a %U:%G' /run/ipsecd)"

# unit_argv KEY: the unit's KEY= command line (ExecStart, ExecReload) as systemd
# would run it now, one argument per line: Environment= lines, then
# EnvironmentFile= (read at each exec, as systemd does), "$VAR" split at white
# space, "${VAR}" kept as one word.
unit_argv() {
    python3 - "$UNIT" "$1" <<'PY'
import re, shlex, sys
unit, key = sys.argv[1], sys.argv[2]
env, cmd, section = {}, None, None
def assign(text):
    for word in shlex.split(text, comments=True):
        if "=" in word:
            k, v = word.split("=", 1)
            env[k] = v
for line in open(unit):
    line = line.strip()
    if line.startswith("["):
        section = line
        continue
    if section != "[Service]" or "=" not in line or line.startswith("#"):
        continue
    k, v = line.split("=", 1)
    if k == "Environment":
        assign(v)
    elif k == "EnvironmentFile":
        path = v.lstrip("-")
        try:
            for l in open(path):
                if l.strip() and not l.lstrip().startswith("#"):
                    assign(l)
        except FileNotFoundError:
            if not v.startswith("-"):
                sys.exit("EnvironmentFile %s is missing" % path)
    elif k == key:
        cmd = v
if cmd is None:
    sys.exit("no %s= in %s" % (key, unit))
out = []
for word in cmd.split():
    m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
    if m:
        out.extend(env.get(m.group(1), "").split())
        continue
    out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
print("\n".join(out))
PY
}
# notified WHAT N: wait (<= N s) until the daemon's main process sent a line holding WHAT
notified() {
    local i
    for (( i = 0; i < $2 * 10; i++ )); do
        grep -q "^$MAIN${TAB}.*$1" "$NLOG" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$NLOG" 2>/dev/null
    fail "no $1 from ipsecd (pid $MAIN) on NOTIFY_SOCKET within $2 s"
}
left_child() {
    ip netns exec left "$IPSECCTL" status --json 2>/dev/null | jq -r '.ike_sas[] |
        . as $s | select(.state == "established") | .children[] | select(.state == "installed") | . as $c | $s
        | "\(.spi_i) \(.spi_r) \($c.spi_in) \($c.spi_out) \($c.mode)"' 2>/dev/null | head -n1
}

step "the service manager's NOTIFY_SOCKET (python3, SO_PASSCRED, <= 240 s)"
: > "$NLOG"
python3 - "$NOTIFY" "$NLOG" <<'PY' &
import os, socket, struct, sys, time
path, logfile = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.settimeout(1.0)
end = time.time() + 240
with open(logfile, "a") as log:
    while time.time() < end:
        try:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = 0
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        log.write("%d\t%s\n" % (pid, data.decode(errors="replace").replace("\n", "|")))
        log.flush()
PY
E2E_PIDS+=("$!")
for (( i = 0; i < 50; i++ )); do [ -S "$NOTIFY" ] && break; sleep 0.1; done
[ -S "$NOTIFY" ] || fail "the notify listener did not bind $NOTIFY"

step "start ipsecd as ExecStart= does (default IPSECD_CONFIG: the package's empty ipsecd.json)"
out=$(unit_argv ExecStart) || fail "reading ExecStart="
mapfile -t START <<< "$out"
log "ExecStart: ${START[*]}"
assert_eq "ExecStart with the default /etc/default/ipsecd" \
    "/usr/sbin/ipsecd --config /etc/ipsecctl/ipsecd.json" "${START[*]}"
( umask 0077; exec ip netns exec left env NOTIFY_SOCKET="$NOTIFY" "${START[@]}" ) \
    > "$E2E_OUT/ipsecd-unit.log" 2>&1 &
MAIN=$!
E2E_PIDS+=("$MAIN")
notified "READY=1" 20
log "notifications: $(tr '\n' ' ' < "$NLOG")"
assert_eq "control socket of the unit (default path), mode" "660" "$(stat -c '%a' /run/ipsecd/control.sock)"
run ip netns exec left "$IPSECCTL" list-conns || fail "list-conns on /run/ipsecd/control.sock"

step "the peer: a second packaged ipsecd on right (responder)"
W=$(mktemp -d /tmp/packaged-unit.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-transport
cp "$ex/right.json" "$ex/shared.psk" "$W/" && chmod 600 "$W/shared.psk" || fail "copy $ex"
ipsecd_start right r "$W/right.json"

step "systemctl reload: IPSECD_CONFIG now also lists left.json; ExecReload= as systemd runs it"
cp "$ex/left.json" "$ex/shared.psk" /etc/ipsecctl/ && chmod 600 /etc/ipsecctl/shared.psk || fail "copy to /etc/ipsecctl"
echo 'IPSECD_CONFIG="/etc/ipsecctl/ipsecd.json /etc/ipsecctl/left.json"' >> /etc/default/ipsecd
out=$(unit_argv ExecReload) || fail "reading ExecReload="
mapfile -t RELOAD <<< "$out"
assert_eq "ExecReload" "/usr/sbin/ipsecctl load /etc/ipsecctl/ipsecd.json /etc/ipsecctl/left.json" "${RELOAD[*]}"
ip netns exec left "${RELOAD[@]}" || fail "ExecReload (${RELOAD[*]}) failed"
notified "RELOADING=1" 10
ready=$(grep -c "^$MAIN${TAB}READY=1" "$NLOG")
assert_eq "READY=1 notifications (start, end of reload)" 2 "$ready"
assert_eq "RELOADING=1 comes before the second READY=1" "RELOADING READY" \
    "$(grep "^$MAIN${TAB}" "$NLOG" | tail -n 2 | sed 's/^[0-9]*\t\([A-Z]*\)=.*/\1/' | tr '\n' ' ' | sed 's/ $//')"
for (( i = 0; i < 60; i++ )); do
    lc=$(left_child) rc=$(ipsecd_child r)
    [ -n "$lc" ] && [ -n "$rc" ] && break
    [ "$i" = 20 ] && { log "+ [left] ipsecctl up $CONN"; ip netns exec left "$IPSECCTL" up "$CONN" || true; }
    sleep 0.5
done
[ -n "$lc" ] && [ -n "$rc" ] || { tail -n 30 "$E2E_OUT/ipsecd-unit.log"; fail "no CHILD SA after the reload"; }
read -r _ _ lin lout lmode <<< "$lc"
assert_eq "CHILD SA mode" transport "$lmode"
check_child_kernel left transport $L $R $L/32 $R/32 "$(printf '0x%08x' "$lout")" "$(printf '0x%08x' "$lin")"

step "reloads that fail change nothing (all or nothing); the daemon still ends its reload with READY=1"
if ip netns exec left "$IPSECCTL" load /etc/ipsecctl/ipsecd.json /etc/ipsecctl/missing.json; then
    fail "ipsecctl load of a missing file succeeded"
fi
log "ipsecctl refused it before asking ipsecd; now the request straight to the daemon's socket:"
answer=$(python3 - <<'PY'
import json, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect("/run/ipsecd/control.sock")
s.sendall((json.dumps({"command": "load",
                       "files": ["/etc/ipsecctl/ipsecd.json", "/etc/ipsecctl/missing.json"]}) + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip())
PY
)
log "ipsecd answered: $answer"
assert_eq "ipsecd's answer to a load with a missing file: ok" false "$(jq -r .ok <<< "$answer")"
notified "READY=1|STATUS=load refused" 10
assert_eq "RELOADING=1 notifications (the good reload, the refused one)" 2 "$(grep -c "^$MAIN${TAB}RELOADING=1" "$NLOG")"
assert_eq "the CHILD SA after the refused reloads" "$lc" "$(left_child)"

step "systemctl restart: ExecStop= as systemd runs it in a restart job, then ExecStart= again; the tunnel stays"
out=$(unit_argv ExecStop) || fail "reading ExecStop="
mapfile -t STOP <<< "$out"
assert_eq "ExecStop (\"-\": a failure is ignored)" "-/usr/libexec/ipsecctl/ipsecd-stop ipsecd.service" "${STOP[*]}"
STOP[0]=${STOP[0]#-}
# systemd is not PID 1 here: a stand-in systemctl says what systemd's list-jobs says during
# `systemctl restart ipsecd` (and an upgrade's try-restart): a restart job for the unit.
mkdir -p "$W/bin"
printf '#!/bin/sh\n[ "$1" = list-jobs ] && echo "1234 ipsecd.service restart running"\n' > "$W/bin/systemctl"
chmod +x "$W/bin/systemctl"
sas_before=$(ip -n left xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | sort | paste -sd' ' -)
ip netns exec left env PATH="$W/bin:$PATH" "${STOP[@]}" || fail "ExecStop (${STOP[*]}) failed"
for (( i = 0; i < 100; i++ )); do kill -0 "$MAIN" 2>/dev/null || break; sleep 0.1; done
kill -0 "$MAIN" 2>/dev/null && fail "ipsecd still running 10 s after ExecStop"
wait "$MAIN"; rc=$?
assert_eq "exit status after ExecStop in a restart job" 0 "$rc"
notified "STOPPING=1" 1
assert_eq "state file left for the next ipsecd, mode" "600" "$(stat -c '%a' /run/ipsecd/control.sock.state)"
assert_eq "[left] ESP SAs while no ipsecd runs (the kernel keeps them)" "$sas_before" \
    "$(ip -n left xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | sort | paste -sd' ' -)"
cp "$E2E_OUT/ipsecd-unit.log" "$E2E_OUT/ipsecd-unit.before-restart.log"
out=$(unit_argv ExecStart) || fail "reading ExecStart="   # IPSECD_CONFIG lists left.json now
mapfile -t START <<< "$out"
assert_eq "ExecStart with left.json in IPSECD_CONFIG" \
    "/usr/sbin/ipsecd --config /etc/ipsecctl/ipsecd.json /etc/ipsecctl/left.json" "${START[*]}"
( umask 0077; exec ip netns exec left env NOTIFY_SOCKET="$NOTIFY" "${START[@]}" ) \
    > "$E2E_OUT/ipsecd-unit.log" 2>&1 &
MAIN=$!
E2E_PIDS+=("$MAIN")
notified "READY=1" 20
grep -q "continued 1 IKE SA(s) of the previous ipsecd" "$E2E_OUT/ipsecd-unit.log" \
    || { cat "$E2E_OUT/ipsecd-unit.log"; fail "the restarted ipsecd did not continue the IKE SA"; }
log "$(grep -m1 'continued from the previous ipsecd' "$E2E_OUT/ipsecd-unit.log")"
assert_eq "the state file is consumed" "absent" "$([ -e /run/ipsecd/control.sock.state ] && echo present || echo absent)"
assert_eq "the IKE SA and CHILD SA after the restart (same SPIs)" "$lc" "$(left_child)"
assert_eq "[left] ESP SAs after the restart" "$sas_before" \
    "$(ip -n left xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | sort | paste -sd' ' -)"

step "systemctl stop: SIGTERM to the main process (KillMode=mixed)"
kill -TERM "$MAIN"
for (( i = 0; i < 100; i++ )); do kill -0 "$MAIN" 2>/dev/null || break; sleep 0.1; done
kill -0 "$MAIN" 2>/dev/null && fail "ipsecd still running 10 s after SIGTERM (TimeoutStopSec=30)"
wait "$MAIN"; rc=$?
assert_eq "exit status after SIGTERM" 0 "$rc"
notified "STOPPING=1" 1
log "notifications: $(tr '\n' ' ' < "$NLOG")"
assert_eq "[left] SAs, policies, per-socket policies after the stop" "0 0 0" \
    "$(xfrm_count left) $(xfrm_socket_policies left)"
ipsecd_stop r
assert_eq "[right] SAs and policies after both stopped" "0 0" "$(xfrm_count right)"
pass "packaged-unit"
