#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The main job (README, `tests/run demo`), in the guest with Debian's kernel:
# two gateways joined by a link, a host behind each
#
#   hostA 198.51.100.10 - gwA 192.0.2.1 ===ESP=== 192.0.2.2 gwB - hostB 203.0.113.10
#
# `demo` (the default): one ipsecd on each gateway loads
# policies/examples/ikev2-psk-tunnel and they negotiate the tunnel (IKEv2,
# pre-shared key); `ipsecctl status` on both ends; hostA pings hostB through
# it; the SAs' counters grow and a capture shows that only ESP (and IKE) crossed
# the gateways' link; `ipsecctl down` removes every SA and policy; the daemons
# stop.
# `demo static`: the same topology with the manually keyed ESP tunnel of
# policies/examples/esp-tunnel installed by `ipsecctl apply`.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/lib.sh"

static_demo() {
    require_ipsecctl
    load_modules
    topo_gateways
    local ex=$EXAMPLES/esp-tunnel
    step "ipsecctl validate + apply on both gateways"
    ipsecctl_in gwA validate "$ex/left.json" || fail "validate left.json"
    apply gwA "$ex/left.json"
    apply gwB "$ex/right.json"

    step "hostA (198.51.100.10) pings hostB (203.0.113.10) through the tunnel"
    capture_start demo-wan gwA wan
    ping_ok hostA 203.0.113.10 5
    capture_stop

    local gw
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
    pass "demo static: ESP tunnel up, traffic through it, counters and capture agree"
}

ikev2_demo() {
    require_ipsecd
    load_modules
    topo_gateways
    local ex=$EXAMPLES/ikev2-psk-tunnel w conn=to-right sab sba ain aout x a b c d i
    # git keeps no file modes: the daemons load a copy with the key file 0600
    w=$(mktemp -d /tmp/demo.XXXXXX) || fail "mktemp"
    cp "$ex/left.json" "$ex/right.json" "$ex/shared.psk" "$w/" || fail "copy $ex"
    chmod 600 "$w/shared.psk"

    step "ipsecd on gwB and gwA, each with its side of policies/examples/ikev2-psk-tunnel"
    ipsecd_start gwB b "$w/right.json"
    ipsecd_start gwA a "$w/left.json"
    log "+ [gwA] ipsecctl list-conns"
    ipsecd_ctl a list-conns | sed 's/^/    /'
    log "gwA's child starts by itself (start_action start); gwB answers"
    ipsecd_wait_child a b "$conn"
    log "gwA's ipsecd says (its log, info lines):"
    grep '^info:' "$E2E_OUT/ipsecd-a.log" | sed 's/^/    /'

    for x in a b; do
        step "ipsecctl status on gw${x^^}"
        ipsecd_ctl "$x" status || fail "ipsecctl status on gw${x^^}"
    done
    read -r _ _ ain aout _ <<< "$IPSECD_CHILD_INIT"
    sab=$(printf '0x%08x' "$aout") sba=$(printf '0x%08x' "$ain")

    step "hostA (198.51.100.10) pings hostB (203.0.113.10) through the negotiated tunnel"
    a=$(sa_snap gwA 192.0.2.1 192.0.2.2 esp "$sab")
    b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
    c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
    d=$(sa_snap gwA 192.0.2.2 192.0.2.1 esp "$sba")
    capture_start demo-wan gwA wan
    capture_start demo-wan gwB wan
    ping_ok hostA 203.0.113.10 5
    capture_stop

    step "the ESP SAs' counters (the kernel's, as ipsecctl show sa reads them)"
    sa_grew "gwA out" "$a" gwA 192.0.2.1 192.0.2.2 esp "$sab" 5
    sa_grew "gwB in " "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" 5
    sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" 5
    sa_grew "gwA in " "$d" gwA 192.0.2.2 192.0.2.1 esp "$sba" 5
    log "+ [gwA] ipsecctl show sa"
    ipsecctl_in gwA show sa | sed 's/^/    /' || fail "ipsecctl show sa on gwA"

    step "what crossed the gwA-gwB link (tcpdump)"
    capture_show demo-wan 4
    assert_ge "ESP packets gwA->gwB (spi $sab)" 5 \
        "$(capture_count demo-wan "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50 and ip[20:4] = $sab")"
    assert_ge "ESP packets gwB->gwA (spi $sba)" 5 \
        "$(capture_count demo-wan "src 192.0.2.2 and dst 192.0.2.1 and ip proto 50 and ip[20:4] = $sba")"
    assert_eq "packets other than ESP and IKE (UDP 500)" 0 \
        "$(capture_count demo-wan "ip and not ip proto 50 and not udp port 500")"

    step "ipsecctl down $conn on gwA: both gateways remove every SA and policy"
    log "+ [gwA] ipsecctl down $conn"
    ipsecd_ctl a down "$conn" | sed 's/^/    /'
    for (( i = 0; i < 60; i++ )); do
        [ "$(xfrm_count gwA) $(xfrm_count gwB)" = "0 0 0 0" ] && break
        sleep 0.5
    done
    for x in a b; do
        log "+ [gw${x^^}] ipsecctl status"
        ipsecd_ctl "$x" status | sed 's/^/    /'
        assert_eq "[gw${x^^}] ESP SAs and policies in the kernel" "0 0" "$(xfrm_count "gw${x^^}")"
    done

    step "stop both daemons (SIGTERM)"
    ipsecd_stop a b
    pass "demo: IKEv2 negotiated the tunnel, traffic went through ESP, down removed everything"
}

case ${1:-ikev2} in
    ikev2)  ikev2_demo ;;
    static) static_demo ;;
    *) echo "demo.sh: unknown demo '$1' (ikev2 or static)" >&2; exit 2 ;;
esac
