#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: an AH+ESP bundle in transport mode (policies/examples/ah-esp-bundle:
# each policy has two templates, ESP then AH, so packets are IP|AH|ESP).
# Proves: traffic flows, both the ESP and the AH SA of each direction count
# the packets on both hosts, and the wire shows AH outside (proto 51);
# show --json / flush / apply restores the bundle (template order kept).
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
topo_two_hosts
EX=$EXAMPLES/ah-esp-bundle

step "apply ah-esp-bundle on both hosts"
apply left "$EX/left.json"
apply right "$EX/right.json"

step "traffic left -> right and back through both SAs of each direction"
pcap=wire
declare -A before
for sa in "left 192.0.2.1 192.0.2.2 esp 0x1005" "left 192.0.2.1 192.0.2.2 ah 0x1105" \
          "right 192.0.2.1 192.0.2.2 esp 0x1005" "right 192.0.2.1 192.0.2.2 ah 0x1105" \
          "right 192.0.2.2 192.0.2.1 esp 0x2005" "right 192.0.2.2 192.0.2.1 ah 0x2105" \
          "left 192.0.2.2 192.0.2.1 esp 0x2005" "left 192.0.2.2 192.0.2.1 ah 0x2105"; do
    before[$sa]=$(sa_snap $sa)
done
capture_start wire left eth0
capture_start wire right eth0
ping_ok left 192.0.2.2 5
capture_stop
for sa in "${!before[@]}"; do
    sa_grew "bundle" "${before[$sa]}" $sa 5
done
capture_show wire 2
assert_ge "packets with AH outermost (IP proto 51)" 10 "$(capture_count "$pcap" 'ip proto 51')"
assert_eq "packets with ESP outermost (IP proto 50)" 0 "$(capture_count "$pcap" 'ip proto 50')"
assert_eq "bare ICMP packets" 0 "$(capture_count "$pcap" icmp)"
# AH's next-header byte (first byte after the 20-byte IP header) says ESP (50)
assert_ge "AH packets whose next header is ESP" 10 "$(capture_count "$pcap" 'ip proto 51 and ip[20] = 50')"

step "round trip on both hosts (two-template policies, reqids)"
roundtrip left right
transport_roundtrip left right 192.0.2.1 192.0.2.2 esp 0x1005 0x2005 2

pass "ah-esp-bundle"
