#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipsecctl monitor, down --all, restart and list-conns against a stand-in daemon
# (fake_ipsecd.py): the requests they send, how they print the answers, monitor's
# human lines and raw JSON, --count and --timeout with their exit codes, a daemon
# that goes away or is absent (exit 6), up/down/restart --json (answers and failures as
# one document, exit codes unchanged), and usage errors. Needs no root and no kernel.
set -u
IPSECCTL=$(readlink -f "${IPSECCTL:?set IPSECCTL to the ipsecctl binary}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || { echo "SKIPPED: needs python3 for the stand-in daemon"; exit 77; }
command -v jq >/dev/null || { echo "SKIPPED: needs jq"; exit 77; }
WORK=$(mktemp -d /tmp/ipsecctl-life.XXXXXX)  # short: unix socket paths are limited
FAKE_PID=
trap '[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
SOCK=$WORK/control.sock
LOG=$WORK/requests.log
REPLY=$WORK/reply.json
EVENTS=$WORK/events.jsonl
: >"$LOG"
export TZ=UTC  # monitor prints local time

run() {
  local name=$1 code=$2; shift 2
  "$IPSECCTL" "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?
  if [ "$rc" = "$code" ]; then return 0; fi
  bad "$name: exit code $rc, expected $code"
  sed 's/^/  stdout: /' "$WORK/out"; sed 's/^/  stderr: /' "$WORK/err"
  return 1
}
has() { grep -qF -- "$2" "$WORK/$1" || { echo "  $1 lacks: $2"; sed "s/^/  $1: /" "$WORK/$1"; return 1; }; }
# The last request the stand-in got, as compact JSON, equals $1.
sent() {
  local got; got=$(tail -n 1 "$LOG" | jq -cS .)
  [ "$got" = "$(jq -cS . <<<"$1")" ] || { echo "  request: $got, expected $1"; return 1; }
}

echo '{"ok":true,"data":{}}' >"$REPLY"
python3 "$SRC/tests/cli/fake_ipsecd.py" "$SOCK" "$LOG" "$REPLY" "$EVENTS" & FAKE_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "SKIPPED: the stand-in daemon did not start"; exit 77; }

# --- monitor ---
cat >"$EVENTS" <<'JSONL'
{"event":"ike-up","time":"2026-11-23T10:00:00Z","connection":"to-right","ike_spi":"0x0123456789abcdef"}
{"event":"child-up","time":"2026-11-23T10:00:00Z","connection":"to-right","child":"lan","ike_spi":"0x0123456789abcdef","spi_in":"0xc0000001","spi_out":"0xc1000001"}
{"event":"child-rekeyed","time":"2026-11-23T10:50:12Z","connection":"to-right","child":"lan","ike_spi":"0x0123456789abcdef","spi_in":"0xc0000002","spi_out":"0xc1000002","old_spi_in":"0xc0000001"}
{"event":"ike-rekeyed","time":"2026-11-23T14:00:00Z","connection":"to-right","ike_spi":"0x00000000000000ff","old_ike_spi":"0x0123456789abcdef"}
{"event":"dpd-failed","time":"2026-11-23T15:00:00Z","connection":"to-right","ike_spi":"0x00000000000000ff","reason":"dead peer"}
{"event":"child-down","time":"2026-11-23T15:00:01Z","connection":"to-right","child":"lan","spi_in":"0xc0000002","spi_out":"0xc1000002","reason":"dead peer"}
{"event":"acquire","time":"2026-11-23T15:00:02Z","connection":"to-right","child":"lan","detail":"10.1.0.5 -> 10.2.0.7 proto 1"}
JSONL
echo '{"ok":true,"data":{"monitor":true}}' >"$REPLY"
if run "monitor --count 7" 0 monitor --socket "$SOCK" --count 7 --timeout 20 &&
   sent '{"command":"monitor"}' &&
   has out "2026-11-23 10:00:00 ike-up to-right IKE 0x0123456789abcdef" &&
   has out "2026-11-23 10:00:00 child-up to-right/lan in 0xc0000001 out 0xc1000001" &&
   has out "2026-11-23 10:50:12 child-rekeyed to-right/lan in 0xc0000002 out 0xc1000002 replaces 0xc0000001" &&
   has out "2026-11-23 14:00:00 ike-rekeyed to-right IKE 0x00000000000000ff replaces 0x0123456789abcdef" &&
   has out "2026-11-23 15:00:00 dpd-failed to-right IKE 0x00000000000000ff: dead peer" &&
   has out "2026-11-23 15:00:01 child-down to-right/lan in 0xc0000002 out 0xc1000002: dead peer" &&
   has out "2026-11-23 15:00:02 acquire to-right/lan (10.1.0.5 -> 10.2.0.7 proto 1)" &&
   [ "$(wc -l <"$WORK/out")" = 7 ]; then
  ok "monitor: one readable line per event, exit 0 after --count"
fi
echo "  sample:"; sed 's/^/    | /' "$WORK/out"

run "monitor --json" 0 monitor --socket "$SOCK" --json --count 7 --timeout 20 &&
  cmp -s "$WORK/out" "$EVENTS" && ok "monitor --json prints the daemon's lines unchanged" ||
  { bad "monitor --json output differs"; diff "$WORK/out" "$EVENTS" | head; }

run "monitor --count 2" 0 monitor --socket "$SOCK" --count 2 --timeout 20 &&
  [ "$(wc -l <"$WORK/out")" = 2 ] && has out "child-up" && ok "monitor stops after --count 2 of 7"

start=$(date +%s%N)
run "monitor --timeout before count" 1 monitor --socket "$SOCK" --count 9 --timeout 1.5 &&
  [ "$(wc -l <"$WORK/out")" = 7 ] && has err "timed out after 1.5s with 7 of 9 event(s)" &&
  ok "monitor: --timeout before --count events exits 1 after printing what came"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed_ms" -ge 1400 ] && [ "$elapsed_ms" -lt 5000 ] && ok "the timeout is kept (${elapsed_ms} ms)" ||
  bad "monitor --timeout 1.5 took ${elapsed_ms} ms"

run "monitor --timeout without count" 0 monitor --socket "$SOCK" --timeout 1 &&
  [ "$(wc -l <"$WORK/out")" = 7 ] && ok "monitor --timeout without --count: exit 0 at the timeout"

{ head -n 2 "$EVENTS"; echo CLOSE; } >"$WORK/closing.jsonl"
cp "$EVENTS" "$WORK/all.jsonl"; cp "$WORK/closing.jsonl" "$EVENTS"
run "daemon goes away" 6 monitor --socket "$SOCK" --timeout 20 &&
  [ "$(wc -l <"$WORK/out")" = 2 ] && has err "ipsecd closed the connection" &&
  ok "monitor: the daemon going away is exit 6, after the events that came"
cp "$WORK/all.jsonl" "$EVENTS"

printf '%s\n' '{"event":"ike-up","time":"2026-11-23T10:00:00Z"}' \
  '{"event":"ike-up","time":"2026-11-23T10:00:01Z","connection":"c","ike_spi":"0xzz"}' \
  '{"event":"child-up","time":"2026-11-23T10:00:02Z","connection":"c","child":"x"}' >"$EVENTS"
run "bad events" 0 monitor --socket "$SOCK" --count 1 --timeout 20 &&
  has err "bad event from ipsecd: connection: missing" &&
  has err "bad event from ipsecd: ike_spi: \"0xzz\" is not an SPI" &&
  has out "2026-11-23 10:00:02 child-up c/x" && [ "$(wc -l <"$WORK/out")" = 1 ] &&
  ok "monitor: an event it cannot read is a warning naming the field, not counted"
cp "$WORK/all.jsonl" "$EVENTS"

echo '{"ok":false,"error":"ipsecd is shutting down"}' >"$REPLY"
run "monitor refused" 6 monitor --socket "$SOCK" --count 1 --timeout 5 &&
  has err "error: ipsecd is shutting down" && ok "monitor refused by the daemon: exit 6"

run "monitor no daemon" 6 monitor --socket "$WORK/absent.sock" --count 1 &&
  has err "cannot reach ipsecd" && has err "hint: is ipsecd running" &&
  ok "monitor without a daemon: exit 6 with a hint"

run "monitor --count 0" 2 monitor --socket "$SOCK" --count 0 && ok "monitor --count 0 is a usage error"
run "monitor --timeout -1" 2 monitor --socket "$SOCK" --timeout -1 &&
  ok "monitor --timeout -1 is a usage error"

# --- down --all ---
echo '{"ok":true,"data":{"sas":[{"connection":"to-right","ike_spi":"0x0123456789abcdef"},{"connection":"to-far","ike_spi":"0x00000000000000ff"}]}}' >"$REPLY"
run "down --all" 0 down --socket "$SOCK" --all && sent '{"command":"down","all":true}' &&
  has out "deleting 2 IKE SA(s)" && has out "  to-right 0x0123456789abcdef" &&
  has out "  to-far 0x00000000000000ff" && ok "down --all sends all:true and lists the IKE SAs"
echo '{"ok":true,"data":{"sas":[]}}' >"$REPLY"
run "down --all, none" 0 down --socket "$SOCK" --all && has out "no established IKE SAs" &&
  ok "down --all with nothing established: exit 0, says so"
: >"$LOG"
run "down NAME --all" 2 down --socket "$SOCK" --all to-right && [ ! -s "$LOG" ] &&
  ok "down NAME --all is a usage error, nothing sent"
run "down without name" 2 down --socket "$SOCK" && has err "down needs a connection name or --all" &&
  [ ! -s "$LOG" ] && ok "down without a name or --all is a usage error, nothing sent"
echo '{"ok":true,"data":{"connection":"to-right","deleted":["0x0123456789abcdef"]}}' >"$REPLY"
run "down NAME" 0 down --socket "$SOCK" to-right && sent '{"command":"down","name":"to-right"}' &&
  has out "deleting to-right: 1 IKE SA(s)" && ok "down NAME as before"

# --- restart ---
echo '{"ok":true,"data":{"connection":"to-right","deleted":["0x0123456789abcdef"],"spi_i":"0x00000000000000aa"}}' >"$REPLY"
run "restart" 0 restart --socket "$SOCK" to-right && sent '{"command":"restart","name":"to-right"}' &&
  has out "restarted to-right: 1 IKE SA(s) deleted, initiated IKE SA 0x00000000000000aa" &&
  ok "restart sends the connection and prints the new IKE SA"
echo '{"ok":true,"data":{"connection":"od","deleted":[],"trap":true}}' >"$REPLY"
run "restart trap" 0 restart --socket "$SOCK" od &&
  has out "restarted od: 0 IKE SA(s) deleted, trap policies in place" &&
  ok "restart of an on-demand connection says it is back to trap"
echo '{"ok":false,"error":"no connection \"nope\""}' >"$REPLY"
run "restart unknown" 6 restart --socket "$SOCK" nope && has err 'no connection "nope"' &&
  ok "restart of an unknown connection: exit 6"
run "restart without name" 2 restart --socket "$SOCK" && ok "restart without a name: exit 2"

# --- up, down and restart --json: the daemon's data with "ok", one document, failures too ---
# json_is FILTER...: stdout is one JSON document and each jq filter is true of it.
json_is() {
  local f
  [ "$(jq -s length "$WORK/out" 2>/dev/null)" = 1 ] || { echo "  stdout is not one JSON document"; sed 's/^/  stdout: /' "$WORK/out"; return 1; }
  for f in "$@"; do
    jq -e "$f" "$WORK/out" >/dev/null || { echo "  not true: $f"; sed 's/^/  stdout: /' "$WORK/out"; return 1; }
  done
}
echo '{"ok":true,"data":{"connection":"to-right","spi_i":"0x00000000000000ab"}}' >"$REPLY"
run "up --json" 0 up --socket "$SOCK" --json to-right && sent '{"command":"up","name":"to-right"}' &&
  json_is '. == {"ok": true, "connection": "to-right", "spi_i": "0x00000000000000ab"}' &&
  ok "up --json: the daemon's answer with ok"
echo '{"ok":true,"data":{"connection":"to-right","deleted":["0x0123456789abcdef"]}}' >"$REPLY"
run "down --json" 0 down --socket "$SOCK" --json to-right &&
  json_is '.ok == true' '.deleted == ["0x0123456789abcdef"]' && ok "down --json NAME: deleted SPIs"
echo '{"ok":true,"data":{"sas":[{"connection":"to-right","ike_spi":"0x0123456789abcdef"},{"connection":"to-far","ike_spi":"0x00000000000000ff"}]}}' >"$REPLY"
run "down --all --json" 0 down --socket "$SOCK" --all --json && sent '{"command":"down","all":true}' &&
  json_is '.ok == true' '(.sas | length) == 2' '.sas[1].connection == "to-far"' &&
  ok "down --all --json: every IKE SA deleted"
echo '{"ok":true,"data":{"connection":"to-right","deleted":["0x0123456789abcdef"],"spi_i":"0x00000000000000aa"}}' >"$REPLY"
run "restart --json" 0 restart --socket "$SOCK" --json to-right &&
  json_is '.ok == true' '.spi_i == "0x00000000000000aa"' '(.deleted | length) == 1' 'has("trap") | not' &&
  ok "restart --json: deleted and the new IKE SA"
echo '{"ok":true,"data":{"connection":"od","deleted":[],"trap":true}}' >"$REPLY"
run "restart --json trap" 0 restart --socket "$SOCK" --json od && json_is '.trap == true' '.deleted == []' &&
  ok "restart --json of an on-demand connection: trap true"
echo '{"ok":false,"error":"no connection \"nope\""}' >"$REPLY"
run "restart --json unknown" 6 restart --socket "$SOCK" --json nope &&
  json_is '. == {"ok": false, "error": "no connection \"nope\""}' && has err 'error: no connection "nope"' &&
  ok "restart --json refused: exit 6, ok false with the daemon's error (and on stderr)"
echo '{"ok":false,"error":"up refused","details":["to-x: no such connection","\u001b[2Jforged"]}' >"$REPLY"
run "up --json refused" 6 up --socket "$SOCK" --json to-x &&
  json_is '.ok == false' '.error == "up refused"' '(.details | length) == 2' \
    '.details[1] == "\u001b[2Jforged"' && ! grep -q $'\x1b' "$WORK/out" &&
  ok "up --json refused with details: exit 6, details kept, control characters escaped"
run "down --json no daemon" 6 down --socket "$WORK/absent.sock" --json to-right &&
  json_is '.ok == false' '.error | contains("cannot reach ipsecd")' && has err "hint: is ipsecd running" &&
  ok "down --json without a daemon: exit 6, ok false with the error, the hint on stderr"
: >"$LOG"
"$IPSECCTL" down --socket "$SOCK" --json >"$WORK/out" 2>"$WORK/err"; rc=$?
[ $rc = 2 ] && [ ! -s "$WORK/out" ] && [ ! -s "$LOG" ] &&
  ok "down --json without a name: exit 2, no document, nothing sent" || bad "down --json without a name: rc=$rc"

# --- list-conns ---
jq -c . >"$REPLY" <<'JSON'
{"ok":true,"data":{"connections":[
 {"name":"to-right","local":"192.0.2.1[500]","remote":"192.0.2.2[500]","local_id":"left","remote_id":"right","child":"net","start_action":"start","trapped":false,"child_rekey_seconds":3600,"child_life_seconds":3960,"ike_rekey_seconds":14400,"ike_reauth_seconds":0,"dpd_delay_seconds":30,"dpd_timeout_seconds":120,"dpd_action":"restart","close_action":"none"},
 {"name":"od","local":"192.0.2.1[500]","remote":"192.0.2.3[500]","local_id":"left","remote_id":"far","child":"lan","start_action":"trap","trapped":true,"child_rekey_seconds":0,"child_life_seconds":0,"ike_rekey_seconds":0,"ike_reauth_seconds":7200,"dpd_delay_seconds":0,"dpd_timeout_seconds":30,"dpd_action":"clear","close_action":"trap"},
 {"name":"manual","local":"192.0.2.1[500]","remote":"192.0.2.4[500]","local_id":"left","remote_id":"m","child":"c","start_action":"none","trapped":false,"child_rekey_seconds":3600,"child_life_seconds":3960,"ike_rekey_seconds":14400,"ike_reauth_seconds":0,"dpd_delay_seconds":0,"dpd_timeout_seconds":30,"dpd_action":"clear","close_action":"none"}]}}
JSON
run "list-conns" 0 list-conns --socket "$SOCK" &&
  has out "to-right: 192.0.2.1[500] (left) ... 192.0.2.2[500] (right), child net, started at load" &&
  has out "  CHILD rekey 1h 00m, life 1h 06m; IKE rekey 4h 00m; dpd 30s (timeout 2m 00s, then restart); close action none" &&
  has out "od: 192.0.2.1[500] (left) ... 192.0.2.3[500] (far), child lan, on demand, trap policies installed" &&
  has out "  CHILD rekey none, life none; IKE reauth 2h 00m; no dpd; close action trap" &&
  has out "child c, started by 'ipsecctl up'" &&
  ! grep -q "start start" "$WORK/out" && ok "list-conns: the start action once, in words; lifetimes and DPD"
echo "  sample:"; sed 's/^/    | /' "$WORK/out"
run "list-conns --json" 0 list-conns --socket "$SOCK" --json &&
  [ "$(jq -S . "$WORK/out")" = "$(jq -S .data "$REPLY")" ] && ok "list-conns --json is the daemon's data"
sed -i 's/"trapped":true/"trapped":"yes"/' "$REPLY"
run "bad list" 6 list-conns --socket "$SOCK" &&
  has err "connections[1].trapped: expected true or false, got string" &&
  ok "a malformed connection list names the JSON path, exit 6"

# --- help ---
"$IPSECCTL" monitor --help >"$WORK/out" 2>&1
has out "--count" && has out "--timeout" && has out "--json" && has out "--socket" &&
  ok "monitor --help lists its options"
"$IPSECCTL" down --help >"$WORK/out" 2>&1
has out "--all" && ok "down --help lists --all"
for sub in up down restart; do
  "$IPSECCTL" $sub --help >"$WORK/out" 2>&1
  has out "--json" && ok "$sub --help lists --json"
done
for sub in monitor restart; do
  "$IPSECCTL" --help | grep -qE "^  $sub " && ok "ipsecctl --help lists $sub" || bad "ipsecctl --help lacks $sub"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
