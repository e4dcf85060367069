#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 NAT traversal (RFC 7296 §2.23, RFC 3948) on Debian's real kernel.
# gwA sits behind a masquerading NAT router (nftables, UDP source ports
# rewritten into 20000-29999); two ipsecd negotiate
# policies/examples/ikev2-psk-tunnel, gwA's local address changed to its
# private 10.0.0.2 (gwB keeps expecting 192.0.2.1, the NAT's address).
# Proves: both detect the NAT and move IKE to UDP 4500 (status shows the
# 4500 endpoints, gwB the NAT's mapped port); the kernel SAs on both gateways
# are UDP-encapsulated (espinudp, with the ports each side sees); hostA pings
# hostB and sends 1 MiB over TCP; the four SA counters grow; on the NAT's
# outside only UDP crosses: IKE_SA_INIT to 500, IKE with the non-ESP marker
# and ESP with our SPIs on 4500, NAT keepalives (0xFF) from gwA's side only,
# no raw ESP (proto 50), nothing in the clear; 'ipsecctl down' leaves no SA
# and no policy; SIGTERM stops both with exit 0. Then, without a NAT, a
# connection with "encap": true (ikev2-psk-transport between two hosts) still
# moves IKE to 4500 and UDP-encapsulates ESP both ways, without keepalives.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
load_nat_modules
topo_nat_gateways

W=$(mktemp -d /tmp/ikev2-natt.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-tunnel
cp "$ex/left.json" "$ex/right.json" "$ex/shared.psk" "$W/" || fail "copy $ex"
chmod 600 "$W/shared.psk"
grep -q '"local": {"address": "192.0.2.1"' "$W/left.json" || fail "left.json: no local address 192.0.2.1 to replace"
sed -i 's/"local": {"address": "192.0.2.1"/"local": {"address": "10.0.0.2"/' "$W/left.json"
grep -q '"remote": {"address": "192.0.2.1"' "$W/right.json" || fail "right.json does not expect 192.0.2.1"
CONN=to-right
PAYLOAD=$(( 1024 * 1024 ))
KEEPALIVE=2
hex32() { printf '0x%08x' "$1"; }

step "capture what the NAT sends outside and what gwB sends, from the first IKE message on"
pcap=natt-outside
capture_start "$pcap" nat out
capture_start "$pcap" gwB wan

step "start ipsecd in gwB (responder) and gwA (initiator behind the NAT, keepalives every $KEEPALIVE s)"
IPSECD_OPTS="--natt-keepalive $KEEPALIVE"
ipsecd_start gwB b "$W/right.json"
ipsecd_start gwA a "$W/left.json"

step "wait (<= 30 s) for the CHILD SA on both gateways"
ipsecd_pair_up a b "$CONN" tunnel gwA gwB
sab=$PAIR_OUT sba=$PAIR_IN   # gwA -> gwB, gwB -> gwA

step "IKE moved to UDP 4500; gwB talks to the NAT's mapped port"
assert_eq "[gwA] IKE endpoints" "10.0.0.2[4500] 192.0.2.2[4500]" \
    "$(jq -r '.ike_sas[0] | "\(.local) \(.remote)"' "$E2E_OUT/status-gwA.json")"
assert_eq "[gwB] IKE local endpoint" "192.0.2.2[4500]" "$(jq -r '.ike_sas[0].local' "$E2E_OUT/status-gwB.json")"
bremote=$(jq -r '.ike_sas[0].remote' "$E2E_OUT/status-gwB.json")
natport=$(sed -n 's/^192\.0\.2\.1\[\([0-9]*\)\]$/\1/p' <<< "$bremote")
[ -n "$natport" ] && (( natport >= 20000 && natport <= 29999 )) \
    || fail "[gwB] IKE remote endpoint: expected 192.0.2.1[20000..29999] (the NAT's mapping), saw '$bremote'"
log "ok: [gwB] IKE remote endpoint = $bremote (the NAT's mapping of 10.0.0.2:4500)"

step "kernel state: 2 UDP-encapsulated ESP SAs and 3 tunnel policies on each gateway"
for ns in gwA gwB; do
    xfrm_records "$ns" state | sed 's/ replay-window .*encap/ ... encap/; s/0x[0-9a-f]\{16,\}/<key>/g; s/^/    ['"$ns"' SA] /'
    assert_eq "[$ns] SAs and policies" "2 3" "$(xfrm_count "$ns")"
done
encap_sa() { # NS SRC DST SPI SPORT DPORT: 1 if that SA is ESP-in-UDP with these ports
    xfrm_records "$1" state | grep -c "^src $2 dst $3 proto esp spi $4 .*mode tunnel.* encap type espinudp sport $5 dport $6 "
}
assert_eq "[gwA] SA 10.0.0.2->192.0.2.2 $sab espinudp 4500->4500" 1 "$(encap_sa gwA 10.0.0.2 192.0.2.2 "$sab" 4500 4500)"
assert_eq "[gwA] SA 192.0.2.2->10.0.0.2 $sba espinudp 4500->4500" 1 "$(encap_sa gwA 192.0.2.2 10.0.0.2 "$sba" 4500 4500)"
assert_eq "[gwB] SA 192.0.2.2->192.0.2.1 $sba espinudp 4500->$natport" 1 "$(encap_sa gwB 192.0.2.2 192.0.2.1 "$sba" 4500 "$natport")"
assert_eq "[gwB] SA 192.0.2.1->192.0.2.2 $sab espinudp $natport->4500" 1 "$(encap_sa gwB 192.0.2.1 192.0.2.2 "$sab" "$natport" 4500)"

step "hostA -> hostB through the NAT and the encapsulated SAs: ping, then $PAYLOAD bytes over TCP"
count=5
a=$(sa_snap gwA 10.0.0.2 192.0.2.2 esp "$sab")
b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
d=$(sa_snap gwA 192.0.2.2 10.0.0.2 esp "$sba")
ping_ok hostA 203.0.113.10 "$count"
sa_grew "gwA out" "$a" gwA 10.0.0.2 192.0.2.2 esp "$sab" "$count"
sa_grew "gwB in"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" "$count"
sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" "$count"
sa_grew "gwA in"  "$d" gwA 192.0.2.2 10.0.0.2 esp "$sba" "$count"
a=$(sa_snap gwA 10.0.0.2 192.0.2.2 esp "$sab")
b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
tcp_transfer hostA hostB 203.0.113.10 5001 "$PAYLOAD"
sa_grew_bytes "gwA out (TCP data)" "$a" gwA 10.0.0.2 192.0.2.2 esp "$sab" "$PAYLOAD"
sa_grew_bytes "gwB in (TCP data)"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" "$PAYLOAD"

step "let at least two keepalive intervals pass"
sleep $(( 2 * KEEPALIVE + 1 ))
capture_stop

step "what crossed the NAT's outside link"
capture_show "$pcap" 6
n() { capture_count "$pcap" "$@"; }
assert_ge "IKE_SA_INIT from the NAT (translated port) to gwB's 500" 1 \
    "$(n "src 192.0.2.1 and dst 192.0.2.2 and udp dst port 500 and udp src portrange 20000-29999")"
assert_ge "IKE with the non-ESP marker, NAT -> gwB:4500" 1 \
    "$(n "src 192.0.2.1 and dst 192.0.2.2 and udp dst port 4500 and udp src port $natport and udp[8:4] = 0")"
assert_ge "IKE with the non-ESP marker, gwB:4500 -> NAT" 1 \
    "$(n "src 192.0.2.2 and dst 192.0.2.1 and udp src port 4500 and udp dst port $natport and udp[8:4] = 0")"
assert_ge "ESP in UDP 4500 with spi $sab, NAT -> gwB" $(( count + PAYLOAD / 1500 )) \
    "$(n "src 192.0.2.1 and dst 192.0.2.2 and udp dst port 4500 and udp[8:4] = $sab")"
assert_ge "ESP in UDP 4500 with spi $sba, gwB -> NAT" "$count" \
    "$(n "src 192.0.2.2 and dst 192.0.2.1 and udp src port 4500 and udp dst port $natport and udp[8:4] = $sba")"
assert_ge "NAT keepalives (one byte 0xFF) from gwA's side to gwB:4500" 2 \
    "$(n "src 192.0.2.1 and udp dst port 4500 and udp[4:2] = 9 and udp[8] = 0xff")"
assert_eq "keepalives from gwB (not behind a NAT)" 0 "$(n "src 192.0.2.2 and udp[4:2] = 9")"
assert_eq "raw ESP (IP protocol 50) on the NAT's outside" 0 "$(n "ip proto 50")"
assert_eq "packets with an inner or private address as outer header" 0 \
    "$(n "net 198.51.100.0/24 or net 203.0.113.0/24 or net 10.0.0.0/8")"
assert_eq "IPv4 packets other than UDP on the link" 0 "$(n "ip and not udp")"

step "ipsecctl down $CONN: no SA, no policy left on either gateway"
ipsecd_pair_down a b "$CONN" gwA gwB

step "SIGTERM both daemons"
ipsecd_stop a b

# ------------------------------------------------------------------ encap: true
step "forced encapsulation without a NAT: ikev2-psk-transport between two hosts, left sets \"encap\": true"
topo_two_hosts
L=192.0.2.1 R=192.0.2.2
tx=$EXAMPLES/ikev2-psk-transport
mkdir -p "$W/encap" && cp "$tx/right.json" "$tx/shared.psk" "$W/encap/" || fail "copy $tx"
chmod 600 "$W/encap/shared.psk"
jq '.connections["host-right"].encap = true' "$tx/left.json" > "$W/encap/left.json" \
    && grep -q '"encap": true' "$W/encap/left.json" || fail "cannot set encap in left.json"
pcap=encap-link
capture_start "$pcap" left eth0
capture_start "$pcap" right eth0
IPSECD_OPTS="--natt-keepalive $KEEPALIVE"
ipsecd_start right r "$W/encap/right.json"
ipsecd_start left l "$W/encap/left.json"
ipsecd_wait_child l r host-right
read -r _ _ lin lout lmode <<< "$IPSECD_CHILD_INIT"
assert_eq "CHILD SA mode" transport "$lmode"
slr=$(hex32 "$lout") srl=$(hex32 "$lin")
assert_eq "[left] IKE endpoints" "$L[4500] $R[4500]" \
    "$(ipsecd_ctl l status --json | jq -r '.ike_sas[0] | "\(.local) \(.remote)"')"
assert_eq "[right] IKE endpoints" "$R[4500] $L[4500]" \
    "$(ipsecd_ctl r status --json | jq -r '.ike_sas[0] | "\(.local) \(.remote)"')"
tencap() { # NS SRC DST SPI: 1 if that transport SA is ESP-in-UDP 4500 -> 4500
    xfrm_records "$1" state | grep -c "^src $2 dst $3 proto esp spi $4 .*mode transport.* encap type espinudp sport 4500 dport 4500 "
}
assert_eq "[left] SA $L->$R $slr espinudp 4500->4500" 1 "$(tencap left $L $R "$slr")"
assert_eq "[left] SA $R->$L $srl espinudp 4500->4500" 1 "$(tencap left $R $L "$srl")"
assert_eq "[right] SA $L->$R $slr espinudp 4500->4500" 1 "$(tencap right $L $R "$slr")"
assert_eq "[right] SA $R->$L $srl espinudp 4500->4500" 1 "$(tencap right $R $L "$srl")"
transport_roundtrip left right $L $R esp "$slr" "$srl" "$count"
sleep $(( 2 * KEEPALIVE + 1 ))
capture_stop
capture_show "$pcap" 4
assert_ge "ESP in UDP 4500 with spi $slr, left -> right" "$count" \
    "$(capture_count "$pcap" "src $L and dst $R and udp src port 4500 and udp dst port 4500 and udp[8:4] = $slr")"
assert_ge "ESP in UDP 4500 with spi $srl, right -> left" "$count" \
    "$(capture_count "$pcap" "src $R and dst $L and udp src port 4500 and udp dst port 4500 and udp[8:4] = $srl")"
assert_ge "IKE with the non-ESP marker on 4500" 2 "$(capture_count "$pcap" "udp port 4500 and udp[8:4] = 0")"
assert_eq "raw ESP (IP protocol 50)" 0 "$(capture_count "$pcap" "ip proto 50")"
assert_eq "bare ICMP" 0 "$(capture_count "$pcap" "icmp")"
assert_eq "keepalives (nobody is behind a NAT)" 0 "$(capture_count "$pcap" "udp[4:2] = 9")"
ipsecd_pair_down l r host-right left right
ipsecd_stop l r
pass "ikev2-natt"
