#!/bin/bash
# The main job (README, `tests/run demo`): in the guest, two gateways joined
# by a link, a host behind each; ipsecctl installs the manually keyed ESP
# tunnel of policies/examples/esp-tunnel on both gateways; hostA pings hostB
# through it; ipsecctl show prints each gateway's SAs (with their counters)
# and policies; a capture shows that only ESP crossed the gateways' link.
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/lib.sh"
require_ipsecctl
load_modules
topo_gateways

ex=$EXAMPLES/esp-tunnel
step "ipsecctl validate + apply on both gateways"
ipsecctl_in gwA validate "$ex/left.json" || fail "validate left.json"
apply gwA "$ex/left.json"
apply gwB "$ex/right.json"

step "hostA (198.51.100.10) pings hostB (203.0.113.10) through the tunnel"
capture_start demo-wan gwA wan
ping_ok hostA 203.0.113.10 5
capture_stop

for gw in gwA gwB; do
  step "ipsecctl show on $gw"
  ipsecctl_in "$gw" show || fail "ipsecctl show on $gw"
done

step "what crossed the gwA-gwB link (tcpdump)"
capture_show demo-wan 6
assert_ge "ESP packets gwA->gwB" 5 "$(capture_count demo-wan "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50")"
assert_eq "packets that are not ESP" 0 "$(capture_count demo-wan "ip and not ip proto 50")"
sa_grew "gwA outbound SA" "0 0" gwA 192.0.2.1 192.0.2.2 esp 0x1002 5
sa_grew "gwB outbound SA" "0 0" gwB 192.0.2.2 192.0.2.1 esp 0x2002 5
pass "demo: ESP tunnel up, traffic through it, counters and capture agree"
