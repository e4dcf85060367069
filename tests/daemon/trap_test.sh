#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On-demand on this machine's real kernel (XFRM netlink; ESP itself is not needed): an
# ipsecd whose connection has start_action "on-demand" installs trap policies that
# `ip xfrm policy` shows; a packet that matches them makes the kernel send an ACQUIRE,
# which the daemon turns into a negotiation (monitor: "acquire" on the left, the peer
# sees an IKE SA come up); loading a file without the trap takes its policies out, loading
# it again puts them back; after SIGTERM nothing the daemon installed is left in the
# kernel: no policy but per-socket ones, no SA but the kernel's own ACQUIRE placeholders
# (SPI 0). The peer runs with the memory kernel.
set -u
. "$(dirname "$0")/lib.sh"
make_namespaces "192.0.2.1" "192.0.2.2"
ip -n "$NSA" addr add 198.51.100.1/32 dev lo
ip -n "$NSA" route add 203.0.113.0/24 via 192.0.2.2 dev veth0 src 198.51.100.1
EX=$SRC/policies/examples
cp "$EX"/ikev2-psk-ondemand/left.json "$WORK/od.json"
cp "$EX"/ikev2-psk-ondemand/right.json "$WORK/right.json"
cp "$EX"/ikev2-psk-tunnel/left.json "$WORK/start.json"
cp "$EX"/ikev2-psk-tunnel/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk
MONS=()

# SAs with an SPI other than 0 (0: the kernel's own ACQUIRE placeholder).
our_states() { ip -n "$NSA" xfrm state list | grep -E '^\s+proto .* spi 0x' | grep -vc 'spi 0x00000000' || true; }
monitor() {
  "$IPSECCTL" monitor --socket "$WORK/$1.sock" --json --timeout 120 >"$WORK/$1.mon" \
    2>"$WORK/$1.mon.err" &
  MONS+=("$!")
  PIDS+=("$!")
}
seen() { jq -e -s "any(.[]; $2)" "$WORK/$1.mon" >/dev/null 2>&1; }

[ "$(with_reqid 9)" = 0 ] || { bad "policies before ipsecd started"; finish; exit; }
start_ipsecd "$NSB" right --workers 1 --config "$WORK/right.json"
PIDB=$LAST_PID
# The left one on the real kernel: start_ipsecd adds --memory-kernel.
ip netns exec "$NSA" "$IPSECD" --workers 2 --control "$WORK/left.sock" --config "$WORK/od.json" \
  --log-level debug 2>"$WORK/left.log" &
PIDA=$!
PIDS+=("$PIDA")
wait_socket "$WORK/right.sock" || { bad "right ipsecd did not start: $(cat "$WORK/right.log")"; finish; exit; }
if ! wait_socket "$WORK/left.sock"; then
  if grep -q "kernel" "$WORK/left.log"; then
    echo "SKIPPED: ipsecd cannot use this kernel's XFRM: $(cat "$WORK/left.log")"; exit 77
  fi
  bad "left ipsecd did not start: $(cat "$WORK/left.log")"; finish; exit
fi
ok "ipsecd runs on the real kernel with an on-demand connection"

has_trap() { [ "$(with_reqid 9)" -ge 1 ]; }
poll has_trap && ok "ip xfrm policy shows the trap policies (reqid 9): $(with_reqid 9)" \
  || { bad "no trap policy in the kernel: $(ip -n "$NSA" xfrm policy)"; }
policies | grep -q "src 198.51.100.0/24 dst 203.0.113.0/24 dir out .*tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 9 mode tunnel" &&
  ok "the outbound trap: the connection's selectors, an ESP tunnel template" \
  || bad "outbound trap policy: $(policies)"
ctl left list-conns | grep -q "on demand, trap policies installed" && ok "list-conns says the trap is installed" \
  || bad "list-conns: $(ctl left list-conns)"
[ "$(ctl left status --json | jq '.ike_sas | length')" = 0 ] && ok "no IKE SA before the first packet" \
  || bad "an IKE SA before any traffic: $(ctl left status)"

monitor left
monitor right
sleep 0.5
ip netns exec "$NSA" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.1", 0))
try:
    s.sendto(b"interesting", ("203.0.113.7", 9))
except OSError:
    pass  # held or refused by the kernel: the ACQUIRE is what counts
'
acquired() { seen left 'select(.event == "acquire" and .connection == "to-right")'; }
poll acquired && ok "monitor: the kernel's ACQUIRE ($(jq -r -s '[.[] | select(.event == "acquire")][0].detail' "$WORK/left.mon"))" \
  || { bad "no acquire event: $(cat "$WORK/left.mon")"; tail -n 20 "$WORK/left.log"; }
negotiated() { seen right 'select(.event == "ike-up" and .connection == "to-left")'; }
poll negotiated && ok "the ACQUIRE started a negotiation: the peer has an IKE SA" \
  || bad "the peer saw no IKE SA: $(ctl right status)"

# Loading a file without the trap takes its policies out; loading it again puts them back.
ctl left load "$WORK/start.json" >/dev/null && ok "load the start (not on-demand) file" || bad "load start.json"
no_trap() { [ "$(with_reqid 9)" = 0 ]; }
poll no_trap && ok "the trap policies left with the on-demand connection" \
  || bad "trap policies after loading without them: $(policies)"
ctl left load "$WORK/od.json" >/dev/null && ok "load the on-demand file again" || bad "load od.json"
poll has_trap && ok "the trap policies are back" || bad "no trap after loading it again"

kill -TERM "$PIDA"
wait "$PIDA"; rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || bad "exit code $rc"
grep -q "removed the trap policies" "$WORK/left.log" && ok "the log says the traps were removed" \
  || bad "no trap removal in the log: $(tail -n 5 "$WORK/left.log")"
left=$(policies)
[ -z "$left" ] && ok "after SIGTERM: no policy left but per-socket ones" || bad "policies left: $left"
[ "$(our_states)" = 0 ] && ok "after SIGTERM: no SA left but the kernel's ACQUIRE placeholders" \
  || bad "SAs left: $(ip -n "$NSA" xfrm state)"
finish
