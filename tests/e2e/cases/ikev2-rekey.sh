#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 CHILD SA and IKE SA rekeying under traffic, on Debian's real kernel.
# Two ipsecd (hostA - gwA = gwB - hostB) load tests/e2e/fixtures/lifecycle/rekey-*:
# the CHILD SA's rekey_time is 6 s, life_time 12 s, rand_time 1 s, with PFS (x25519)
# on both sides, so both gateways' kernels raise soft EXPIREs every 5-6 s and either
# side may start the rekey; the IKE SA's rekey_time is 12 s (rand_time 2 s).
# While hostA pings hostB every 0.2 s for 50 s and streams 3 MiB of random data
# over TCP to it (paced over ~40 s), both gateways' ESP SAs are sampled every
# ~0.2 s. Proves:
#   - at least 5 CHILD SA rekeys and 1 IKE SA rekey happened during the traffic
#     (ipsecctl monitor --json: child-rekeyed / ike-rekeyed events; the logs agree),
#     and the SPIs really changed (events, kernel samples, ESP SPIs on the wire);
#   - no ping was lost (make-before-break: the new inbound SA is installed before
#     the old outbound one goes), the TCP stream arrived intact (sha256), and the
#     kernels counted no packet dropped for a missing or expired SA;
#   - each gateway never held more than 4 ESP SAs (old in/out + new in/out); 6 are
#     allowed only when the logs show a rekey collision (RFC 7296 §2.8.1: both
#     sides' new pairs exist until the redundant one is deleted);
#   - only ESP and IKE crossed the gateways' link;
#   - afterwards exactly the 2 SAs of one CHILD SA remain;
#   - gwA's ipsecd killed (SIGKILL) in the middle of its CHILD SA rekey (gwB's answers
#     held back 1 s by netem) and started again: within 60 s one CHILD SA and exactly its
#     2 ESP SAs per gateway (the killed one's SAs and reserved SPI removed, nothing
#     duplicated), nothing in the clear meanwhile; 'ipsecctl down' leaves
#     nothing, SIGTERM stops both with exit 0.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
topo_gateways

W=$(mktemp -d /tmp/ikev2-rekey.XXXXXX) || fail "mktemp"
fx=$FIXTURES/lifecycle
cp "$fx/rekey-left.json" "$W/left.json" && cp "$fx/rekey-right.json" "$W/right.json" &&
    cp "$fx/shared.psk" "$W/" || fail "copy $fx"
chmod 600 "$W/shared.psk"
CONN=to-right
COUNT=250 INTERVAL=0.2          # 50 s of pings
PAYLOAD=$(( 3 * 1024 * 1024 )) PACE=40
MIN_CHILD_REKEYS=5 MIN_IKE_REKEYS=1
# make-before-break: nothing may be lost. Losses seen while writing this case were
# engine bugs, not something to allow for: the responder of a CHILD rekey removed the old
# SAs before installing its deferred new outbound SA (a packet in between: no SA,
# XfrmOutNoStates, an ACQUIRE event); and a CHILD rekey's Delete queued behind an IKE
# rekey was moved to the new IKE SA but never sent (both kept the old SAs until their
# hard lifetime).
MAX_LOST=0
EV_A=$E2E_OUT/rekey-events-gwA.txt EV_B=$E2E_OUT/rekey-events-gwB.txt
SAS=$E2E_OUT/rekey-sas.txt PING=$E2E_OUT/rekey-ping.txt

# stable: true at a moment between two rekeys in which both daemons list one installed
# CHILD SA with crossed SPIs and each kernel holds exactly its 2 tunnel-mode ESP SAs;
# sets sab (gwA->gwB) and sba. Rekeys come every 5-6 s and reading all that takes
# seconds under TCG, so it is retried (bounded) rather than asserted once (which is
# also why ipsecd_pair_up and check_child_kernel, one-shot checks, are not used here).
stable() {
    local a b ka kb
    a=$(lc_installed a) b=$(lc_installed b)
    ka=$(lc_sa_list gwA) kb=$(lc_sa_list gwB)
    [ -n "$a" ] && [ -n "$b" ] && [ "$(wc -l <<< "$a")" = 1 ] && [ "$(wc -l <<< "$b")" = 1 ] || return 1
    read -r ain aout <<< "$a"; read -r bin bout <<< "$b"
    [ "$ain $aout" = "$bout $bin" ] || return 1
    sab=$(printf '0x%08x' "$aout") sba=$(printf '0x%08x' "$ain")
    [ "$(sort <<< "$ka")" = "$(printf '192.0.2.1 192.0.2.2 %s tunnel\n192.0.2.2 192.0.2.1 %s tunnel\n' "$sab" "$sba" | sort)" ] &&
        [ "$(sort <<< "$kb")" = "$(printf '192.0.2.1 192.0.2.2 %s tunnel\n192.0.2.2 192.0.2.1 %s tunnel\n' "$sab" "$sba" | sort)" ]
}
# policies: the 3 tunnel policies with their templates (a rekey does not touch them)
check_policies() {
    local ns=$1 l=$2 r=$3 ln=$4 rn=$5 po
    po=$(xfrm_records "$ns" policy)
    assert_eq "[$ns] policies (in, out, fwd)" 3 "$(grep -Ec ' dir (in|out|fwd) ' <<< "$po")"
    assert_eq "[$ns] out policy $ln -> $rn, template $l -> $r" 1 \
        "$(grep -c "^src $ln dst $rn dir out .*tmpl src $l dst $r proto esp reqid [0-9]* mode tunnel" <<< "$po")"
    assert_eq "[$ns] in policy $rn -> $ln, template $r -> $l" 1 \
        "$(grep -c "^src $rn dst $ln dir in .*tmpl src $r dst $l proto esp reqid [0-9]* mode tunnel" <<< "$po")"
    assert_eq "[$ns] fwd policy $rn -> $ln, template $r -> $l" 1 \
        "$(grep -c "^src $rn dst $ln dir fwd .*tmpl src $r dst $l proto esp reqid [0-9]* mode tunnel" <<< "$po")"
}

step "start ipsecd in gwB (responder) and gwA (initiator, start_action start); monitors on both"
ipsecd_start gwB b "$W/right.json"
lc_monitor_start b "$EV_B" 240
ipsecd_start gwA a "$W/left.json"
lc_monitor_start a "$EV_A" 240

step "wait for the CHILD SA on both gateways"
ipsecd_wait_child a b "$CONN"
lc_wait_until 30 stable || { lc_children a; lc_children b; dump_state; fail "no moment with exactly one installed CHILD SA and its 2 ESP SAs on each gateway within 30 s"; }
first_out=$sab first_in=$sba
log "ok: both daemons list one installed CHILD SA (gwA->gwB $sab, gwB->gwA $sba); each kernel holds exactly its 2 ESP SAs"
check_policies gwA 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24
check_policies gwB 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24
ipsecd_ctl a status | sed 's/^/    [gwA] /'
ipsecd_ctl a list-conns | sed 's/^/    [gwA conns] /'
# the lifetimes the daemon took from the policy (rekey in <= 4 s, expire in <= 8 s)
lc_status a | jq -c '.ike_sas[] | {ike: {rekey_in_seconds, expire_in_seconds},
    children: [.children[] | {state, spi_in, rekey_in_seconds, expire_in_seconds}]}' | sed 's/^/    [gwA lifetimes] /'

step "traffic for $(( COUNT / 5 )) s across rekeys: ping every $INTERVAL s and a paced TCP stream; ESP SAs sampled every ~0.2 s"
for ns in gwA gwB; do
    ip netns exec "$ns" awk '$2 != 0' /proc/net/xfrm_stat | sed "s/^/    [$ns xfrm_stat before] /"
done
# every SA the kernels add, delete or expire, to count exactly how many they hold at once
for ns in gwA gwB; do lc_xfrm_events_start "$ns" "$E2E_OUT/rekey-xfrm-$ns.txt"; done
init_gwA=$(ip -n gwA xfrm state | awk '/proto esp spi/ { print $4 }' | paste -sd, -)
init_gwB=$(ip -n gwB xfrm state | awk '/proto esp spi/ { print $4 }' | paste -sd, -)
lc_watch_start "$SAS" 150 gwA gwB
capture_start rekey-wan gwA wan
capture_start rekey-wan gwB wan
# the TCP stream first (python starts slowly under TCG), then the pings inside it
lc_tcp_stream_start hostA hostB 203.0.113.10 5001 "$PAYLOAD" "$PACE"
t_start=$(lc_now)
lc_ping_start hostA 203.0.113.10 "$COUNT" "$INTERVAL" "$PING"
lc_ping_wait "$PING"
tx=$LC_PING_TX rx=$LC_PING_RX
t_end=$(lc_now)
lc_tcp_stream_wait
capture_stop
lc_watch_stop
tail -n 3 "$PING" | sed 's/^/    [ping] /'

step "rekeys seen during the traffic ($t_start .. $t_end)"
in_window() { awk -v a="$t_start" -v b="$t_end" -v k="\"event\":\"$2\"" '$1 >= a && $1 <= b && index($0, k) { n++ } END { print n + 0 }' "$1"; }
for f in "$EV_A" "$EV_B"; do
    sed 's/^/    ['"$(basename "$f" .txt)"'] /' "$f" | cut -c1-220
done
child_a=$(in_window "$EV_A" child-rekeyed) child_b=$(in_window "$EV_B" child-rekeyed)
ike_a=$(in_window "$EV_A" ike-rekeyed) ike_b=$(in_window "$EV_B" ike-rekeyed)
log "child-rekeyed events during the traffic: gwA $child_a, gwB $child_b; ike-rekeyed: gwA $ike_a, gwB $ike_b"
log "in the logs (whole run): CHILD SAs installed as a rekey: gwA $(lc_log_count a 'installed.*, rekeying 0x'), gwB $(lc_log_count b 'installed.*, rekeying 0x');" \
    "IKE SA rekeyed: gwA $(lc_log_count a 'IKE SA rekeyed, replaces'), gwB $(lc_log_count b 'IKE SA rekeyed, replaces');" \
    "soft EXPIREs acted on: gwA $(lc_log_count a 'reached its soft lifetime'), gwB $(lc_log_count b 'reached its soft lifetime')"
coll_a=$(lc_log_count a 'rekey collision') coll_b=$(lc_log_count b 'rekey collision')
log "rekey collisions (RFC 7296 §2.8.1) in the logs: gwA $coll_a, gwB $coll_b"
grep -hE 'error:|warning:' "$E2E_OUT/ipsecd-a.log" "$E2E_OUT/ipsecd-b.log" | sort | uniq -c | sed 's/^/    [daemon errors\/warnings] /' | head -n 20
assert_ge "CHILD SA rekeys during the traffic (gwA's child-rekeyed events)" "$MIN_CHILD_REKEYS" "$child_a"
assert_ge "CHILD SA rekeys during the traffic (gwB's child-rekeyed events)" "$MIN_CHILD_REKEYS" "$child_b"
assert_ge "IKE SA rekeys during the traffic (gwA's ike-rekeyed events)" "$MIN_IKE_REKEYS" "$ike_a"
assert_ge "IKE SA rekeys during the traffic (gwB's ike-rekeyed events)" "$MIN_IKE_REKEYS" "$ike_b"
# every child-rekeyed event names a new inbound SPI different from the one it replaced
bad=$(sed 's/^[^ ]* //' "$EV_A" "$EV_B" | jq -r 'select(.event == "child-rekeyed") | select(.spi_in == null or .old_spi_in == null or .spi_in == .old_spi_in) | .spi_in' | wc -l)
assert_eq "child-rekeyed events without a new SPI distinct from the old one" 0 "$bad"
# (one read of the file: the monitor is still writing to it)
read -r n_a spis_a <<< "$(sed 's/^[^ ]* //' "$EV_A" | jq -rs '[.[] | select(.event == "child-rekeyed") | .spi_in] | "\(length) \(unique | length)"')"
assert_eq "distinct new inbound SPIs in gwA's $n_a child-rekeyed events" "$n_a" "$spis_a"

step "ESP SAs in the kernels over $(grep -c ' gwA ' "$SAS") samples per gateway"
for ns in gwA gwB; do
    awk -v ns="$ns" '$2 == ns { h[$3]++ } END { for (k in h) printf "    [%s] %s ESP SAs: %d samples\n", ns, k, h[k] }' "$SAS" | sort -n -k2
done
limit=4
if (( coll_a + coll_b > 0 )); then
    limit=6
    log "a rekey collision happened: both sides' new SA pairs coexist with the old pair until the redundant pair is deleted (§2.8.1), so up to 6"
fi
for ns in gwA gwB; do
    max=$(lc_watch_max "$SAS" "$ns")
    log "[$ns] longest gap between two samples: $(lc_watch_gap "$SAS" "$ns") s"
    (( max <= limit )) || { grep " $ns " "$SAS" | awk -v l="$limit" '$3 > l' | head -n 5; fail "[$ns] held $max ESP SAs at once in the samples (at most $limit expected)"; }
    log "ok: [$ns] at most $max ESP SAs at once in the samples (limit $limit)"
    init=init_$ns
    emax=$(lc_xfrm_events_max "$E2E_OUT/rekey-xfrm-$ns.txt" "${!init}")
    log "[$ns] SA events (ip xfrm monitor): $(grep -c '^src ' "$E2E_OUT/rekey-xfrm-$ns.txt") added," \
        "$(grep -c '^Deleted src ' "$E2E_OUT/rekey-xfrm-$ns.txt") deleted, $(grep -c 'hard 1' "$E2E_OUT/rekey-xfrm-$ns.txt") hard-expired," \
        "$(grep -c 'hard 0' "$E2E_OUT/rekey-xfrm-$ns.txt") soft-expired; at most $emax ESP SAs at once"
    (( emax <= limit )) || fail "[$ns] held $emax ESP SAs at once according to its SA events (at most $limit expected)"
    assert_eq "[$ns] SAs that reached their hard lifetime (a rekey came too late)" 0 "$(grep -c 'hard 1' "$E2E_OUT/rekey-xfrm-$ns.txt")"
    assert_ge "[$ns] distinct ESP SPIs seen in the samples (2 per CHILD SA)" $(( 2 * (MIN_CHILD_REKEYS + 1) )) "$(lc_watch_spis "$SAS" "$ns")"
done

step "traffic: lost pings, kernel drop counters"
lost=$(( tx - rx ))
log "ping: $tx transmitted, $rx received, $lost lost; sequence numbers without a reply: $(lc_ping_lost "$PING" "$tx")"
assert_eq "pings transmitted" "$COUNT" "$tx"
(( lost <= MAX_LOST )) || fail "$lost of $tx pings lost across the rekeys (at most $MAX_LOST expected)"
log "ok: $lost pings lost (at most $MAX_LOST)"
for ns in gwA gwB; do
    ip netns exec "$ns" awk '$2 != 0' /proc/net/xfrm_stat | sed "s/^/    [$ns xfrm_stat] /"
    for c in XfrmInNoStates XfrmInStateExpired XfrmInStateInvalid XfrmInTmplMismatch XfrmInNoPols \
             XfrmOutNoStates XfrmOutStateExpired XfrmOutStateInvalid XfrmOutPolBlock XfrmOutPolError; do
        v=$(xfrm_stat "$ns" "$c")
        [ "$v" = -1 ] && continue   # not in this kernel
        assert_eq "[$ns] $c" 0 "$v"
    done
done

step "what crossed the gwA-gwB link"
capture_show rekey-wan 3
wire_spis=$(for f in $(capture_files rekey-wan); do tcpdump -nn -r "$f" 'src 192.0.2.1 and ip proto 50' 2>/dev/null; done |
    grep -o 'spi=0x[0-9a-f]*' | sort -u | wc -l)
assert_ge "distinct ESP SPIs gwA->gwB on the wire" $(( MIN_CHILD_REKEYS + 1 )) "$wire_spis"
assert_ge "ESP packets gwA->gwB" "$(( COUNT + PAYLOAD / 1500 ))" "$(capture_count rekey-wan "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50")"
assert_eq "packets with an inner address as outer header" 0 "$(capture_count rekey-wan "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link" 0 "$(capture_count rekey-wan "icmp")"
assert_eq "bare TCP packets on the link" 0 "$(capture_count rekey-wan "tcp")"
assert_eq "IPv4 packets on the link other than ESP and IKE" 0 "$(capture_count rekey-wan "ip and not ip proto 50 and not udp port 500")"
log "IKE messages on the link (UDP 500): $(capture_count rekey-wan "udp port 500")"

step "after the traffic: exactly one CHILD SA (2 ESP SAs) per gateway, with new SPIs"
lc_wait_until 60 stable || { lc_children a; lc_children b; dump_state; fail "no moment with exactly one installed CHILD SA and its 2 ESP SAs on each gateway within 60 s"; }
log "ok: both daemons list one installed CHILD SA (gwA->gwB $sab, gwB->gwA $sba); each kernel holds exactly its 2 ESP SAs"
check_policies gwA 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24
check_policies gwB 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24
[ "$sab" != "$first_out" ] && [ "$sba" != "$first_in" ] ||
    fail "SPIs did not change: first $first_out/$first_in, now $sab/$sba"
log "ok: SPIs changed: gwA->gwB $first_out -> $sab, gwB->gwA $first_in -> $sba"
ping_ok hostA 203.0.113.10 3

step "SIGKILL gwA's ipsecd in the middle of its CHILD SA rekey (gwB's answers delayed 1 s), then start it again"
modprobe -q sch_netem 2>/dev/null || fail "no sch_netem module: cannot hold the rekey in flight"
run ip netns exec gwB tc qdisc add dev wan root netem delay 1000ms
sent() { lc_log_count a 'CREATE_CHILD_SA request sent: rekey of CHILD SA'; }
before=$(sent)
lc_wait_until 40 eval '[ "$(sent)" -gt "$before" ]' || fail "gwA started no CHILD SA rekey within 40 s"
run kill -KILL "${IPSECD_PID[a]}"
wait "${IPSECD_PID[a]}" 2>/dev/null
t0=$(lc_now)
run ip netns exec gwB tc qdisc del dev wan root
log "gwA killed after: $(grep 'CREATE_CHILD_SA request sent: rekey' "$E2E_OUT/ipsecd-a.log" | tail -n1 | cut -c1-160)"
log "gwA's kernel now: $(ip -n gwA xfrm state | grep -c 'proto esp spi') ESP states (old SAs and the SPI reserved for the rekey)"
mv "$E2E_OUT/ipsecd-a.log" "$E2E_OUT/ipsecd-a.killed.log"
rm -f "$IPSECD_RUN/a.sock"
capture_start killed-wan gwA wan
capture_start killed-wan gwB wan
ipsecd_start gwA a "$W/left.json"
lc_wait_until 60 stable || { lc_children a; lc_children b; dump_state; fail "no single CHILD SA with exactly its 2 ESP SAs per gateway within 60 s of the restart"; }
t1=$(lc_now)
capture_stop
log "back: one CHILD SA, exactly 2 ESP SAs per gateway (no orphan, no duplicate) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the SIGKILL"
log "$(grep -m2 'crash recovery' "$E2E_OUT/ipsecd-a.log" | tr '\n' ' ')"
assert_eq "packets with an inner address as outer header around the kill" 0 \
    "$(capture_count killed-wan "net 198.51.100.0/24 or net 203.0.113.0/24")"
ping_ok hostA 203.0.113.10 3

step "ipsecctl down $CONN: no SA, no policy left on either gateway"
ipsecd_pair_down a b "$CONN" gwA gwB

step "SIGTERM both daemons"
ipsecd_stop a b
pass "ikev2-rekey: $child_a CHILD rekeys and $ike_a IKE rekey(s) seen from gwA during $tx pings, $lost lost"
