#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: AH transport mode, HMAC-SHA-256, between two hosts
# (policies/examples/ah-transport). Proves traffic flows and all four SA
# counters grow, and that the packets on the wire are AH (not ESP, not bare ICMP).
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
topo_two_hosts
EX=$EXAMPLES/ah-transport

step "apply ah-transport on both hosts"
apply left "$EX/left.json"
apply right "$EX/right.json"

step "traffic left -> right and back through the SAs"
capture_start wire left eth0
capture_start wire right eth0
transport_roundtrip left right 192.0.2.1 192.0.2.2 ah 0x1003 0x2003 5
capture_stop
capture_show wire 2
# AH transport: the IP protocol is 51 and the ICMP follows the AH header
assert_ge "AH packets on the wire" 10 "$(capture_count wire 'ip proto 51')"
assert_eq "bare ICMP packets on the wire" 0 "$(capture_count wire icmp)"

pass "ah-transport"
