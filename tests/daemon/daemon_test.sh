#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two ipsecd, one per network namespace, joined by a veth (192.0.2.1/24 and
# 192.0.2.2/24), negotiate the ikev2-psk-tunnel example over real UDP with the
# in-memory kernel; ipsecctl drives them: status, list-conns, down, up, SIGTERM.
# IPSECD_WORKERS: ipsecd's --workers on both sides (default: ipsecd's own, one per CPU).
set -u
IPSECD=${IPSECD:?set IPSECD to the ipsecd binary}
IPSECCTL=${IPSECCTL:?set IPSECCTL to the ipsecctl binary}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORKERS=()
[ -n "${IPSECD_WORKERS:-}" ] && WORKERS=(--workers "$IPSECD_WORKERS")
EXAMPLE=$SRC/policies/examples/ikev2-psk-tunnel
if [ "$(id -u)" != 0 ]; then echo "SKIPPED: needs root to create network namespaces"; exit 77; fi
command -v jq >/dev/null || { echo "SKIPPED: jq is not installed"; exit 77; }
NSA=ipsecd-a-$$ NSB=ipsecd-b-$$
WORK=$(mktemp -d /var/tmp/ipsecd-test.XXXXXX)
PIDA= PIDB=
cleanup() {
  for p in $PIDA $PIDB; do kill "$p" 2>/dev/null; done
  for p in $PIDA $PIDB; do wait "$p" 2>/dev/null; done
  ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NSA" && ip netns add "$NSB" || { echo "SKIPPED: cannot create network namespaces"; exit 77; }
ip -n "$NSA" link add veth0 type veth peer name veth0 netns "$NSB" || { echo "SKIPPED: no veth"; exit 77; }
ip -n "$NSA" addr add 192.0.2.1/24 dev veth0 && ip -n "$NSB" addr add 192.0.2.2/24 dev veth0
ip -n "$NSA" link set veth0 up && ip -n "$NSB" link set veth0 up
ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up
cp "$EXAMPLE"/left.json "$EXAMPLE"/right.json "$EXAMPLE"/shared.psk "$WORK"/
chmod 600 "$WORK"/shared.psk

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
ctla() { local c=$1; shift; ip netns exec "$NSA" "$IPSECCTL" "$c" --socket "$WORK/a.sock" "$@" 2>/dev/null; }
ctlb() { local c=$1; shift; ip netns exec "$NSB" "$IPSECCTL" "$c" --socket "$WORK/b.sock" "$@" 2>/dev/null; }

# Waits (bounded) for a control socket to answer.
wait_socket() {
  for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
  return 1
}

# "spi_i spi_r child_spi_in child_spi_out" of the established SA with an installed child.
tunnel() {
  jq -r '.ike_sas[] | select(.state == "established") | . as $sa
         | .children[] | select(.state == "installed")
         | "\($sa.spi_i) \($sa.spi_r) \(.spi_in) \(.spi_out)"' 2>/dev/null
}

# True when both sides show one tunnel with matching IKE and CHILD SPIs.
tunnel_up() {
  local a b
  a=$(ctla status --json | tunnel) b=$(ctlb status --json | tunnel)
  [ -n "$a" ] && [ -n "$b" ] || return 1
  read -r ai ar ain aout <<<"$a"
  read -r bi br bin bout <<<"$b"
  [ "$ai" = "$bi" ] && [ "$ar" = "$br" ] && [ "$ain" = "$bout" ] && [ "$aout" = "$bin" ]
}

no_sa() { [ "$(ctla status --json | jq '.ike_sas | length')" = 0 ] && \
          [ "$(ctlb status --json | jq '.ike_sas | length')" = 0 ]; }

# Polls a condition for at most ~20 s.
poll() { for _ in $(seq 100); do "$@" && return 0; sleep 0.2; done; return 1; }

ip netns exec "$NSB" "$IPSECD" "${WORKERS[@]}" --memory-kernel --config "$WORK/right.json" \
  --control "$WORK/b.sock" --pid-file "$WORK/b.pid" 2>"$WORK/b.log" &
PIDB=$!
wait_socket "$WORK/b.sock" && ok "right ipsecd listens" || bad "right ipsecd did not start: $(cat "$WORK/b.log")"
# left.json's child has start_action "start": it initiates by itself
ip netns exec "$NSA" "$IPSECD" "${WORKERS[@]}" --memory-kernel --config "$WORK/left.json" \
  --control "$WORK/a.sock" --log-level debug 2>"$WORK/a.log" &
PIDA=$!
wait_socket "$WORK/a.sock" && ok "left ipsecd listens" || bad "left ipsecd did not start: $(cat "$WORK/a.log")"
[ "$(stat -c %a "$WORK/a.sock")" = 660 ] && ok "control socket mode 0660" || bad "control socket mode"
[ "$(cat "$WORK/b.pid" 2>/dev/null)" = "$PIDB" ] && ok "pid file written" || bad "pid file"

poll tunnel_up && ok "start_action: IKE SA established, CHILD SA installed, SPIs match" \
  || bad "no tunnel after start: $(ctla status; ctlb status)"
ctla list-conns | grep -q '^to-right: 192.0.2.1\[500\]' && ok "list-conns" || bad "list-conns: $(ctla list-conns)"
ctla status | grep -q 'established' && ok "status text" || bad "status text: $(ctla status)"
ctla status --json | jq -e '.ike_sas[0].algorithms | test("AES_GCM")' >/dev/null \
  && ok "status shows the negotiated algorithms" || bad "algorithms: $(ctla status --json)"

ctla down to-right >/dev/null && ok "down accepted" || bad "down refused"
poll no_sa && ok "down: no SA on either side" || bad "SAs left after down: $(ctla status; ctlb status)"
ctla down to-right >/dev/null; [ $? = 6 ] && ok "down without an SA fails (exit 6)" || bad "down without SA"
ctla up nonexistent >/dev/null; [ $? = 6 ] && ok "up of an unknown connection fails" || bad "up unknown"

ctla up to-right >/dev/null && ok "up accepted" || bad "up refused"
poll tunnel_up && ok "up: tunnel again with matching SPIs" || bad "no tunnel after up: $(ctla status; ctlb status)"
kill -HUP "$PIDA"; sleep 0.5
kill -0 "$PIDA" 2>/dev/null && ctla status | grep -q established && grep -q 'SIGHUP: ignored' "$WORK/a.log" \
  && ok "SIGHUP: ignored with a warning, the tunnel stays" || bad "SIGHUP: $(tail -n 3 "$WORK/a.log")"

kill -TERM "$PIDA" "$PIDB"
wait "$PIDA"; rca=$?
wait "$PIDB"; rcb=$?
PIDA= PIDB=
[ "$rca" = 0 ] && [ "$rcb" = 0 ] && ok "SIGTERM: both exit 0" || bad "exit codes $rca $rcb"
grep -q 'deleting 1 IKE SA' "$WORK/a.log" "$WORK/b.log" && ok "SIGTERM deletes the IKE SA" \
  || bad "no graceful delete: $(cat "$WORK/a.log")"
[ ! -e "$WORK/a.sock" ] && [ ! -e "$WORK/b.pid" ] && ok "socket and pid file removed" || bad "leftovers"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
