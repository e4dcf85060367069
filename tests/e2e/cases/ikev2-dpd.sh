#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 dead peer detection (RFC 7296 §2.4) on Debian's real kernel. Two ipsecd
# (hostA - gwA = gwB - hostB) load tests/e2e/fixtures/lifecycle/dpd-*: dpd_delay 2 s
# and dpd_timeout 6 s on both, dpd_action "clear" on gwB. Proves:
#   1. with the tunnel up, gwA's ipsecd is killed with SIGKILL (it cannot send a
#      Delete; its kernel SAs and policies stay behind, as they would after a
#      crash: they are counted, then flushed by hand). gwB notices: a dpd-failed
#      event (ipsecctl monitor) and its IKE SA gone from status within
#      dpd_delay + dpd_timeout + a margin for TCG, measured from the kill; gwB's
#      kernel then holds no SA and no policy of the tunnel (dpd_action clear).
#   2. the same with dpd_action "restart" on gwB (a second configuration loaded
#      into a fresh gwB daemon): after the dpd-failed event gwB initiates the
#      connection again at once (its log and status show an IKE SA it initiated);
#      when a fresh ipsecd comes back on gwA (start_action none there this time),
#      the tunnel is up again, initiated by gwB, and carries traffic.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
topo_gateways

W=$(mktemp -d /tmp/ikev2-dpd.XXXXXX) || fail "mktemp"
fx=$FIXTURES/lifecycle
cp "$fx/dpd-left.json" "$W/left.json" && cp "$fx/dpd-right.json" "$W/right.json" &&
    cp "$fx/shared.psk" "$W/" || fail "copy $fx"
chmod 600 "$W/shared.psk"
# the restart run: gwB restarts on a dead peer; gwA waits for gwB (start_action none)
sed 's/"dpd_action": "clear"/"dpd_action": "restart"/' "$W/right.json" > "$W/right-restart.json"
sed 's/"start_action": "start"/"start_action": "none"/' "$W/left.json" > "$W/left-passive.json"
grep -q '"dpd_action": "restart"' "$W/right-restart.json" || fail "could not make right-restart.json"
grep -q '"start_action": "none"' "$W/left-passive.json" || fail "could not make left-passive.json"
CONN=to-right RCONN=to-left
DPD_DELAY=2 DPD_TIMEOUT=6
MARGIN=4   # TCG: timer and scheduling slack, status polling every 0.2 s

# kill_left NAME: SIGKILL gwA's ipsecd NAME; sets T_KILL. Its kernel state stays.
kill_left() {
    local name=$1 pid=${IPSECD_PID[$1]}
    T_KILL=$(lc_now)
    log "+ kill -9 $pid (ipsecd $name in gwA)"
    kill -KILL "$pid" || fail "kill -9 $pid"
    wait "$pid" 2>/dev/null
}
# flush_left: what the killed daemon left in gwA's kernel, then flush it
flush_left() {
    log "gwA's kernel after SIGKILL (SAs policies): $(xfrm_count gwA) - ipsecd had no chance to remove them"
    assert_eq "[gwA] SAs and policies left behind by the killed daemon" "2 3" "$(xfrm_count gwA)"
    ip netns exec gwA ip xfrm state flush && ip netns exec gwA ip xfrm policy flush || fail "flush gwA"
    log "flushed gwA's SAs and policies by hand (ip xfrm state/policy flush)"
}
# detect NAME EVENTS: waits (bounded) for gwB's IKE SA $ike_i to go from daemon NAME's
# status; sets DT_EV and DT_GONE (seconds from the kill to the dpd-failed event and to
# the IKE SA being gone) and checks them against the bound
detect() {
    local name=$1 ev=$2 t_gone t_ev bound
    bound=$(( DPD_DELAY + DPD_TIMEOUT + MARGIN ))
    lc_wait_until $(( bound + 20 )) eval '[ "$(lc_status "$name" | jq "[.ike_sas // [] | .[] | select(.spi_i == \"$ike_i\")] | length")" = 0 ]' ||
        { lc_status "$name" | jq .; fail "gwB still lists IKE SA $ike_i $(( bound + 20 )) s after the kill"; }
    t_gone=$(lc_now)
    lc_wait_until 5 eval '[ "$(lc_events "$ev" dpd-failed)" -ge 1 ]' || true
    t_ev=$(lc_event_time "$ev" dpd-failed)
    sed 's/^/    ['"$(basename "$ev" .txt)"'] /' "$ev" | cut -c1-220
    [ -n "$t_ev" ] || fail "no dpd-failed event from gwB"
    DT_GONE=$(awk -v a="$T_KILL" -v b="$t_gone" 'BEGIN { printf "%.1f", b - a }')
    DT_EV=$(awk -v a="$T_KILL" -v b="$t_ev" 'BEGIN { printf "%.1f", b - a }')
    log "after the kill: dpd-failed event at +$DT_EV s, IKE SA gone from gwB's status at +$DT_GONE s (bound: dpd_delay $DPD_DELAY + dpd_timeout $DPD_TIMEOUT + margin $MARGIN = $bound s)"
    awk -v t="$DT_EV" -v b="$bound" 'BEGIN { exit !(t <= b) }' || fail "dpd-failed $DT_EV s after the kill, more than $bound s"
    awk -v t="$DT_GONE" -v b="$bound" 'BEGIN { exit !(t <= b) }' || fail "IKE SA gone $DT_GONE s after the kill, more than $bound s"
    grep -iE 'liveness|dead|retransmit|closed' "$E2E_OUT/ipsecd-$name.log" | tail -n 8 | sed 's/^/    [gwB log] /'
}

step "1. dpd_action clear: start ipsecd in gwB and gwA (start_action start)"
ipsecd_start gwB b "$W/right.json"
EV1=$E2E_OUT/dpd-events-gwB-clear.txt
lc_monitor_start b "$EV1" 120
ipsecd_start gwA a "$W/left.json"
ipsecd_pair_up a b "$CONN" tunnel gwA gwB
sab=$PAIR_OUT sba=$PAIR_IN
ike_i=$(lc_status b | jq -r '.ike_sas[0].spi_i')
check_child_kernel gwB tunnel 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 "$sba" "$sab"
ping_ok hostA 203.0.113.10 3
list=$(ipsecd_ctl b list-conns --json | jq -c "[.. | objects | select(.name? == \"$RCONN\") | {dpd_delay_seconds, dpd_timeout_seconds, dpd_action}] | first")
log "gwB's connection: $list"
assert_eq "gwB's DPD settings" "{\"dpd_delay_seconds\":$DPD_DELAY,\"dpd_timeout_seconds\":$DPD_TIMEOUT,\"dpd_action\":\"clear\"}" "$list"
# liveness checks flow while both are alive, and the tunnel stays up
sleep $(( DPD_DELAY * 2 + 1 ))
assert_eq "gwB's IKE SA $ike_i still up after $(( DPD_DELAY * 2 + 1 )) s of idle (DPD answered)" 1 \
    "$(lc_status b | jq "[.ike_sas[] | select(.spi_i == \"$ike_i\" and .state == \"established\")] | length")"
log "liveness checks answered by gwB so far: $(lc_status b | jq '.counters.liveness_answered'), by gwA: $(lc_status a | jq '.counters.liveness_answered')"

step "kill -9 gwA's ipsecd; gwB must notice within $(( DPD_DELAY + DPD_TIMEOUT )) s (+$MARGIN)"
kill_left a
detect b "$EV1"
DT1=$DT_EV
assert_eq "[gwB] SAs and policies of the tunnel after the dead peer (dpd_action clear)" "0 0" "$(xfrm_count gwB)"
assert_eq "[gwB] IKE SAs after the dead peer" 0 "$(lc_ike_count b)"
flush_left

step "2. dpd_action restart: fresh daemons, gwB's with dpd_action restart, gwA's with start_action none"
ipsecd_stop b
ipsecd_start gwB b2 "$W/right-restart.json"
EV2=$E2E_OUT/dpd-events-gwB-restart.txt
lc_monitor_start b2 "$EV2" 150
ipsecd_start gwA a2 "$W/left-passive.json"
run ipsecd_ctl b2 up "$RCONN" || fail "ipsecctl up $RCONN on gwB"
ipsecd_pair_up b2 a2 "$RCONN" tunnel gwB gwA
ike_i=$(lc_status b2 | jq -r '.ike_sas[0].spi_i')
ping_ok hostA 203.0.113.10 3

step "kill -9 gwA's ipsecd; gwB must notice, then initiate again"
kill_left a2
detect b2 "$EV2"
flush_left
# dpd_action restart: gwB initiates again at once (its new IKE SA waits for an answer)
lc_wait_until 10 eval '[ "$(lc_log_count b2 initiating)" -ge 2 ] && [ "$(lc_ike_count b2)" -ge 1 ]' ||
    { lc_status b2 | jq .; fail "gwB did not initiate again after the dead peer (dpd_action restart)"; }
log "gwB after the dead peer: $(lc_status b2 | jq -c '[.ike_sas[] | {state, initiator, spi_i}]')"
assert_ge "gwB 'initiating' lines in its log (the first up, then the restart)" 2 "$(lc_log_count b2 'initiating')"
assert_eq "gwB's new IKE SA is its own initiation" true "$(lc_status b2 | jq -r '[.ike_sas[] | select(.spi_i != "'"$ike_i"'")][0].initiator')"

step "a fresh ipsecd on gwA (start_action none): gwB's restart brings the tunnel up again"
ipsecd_start gwA a3 "$W/left-passive.json"
ipsecd_pair_up b2 a3 "$RCONN" tunnel gwB gwA
assert_eq "gwB initiated the new IKE SA" true "$(lc_status b2 | jq -r '.ike_sas[] | select(.state == "established") | .initiator' | head -n1)"
ping_ok hostA 203.0.113.10 3
ipsecd_pair_down b2 a3 "$RCONN" gwB gwA
ipsecd_stop a3 b2
pass "ikev2-dpd: dead peer seen after $DT1 s (clear) and $DT_EV s (restart), bound $(( DPD_DELAY + DPD_TIMEOUT + MARGIN )) s"
