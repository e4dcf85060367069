#!/bin/bash
# e2e: ESP transport mode, AES-GCM-16 (256-bit key), between two hosts
# (policies/examples/esp-transport). Proves: traffic flows, all four SA
# counters grow; then a show --json / flush / apply round trip restores the
# same configuration, which carries traffic again.
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

step "round trip: show --json, flush, apply, show --json"
if have_real_ipsecctl; then
    for ns in left right; do
        show_json "$ns" sa "$E2E_OUT/$ns-sa-a.json"
        show_json "$ns" policy "$E2E_OUT/$ns-policy-a.json"
        flush "$ns"
        apply "$ns" "$E2E_OUT/$ns-sa-a.json" "$E2E_OUT/$ns-policy-a.json"
        show_json "$ns" sa "$E2E_OUT/$ns-sa-b.json"
        show_json "$ns" policy "$E2E_OUT/$ns-policy-b.json"
        for what in sa policy; do
            json_same "$ns show $what --json before/after" \
                "$E2E_OUT/$ns-$what-a.json" "$E2E_OUT/$ns-$what-b.json"
        done
    done
    step "traffic again after the round trip"
    transport_roundtrip left right 192.0.2.1 192.0.2.2 esp 0x1001 0x2001 3
else
    log "round trip needs the real ipsecctl: not checked in E2E_APPLY=ipxfrm mode"
fi

pass "esp-transport"
