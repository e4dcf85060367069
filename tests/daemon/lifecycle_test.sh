#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The IKEv2 lifecycle as an operator drives and watches it, between two ipsecd (memory
# kernel) in network namespaces over real UDP: `ipsecctl monitor` on both sides sees
# ike-up and child-up (with the SPIs status shows) when the pair comes up, child-down and
# ike-down at `down`; `down --all` empties both sides and lists what it deleted;
# `restart` brings the tunnel back with new IKE and CHILD SPIs; an on-demand connection
# shows its trap policies in list-conns and keeps them through `restart`; monitor
# --count stops by itself; at SIGTERM monitors see the SAs go and then exit 6.
# IPSECD_WORKERS: --workers on both sides (default 2).
set -u
. "$(dirname "$0")/lib.sh"
W=${IPSECD_WORKERS:-2}
make_namespaces "192.0.2.1" "192.0.2.2"
EX=$SRC/policies/examples
cp "$EX"/ikev2-psk-tunnel/left.json "$EX"/ikev2-psk-tunnel/right.json "$WORK"/
cp "$EX"/ikev2-psk-tunnel/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk
MONS=()

# The installed CHILD SAs of established IKE SAs: "spi_i spi_r child_in child_out" lines.
tunnels() {
  ctl "$1" status --json | jq -r '.ike_sas[] | select(.state == "established") | . as $sa
    | .children[] | select(.state == "installed")
    | "\($sa.spi_i) \($sa.spi_r) \(.spi_in) \(.spi_out)"' 2>/dev/null
}
# One tunnel on each side, the same IKE SPIs and crossed CHILD SPIs.
tunnel_up() {
  local a b
  a=$(tunnels left) b=$(tunnels right)
  [ "$(wc -l <<<"$a")" = 1 ] && [ "$(wc -l <<<"$b")" = 1 ] && [ -n "$a" ] && [ -n "$b" ] || return 1
  read -r ai ar ain aout <<<"$a"
  read -r bi br bin bout <<<"$b"
  [ "$ai" = "$bi" ] && [ "$ar" = "$br" ] && [ "$ain" = "$bout" ] && [ "$aout" = "$bin" ]
}
no_sa() {
  [ "$(ctl left status --json | jq '.ike_sas | length')" = 0 ] &&
    [ "$(ctl right status --json | jq '.ike_sas | length')" = 0 ]
}
# monitor NAME: a monitor of daemon NAME in the background, JSON lines in $WORK/NAME.mon
monitor() {
  "$IPSECCTL" monitor --socket "$WORK/$1.sock" --json --timeout 120 >"$WORK/$1.mon" \
    2>"$WORK/$1.mon.err" &
  MONS+=("$!")
  PIDS+=("$!")
}
# seen NAME JQ-FILTER: some event line of NAME's monitor matches
seen() { jq -e -s "any(.[]; $2)" "$WORK/$1.mon" >/dev/null 2>&1; }

start_ipsecd "$NSB" right --workers "$W" --config "$WORK/right.json"
PIDB=$LAST_PID
start_ipsecd "$NSA" left --workers "$W" --log-level debug  # no connection yet
PIDA=$LAST_PID
wait_socket "$WORK/right.sock" && wait_socket "$WORK/left.sock" && ok "both ipsecd listen" \
  || { bad "ipsecd did not start: $(cat "$WORK"/*.log)"; finish; exit; }
monitor left
monitor right
sleep 0.5  # the monitors subscribe before anything happens
ctl left load "$WORK/left.json" >/dev/null && ok "left loads to-right (start action: start)" \
  || bad "load refused"

poll tunnel_up && ok "the tunnel is up on both sides" || bad "no tunnel: $(ctl left status; ctl right status)"
read -r spi_i spi_r child_in child_out <<<"$(tunnels left)"
up_events() {
  seen left "select(.event == \"ike-up\" and .connection == \"to-right\" and .ike_spi == \"$spi_i\")" &&
    seen left "select(.event == \"child-up\" and .connection == \"to-right\" and .child == \"lan\"
               and .spi_in == \"$child_in\" and .spi_out == \"$child_out\")" &&
    seen right "select(.event == \"ike-up\" and .connection == \"to-left\" and .ike_spi == \"$spi_r\")" &&
    seen right "select(.event == \"child-up\" and .spi_in == \"$child_out\" and .spi_out == \"$child_in\")"
}
poll up_events && ok "monitor: ike-up and child-up on both sides, with the SPIs status shows" \
  || { bad "monitor did not see the pair come up"; cat "$WORK/left.mon" "$WORK/right.mon"; }
jq -e -s 'all(.[]; .time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))' \
  "$WORK/left.mon" >/dev/null && ok "monitor: every event has a UTC time" || bad "event times"

list=$(ctl left list-conns)
grep -q "^to-right: 192.0.2.1\[500\] (.*) \.\.\. 192.0.2.2\[500\] (.*), child lan, started at load$" <<<"$list" &&
  ! grep -q "start start" <<<"$list" && grep -q "^  CHILD rekey .*; IKE rekey " <<<"$list" &&
  ok "list-conns: the start action once, and the lifetimes" || bad "list-conns: $list"

# --- down: child-down and ike-down, on both sides ---
ctl left down to-right >/dev/null && ok "down accepted" || bad "down refused"
poll no_sa && ok "down: no SA on either side" || bad "SAs left after down: $(ctl left status; ctl right status)"
down_events() {
  seen left "select(.event == \"child-down\" and .spi_in == \"$child_in\")" &&
    seen left "select(.event == \"ike-down\" and .ike_spi == \"$spi_i\")" &&
    seen right "select(.event == \"child-down\" and .spi_in == \"$child_out\")" &&
    seen right "select(.event == \"ike-down\" and .ike_spi == \"$spi_r\")"
}
poll down_events && ok "monitor: child-down and ike-down on both sides" \
  || { bad "monitor did not see the down"; cat "$WORK/left.mon" "$WORK/right.mon"; }
seen right 'select(.event == "ike-down" and (.reason | length) > 0)' &&
  ok "monitor: ike-down says why ($(jq -r -s '[.[] | select(.event == "ike-down")][0].reason' "$WORK/right.mon"))" ||
  bad "ike-down without a reason"

# --- monitor --count stops by itself ---
"$IPSECCTL" monitor --socket "$WORK/left.sock" --count 2 --timeout 60 >"$WORK/count.out" 2>&1 &
cpid=$!
sleep 0.5
ctl left up to-right >/dev/null && ok "up accepted" || bad "up refused"
wait "$cpid"; rc=$?
[ "$rc" = 0 ] && [ "$(wc -l <"$WORK/count.out")" = 2 ] && grep -q " ike-up to-right IKE 0x" "$WORK/count.out" &&
  ok "monitor --count 2: exit 0 after two readable lines" || { bad "monitor --count: rc=$rc"; cat "$WORK/count.out"; }
poll tunnel_up && ok "up: the tunnel again" || bad "no tunnel after up"

# --- down --all on the responder ---
out=$("$IPSECCTL" down --socket "$WORK/right.sock" --all 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "deleting 1 IKE SA(s)" <<<"$out" && grep -q "^  to-left 0x" <<<"$out" &&
  ok "down --all lists what it deletes" || bad "down --all: rc=$rc $out"
poll no_sa && ok "down --all: no SA on either side" || bad "SAs left after down --all"
out=$("$IPSECCTL" down --socket "$WORK/right.sock" --all 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "no established IKE SAs" <<<"$out" && ok "down --all with nothing up: exit 0" \
  || bad "second down --all: rc=$rc $out"

# --- restart: new SPIs ---
ctl left up to-right >/dev/null
poll tunnel_up || bad "no tunnel before restart"
before=$(tunnels left)
out=$("$IPSECCTL" restart --socket "$WORK/left.sock" to-right 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "restarted to-right: 1 IKE SA(s) deleted, initiated IKE SA 0x" <<<"$out" &&
  ok "restart accepted" || bad "restart: rc=$rc $out"
renewed() { tunnel_up && [ "$(tunnels left)" != "$before" ]; }
poll renewed && ok "restart: the tunnel is back" || bad "no tunnel after restart: $(ctl left status)"
read -r b_i b_r b_in b_out <<<"$before"
read -r n_i n_r n_in n_out <<<"$(tunnels left)"
[ "$n_i" != "$b_i" ] && [ "$n_r" != "$b_r" ] && [ "$n_in" != "$b_in" ] && [ "$n_out" != "$b_out" ] &&
  ok "restart: new IKE SPIs and new CHILD SPIs" || bad "restart kept SPIs: $before -> $n_i $n_r $n_in $n_out"
restart_events() {
  seen left "select(.event == \"ike-down\" and .ike_spi == \"$b_i\")" &&
    seen left "select(.event == \"ike-up\" and .ike_spi == \"$n_i\")"
}
poll restart_events && ok "monitor: the old IKE SA down, the new one up" || bad "restart events"
"$IPSECCTL" restart --socket "$WORK/left.sock" nonexistent >/dev/null 2>&1; rc=$?
[ "$rc" = 6 ] && ok "restart of an unknown connection: exit 6" || bad "restart unknown: rc=$rc"

# --- an on-demand connection: trap policies, and restart keeps it trapped ---
cp "$EX"/ikev2-psk-ondemand/left.json "$WORK/od.json"
ctl left load "$WORK/od.json" >/dev/null && ok "left loads the on-demand example" || bad "od load"
list=$(ctl left list-conns)
grep -q "^to-right: .*, on demand, trap policies installed$" <<<"$list" &&
  ok "list-conns: on demand, trap policies installed" || bad "list-conns after od load: $list"
grep -q "dpd 30s (timeout 1m 30s, then trap); close action trap" <<<"$list" &&
  ok "list-conns: DPD and close action of the file" || bad "list-conns settings: $list"
poll no_sa && ok "the changed connection lost its IKE SA, none started (on demand)" \
  || bad "SAs after loading the on-demand file: $(ctl left status)"
out=$("$IPSECCTL" restart --socket "$WORK/left.sock" to-right 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "trap policies in place" <<<"$out" &&
  ctl left list-conns | grep -q "trap policies installed" && ok "restart of an on-demand connection: back to trap" \
  || bad "restart od: rc=$rc $out"

# --- SIGTERM: the monitors see the end and exit 6 ---
ctl left load "$WORK/left.json" >/dev/null
poll tunnel_up || bad "no tunnel before SIGTERM"
read -r t_i _ <<<"$(tunnels left)"
kill -TERM "$PIDA" "$PIDB"
wait "$PIDA"; rca=$?
wait "$PIDB"; rcb=$?
[ "$rca" = 0 ] && [ "$rcb" = 0 ] && ok "SIGTERM: both exit 0" || bad "exit codes $rca $rcb"
for m in "${MONS[@]}"; do wait "$m"; echo $? >>"$WORK/mon.rc"; done
[ "$(sort -u "$WORK/mon.rc")" = 6 ] && grep -q "ipsecd closed the connection" "$WORK/left.mon.err" &&
  ok "the monitors exit 6 when their daemon stops" || bad "monitor exit codes: $(cat "$WORK/mon.rc")"
seen left "select(.event == \"ike-down\" and .ike_spi == \"$t_i\")" &&
  ok "monitor: the shutdown's ike-down reached the monitor" || bad "no ike-down at shutdown"
finish
