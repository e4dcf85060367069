#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rekeys and dead peers between two ipsecd (memory kernel: its lifetimes run on the wall
# clock, so its soft and hard EXPIREs reach the daemons as the real kernel's would) in
# network namespaces over real UDP. CHILD SA lifetime 3 s (rekey), 6 s (hard), IKE SA
# rekey_time 8 s, both sides; then left is killed (SIGKILL) and right, with dpd_delay 2 s
# and dpd_timeout 4 s, must find it dead within 2 + 4 s (plus a second of slack for the
# memory kernel's one-second clock and scheduling) and clear everything.
set -u
. "$(dirname "$0")/lib.sh"
make_namespaces "192.0.2.1" "192.0.2.2"
EX=$SRC/policies/examples/ikev2-psk-tunnel
cp "$EX"/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk
for side in left right; do
  jq '.connections[] |= (.rekey_time = 8 | .over_time = 30 | .rand_time = 1
        | .dpd_delay = 2 | .dpd_timeout = 4
        | .children.lan += {rekey_time: 3, life_time: 6, rand_time: 1})' \
    "$EX/$side.json" >"$WORK/$side.json"
done
start_ipsecd "$NSB" right --config "$WORK/right.json" --log-level debug
PIDB=$LAST_PID
wait_socket "$WORK/right.sock" || { bad "right did not start: $(cat "$WORK"/right.log)"; finish; exit; }
"$IPSECCTL" monitor --socket "$WORK/right.sock" --json --timeout 120 >"$WORK/right.mon" 2>&1 &
PIDS+=("$!")
sleep 0.3
start_ipsecd "$NSA" left --config "$WORK/left.json" --log-level debug
PIDA=$LAST_PID
wait_socket "$WORK/left.sock" || { bad "left did not start"; finish; exit; }

# The installed CHILD SAs of established IKE SAs: "ike_spi_i child_in child_out" lines.
tunnels() {
  ctl "$1" status --json | jq -r '.ike_sas[] | select(.state == "established") | . as $sa
    | .children[] | select(.state == "installed") | "\($sa.spi_i) \(.spi_in) \(.spi_out)"'
}
steady() {
  local a b
  a=$(tunnels left) b=$(tunnels right)
  [ -n "$a" ] && [ -n "$b" ] && [ "$(wc -l <<<"$a")" = 1 ] && [ "$(wc -l <<<"$b")" = 1 ] || return 1
  read -r ai ain aout <<<"$a"
  read -r bi bin bout <<<"$b"
  [ "$ai" = "$bi" ] && [ "$ain" = "$bout" ] && [ "$aout" = "$bin" ]
}
count() { jq -s "[.[] | select(.event == \"$1\")] | length" "$WORK/right.mon"; }

poll steady && ok "tunnel up" || bad "no tunnel: $(ctl left status; ctl right status)"
first=$(tunnels left)
# 20 s: about six CHILD SA rekeys and two IKE SA rekeys; the kernel's SA count is sampled.
max=0
for _ in $(seq 100); do
  n=$(ctl left status --json | jq '[.ike_sas[].children[] | select(.state != "negotiating")] | length')
  [ "${n:-0}" -gt "$max" ] && max=$n
  sleep 0.2
done
jq -r "[.time, .event, .spi_in // \"\", .old_spi_in // \"\"] | join(\" \")" "$WORK/right.mon" | head -30
rekeys=$(count child-rekeyed) ike_rekeys=$(count ike-rekeyed) downs=$(count child-down)
echo "right saw $rekeys CHILD rekeys, $ike_rekeys IKE rekeys, $downs CHILD SAs down; at most $max CHILD SAs on left"
[ "$rekeys" -ge 4 ] && ok "CHILD SAs rekeyed ($rekeys in 20 s at a 2-3 s soft lifetime)" \
  || bad "only $rekeys CHILD rekeys: $(tail -n 40 "$WORK"/left.log)"
[ "$ike_rekeys" -ge 1 ] && ok "IKE SA rekeyed ($ike_rekeys)" || bad "no IKE rekey"
[ "$downs" = 0 ] && ok "no CHILD SA ever went down (no hard expiry)" || bad "$downs CHILD SAs down"
[ "$max" -le 2 ] && ok "never more than the old and the new CHILD SA on left ($max)" \
  || bad "$max CHILD SAs at once"
poll steady && ok "steady again: one IKE SA, one CHILD SA, crossed SPIs" \
  || bad "not steady: $(ctl left status; ctl right status)"
[ "$(tunnels left)" != "$first" ] && ok "new IKE and CHILD SPIs" || bad "SPIs never changed"
last=$(ctl right status --json | jq -r '.ike_sas[0].children[0].last_rekey_seconds_ago')
[ "${last:--1}" -ge 0 ] && ok "status shows the last rekey (${last}s ago)" || bad "no last rekey in status"

# Dead peer: left disappears without a word.
kill -9 "$PIDA"
t0=$(date +%s.%N)
gone() { [ "$(ctl right status --json | jq '.ike_sas | length')" = 0 ]; }
poll gone
t1=$(date +%s.%N)
took=$(echo "$t1 - $t0" | bc)
echo "right found left dead after ${took}s (dpd_delay 2 s + dpd_timeout 4 s)"
gone && [ "$(echo "$took <= 7.5" | bc)" = 1 ] && ok "dead peer found within dpd_delay + dpd_timeout" \
  || bad "dead peer not found in time (${took}s): $(ctl right status)"
[ "$(count dpd-failed)" -ge 1 ] && ok "monitor saw dpd-failed" || bad "no dpd-failed event"
kill -TERM "$PIDB"
finish
