#!/bin/bash
# The demo job (tests/run demo): in the guest, two gateways with a host behind
# each set up an ESP tunnel from policies/examples/esp-tunnel with ipsecctl;
# hostA pings hostB; the SA counters and a capture of the gateway link show
# that the traffic crossed as ESP. Then 'ipsecctl show sa' / 'show policy'
# on gwA. Run: tests/e2e/vm-run.sh tests/e2e/demo.sh (IPSECCTL set).
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/lib.sh"
require_ipsecctl
load_modules
tunnel_case esp-tunnel esp 0x1002 0x2002
step "what ipsecctl sees on gwA"
ipsecctl_in gwA show sa | sed 's/0x[0-9a-f]\{16,\}/<key>/g'
ipsecctl_in gwA show policy
pass "demo: ESP tunnel hostA -> gwA = gwB -> hostB"
