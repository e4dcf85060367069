#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 (PSK) negotiated ESP tunnel over IPv6 on Debian's real kernel:
# IKE and ESP between 2001:db8::1 (gwA) and 2001:db8::2 (gwB), tunnelling the
# IPv6 subnets 2001:db8:a::/64 (hostA) <-> 2001:db8:b::/64 (hostB), and in the
# same CHILD SA the IPv4 subnets 198.51.100.0/24 <-> 203.0.113.0/24 (IPv4 inside
# IPv6). The connection is policies/examples/ikev2-psk-tunnel with its outer
# addresses made IPv6 and the IPv6 subnets added (jq, below). Proves: both ends
# report an installed tunnel-mode CHILD SA with both selector pairs; the kernel
# holds the 2 IPv6 SAs and 3 policies (out, in, fwd) per family on each
# gateway; hostA pings hostB (ping -6) and sends 1 MiB over TCP (sha256
# compared); the four SA counters grow (the hostA->hostB SA by at least the
# payload); IPv4 ping hostA->hostB goes through the same IPv6 SAs; the
# gateways' link carries no packet with an inner address, no IPv4, no TCP and
# no ICMPv6 echo in the clear; 'ipsecctl down' leaves no SA and no policy on
# either; SIGTERM stops both with exit 0.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
topo_gateways6
GA=2001:db8::1 GB=2001:db8::2 NA=2001:db8:a::/64 NB=2001:db8:b::/64 HB=2001:db8:b::10
NA4=198.51.100.0/24 NB4=203.0.113.0/24

W=$(mktemp -d /tmp/ikev2-tunnel6.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-tunnel
cp "$ex/shared.psk" "$W/" || fail "copy $ex"
chmod 600 "$W/shared.psk"
# the example with IPv6 outer addresses and the IPv6 subnets before its IPv4 ones
v6() { # IN OUT LOCAL REMOTE LOCAL_NET REMOTE_NET
    jq --arg l "$3" --arg r "$4" --arg ln "$5" --arg rn "$6" '
        .connections[] |= (.local.address = $l | .remote.address = $r
            | .children[] |= (.local_ts = [$ln] + .local_ts | .remote_ts = [$rn] + .remote_ts))' "$1" > "$2" \
        || fail "jq $1"
}
v6 "$ex/left.json" "$W/left.json" $GA $GB $NA $NB
v6 "$ex/right.json" "$W/right.json" $GB $GA $NB $NA
jq -c '.connections[] | {local: .local.address, remote: .remote.address, children: (.children | map_values({local_ts, remote_ts}))}' \
    "$W/left.json" | sed 's/^/    [left.json] /'
run ip netns exec gwA "$IPSECCTL" validate "$W/left.json" "$W/right.json" || fail "validate the IPv6 connections"
CONN=to-right
PAYLOAD=$(( 1024 * 1024 ))

step "start ipsecd (real kernel, IKE over IPv6) in gwB (responder) and gwA (initiator)"
ipsecd_start gwB b "$W/right.json"
ipsecd_start gwA a "$W/left.json"

step "wait (<= 30 s) for the CHILD SA on both gateways"
ipsecd_pair_up a b "$CONN" tunnel gwA gwB
sab=$PAIR_OUT sba=$PAIR_IN   # gwA -> gwB, gwB -> gwA
assert_eq "gwA's selectors" "$NA,$NA4 $NB,$NB4" \
    "$(ipsecd_ctl a status --json | jq -r '.ike_sas[0].children[0] | "\(.local_ts | join(",")) \(.remote_ts | join(","))"')"
assert_eq "gwA's IKE endpoints" "$GA $GB" \
    "$(ipsecd_ctl a status --json | jq -r '.ike_sas[0] | "\(.local) \(.remote)"' | sed 's/\[500\]//g')"

step "kernel state on both gateways: 2 IPv6 tunnel SAs, 3 policies for each family"
check_child_kernel gwA tunnel $GA $GB $NA $NB "$sab" "$sba" 2
check_child_kernel gwA tunnel $GA $GB $NA4 $NB4 "$sab" "$sba" 2
check_child_kernel gwB tunnel $GB $GA $NB $NA "$sba" "$sab" 2
check_child_kernel gwB tunnel $GB $GA $NB4 $NA4 "$sba" "$sab" 2

step "hostA -> hostB ($HB) through the IPv6 tunnel: ping -6, then $PAYLOAD bytes over TCP"
count=5 pcap=ikev2-tunnel6-wan
a=$(sa_snap gwA $GA $GB esp "$sab")
b=$(sa_snap gwB $GA $GB esp "$sab")
c=$(sa_snap gwB $GB $GA esp "$sba")
d=$(sa_snap gwA $GB $GA esp "$sba")
capture_start "$pcap" gwA wan
capture_start "$pcap" gwB wan
ping_ok hostA $HB "$count" -6
sa_grew "gwA out" "$a" gwA $GA $GB esp "$sab" "$count"
sa_grew "gwB in"  "$b" gwB $GA $GB esp "$sab" "$count"
sa_grew "gwB out" "$c" gwB $GB $GA esp "$sba" "$count"
sa_grew "gwA in"  "$d" gwA $GB $GA esp "$sba" "$count"
a=$(sa_snap gwA $GA $GB esp "$sab")
b=$(sa_snap gwB $GA $GB esp "$sab")
tcp_transfer hostA hostB $HB 5001 "$PAYLOAD"
sa_grew_bytes "gwA out (TCP data)" "$a" gwA $GA $GB esp "$sab" "$PAYLOAD"
sa_grew_bytes "gwB in (TCP data)"  "$b" gwB $GA $GB esp "$sab" "$PAYLOAD"

step "IPv4 inside the same IPv6 SAs: hostA -> hostB (203.0.113.10)"
a=$(sa_snap gwA $GA $GB esp "$sab")
d=$(sa_snap gwA $GB $GA esp "$sba")
ping_ok hostA 203.0.113.10 "$count"
capture_stop
sa_grew "gwA out (IPv4 inside)" "$a" gwA $GA $GB esp "$sab" "$count"
sa_grew "gwA in (IPv4 inside)"  "$d" gwA $GB $GA esp "$sba" "$count"

step "what crossed the gwA-gwB link"
capture_show "$pcap" 3
assert_ge "ESP packets gwA->gwB with spi $sab" $(( count + PAYLOAD / 1500 )) \
    "$(capture_count "$pcap" "src $GA and dst $GB and ip6 proto 50 and ip6[40:4] = $sab")"
assert_ge "ESP packets gwB->gwA with spi $sba" "$count" \
    "$(capture_count "$pcap" "src $GB and dst $GA and ip6 proto 50 and ip6[40:4] = $sba")"
assert_eq "packets with an inner address as outer header" 0 \
    "$(capture_count "$pcap" "net 2001:db8:a::/64 or net 2001:db8:b::/64 or net $NA4 or net $NB4")"
assert_eq "ICMPv6 echo in the clear" 0 "$(capture_count "$pcap" "icmp6 and (ip6[40] == 128 or ip6[40] == 129)")"
assert_eq "bare TCP packets on the link" 0 "$(capture_count "$pcap" "tcp")"
assert_eq "IPv4 packets on the link" 0 "$(capture_count "$pcap" "ip")"

step "ipsecctl down $CONN: no SA, no policy left on either gateway"
ipsecd_pair_down a b "$CONN" gwA gwB

step "SIGTERM both daemons"
ipsecd_stop a b
pass "ikev2-tunnel6"
