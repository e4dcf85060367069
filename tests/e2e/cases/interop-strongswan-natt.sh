#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 NAT traversal against strongSwan (Debian 12's charon 5.9.8) on
# Debian's real kernel. gwA sits behind a masquerading NAT router (nftables,
# UDP source ports rewritten into 20000-29999), gwB outside; tunnel
# 198.51.100.0/24 <-> 203.0.113.0/24 (traffic hostA <-> hostB). Two rounds in
# one boot:
#   1. ipsecd in gwA initiates (behind the NAT), charon in gwB responds;
#   2. charon in gwA initiates (behind the NAT), ipsecd in gwB responds.
# Each: both sides report the IKE SA on UDP 4500 and an installed CHILD SA with
# the same SPIs; charon says which side is behind the NAT and that its CHILD
# SA is UDP-encapsulated; both kernels hold espinudp SAs with the ports each
# side sees; a ping crosses and the four SA counters grow; on the NAT's
# outside only UDP crosses (ESP on 4500 with our SPIs, no raw ESP); round 1
# also sees ipsecd's keepalives. Teardown (ipsecctl down in round 1, swanctl
# --terminate in round 2) leaves no SA and no policy on either gateway.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
. "$E2E_DIR/strongswan/charon.sh"
require_ipsecd
sw_require
load_modules
load_nat_modules
topo_nat_gateways

W=$(mktemp -d /tmp/interop-natt.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-tunnel
cp "$ex/left.json" "$ex/right.json" "$ex/shared.psk" "$W/" || fail "copy $ex"
chmod 600 "$W/shared.psk"
sed -i 's/"local": {"address": "192.0.2.1"/"local": {"address": "10.0.0.2"/' "$W/left.json"
grep -q '"10.0.0.2"' "$W/left.json" || fail "left.json: local address not replaced"
PSK=$(cat "$W/shared.psk")
IKE=aes256gcm16-prfsha256-x25519
ESP=aes256gcm16
COUNT=5
KEEPALIVE=2
hex32() { printf '0x%08x' "$1"; }
n() { capture_count "$pcap" "$@"; }

# encap_sa NS SRC DST SPI SPORT DPORT: 1 if that tunnel SA is ESP-in-UDP with these ports
encap_sa() {
    xfrm_records "$1" state | grep -c "^src $2 dst $3 proto esp spi $4 .*mode tunnel.* encap type espinudp sport $5 dport $6 "
}
# sw_raw_has NAME KEY=VALUE...: charon's raw view of IKE SA NAME holds every KEY=VALUE
sw_raw_has() {
    local name=$1 raw kv; shift
    raw=$(sw --list-sas --ike "$name" --raw 2>/dev/null)
    for kv in "$@"; do
        grep -q "[ {]$kv[ }]" <<< "$raw" || { printf '%s\n' "$raw" | head -c 2000; echo; fail "charon's $name: no $kv"; }
        log "ok: charon's $name has $kv"
    done
}
# wait_up IPSECD_NAME SW_NAME: (<= 30 s) both sides have the CHILD SA installed;
# sets IPSECD_CHILD (ipsecd_child's line)
wait_up() {
    local i
    IPSECD_CHILD=''
    for (( i = 0; i < 60; i++ )); do
        IPSECD_CHILD=$(ipsecd_child "$1")
        [ -n "$IPSECD_CHILD" ] && [ "$(sw_view "$2" | cut -d' ' -f5)" = INSTALLED ] && return 0
        sleep 0.5
    done
    ipsecd_ctl "$1" status; sw --list-sas
    tail -n 40 "$E2E_OUT/ipsecd-$1.log"; tail -n 60 "$SW_LOG"
    fail "no installed CHILD SA on both sides after 30 s"
}
# traffic_and_capture SAB SBA NATPORT: ping hostA -> hostB, counters of the
# four SAs (gwA sees 10.0.0.2, gwB sees 192.0.2.1), then what crossed outside
traffic_and_capture() {
    local sab=$1 sba=$2 natport=$3 a b c d
    a=$(sa_snap gwA 10.0.0.2 192.0.2.2 esp "$sab")
    b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
    c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
    d=$(sa_snap gwA 192.0.2.2 10.0.0.2 esp "$sba")
    ping_ok hostA 203.0.113.10 "$COUNT"
    sa_grew "gwA out" "$a" gwA 10.0.0.2 192.0.2.2 esp "$sab" "$COUNT"
    sa_grew "gwB in"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" "$COUNT"
    sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" "$COUNT"
    sa_grew "gwA in"  "$d" gwA 192.0.2.2 10.0.0.2 esp "$sba" "$COUNT"
    assert_eq "[gwA] SA 10.0.0.2->192.0.2.2 $sab espinudp 4500->4500" 1 "$(encap_sa gwA 10.0.0.2 192.0.2.2 "$sab" 4500 4500)"
    assert_eq "[gwA] SA 192.0.2.2->10.0.0.2 $sba espinudp 4500->4500" 1 "$(encap_sa gwA 192.0.2.2 10.0.0.2 "$sba" 4500 4500)"
    assert_eq "[gwB] SA 192.0.2.2->192.0.2.1 $sba espinudp 4500->$natport" 1 "$(encap_sa gwB 192.0.2.2 192.0.2.1 "$sba" 4500 "$natport")"
    assert_eq "[gwB] SA 192.0.2.1->192.0.2.2 $sab espinudp $natport->4500" 1 "$(encap_sa gwB 192.0.2.1 192.0.2.2 "$sab" "$natport" 4500)"
    for ns in gwA gwB; do assert_eq "[$ns] SAs and policies" "2 3" "$(xfrm_count "$ns")"; done
}
check_outside() { # SAB SBA NATPORT
    local sab=$1 sba=$2 natport=$3
    capture_show "$pcap" 4
    assert_ge "IKE with the non-ESP marker, NAT -> gwB:4500" 1 \
        "$(n "src 192.0.2.1 and udp src port $natport and udp dst port 4500 and udp[8:4] = 0")"
    assert_ge "ESP in UDP 4500 with spi $sab, NAT -> gwB" "$COUNT" \
        "$(n "src 192.0.2.1 and dst 192.0.2.2 and udp dst port 4500 and udp[8:4] = $sab")"
    assert_ge "ESP in UDP 4500 with spi $sba, gwB -> NAT:$natport" "$COUNT" \
        "$(n "src 192.0.2.2 and dst 192.0.2.1 and udp src port 4500 and udp dst port $natport and udp[8:4] = $sba")"
    assert_eq "raw ESP (IP protocol 50) on the NAT's outside" 0 "$(n "ip proto 50")"
    assert_eq "IPv4 packets other than UDP on the link" 0 "$(n "ip and not udp")"
    assert_eq "packets with an inner or private address as outer header" 0 \
        "$(n "net 198.51.100.0/24 or net 203.0.113.0/24 or net 10.0.0.0/8")"
}
wait_clean() {
    local i
    for (( i = 0; i < 60; i++ )); do
        [ "$(xfrm_count gwA) $(xfrm_count gwB)" = "0 0 0 0" ] && break
        sleep 0.5
    done
    for ns in gwA gwB; do assert_eq "[$ns] SAs and policies after teardown" "0 0" "$(xfrm_count "$ns")"; done
}

# ------------------------------------------------------------------ round 1
step "round 1: charon in gwB responds to ipsecd in gwA (behind the NAT)"
pcap=natt-sw1
capture_start "$pcap" nat out
capture_start "$pcap" gwB wan
sw_start gwB "$W/swB"
sw_conn_conf "$W/swB/swanctl.conf" from-left tunnel 192.0.2.2 192.0.2.1 right.example left.example \
    "$IKE" "$ESP" 203.0.113.0/24 198.51.100.0/24 "$PSK"
sw_load "$W/swB/swanctl.conf"
IPSECD_OPTS="--natt-keepalive $KEEPALIVE"
ipsecd_start gwA a "$W/left.json"
wait_up a from-left
ipsecd_ctl a status | sed 's/^/    [gwA ipsecd] /'
sw --list-sas 2>&1 | sed 's/^/    [gwB charon] /'
read -r ai ar ain aout amode <<< "$IPSECD_CHILD"
read -r _ si sr _ _ _ _ sin sout _ _ <<< "$(sw_view from-left)"
assert_eq "IKE SPIs ipsecd/charon" "${ai#0x} ${ar#0x}" "$si $sr"
assert_eq "CHILD SPIs crossed (ipsecd in/out = charon out/in)" "$(printf '%08x %08x' "$ain" "$aout")" "$sout $sin"
assert_eq "[gwA ipsecd] IKE endpoints" "10.0.0.2[4500] 192.0.2.2[4500]" \
    "$(ipsecd_ctl a status --json | jq -r '.ike_sas[0] | "\(.local) \(.remote)"')"
sw_raw_has from-left local-port=4500 nat-remote=yes nat-any=yes encap=yes
natport=$(sw --list-sas --ike from-left --raw 2>/dev/null | sed -n 's/.* remote-port=\([0-9]*\) .*/\1/p' | head -n1)
[ -n "$natport" ] && (( natport >= 20000 && natport <= 29999 )) || fail "charon's remote port: expected the NAT's mapping in 20000..29999, saw '$natport'"
log "ok: charon talks to 192.0.2.1[$natport], the NAT's mapping of 10.0.0.2:4500"
sab=$(hex32 "$aout") sba=$(hex32 "$ain")
traffic_and_capture "$sab" "$sba" "$natport"
sleep $(( 2 * KEEPALIVE + 1 ))
capture_stop
check_outside "$sab" "$sba" "$natport"
assert_ge "ipsecd's NAT keepalives from behind the NAT" 2 \
    "$(n "src 192.0.2.1 and udp src port $natport and udp dst port 4500 and udp[4:2] = 9 and udp[8] = 0xff")"
step "round 1 teardown: ipsecctl down"
run ipsecd_ctl a down to-right || fail "ipsecctl down to-right"
wait_clean
ipsecd_stop a
sw_stop

# ------------------------------------------------------------------ round 2
step "round 2: ipsecd in gwB responds to charon in gwA (behind the NAT)"
pcap=natt-sw2
capture_start "$pcap" nat out
capture_start "$pcap" gwB wan
IPSECD_OPTS=''
ipsecd_start gwB b "$W/right.json"
SW_LOG=''
sw_start gwA "$W/swA"
sw_conn_conf "$W/swA/swanctl.conf" to-right tunnel 10.0.0.2 192.0.2.2 left.example right.example \
    "$IKE" "$ESP" 198.51.100.0/24 203.0.113.0/24 "$PSK"
sw_load "$W/swA/swanctl.conf"
run sw --initiate --child to-right-child --timeout 30 > "$E2E_OUT/swanctl-initiate.log" 2>&1 \
    || { cat "$E2E_OUT/swanctl-initiate.log"; fail "swanctl --initiate"; }
wait_up b to-right
ipsecd_ctl b status | sed 's/^/    [gwB ipsecd] /'
sw --list-sas 2>&1 | sed 's/^/    [gwA charon] /'
read -r bi br bin bout bmode <<< "$IPSECD_CHILD"
read -r _ si sr _ _ _ _ sin sout _ _ <<< "$(sw_view to-right)"
assert_eq "IKE SPIs ipsecd/charon" "${bi#0x} ${br#0x}" "$si $sr"
assert_eq "CHILD SPIs crossed (ipsecd in/out = charon out/in)" "$(printf '%08x %08x' "$bin" "$bout")" "$sout $sin"
sw_raw_has to-right local-port=4500 remote-port=4500 nat-local=yes nat-any=yes encap=yes
bremote=$(ipsecd_ctl b status --json | jq -r '.ike_sas[0].remote')
assert_eq "[gwB ipsecd] IKE local endpoint" "192.0.2.2[4500]" "$(ipsecd_ctl b status --json | jq -r '.ike_sas[0].local')"
natport=$(sed -n 's/^192\.0\.2\.1\[\([0-9]*\)\]$/\1/p' <<< "$bremote")
[ -n "$natport" ] && (( natport >= 20000 && natport <= 29999 )) || fail "[gwB ipsecd] remote: expected 192.0.2.1[20000..29999], saw '$bremote'"
log "ok: [gwB ipsecd] follows charon to $bremote"
sab=$(hex32 "$bin") sba=$(hex32 "$bout")   # gwA -> gwB is ipsecd's inbound here
traffic_and_capture "$sab" "$sba" "$natport"
capture_stop
check_outside "$sab" "$sba" "$natport"
assert_eq "keepalives from gwB (ipsecd, not behind a NAT)" 0 "$(n "src 192.0.2.2 and udp[4:2] = 9")"
step "round 2 teardown: swanctl --terminate"
run sw --terminate --ike to-right --timeout 30 > /dev/null 2>&1 || fail "swanctl --terminate --ike to-right"
wait_clean
assert_eq "[gwB ipsecd] IKE SAs after terminate" 0 "$(ipsecd_ctl b status --json | jq '.ike_sas | length')"
sw_stop
ipsecd_stop b
pass "interop-strongswan-natt"
