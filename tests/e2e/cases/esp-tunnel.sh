#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: ESP tunnel mode between two gateways joining 198.51.100.0/24 and
# 203.0.113.0/24, a host behind each (policies/examples/esp-tunnel; gateways
# need out, in and fwd policies). Proves: hostA reaches hostB, the four gateway
# SA counters grow, and only ESP between the gateways crosses their link.
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
tunnel_case esp-tunnel esp 0x1002 0x2002
pass "esp-tunnel"
