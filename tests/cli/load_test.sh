#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipsecctl load and status as an operator meets them, without a real daemon:
# files are resolved and checked locally (errors name file and JSON path, and
# nothing reaches the socket), an absent daemon gives exit 6 and a hint, and
# against a stand-in daemon (fake_ipsecd.py) the request carries absolute paths
# and each answer (summary, refusal with details, refusal) gives the
# documented output and exit code. status renders a fabricated answer and
# passes it through unchanged with --json. Needs no root and no kernel.
set -u
IPSECCTL=$(readlink -f "${IPSECCTL:?set IPSECCTL to the ipsecctl binary}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || { echo "SKIPPED: needs python3 for the stand-in daemon"; exit 77; }
command -v jq >/dev/null || { echo "SKIPPED: needs jq"; exit 77; }
WORK=$(mktemp -d /tmp/ipsecctl-load.XXXXXX)  # short: unix socket paths are limited
FAKE_PID=
trap '[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
SOCK=$WORK/control.sock
LOG=$WORK/requests.log
REPLY=$WORK/reply.json
: >"$LOG"

# run NAME CODE ARGS...: runs ipsecctl, checks the exit code; output in $WORK/out, $WORK/err
run() {
  local name=$1 code=$2; shift 2
  "$IPSECCTL" "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?
  if [ "$rc" = "$code" ]; then return 0; fi
  bad "$name: exit code $rc, expected $code"
  sed 's/^/  stdout: /' "$WORK/out"; sed 's/^/  stderr: /' "$WORK/err"
  return 1
}
has() { grep -qF -- "$2" "$WORK/$1" || { echo "  $1 lacks: $2"; sed "s/^/  $1: /" "$WORK/$1"; return 1; }; }
nothing_sent() { [ ! -s "$LOG" ] || { echo "  the daemon got: $(cat "$LOG")"; return 1; }; }

# A good connection file (its PSK file mode 0600) and a broken one.
mkdir -p "$WORK/etc/real"
cp "$SRC/policies/examples/ikev2-psk-tunnel/left.json" "$SRC/policies/examples/ikev2-psk-tunnel/shared.psk" "$WORK/etc/real/"
chmod 600 "$WORK/etc/real/shared.psk"
ln -s real/left.json "$WORK/etc/left.json"   # load must send the resolved path
python3 - "$WORK/etc/real/left.json" "$WORK/etc/real/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["connections"]["to-right"]
c["remote"]["address"] = "192.0.2.300"
c["colour"] = "blue"
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY

# The stand-in daemon, up for every case so that "nothing sent" means something.
echo '{"ok":true,"data":{}}' >"$REPLY"
python3 "$SRC/tests/cli/fake_ipsecd.py" "$SOCK" "$LOG" "$REPLY" & FAKE_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "SKIPPED: the stand-in daemon did not start"; exit 77; }

# --- checked here, nothing sent ---
run "missing file" 1 load --socket "$SOCK" "$WORK/etc/nonexistent.json" &&
  has err "$WORK/etc/nonexistent.json: No such file or directory" && has err "nothing sent to ipsecd" &&
  nothing_sent && ok "a missing file is named, exit 1, nothing sent"

run "broken file" 1 load --socket "$SOCK" "$WORK/etc/real/broken.json" &&
  has err "broken.json: connections.to-right.remote.address: \"192.0.2.300\" is not an IP address" &&
  has err "broken.json: connections.to-right.colour: unknown field" &&
  [ "$(grep -c '^error: .*broken.json: ' "$WORK/err")" = 2 ] &&
  nothing_sent && ok "a broken file: one error per problem with file and JSON path, exit 1, nothing sent"

run "good and broken file" 1 load --socket "$SOCK" "$WORK/etc/left.json" "$WORK/etc/real/broken.json" &&
  has err "broken.json" && nothing_sent && ok "a good file with a broken one: exit 1, nothing sent"

run "directory" 1 load --socket "$SOCK" "$WORK/etc" && has err "not a regular file" &&
  nothing_sent && ok "a directory is refused, nothing sent"

run "stdin" 2 load --socket "$SOCK" - && has err "load needs file names" &&
  nothing_sent && ok "'-' is a usage error (exit 2), nothing sent"

run "no file" 2 load --socket "$SOCK" && nothing_sent && ok "no file at all: exit 2"

# --- no daemon ---
run "no daemon" 6 load --socket "$WORK/absent.sock" "$WORK/etc/left.json" &&
  has err "cannot reach ipsecd at $WORK/absent.sock" && has err "hint: is ipsecd running" &&
  has err "the files are valid; nothing was loaded" && ok "a good file without a daemon: exit 6 with a hint"

run "status without daemon" 6 status --socket "$WORK/absent.sock" && has err "hint:" &&
  ok "status without a daemon: exit 6 with a hint"

# --- against the stand-in daemon ---
echo '{"ok":true,"data":{"added":["to-right"],"changed":[],"unchanged":["b"],"removed":["old-a","old-b"]}}' >"$REPLY"
: >"$LOG"
(cd "$WORK/etc" && "$IPSECCTL" load --socket "$SOCK" left.json >"$WORK/out" 2>"$WORK/err"); rc=$?
real=$(cd "$WORK/etc/real" && pwd -P)/left.json
if [ $rc = 0 ] && has out "loaded 2 connections: added to-right; removed old-a, old-b; unchanged b" &&
   [ "$(jq -c . "$LOG")" = "$(jq -cn --arg f "$real" '{command: "load", files: [$f]}')" ]; then
  ok "load sends one request with the resolved absolute path and prints the summary"
else
  bad "load success: rc=$rc request=$(cat "$LOG")"; cat "$WORK/out" "$WORK/err"
fi

run "load --json" 0 load --socket "$SOCK" --json "$WORK/etc/left.json" &&
  [ "$(jq -c .removed "$WORK/out")" = '["old-a","old-b"]' ] && ok "load --json prints the daemon's data"
run "load -q" 0 load --socket "$SOCK" -q "$WORK/etc/left.json" && [ ! -s "$WORK/out" ] &&
  ok "load -q prints nothing on success"

cat >"$REPLY" <<'JSON'
{"ok":false,"error":"load refused: 2 problem(s)","details":["bind 192.0.2.9[500]: Cannot assign requested address","/etc/ipsecctl/x.json: connections.to-right: reqid 7 is already used by b"]}
JSON
run "refused with details" 3 load --socket "$SOCK" "$WORK/etc/left.json" &&
  has err "error: bind 192.0.2.9[500]: Cannot assign requested address" &&
  has err "error: /etc/ipsecctl/x.json: connections.to-right: reqid 7 is already used by b" &&
  has err "error: load refused: 2 problem(s); ipsecd's connections are as before" &&
  ok "a refused load prints each problem on its own line, exit 3"

echo '{"ok":false,"error":"load refused: only root or ipsecd'"'"'s own user (uid 0) may load policy files, not uid 1000"}' >"$REPLY"
run "refused request" 6 load --socket "$SOCK" "$WORK/etc/left.json" && has err "only root" &&
  ok "a load refused for the user: exit 6"

echo '{"ok":true,"data":[1]}' >"$REPLY"
run "unreadable summary" 0 load --socket "$SOCK" "$WORK/etc/left.json" &&
  has err "warning: ipsecd loaded the files, but bad load summary" &&
  ok "a summary that cannot be read still exits 0 (the load happened), with a warning"

# --- status ---
cat >"$REPLY" <<'JSON'
{"ok":true,"data":{"closed":[{"child_failure":"","label":"to-far 0x00000000000000aa","reason":"AUTHENTICATION_FAILED: peer's PSK does not match","state":"failed"}],"counters":{"auth_failed":1,"retransmits":4},"ike_sas":[{"age_seconds":3725,"algorithms":"ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519","children":[{"name":"net","age_seconds":303,"algorithms":"ENCR_AES_GCM_16_256","bytes_in":12595,"bytes_out":4718592,"expire_in_seconds":3480,"failure":"","last_rekey_seconds_ago":303,"replaces":"0xc1a2b3c0","local_ts":["198.51.100.0/24"],"mode":"tunnel","packets_in":123,"packets_out":3456,"rekey_in_seconds":3130,"remote_ts":["203.0.113.0/24"],"spi_in":"0xc1a2b3c4","spi_out":"0xc5d6e7f8","state":"installed"},{"name":"net","age_seconds":3725,"algorithms":"ENCR_AES_GCM_16_256","bytes_in":100,"bytes_out":200,"expire_in_seconds":55,"failure":"","last_rekey_seconds_ago":-1,"replaces":"0x00000000","local_ts":["198.51.100.0/24"],"mode":"tunnel","packets_in":1,"packets_out":2,"rekey_in_seconds":-1,"remote_ts":["203.0.113.0/24"],"spi_in":"0xc1a2b3c0","spi_out":"0xc5d6e7f0","state":"rekeyed"}],"connection":"to-right","failure":"","initiator":true,"local":"192.0.2.1[500]","rekey_in_seconds":-1,"expire_in_seconds":-1,"last_rekey_seconds_ago":-1,"remote":"192.0.2.2[500]","spi_i":"0x0123456789abcdef","spi_r":"0xfedcba9876543210","state":"established","worker":1}]}}
JSON
run "status" 0 status --socket "$SOCK" && has out "to-right: established, initiator" &&
  has out "  IKE SPIs      0x0123456789abcdef (i)  0xfedcba9876543210 (r)" &&
  has out "  lifetime      no rekey scheduled" &&
  has out "  CHILD SA      net: installed, tunnel" && has out "  CHILD SA      net: rekeyed, tunnel" &&
  has out "    traffic in  12.3 KiB, 123 packets" && has out "    traffic out 4.5 MiB, 3456 packets" &&
  has out "    lifetime    rekey in 52m 10s, expires in 58m 00s, last rekey 5m 03s ago" &&
  has out "    replaces    0xc1a2b3c0" &&
  has out "    lifetime    no rekey scheduled, expires in 55s" &&
  has out "failed: to-far 0x00000000000000aa: AUTHENTICATION_FAILED: peer's PSK does not match" &&
  ok "status renders traffic, ages, rekey times, both CHILD SAs of a rekey and failures"
echo "  sample:"; sed 's/^/    | /' "$WORK/out"

run "status --json" 0 status --socket "$SOCK" --json &&
  [ "$(jq -S . "$WORK/out")" = "$(jq -S .data "$REPLY")" ] &&
  ok "status --json is the daemon's data, unchanged (worker included)"

sed -i 's/"bytes_in":12595/"bytes_in":"12595"/' "$REPLY"
run "bad status" 6 status --socket "$SOCK" &&
  has err "ike_sas[0].children[0].bytes_in: expected an unsigned integer, got string" &&
  ok "a malformed status names the JSON path, exit 6"

# --- help ---
"$IPSECCTL" load --help >"$WORK/out" 2>&1
has out "--socket" && has out "--quiet" && has out "--json" && has out "files" &&
  ok "load --help lists its options"
"$IPSECCTL" --help | grep -qE '^  load ' && ok "ipsecctl --help lists load" || bad "ipsecctl --help lacks load"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
