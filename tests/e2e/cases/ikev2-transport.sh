#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 (PSK) negotiated ESP transport mode on Debian's real kernel, host
# to host (left 192.0.2.1 - right 192.0.2.2 on one link), two ipsecd loading
# policies/examples/ikev2-psk-transport. Proves: both ends report an installed
# CHILD SA in mode transport with matching SPIs; the kernel holds exactly the
# 2 transport-mode ESP SAs and 2 policies (out, in; no fwd) on each; ping and
# 1 MiB over TCP (sha256 compared) between the two pass through the SAs (all
# four counters, the left->right SA by at least the payload); the link carries
# nothing but ESP and IKE on UDP 500. IKE itself stays outside the SAs (the
# per-socket bypass policies on ipsecd's sockets): with the CHILD SA up, the
# INFORMATIONAL exchange of 'ipsecctl down' crosses the link as plain UDP 500
# in both directions and the peer really deletes: no SA, no policy, no IKE SA
# left on either end. SIGTERM stops both with exit 0.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecd
load_modules
topo_two_hosts
L=192.0.2.1 R=192.0.2.2

W=$(mktemp -d /tmp/ikev2-transport.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-transport
cp "$ex/left.json" "$ex/right.json" "$ex/shared.psk" "$W/" || fail "copy $ex"
chmod 600 "$W/shared.psk"
for want in $L $R $L/32 $R/32 transport; do
    grep -q "\"$want\"" "$W/left.json" && grep -q "\"$want\"" "$W/right.json" \
        || fail "example does not use $want: adapt it here with sed"
done
CONN=host-right
PAYLOAD=$(( 1024 * 1024 ))

step "start ipsecd (real kernel) on right (responder) and left (initiator, start_action start)"
ipsecd_start right r "$W/right.json"
ipsecd_start left l "$W/left.json"

step "wait (<= 30 s) for the transport-mode CHILD SA on both"
ipsecd_pair_up l r "$CONN" transport left right
slr=$PAIR_OUT srl=$PAIR_IN   # left -> right, right -> left

step "kernel state on both: exactly 2 transport-mode SAs, 2 policies (out, in), the IKE socket bypass"
check_child_kernel left transport $L $R $L/32 $R/32 "$slr" "$srl"
check_child_kernel right transport $R $L $R/32 $L/32 "$srl" "$slr"

step "left -> right through the transport SAs: ping, then $PAYLOAD bytes over TCP"
pcap=ikev2-transport-link
capture_start "$pcap" left eth0
capture_start "$pcap" right eth0
transport_roundtrip left right $L $R esp "$slr" "$srl" 5
a=$(sa_snap left $L $R esp "$slr")
b=$(sa_snap right $L $R esp "$slr")
c=$(sa_snap right $R $L esp "$srl")
d=$(sa_snap left $R $L esp "$srl")
tcp_transfer left right $R 5001 "$PAYLOAD"
capture_stop
sa_grew_bytes "left out (TCP data)" "$a" left $L $R esp "$slr" "$PAYLOAD"
sa_grew_bytes "right in (TCP data)" "$b" right $L $R esp "$slr" "$PAYLOAD"
sa_grew "right out (TCP acks)" "$c" right $R $L esp "$srl" 10
sa_grew "left in (TCP acks)"   "$d" left $R $L esp "$srl" 10

step "what crossed the link"
capture_show "$pcap" 3
assert_ge "ESP packets left->right with spi $slr" $(( 5 + PAYLOAD / 1500 )) \
    "$(capture_count "$pcap" "src $L and dst $R and ip proto 50 and ip[20:4] = $slr")"
assert_ge "ESP packets right->left with spi $srl" 5 \
    "$(capture_count "$pcap" "src $R and dst $L and ip proto 50 and ip[20:4] = $srl")"
assert_eq "bare ICMP packets on the link" 0 "$(capture_count "$pcap" "icmp")"
assert_eq "bare TCP packets on the link" 0 "$(capture_count "$pcap" "tcp")"
assert_eq "IPv4 packets other than ESP and IKE" 0 "$(capture_count "$pcap" "ip and not ip proto 50 and not udp port 500")"

step "ipsecctl down $CONN on left: IKE crosses in the clear (bypass), right really deletes"
pcap=ikev2-transport-down
capture_start "$pcap" left eth0
capture_start "$pcap" right eth0
ipsecd_pair_down l r "$CONN" left right
capture_stop
capture_show "$pcap" 4
assert_ge "IKE (UDP 500) packets left->right during down" 1 \
    "$(capture_count "$pcap" "src $L and dst $R and udp port 500")"
assert_ge "IKE (UDP 500) packets right->left during down (the peer's answer)" 1 \
    "$(capture_count "$pcap" "src $R and dst $L and udp port 500")"
assert_eq "ESP packets during down" 0 "$(capture_count "$pcap" "ip proto 50")"
grep -i 'delete' "$E2E_OUT/ipsecd-r.log" | tail -n 3 | sed 's/^/    [right log] /'

step "SIGTERM both daemons"
ipsecd_stop l r
for ns in left right; do
    assert_eq "[$ns] SAs and policies, per-socket policies after the daemon stopped" "0 0 0" \
        "$(xfrm_count "$ns") $(xfrm_socket_policies "$ns")"
done
pass "ikev2-transport"
