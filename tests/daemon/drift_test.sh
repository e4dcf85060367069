#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Drift repair on this machine's real kernel (XFRM netlink; ESP itself is not needed): an
# ipsecd with an on-demand connection holds trap policies. Behind its back,
# `ip xfrm policy flush` removes them and `ip xfrm policy update` turns one into a block:
# ipsecd puts them back within a second or two (the kernel's policy events bring the
# reconcile forward), says so in its log, on `monitor` ("repair") and in status counters.
# A foreign policy overlapping ours is reported once and left in place. SA drift needs ESP
# SAs: the guest case ikev2-drift covers it.
set -u
. "$(dirname "$0")/lib.sh"
make_namespaces "192.0.2.1" "192.0.2.2"
EX=$SRC/policies/examples
cp "$EX"/ikev2-psk-ondemand/left.json "$WORK/od.json"
cp "$EX"/ikev2-psk-tunnel/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk

counter() { ctl left status --json | jq -r ".counters.$1"; }

# --reconcile-interval 0: every repair below comes from the kernel's events, not a timer.
ip netns exec "$NSA" "$IPSECD" --workers 1 --control "$WORK/left.sock" --config "$WORK/od.json" \
  --reconcile-interval 0 2>"$WORK/left.log" &
PIDS+=("$!")
if ! wait_socket "$WORK/left.sock"; then
  if grep -q "kernel" "$WORK/left.log"; then
    echo "SKIPPED: ipsecd cannot use this kernel's XFRM: $(cat "$WORK/left.log")"; exit 77
  fi
  bad "ipsecd did not start: $(cat "$WORK/left.log")"; finish; exit
fi
has_traps() { [ "$(with_reqid 9)" -ge 3 ]; }
poll has_traps && ok "ipsecd on the real kernel holds its trap policies: $(with_reqid 9)" \
  || { bad "no trap policies: $(policies)"; finish; exit; }
N=$(with_reqid 9)
before=$(policies | sort)
"$IPSECCTL" monitor --socket "$WORK/left.sock" --json --timeout 60 >"$WORK/left.mon" 2>&1 &
PIDS+=("$!")
sleep 0.3

ip -n "$NSA" xfrm policy flush
t0=$(date +%s%N)
back() { [ "$(policies | sort)" = "$before" ]; }
if poll back; then
  ok "ip xfrm policy flush: all $N trap policies back, as they were, in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
  bad "after a flush: $(policies)"
fi
[ "$(counter policies_reinstalled)" = "$N" ] && ok "status: policies_reinstalled $N" \
  || bad "policies_reinstalled: $(counter policies_reinstalled)"
grep -q "drift: policy .* was gone from the kernel: installed again" "$WORK/left.log" \
  && ok "the log says so: $(grep -m1 "drift:" "$WORK/left.log")" || bad "log: $(tail -5 "$WORK/left.log")"
repairs() { jq -s '[.[] | select(.event == "repair")] | length' "$WORK/left.mon" 2>/dev/null; }
seen_repairs() { [ "$(repairs)" -ge "$N" ]; }
poll seen_repairs && ok "monitor: $(repairs) repair events" || bad "monitor: $(cat "$WORK/left.mon")"

# One of ours changed behind our back: the outbound trap turned into a block.
ip -n "$NSA" xfrm policy update src 198.51.100.0/24 dst 203.0.113.0/24 dir out priority 0 action block 2>/dev/null ||
  ip -n "$NSA" xfrm policy update src 198.51.100.0/24 dst 203.0.113.0/24 dir out action block
poll back && ok "ip xfrm policy update (action block): restored as ipsecd installed it" \
  || bad "after an update: $(policies)"
[ "$(counter policies_restored)" -ge 1 ] && ok "status: policies_restored $(counter policies_restored)" \
  || bad "policies_restored: $(counter policies_restored)"

# Someone else's policy for part of our traffic: reported, never touched.
ip -n "$NSA" xfrm policy add src 198.51.100.7/32 dst 203.0.113.0/24 dir out priority 10 action block
foreign() { [ "$(counter foreign_policies)" = 1 ]; }
poll foreign && ok "a foreign policy overlapping ours is reported: $(grep -m1 "not ours" "$WORK/left.log" | sed 's/.*drift: //')" \
  || bad "foreign_policies: $(counter foreign_policies)"
before=$(policies | sort)  # the foreign one included from now on
ip -n "$NSA" xfrm policy update src 198.51.100.0/24 dst 203.0.113.0/24 dir out action block
poll back && ok "another change of ours restored meanwhile" || bad "after a second update: $(policies)"
[ "$(counter foreign_policies)" = 1 ] && ok "foreign_policies stays 1" || bad "foreign_policies: $(counter foreign_policies)"
policies | grep -q "src 198.51.100.7/32 dst 203.0.113.0/24 dir out action block priority 10" \
  && ok "the foreign policy is still there" || bad "foreign policy gone: $(policies)"
ip -n "$NSA" xfrm policy delete src 198.51.100.7/32 dst 203.0.113.0/24 dir out
finish
