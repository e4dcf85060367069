#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 (PSK) negotiated ESP tunnel on Debian's real kernel. Two ipsecd,
# one in each gateway namespace (hostA - gwA = gwB - hostB), load
# policies/examples/ikev2-psk-tunnel; left.json's child starts by itself. Proves:
# the CHILD SA is installed on both (ipsecctl status --json, matching SPIs,
# mode tunnel), the kernel holds exactly the 2 SAs and 3 tunnel policies (out,
# in, fwd) on each gateway; hostA pings hostB and sends 2 MiB of random data
# over TCP (sha256 compared on both ends); the four kernel SA counters of the
# negotiated SPIs grow (the hostA->hostB SA by at least the payload, on both
# gateways); only ESP (and IKE on UDP 500) crosses the gateways' link, no TCP
# or ICMP in the clear. Drift repair: 'ip xfrm state flush' on gwA behind ipsecd's
# back (under a ping every 0.1 s, captured): ipsecd notices from the kernel's events,
# rekeys the CHILD SA (new SPIs on both gateways, exactly 2 SAs each), counts it
# (kernel_sas_missing), says so on monitor ("repair"), and no packet of the protected
# subnets crosses the link in the clear meanwhile (the policies hold it); the loss and
# the repair time are printed. Crash recovery: gwA's ipsecd killed with SIGKILL under a
# ping and started again: the tunnel comes back (INITIAL_CONTACT makes gwB drop the old
# IKE SA), the SAs the killed daemon left are removed once the new CHILD SA is up
# (leftover_sas_removed 2), each kernel ends with exactly the 2 new ESP SAs, nothing
# crossed in the clear; the outage is printed. Restart keeping the tunnel: gwB's ipsecd
# stopped with `ipsecctl shutdown --keep` under a ping and a TCP stream and started again
# a second later: no ping lost, the stream intact, the kernel's ESP SAs untouched, the new daemon continues the same IKE SA
# (same SPIs, no IKE message on the link, nothing in the clear), and the final Delete
# from gwA is taken by that continued IKE SA. 'ipsecctl down' leaves no SA and no policy on either;
# SIGTERM stops both with exit 0.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
topo_gateways

W=$(mktemp -d /tmp/ikev2-tunnel.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-tunnel
cp "$ex/left.json" "$ex/right.json" "$ex/shared.psk" "$W/" || fail "copy $ex"
chmod 600 "$W/shared.psk"
# the example already uses the topology's gateways and subnets; say so, or fail
for want in 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24; do
    grep -q "\"$want\"" "$W/left.json" && grep -q "\"$want\"" "$W/right.json" \
        || fail "example does not use $want: adapt it here with sed"
done
CONN=to-right
PAYLOAD=$(( 2 * 1024 * 1024 ))

step "start ipsecd (real kernel) in gwB (responder) and gwA (initiator, start_action start)"
ipsecd_start gwB b "$W/right.json"
ipsecd_start gwA a "$W/left.json"

step "wait (<= 30 s) for the CHILD SA on both gateways"
ipsecd_pair_up a b "$CONN" tunnel gwA gwB
sab=$PAIR_OUT sba=$PAIR_IN   # gwA -> gwB, gwB -> gwA

step "kernel state on both gateways: exactly the 2 SAs and the 3 tunnel policies (and ipsecd's socket bypass)"
check_child_kernel gwA tunnel 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 "$sab" "$sba"
check_child_kernel gwB tunnel 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 "$sba" "$sab"

step "hostA -> hostB through the negotiated ESP SAs: ping, then $PAYLOAD bytes over TCP"
count=5 pcap=ikev2-wan
a=$(sa_snap gwA 192.0.2.1 192.0.2.2 esp "$sab")
b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
d=$(sa_snap gwA 192.0.2.2 192.0.2.1 esp "$sba")
capture_start "$pcap" gwA wan
capture_start "$pcap" gwB wan
ping_ok hostA 203.0.113.10 "$count"
sa_grew "gwA out" "$a" gwA 192.0.2.1 192.0.2.2 esp "$sab" "$count"
sa_grew "gwB in"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" "$count"
sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" "$count"
sa_grew "gwA in"  "$d" gwA 192.0.2.2 192.0.2.1 esp "$sba" "$count"
a=$(sa_snap gwA 192.0.2.1 192.0.2.2 esp "$sab")
b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
d=$(sa_snap gwA 192.0.2.2 192.0.2.1 esp "$sba")
tcp_transfer hostA hostB 203.0.113.10 5001 "$PAYLOAD"
capture_stop
sa_grew_bytes "gwA out (TCP data)" "$a" gwA 192.0.2.1 192.0.2.2 esp "$sab" "$PAYLOAD"
sa_grew_bytes "gwB in (TCP data)"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" "$PAYLOAD"
# hostB's ACKs go back through the other SA
sa_grew "gwB out (TCP acks)" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" 10
sa_grew "gwA in (TCP acks)"  "$d" gwA 192.0.2.2 192.0.2.1 esp "$sba" 10

step "what crossed the gwA-gwB link"
capture_show "$pcap" 3
assert_ge "ESP packets gwA->gwB with spi $sab" $(( count + PAYLOAD / 1500 )) \
    "$(capture_count "$pcap" "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50 and ip[20:4] = $sab")"
assert_ge "ESP packets gwB->gwA with spi $sba" "$count" \
    "$(capture_count "$pcap" "src 192.0.2.2 and dst 192.0.2.1 and ip proto 50 and ip[20:4] = $sba")"
assert_eq "packets with an inner address as outer header" 0 \
    "$(capture_count "$pcap" "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link" 0 "$(capture_count "$pcap" "icmp")"
assert_eq "bare TCP packets on the link" 0 "$(capture_count "$pcap" "tcp")"
assert_eq "IPv4 packets on the link other than ESP and IKE" 0 \
    "$(capture_count "$pcap" "ip and not ip proto 50 and not udp port 500")"

step "behind ipsecd's back: ip xfrm state flush on gwA, under a ping every 0.1 s"
MON=$E2E_OUT/drift-events-gwA.txt PING=$E2E_OUT/drift-ping.txt
lc_monitor_start a "$MON" 60
capture_start drift gwA wan
lc_ping_start hostA 203.0.113.10 100 0.1 "$PING"
sleep 1
t0=$(lc_now)
run ip -n gwA xfrm state flush
# repaired: each daemon lists one installed CHILD SA with new SPIs, crossed, and each
# kernel holds exactly those two ESP SAs
repaired() {
    local a b
    a=$(lc_installed a) b=$(lc_installed b)
    [ "$(wc -l <<< "$a")" = 1 ] && [ "$(wc -l <<< "$b")" = 1 ] || return 1
    read -r ain aout <<< "$a"; read -r bin bout <<< "$b"
    [ -n "$ain" ] && [ "$ain $aout" = "$bout $bin" ] || return 1
    [ "$(printf '0x%08x' "$aout")" != "$sab" ] || return 1
    [ "$(lc_esp_count gwA)" = 2 ] && [ "$(lc_esp_count gwB)" = 2 ]
}
lc_wait_until 30 repaired || { dump_state; fail "CHILD SA not repaired within 30 s of the flush"; }
t1=$(lc_now)
log "repaired (new SPIs in both kernels) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the flush (TCG guest)"
lc_ping_wait "$PING"
capture_stop
assert_eq "gwA kernel_sas_missing" 1 "$(lc_status a | jq '.counters.kernel_sas_missing')"
assert_ge "repair events on gwA's monitor" 1 "$(lc_events "$MON" repair)"
log "monitor: $(grep -m1 '"repair"' "$MON" | cut -d' ' -f2- | jq -r .detail)"
log "pings: $LC_PING_TX sent, $LC_PING_RX answered, lost: $(lc_ping_lost "$PING" "$LC_PING_TX")"
assert_ge "pings answered (the tunnel carries on after the repair)" 40 "$LC_PING_RX"
assert_eq "packets with an inner address as outer header during the repair" 0 \
    "$(capture_count drift "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link during the repair" 0 "$(capture_count drift "icmp")"
sab=$(printf '0x%08x' "$(lc_installed a | awk '{ print $2 }')")
sba=$(printf '0x%08x' "$(lc_installed a | awk '{ print $1 }')")
check_child_kernel gwA tunnel 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 "$sab" "$sba"
check_child_kernel gwB tunnel 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 "$sba" "$sab"

step "crash recovery: SIGKILL gwA's ipsecd under a ping every 0.1 s, then start it again"
PING2=$E2E_OUT/crash-ping.txt
old_in=$(lc_installed a | awk '{ print $1 }')
capture_start crash gwA wan
lc_ping_start hostA 203.0.113.10 150 0.1 "$PING2"
sleep 1
run kill -KILL "${IPSECD_PID[a]}"
wait "${IPSECD_PID[a]}" 2>/dev/null
t0=$(lc_now)
assert_eq "gwA ESP SAs left in the kernel by the killed daemon" 2 "$(lc_esp_count gwA)"
rm -f "$IPSECD_RUN/a.sock"   # stale; its .reqids record stays beside it
ipsecd_start gwA a "$W/left.json"
WAITED=""   # what recovered() waited on, each reason once
waited() { case " $WAITED " in *" $1 "*) ;; *) WAITED="$WAITED $1" ;; esac; return 1; }
recovered() {
    local a b
    a=$(lc_installed a) b=$(lc_installed b)
    [ -n "$a" ] || waited "no-child-on-gwA"
    [ "$(wc -l <<< "$a")" = 1 ] || waited "children-on-gwA:$(wc -l <<< "$a")"
    [ "$(wc -l <<< "$b")" = 1 ] || waited "children-on-gwB:$(wc -l <<< "$b")"
    read -r ain aout <<< "$a"; read -r bin bout <<< "$b"
    [ "$ain" != "$old_in" ] || waited "old-child-on-gwA"
    [ "$ain $aout" = "$bout $bin" ] || waited "spis-not-crossed"
    [ "$(lc_esp_count gwA)" = 2 ] || waited "gwA-esp:$(lc_esp_count gwA)"
    [ "$(lc_esp_count gwB)" = 2 ] || waited "gwB-esp:$(lc_esp_count gwB)"
    [ -n "$a" ] && [ "$(wc -l <<< "$a")" = 1 ] && [ "$(wc -l <<< "$b")" = 1 ] &&
        [ "$ain" != "$old_in" ] && [ "$ain $aout" = "$bout $bin" ] &&
        [ "$(lc_esp_count gwA)" = 2 ] && [ "$(lc_esp_count gwB)" = 2 ]
}
if ! lc_wait_until 30 recovered; then
    log "gwA children: $(lc_children a | tr '\n' ';') gwB children: $(lc_children b | tr '\n' ';')"
    log "ESP SAs: gwA $(lc_esp_count gwA), gwB $(lc_esp_count gwB); old inbound SPI $old_in"
    ipsecd_ctl a status 2>&1 | head -20
    dump_state
    fail "no single new CHILD SA, old SAs gone, within 30 s of the restart (the leftover grace is 60 s)"
fi
t1=$(lc_now)
log "tunnel back, old SAs gone, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the SIGKILL (TCG guest); waited on:$WAITED"
lc_ping_wait "$PING2"
capture_stop
assert_eq "gwA leftover_sas_removed" 2 "$(lc_status a | jq '.counters.leftover_sas_removed')"
log "$(grep -m1 'crash recovery:' "$E2E_OUT/ipsecd-a.log")"
log "pings: $LC_PING_TX sent, $LC_PING_RX answered, lost: $(lc_ping_lost "$PING2" "$LC_PING_TX")"
assert_ge "pings answered around the crash" 50 "$LC_PING_RX"
assert_eq "packets with an inner address as outer header around the crash" 0 \
    "$(capture_count crash "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link around the crash" 0 "$(capture_count crash "icmp")"
sab=$(printf '0x%08x' "$(lc_installed a | awk '{ print $2 }')")
sba=$(printf '0x%08x' "$(lc_installed a | awk '{ print $1 }')")
check_child_kernel gwA tunnel 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 "$sab" "$sba"
check_child_kernel gwB tunnel 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 "$sba" "$sab"

step "restart keeping the tunnel: ipsecctl shutdown --keep on gwB under a ping every 0.1 s, then start it again"
PING3=$E2E_OUT/handover-ping.txt
before_a=$(lc_installed a) before_b=$(lc_installed b)
ike_b() { lc_status b | jq -r '.ike_sas[] | select(.state == "established") | "\(.spi_i) \(.spi_r)"'; }
ike_before=$(ike_b) init_a=$(lc_log_count a 'initiating')
[ -n "$ike_before" ] && [ -n "$before_b" ] || { dump_state; fail "no established IKE SA on gwB before the restart"; }
sas_before=$(ip -n gwB xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | sort | paste -sd' ' -)
capture_start handover gwA wan
capture_start handover gwB wan
# a TCP stream (1 MiB over ~12 s) and a ping every 0.1 s, both across the restart
lc_tcp_stream_start hostA hostB 203.0.113.10 5002 $(( 1024 * 1024 )) 12
lc_ping_start hostA 203.0.113.10 100 0.1 "$PING3"
sleep 1
run ipsecd_ctl b shutdown --keep
wait "${IPSECD_PID[b]}"; rc=$?
assert_eq "gwB's ipsecd exit code after shutdown --keep" 0 "$rc"
cp "$E2E_OUT/ipsecd-b.log" "$E2E_OUT/ipsecd-b.before-restart.log"
assert_eq "gwB's ESP SAs while no ipsecd runs (the kernel keeps them)" "$sas_before" \
    "$(ip -n gwB xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | sort | paste -sd' ' -)"
sleep 1   # a second without a daemon on gwB: the kernel carries the traffic
ipsecd_start gwB b "$W/right.json"
continued() { grep -q "continued 1 IKE SA(s) of the previous ipsecd" "$E2E_OUT/ipsecd-b.log"; }
lc_wait_until 10 continued || { cat "$E2E_OUT/ipsecd-b.log"; fail "gwB's new ipsecd did not continue the IKE SA"; }
log "$(grep -m1 'continued from the previous ipsecd' "$E2E_OUT/ipsecd-b.log")"
lc_ping_wait "$PING3"
lc_tcp_stream_wait
capture_stop
log "pings: $LC_PING_TX sent, $LC_PING_RX answered, lost: $(lc_ping_lost "$PING3" "$LC_PING_TX")"
assert_eq "pings lost across the restart" "" "$(lc_ping_lost "$PING3" "$LC_PING_TX")"
assert_eq "gwB's IKE SA after the restart (same SPIs, not renegotiated)" "$ike_before" "$(ike_b)"
assert_eq "gwB's CHILD SA after the restart (same ESP SPIs)" "$before_b" "$(lc_installed b)"
assert_eq "gwA's CHILD SA after the restart (same ESP SPIs)" "$before_a" "$(lc_installed a)"
assert_eq "gwB's ESP SAs in the kernel after the restart" "$sas_before" \
    "$(ip -n gwB xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | sort | paste -sd' ' -)"
assert_eq "IKE SAs gwA has initiated (the count before the restart, unchanged)" "$init_a" "$(lc_log_count a 'initiating')"
assert_eq "packets with an inner address as outer header across the restart" 0 \
    "$(capture_count handover "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link across the restart" 0 "$(capture_count handover "icmp")"
assert_eq "IKE messages on the link across the restart (nothing to say to the peer)" 0 \
    "$(capture_count handover "udp port 500 or udp port 4500")"

step "ipsecctl down $CONN: no SA, no policy left on either gateway (gwB's continued IKE SA takes the Delete)"
ipsecd_pair_down a b "$CONN" gwA gwB

step "SIGTERM both daemons"
ipsecd_stop a b
pass "ikev2-tunnel"
