#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: ESP transport mode over IPv6, AES-GCM-16, between 2001:db8::1 and
# 2001:db8::2 (policies/examples/esp6-transport). Proves traffic flows and
# all four SA counters grow.
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
topo_two_hosts
EX=$EXAMPLES/esp6-transport

step "apply esp6-transport on both hosts"
apply left "$EX/left.json"
apply right "$EX/right.json"

step "traffic left -> right and back through the SAs"
transport_roundtrip left right 2001:db8::1 2001:db8::2 esp 0x1006 0x2006 5

pass "esp6-transport"
