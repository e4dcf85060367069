#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 on-demand ("interesting traffic") on Debian's real kernel. Two ipsecd
# (hostA - gwA = gwB - hostB) load tests/e2e/fixtures/lifecycle/ondemand-*: gwA's
# child has start_action "on-demand", gwB's "none". Proves:
#   - after loading, gwA's kernel holds the trap policies (out, in, fwd with the
#     ESP tunnel template) and no SA; nothing is negotiated; gwB holds nothing;
#   - hostA's pings to hostB hit the out policy, the kernel's ACQUIRE reaches
#     ipsecd (an "acquire" event) and the CHILD SA comes up, once: exactly one
#     IKE SA and one ike-up event for all the packets sent before it was up; its
#     traffic selectors cover the packets; the first ping(s) are lost (see
#     below), every ping after the first answered one is answered, and the
#     capture on the gateways' link shows ESP and IKE only, never the pings in
#     the clear; the SA counters grow with more traffic;
#   - 'ipsecctl down' deletes the SAs but leaves the trap policies (no SA, the
#     policies still there), and a ping then is not sent in the clear: it
#     brings the tunnel up again;
#   - SIGTERM removes everything, trap policies included.
# The lost first packets: with net.core.xfrm_larval_drop = 1 (the default) the
# kernel drops a packet that matches a policy whose SA does not exist yet, after
# raising the ACQUIRE (and keeping a larval state so that later packets do not
# raise more); it does not queue it. So the first ping is always dropped, and
# so is every ping sent while IKE_SA_INIT and IKE_AUTH run (slow under TCG).
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
topo_gateways

W=$(mktemp -d /tmp/ikev2-ondemand.XXXXXX) || fail "mktemp"
fx=$FIXTURES/lifecycle
cp "$fx/ondemand-left.json" "$W/left.json" && cp "$fx/ondemand-right.json" "$W/right.json" &&
    cp "$fx/shared.psk" "$W/" || fail "copy $fx"
chmod 600 "$W/shared.psk"
CONN=to-right
REQID=12
COUNT=30 INTERVAL=0.3
EV_A=$E2E_OUT/ondemand-events-gwA.txt EV_B=$E2E_OUT/ondemand-events-gwB.txt
PING=$E2E_OUT/ondemand-ping.txt SAS=$E2E_OUT/ondemand-sas.txt

# trap_policies NS: "OUT IN FWD" - how many trap/CHILD policies of the tunnel with
# the ESP template (reqid $REQID) the namespace holds in each direction
trap_policies() {
    local po
    po=$(xfrm_records "$1" policy)
    echo "$(grep -c "^src 198.51.100.0/24 dst 203.0.113.0/24 dir out .*tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid $REQID mode tunnel" <<< "$po")" \
         "$(grep -c "^src 203.0.113.0/24 dst 198.51.100.0/24 dir in .*tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid $REQID mode tunnel" <<< "$po")" \
         "$(grep -c "^src 203.0.113.0/24 dst 198.51.100.0/24 dir fwd .*tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid $REQID mode tunnel" <<< "$po")"
}
check_traps() { # LABEL: gwA holds the 3 trap policies and no SA
    xfrm_records gwA policy | sed 's/^/    [gwA policy] /'
    assert_eq "[gwA] trap policies out, in, fwd ($1)" "1 1 1" "$(trap_policies gwA)"
    assert_eq "[gwA] policies in all (in, out, fwd) ($1)" 3 "$(xfrm_count gwA | cut -d' ' -f2)"
    assert_eq "[gwA] SAs ($1)" 0 "$(xfrm_count gwA | cut -d' ' -f1)"
}

step "start ipsecd in gwB (start_action none) and gwA (start_action on-demand); monitors on both"
ipsecd_start gwB b "$W/right.json"
lc_monitor_start b "$EV_B" 150
ipsecd_start gwA a "$W/left.json"
lc_monitor_start a "$EV_A" 150
ipsecd_ctl a list-conns | sed 's/^/    [gwA conns] /'
assert_eq "gwA's connection $CONN is trapped (list-conns --json)" true \
    "$(ipsecd_ctl a list-conns --json | jq -r "[.. | objects | select(.name? == \"$CONN\") | .trapped] | first")"

step "before any traffic: trap policies on gwA, no SA, no IKE SA"
sleep 2   # an initiation, were there one, would have started by now
check_traps "at load"
assert_eq "[gwB] SAs and policies (start_action none)" "0 0" "$(xfrm_count gwB)"
assert_eq "[gwA] IKE SAs before traffic" 0 "$(lc_ike_count a)"
assert_eq "[gwB] IKE SAs before traffic" 0 "$(lc_ike_count b)"
log "net.core.xfrm_larval_drop in gwA: $(ip netns exec gwA sysctl -n net.core.xfrm_larval_drop)"

step "hostA pings hostB ($COUNT x $INTERVAL s): the first packet triggers the ACQUIRE"
capture_start ondemand-wan gwA wan
capture_start ondemand-wan gwB wan
lc_watch_start "$SAS" 60 gwA
lc_ping_start hostA 203.0.113.10 "$COUNT" "$INTERVAL" "$PING"
lc_ping_wait "$PING"
tx=$LC_PING_TX rx=$LC_PING_RX
lc_watch_stop
capture_stop
lost=$(lc_ping_lost "$PING" "$tx")
log "ping: $tx transmitted, $rx received; without a reply: ${lost:-none}"
sed 's/^/    ['"$(basename "$EV_A" .txt)"'] /' "$EV_A" | cut -c1-220
sed 's/^/    ['"$(basename "$EV_B" .txt)"'] /' "$EV_B" | cut -c1-220
assert_eq "pings transmitted" "$COUNT" "$tx"
assert_ge "pings answered" 1 "$rx"
# once one ping came back, all later ones must: the lost ones are exactly 0..k-1
first=$(grep -o 'seq=[0-9]*' "$PING" | head -n1 | cut -d= -f2)
assert_eq "pings lost after the first answered one (seq $first)" "$first" "$(wc -w <<< "$lost")"
assert_eq "lost pings are the first $first" "$(seq -s' ' 0 $(( first - 1 )) 2>/dev/null)" "$lost"
if [ "$(ip netns exec gwA sysctl -n net.core.xfrm_larval_drop)" = 1 ]; then
    assert_ge "pings lost while the SA was negotiated (larval drop: the first at least)" 1 "$first"
fi
log "on-demand: the first $first ping(s) (${first}x${INTERVAL} s) were dropped while the tunnel came up; all $(( tx - first )) later ones answered"
assert_ge "acquire events on gwA" 1 "$(lc_events "$EV_A" acquire)"
assert_eq "ike-up events on gwA (one negotiation for all the early packets)" 1 "$(lc_events "$EV_A" ike-up)"
assert_eq "child-up events on gwA" 1 "$(lc_events "$EV_A" child-up)"
assert_eq "IKE SAs on gwA" 1 "$(lc_ike_count a)"
assert_eq "IKE SAs on gwB" 1 "$(lc_ike_count b)"
log "acquire events: $(lc_events "$EV_A" acquire) (the larval state keeps later packets from raising more);" \
    "the most ESP SAs gwA held in the samples while it came up: $(lc_watch_max "$SAS" gwA)"

step "the CHILD SA: status, selectors covering the packets, kernel state"
ipsecd_pair_up a b "$CONN" tunnel gwA gwB
sab=$PAIR_OUT sba=$PAIR_IN
ts=$(lc_status a | jq -r '.ike_sas[0].children[] | select(.state == "installed") | "\(.local_ts | join(",")) \(.remote_ts | join(","))"')
log "gwA's CHILD SA traffic selectors: $ts"
python3 - "$ts" <<'EOF' || fail "the CHILD SA's selectors do not cover 198.51.100.10 -> 203.0.113.10 (ICMP)"
import ipaddress, sys
local, remote = sys.argv[1].split(" ", 1)
def covers(spec, addr):
    for t in spec.split(","):
        net = t.strip().split(" ")[0]
        if "-" in net:
            a, b = (ipaddress.ip_address(x) for x in net.split("-"))
            ok = a <= ipaddress.ip_address(addr) <= b
        else:
            ok = ipaddress.ip_address(addr) in ipaddress.ip_network(net, strict=False)
        if ok and (" proto " not in t or " proto 1" in t):
            return True
    return False
sys.exit(0 if covers(local, "198.51.100.10") and covers(remote, "203.0.113.10") else 1)
EOF
log "ok: the selectors cover 198.51.100.10 -> 203.0.113.10"
check_child_kernel gwA tunnel 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 "$sab" "$sba"
check_child_kernel gwB tunnel 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 "$sba" "$sab"

step "what crossed the gwA-gwB link while it came up: ESP and IKE only"
capture_show ondemand-wan 4
assert_ge "ESP packets gwA->gwB with spi $sab" $(( tx - first )) \
    "$(capture_count ondemand-wan "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50 and ip[20:4] = $sab")"
assert_ge "IKE messages gwA->gwB (the ACQUIRE's initiation)" 2 "$(capture_count ondemand-wan "src 192.0.2.1 and udp port 500")"
assert_eq "packets with an inner address as outer header" 0 "$(capture_count ondemand-wan "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link" 0 "$(capture_count ondemand-wan "icmp")"
assert_eq "IPv4 packets on the link other than ESP and IKE" 0 "$(capture_count ondemand-wan "ip and not ip proto 50 and not udp port 500")"

step "more traffic: the four SA counters grow"
a=$(sa_snap gwA 192.0.2.1 192.0.2.2 esp "$sab")
b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
d=$(sa_snap gwA 192.0.2.2 192.0.2.1 esp "$sba")
ping_ok hostA 203.0.113.10 5
sa_grew "gwA out" "$a" gwA 192.0.2.1 192.0.2.2 esp "$sab" 5
sa_grew "gwB in"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" 5
sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" 5
sa_grew "gwA in"  "$d" gwA 192.0.2.2 192.0.2.1 esp "$sba" 5

step "ipsecctl down $CONN: the SAs go, the trap policies stay"
run ipsecd_ctl a down "$CONN" || fail "ipsecctl down $CONN"
lc_wait_until 30 eval '[ "$(xfrm_count gwA | cut -d" " -f1) $(xfrm_count gwB)" = "0 0 0" ] && [ "$(lc_ike_count a) $(lc_ike_count b)" = "0 0" ]' ||
    log "(still not clean after 30 s: the checks below say what is left)"
check_traps "after down"
assert_eq "[gwB] SAs and policies after down" "0 0" "$(xfrm_count gwB)"
assert_eq "[gwA] IKE SAs after down" 0 "$(lc_ike_count a)"
assert_eq "[gwB] IKE SAs after down" 0 "$(lc_ike_count b)"
assert_eq "gwA's connection is trapped again (list-conns --json)" true \
    "$(ipsecd_ctl a list-conns --json | jq -r "[.. | objects | select(.name? == \"$CONN\") | .trapped] | first")"

step "after down, traffic is not sent in the clear: it brings the tunnel up again"
ups=$(lc_events "$EV_A" ike-up)
capture_start ondemand-again gwA wan
lc_ping_start hostA 203.0.113.10 "$COUNT" "$INTERVAL" "$PING.2"
lc_ping_wait "$PING.2"
tx2=$LC_PING_TX rx2=$LC_PING_RX
capture_stop
log "ping after down: $tx2 transmitted, $rx2 received; without a reply: $(lc_ping_lost "$PING.2" "$tx2")"
assert_eq "bare ICMP packets gwA sent on the link after down" 0 "$(capture_count ondemand-again "icmp")"
assert_eq "packets with an inner address as outer header" 0 "$(capture_count ondemand-again "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_ge "pings answered once the tunnel was up again" 1 "$rx2"
assert_eq "ike-up events on gwA after the second trigger" $(( ups + 1 )) "$(lc_events "$EV_A" ike-up)"
ipsecd_pair_up a b "$CONN" tunnel gwA gwB

step "SIGTERM both daemons: everything goes, trap policies included"
ipsecd_stop a b
assert_eq "[gwA] SAs and policies after SIGTERM" "0 0" "$(xfrm_count gwA)"
assert_eq "[gwB] SAs and policies after SIGTERM" "0 0" "$(xfrm_count gwB)"
assert_eq "[gwA] per-socket policies after SIGTERM" 0 "$(xfrm_socket_policies gwA)"
pass "ikev2-ondemand: first $first ping(s) dropped while the tunnel came up, trap kept after down, nothing left after SIGTERM"
