#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: ESP transport mode, AES-GCM-16 (256-bit key), between two hosts
# (policies/examples/esp-transport). Proves: traffic flows, all four SA
# counters grow (and ipsecctl show sa reports what ip -s xfrm state does);
# then a show --json / flush / apply round trip restores the
# same configuration, which carries traffic again.
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
topo_two_hosts
EX=$EXAMPLES/esp-transport

step "apply esp-transport on both hosts"
apply left "$EX/left.json"
apply right "$EX/right.json"

step "traffic left -> right and back through the SAs"
transport_roundtrip left right 192.0.2.1 192.0.2.2 esp 0x1001 0x2001 5
assert_cli_counters left 192.0.2.1 192.0.2.2 esp 0x1001
assert_cli_counters right 192.0.2.1 192.0.2.2 esp 0x1001

step "round trip: show --json, flush, apply, show --json"
roundtrip left right
step "traffic again after the round trip"
transport_roundtrip left right 192.0.2.1 192.0.2.2 esp 0x1001 0x2001 3

pass "esp-transport"
