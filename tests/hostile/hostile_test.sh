#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The hostile-input corpus: what a careless or malicious user may feed ipsecctl and ipsecd,
# and what they must answer. Policy files (tests/hostile/policies/ and ones made here: a
# FIFO, /dev/zero, a directory, a symbolic link to /dev/zero, a 17 MiB file, deep nesting, a
# FIFO as PSK file, /dev/zero on standard input) through `ipsecctl validate`, `ipsecd
# --check` and a running ipsecd's `load`; command lines (--control on a regular file or a
# symbolic link, missing arguments, over-long paths); control-socket requests (garbage,
# not JSON, not an object, an unknown command, huge numbers, a line over 1 MiB, a thousand
# bad requests in a row, hundreds of connections, more clients than allowed, a slow reader
# of a large answer, a user outside the socket's group). Each must give a clear error
# naming the file, JSON path or field, the documented exit code, never a raw control
# character, and change nothing: the daemon keeps its connections and keeps answering.
set -u
. "$(dirname "$0")/../daemon/lib.sh"
HERE=$SRC/tests/hostile
ABUSE=$HERE/abuse.py
SEND=$SRC/tests/daemon/ctl_send.py
command -v setpriv >/dev/null || { echo "SKIPPED: setpriv is not installed"; exit 77; }

# "name" "want rc" "regex the output must match" command...: runs it (at most 20 s), checks
# the exit code, the message and that no control character reached the terminal.
expect() {
  local name=$1 want=$2 pattern=$3; shift 3
  local out rc
  out=$(timeout 20 "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then bad "$name: exit $rc, not $want: $out"; return; fi
  if ! grep -qE -- "$pattern" <<<"$out"; then bad "$name: no /$pattern/ in: $out"; return; fi
  if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' <<<"$out"; then
    bad "$name: a raw control character in: $(printf %q "$out")"; return
  fi
  ok "$name: exit $rc, $(head -1 <<<"$out" | cut -c1-150)"
}

make_namespaces "192.0.2.1" "192.0.2.2"
FILES=$WORK/files
mkdir -p "$FILES"
cp "$HERE"/policies/*.json "$FILES"/
cp "$SRC"/policies/examples/ikev2-psk-tunnel/shared.psk "$FILES"/ && chmod 600 "$FILES"/shared.psk
# The daemon's own connection, which nothing below may change.
cat >"$FILES/base.json" <<'JSON'
{"connections": {"to-right": {"local": {"address": "192.0.2.1", "id": "fqdn:left.example"},
  "remote": {"address": "192.0.2.2", "id": "fqdn:right.example"}, "psk_file": "shared.psk",
  "children": {"lan": {"local_ts": ["198.51.100.0/24"], "remote_ts": ["203.0.113.0/24"]}}}}}
JSON
mkfifo "$FILES/fifo.json" "$FILES/fifo.psk"
mkdir "$FILES/directory.json"
ln -s /dev/zero "$FILES/zero-link.json"
truncate -s 17M "$FILES/huge.json"
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$FILES/deep.json"
sed 's/"shared.psk"/"fifo.psk"/' "$FILES/base.json" >"$FILES/fifo-psk.json"

# 1. Policy files: file, JSON path and problem; exit 1; validate and ipsecd --check agree.
# name|regex of the first error line
while IFS='|' read -r f pattern; do
  [ -z "$f" ] && continue
  expect "validate $f" 1 "^error: $FILES/$pattern" "$IPSECCTL" validate "$FILES/$f"
  expect "ipsecd --check $f" 1 "^error: $FILES/$pattern" "$IPSECD" --check --config "$FILES/$f"
done <<'TABLE'
fifo.json|fifo.json: not a regular file
directory.json|directory.json: not a regular file
zero-link.json|zero-link.json: not a regular file
huge.json|huge.json: too large for a policy file \(17825792 bytes, at most 16777216\)
deep.json|deep.json: (\[0\])+: nested deeper than 32 levels
fifo-psk.json|fifo-psk.json: connections.to-right.psk_file: ".*fifo.psk" is not a regular file
control-chars-name.json|control-chars-name.json: connections.a\\x1b\[31mX\\x0aerror: y: connection name
control-chars-values.json|control-chars-values.json: connections.c1.children.lan.mode\\x0d: unknown field
control-chars-id.json|control-chars-id.json: connections.c1.remote.id: contains a control character \(\\x1b at offset 9\)
big-number.json|big-number.json: line 1, column 36: number out of range: 1e999999
big-integer.json|big-integer.json: sas\[0\].spi: expected an integer or a "0x..." string, got a number too large
wrong-types.json|wrong-types.json: connections.c1.local: expected an object, got a string
duplicate-keys.json|duplicate-keys.json: connections.c1.local: field given twice
bad-utf8.json|bad-utf8.json: line 1, column 20: syntax error .*ill-formed UTF-8
nul-byte.json|nul-byte.json: line 1, column 19: syntax error
empty.json|empty.json: line 1, column 1: syntax error
ts-families.json|ts-families.json: connections.c1.children.lan.local_ts\[0\]: "10.1.0.0/16" is IPv4 but remote_ts has no IPv4 selector
transport-families.json|transport-families.json: connections.c1.children.lan.local_ts\[0\]: "2001:db8:1::1/128" is IPv6 but the connection's addresses are IPv4
TABLE
expect "a forged line stays inside its own" 1 'error: y: connection name "a' \
  "$IPSECCTL" validate "$FILES/control-chars-name.json"
out=$("$IPSECCTL" validate "$FILES/control-chars-name.json" 2>&1)
grep -q '^error: y' <<<"$out" && bad "a line starts with the forged 'error: y'" \
  || ok "no line starts with the forged 'error: y'"
expect "validate - < /dev/zero" 1 '^error: <stdin>: too large for a policy file' \
  bash -c '"$0" validate - </dev/zero' "$IPSECCTL"
expect "apply -n of a FIFO" 1 'fifo.json: not a regular file' "$IPSECCTL" apply -n "$FILES/fifo.json"

# 2. Command lines.
echo keep >"$FILES/config.txt"
expect "ipsecd --control on a regular file" 1 "control socket $FILES/config.txt: a regular file is there; refusing" \
  "$IPSECD" --memory-kernel --control "$FILES/config.txt"
[ "$(cat "$FILES/config.txt")" = keep ] && ok "the regular file is intact" || bad "the file changed"
ln -s "$FILES/config.txt" "$FILES/link.sock"
expect "ipsecd --control on a symbolic link" 1 'a symbolic link is there; refusing' \
  "$IPSECD" --memory-kernel --control "$FILES/link.sock"
[ -L "$FILES/link.sock" ] && [ "$(cat "$FILES/config.txt")" = keep ] \
  && ok "link and target intact" || bad "the link or its target changed"
long=$WORK/$(printf 'd%.0s' $(seq 120))/c.sock
expect "ipsecd --control with a path over 107 bytes" 1 'is empty or too long' \
  "$IPSECD" --memory-kernel --control "$long"
expect "ipsecd --control without its argument" 2 'control' "$IPSECD" --control
expect "ipsecd --workers 0" 2 'workers' "$IPSECD" --workers 0
expect "ipsecd --port 70000" 2 'port' "$IPSECD" --port 70000
expect "ipsecd --config of a missing file" 1 'nonexistent.json: cannot read' \
  "$IPSECD" --check --config "$FILES/nonexistent.json"
expect "ipsecctl without a subcommand" 2 'subcommand' "$IPSECCTL"
expect "ipsecctl with an unknown subcommand" 2 "subcommand|frobnicate" "$IPSECCTL" frobnicate
expect "ipsecctl up without a name" 2 'connection' "$IPSECCTL" up
expect "ipsecctl load -" 2 'load needs file names' "$IPSECCTL" load -
expect "ipsecctl status --socket with a path over 107 bytes" 6 'socket path too long' \
  "$IPSECCTL" status --socket "$long"
expect "ipsecctl validate of a path over PATH_MAX" 1 'File name too long' \
  "$IPSECCTL" validate "/$(printf 'x%.0s' $(seq 5000))"

# 3. A daemon, and what its control socket is fed.
start_ipsecd "$NSA" d --config "$FILES/base.json" --workers 2
PID=$LAST_PID
SOCK=$WORK/d.sock
wait_socket "$SOCK" || { bad "ipsecd did not start: $(cat "$WORK/d.log")"; finish; exit; }
conns_before=$(ctl d list-conns)
[ -n "$conns_before" ] && ok "ipsecd runs: $(head -1 <<<"$conns_before")" || bad "no list-conns"
unchanged() {  # NAME: the daemon is alive, has the same connections and answers
  if kill -0 "$PID" 2>/dev/null && [ "$(ctl d list-conns)" = "$conns_before" ]; then
    ok "after $1: ipsecd alive, connections unchanged"
  else
    bad "after $1: $(ctl d list-conns; tail -3 "$WORK/d.log")"
  fi
}
answer() {  # NAME REGEX CASE [ARG]: abuse.py's output must match REGEX
  local name=$1 pattern=$2; shift 2
  local out
  out=$(timeout 60 python3 "$ABUSE" "$SOCK" "$@" 2>&1)
  grep -qE -- "$pattern" <<<"$out" && ok "$name: $(head -1 <<<"$out" | cut -c1-150)" \
    || bad "$name: no /$pattern/ in: $out"
}
answer "garbage bytes" '^\{"error":"bad request: not valid JSON","ok":false\}$' line '\x00\xff\xfe garbage'
answer "not JSON" '"error":"bad request: not valid JSON"' line 'status please'
answer "JSON, not an object" '"error":"bad request: the message: expected an object, got array"' line '[1, 2]'
answer "an unknown command" '"error":"unknown command \\"frobnicate\\""' line '{"command":"frobnicate"}'
answer "a number too large" '"error":"bad request: not valid JSON: a number is out of range"' \
  line '{"command":"status","all":1e999999}'
answer "a 30-digit number" '"error":"bad request: command: expected a string, got number"' \
  line '{"command":123456789012345678901234567890}'
answer "a wrong type" '"error":"bad request: all: expected true or false, got string"' \
  line '{"command":"down","all":"yes"}'
answer "a name with control characters" '"error":"no connection \\"a\\u001b\[31m\\nerror: x\\""' \
  line '{"command":"up","name":"a\\u001b[31m\\nerror: x"}'
answer "a line over 1 MiB" '"error":"bad request: longer than 1048576 bytes"' long
answer "1000 bad requests in a row" '^1000$' many 1000
answer "300 connections that send nothing" '^done$' connections 300
answer "100 connections with a bad request each" '^100$' bad-each 100
answer "40 clients at once" '"error":"too many control clients \(32\)"' full 40
unchanged "the bad requests"
expect "ipsecctl up with control characters in the name" 6 'no connection "a\\x1b\[31m\\x0aerror: x"' \
  "$IPSECCTL" up --socket "$SOCK" $'a\e[31m\nerror: x'

# Hostile files through a running daemon's load: refused with file and path, nothing changes.
for f in fifo.json zero-link.json directory.json huge.json deep.json fifo-psk.json \
         control-chars-name.json control-chars-id.json big-number.json ts-families.json; do
  resp=$(timeout 20 "$SEND" "$SOCK" "{\"command\": \"load\", \"files\": [\"$FILES/$f\"]}")
  jq -e --arg f "$FILES/$f" '.ok == false and (.details[0] | startswith($f + ": "))' \
    >/dev/null <<<"$resp" && ok "load $f refused: $(jq -r '.details[0]' <<<"$resp" | cut -c1-120)" \
    || bad "load $f: $resp"
done
resp=$(timeout 20 "$SEND" "$SOCK" '{"command": "load", "files": ["/dev/zero"]}')
jq -e '.ok == false and (.details[0] == "/dev/zero: not a regular file")' >/dev/null <<<"$resp" \
  && ok "load /dev/zero refused" || bad "load /dev/zero: $resp"
resp=$(timeout 20 "$SEND" "$SOCK" '{"command": "load", "files": ["relative.json"]}')
jq -e '.ok == false and (.error | test("not an absolute path"))' >/dev/null <<<"$resp" \
  && ok "load of a relative path refused" || bad "load relative: $resp"
unchanged "the hostile loads"

# A user outside the socket's group is told why; one in it by a supplementary group is let in.
chmod 711 "$WORK" && chmod 666 "$SOCK"
expect "uid 65534 outside the group" 6 'error: permission denied: uid 65534 is not root and not in group root' \
  setpriv --reuid=65534 --regid=65534 --clear-groups "$IPSECCTL" status --socket "$SOCK"
expect "uid 65534 with the group as a supplementary group" 0 'no IKE SAs' \
  setpriv --reuid=65534 --regid=65534 --groups=0 "$IPSECCTL" status --socket "$SOCK"
chmod 660 "$SOCK"

# A slow reader of a large answer holds up nobody: 3,000 connections make list-conns' answer
# larger than the socket takes; other clients are answered while it reads nothing.
python3 - "$FILES" >"$FILES/many.json" <<'PY'
import json, sys
conns = {f"c{i}": {"local": {"address": "192.0.2.1", "id": f"fqdn:l{i}.example"},
                   "remote": {"address": "192.0.2.2", "id": f"fqdn:r{i}.example"},
                   "psk_file": "shared.psk", "children": {"lan": {}}} for i in range(3000)}
json.dump({"connections": conns}, sys.stdout)
PY
"$IPSECCTL" load -q --socket "$SOCK" "$FILES/base.json" "$FILES/many.json" \
  && ok "loaded 3,000 more connections" || bad "load of many.json failed"
python3 "$ABUSE" "$SOCK" slow 5 >"$WORK/slow.out" 2>&1 &
SLOW=$!
sleep 1
t0=$(date +%s%N)
for _ in 1 2 3; do "$IPSECCTL" status --socket "$SOCK" >/dev/null || bad "status failed"; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 5000 ] && ok "3 status answers in $ms ms while a reader sits on its list-conns" \
  || bad "status took $ms ms behind a slow reader"
n=$("$IPSECCTL" list-conns --json --socket "$SOCK" | jq '.connections | length')
[ "$n" = 3001 ] && ok "list-conns --json meanwhile: $n connections" || bad "list-conns: $n"
wait "$SLOW"
grep -qx 'after 5 s: 3001 connections' "$WORK/slow.out" \
  && ok "the slow reader gets its whole answer in the end: $(cat "$WORK/slow.out")" \
  || bad "slow reader: $(cat "$WORK/slow.out")"

# The journal holds no raw control character, and the daemon stops cleanly.
LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/d.log" \
  && bad "raw control characters in the log: $(LC_ALL=C grep -n $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/d.log" | head -3)" \
  || ok "the log has no raw control character ($(wc -l <"$WORK/d.log") lines)"
kill -TERM "$PID"; wait "$PID"; rc=$?
PIDS=()
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || bad "exit $rc: $(tail -3 "$WORK/d.log")"
[ ! -e "$SOCK" ] && ok "its socket is removed" || bad "socket left behind"
finish
