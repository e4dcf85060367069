#!/bin/bash
# e2e: IKEv2 (PSK) negotiated ESP tunnel on Debian's real kernel. Two ipsecd,
# one in each gateway namespace (hostA - gwA = gwB - hostB), load
# policies/examples/ikev2-psk-tunnel; left.json's child starts by itself. Proves:
# the CHILD SA is installed on both (ipsecctl status --json, matching SPIs),
# hostA reaches hostB, the four kernel SA counters of the negotiated SPIs grow,
# only ESP (and IKE on UDP 500) crosses the gateways' link, the kernel holds
# exactly the 2 SAs and 3 tunnel policies (out, in, fwd) on each gateway;
# 'ipsecctl down' leaves no SA and no policy on either; SIGTERM stops both.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
have_real_ipsecctl || skip "needs the real ipsecctl (status/up/down), not E2E_APPLY=ipxfrm"
if [ -z "${IPSECD:-}" ] || [ ! -x "$IPSECD" ]; then skip "ipsecd not built (IPSECD='${IPSECD:-}')"; fi
command -v jq >/dev/null 2>&1 || skip "jq is not installed"
load_modules
topo_gateways

W=$(mktemp -d /tmp/ikev2-tunnel.XXXXXX) || fail "mktemp"
ex=$EXAMPLES/ikev2-psk-tunnel
cp "$ex/left.json" "$ex/right.json" "$ex/shared.psk" "$W/" || fail "copy $ex"
chmod 600 "$W/shared.psk"
# the example already uses the topology's gateways and subnets; say so, or fail
for want in 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24; do
    grep -q "\"$want\"" "$W/left.json" && grep -q "\"$want\"" "$W/right.json" \
        || fail "example does not use $want: adapt it here with sed"
done
CONN=to-right

# ctl NS SOCK ARGS...: ipsecctl SUBCOMMAND --socket SOCK ... in NS
ctl() { local ns=$1 sock=$2 sub=$3; shift 3; ip netns exec "$ns" "$IPSECCTL" "$sub" --socket "$W/$sock.sock" "$@"; }

PIDA='' PIDB='' STARTED=''
start_ipsecd() { # NS NAME CONFIG: sets STARTED to its pid
    ip netns exec "$1" "$IPSECD" --config "$W/$3" --control "$W/$2.sock" \
        --pid-file "$W/$2.pid" --log-level debug > "$E2E_OUT/ipsecd-$2.log" 2>&1 &
    local pid=$! i
    E2E_PIDS+=("$pid")
    for (( i = 0; i < 100; i++ )); do
        [ -S "$W/$2.sock" ] && { log "ipsecd in $1 (pid $pid) listens on $W/$2.sock"; STARTED=$pid; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$E2E_OUT/ipsecd-$2.log"
    fail "ipsecd did not start in $1"
}

# "spi_i spi_r child_spi_in child_spi_out" of an established IKE SA with an installed CHILD SA
tunnel_of() {
    ctl "$1" "$2" status --json 2>/dev/null | jq -r '.ike_sas[] | select(.state == "established" and .child.state == "installed")
         | "\(.spi_i) \(.spi_r) \(.child.spi_in) \(.child.spi_out)"' 2>/dev/null | head -n1
}
hex32() { printf '0x%08x' "$1"; }

step "start ipsecd (real kernel) in gwB (responder) and gwA (initiator, start_action start)"
start_ipsecd gwB b right.json; PIDB=$STARTED
start_ipsecd gwA a left.json;  PIDA=$STARTED

step "wait (<= 30 s) for the CHILD SA on both gateways"
ta='' tb='' ok=''
for (( i = 0; i < 60; i++ )); do
    ta=$(tunnel_of gwA a) tb=$(tunnel_of gwB b)
    if [ -n "$ta" ] && [ -n "$tb" ]; then ok=1; break; fi
    # after ~10 s without a tunnel, ask explicitly (start_action may have raced the responder)
    [ "$i" = 20 ] && { log "+ [gwA] ipsecctl up $CONN"; ctl gwA a up "$CONN" || log "up: exit $?"; }
    sleep 0.5
done
if [ -z "$ok" ]; then
    ctl gwA a status; ctl gwB b status
    tail -n 40 "$E2E_OUT/ipsecd-a.log" "$E2E_OUT/ipsecd-b.log"
    fail "no installed CHILD SA on both gateways after 30 s"
fi
ctl gwA a status --json > "$E2E_OUT/status-gwA.json"
ctl gwB b status --json > "$E2E_OUT/status-gwB.json"
ctl gwA a status | sed 's/^/    [gwA] /'
read -r ai ar ain aout <<< "$ta"
read -r bi br bin bout <<< "$tb"
assert_eq "IKE SPIs gwA/gwB" "$ai $ar" "$bi $br"
assert_eq "gwA's inbound CHILD SPI = gwB's outbound" "$ain" "$bout"
assert_eq "gwA's outbound CHILD SPI = gwB's inbound" "$aout" "$bin"
sab=$(hex32 "$aout")   # gwA -> gwB
sba=$(hex32 "$ain")    # gwB -> gwA
log "negotiated ESP SPIs: gwA->gwB $sab, gwB->gwA $sba"

step "kernel state on both gateways: exactly the 2 SAs and the 3 tunnel policies"
check_kernel() { # NS LOCAL REMOTE LOCALNET REMOTENET SPI_OUT SPI_IN
    local ns=$1 l=$2 r=$3 ln=$4 rn=$5 so=$6 si=$7 st po
    st=$(ip netns exec "$ns" ip xfrm state); po=$(ip netns exec "$ns" ip xfrm policy)
    printf '%s\n' "$st" | sed 's/0x[0-9a-f]\{16,\}/<key>/g; s/^/    ['"$ns"' state] /'
    printf '%s\n' "$po" | sed 's/^/    ['"$ns"' policy] /'
    assert_eq "[$ns] SAs" 2 "$(printf '%s\n' "$st" | grep -c '^src')"
    assert_eq "[$ns] tunnel-mode ESP SAs $l->$r spi $so" 1 \
        "$(ip netns exec "$ns" ip xfrm state list src "$l" dst "$r" proto esp spi "$so" | grep -c 'mode tunnel')"
    assert_eq "[$ns] tunnel-mode ESP SAs $r->$l spi $si" 1 \
        "$(ip netns exec "$ns" ip xfrm state list src "$r" dst "$l" proto esp spi "$si" | grep -c 'mode tunnel')"
    assert_eq "[$ns] policies" 3 "$(printf '%s\n' "$po" | grep -c '^src')"
    assert_eq "[$ns] out policies $ln -> $rn via $l->$r" 1 \
        "$(ip netns exec "$ns" ip xfrm policy list src "$ln" dst "$rn" dir out | grep -c "tmpl src $l dst $r")"
    assert_eq "[$ns] in policies $rn -> $ln via $r->$l" 1 \
        "$(ip netns exec "$ns" ip xfrm policy list src "$rn" dst "$ln" dir in | grep -c "tmpl src $r dst $l")"
    assert_eq "[$ns] fwd policies $rn -> $ln via $r->$l" 1 \
        "$(ip netns exec "$ns" ip xfrm policy list src "$rn" dst "$ln" dir fwd | grep -c "tmpl src $r dst $l")"
}
check_kernel gwA 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 "$sab" "$sba"
check_kernel gwB 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 "$sba" "$sab"

step "hostA -> hostB through the negotiated ESP SAs"
count=5 pcap=ikev2-wan
a=$(sa_snap gwA 192.0.2.1 192.0.2.2 esp "$sab")
b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$sab")
c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$sba")
d=$(sa_snap gwA 192.0.2.2 192.0.2.1 esp "$sba")
capture_start "$pcap" gwA wan
capture_start "$pcap" gwB wan
ping_ok hostA 203.0.113.10 "$count"
capture_stop
sa_grew "gwA out" "$a" gwA 192.0.2.1 192.0.2.2 esp "$sab" "$count"
sa_grew "gwB in"  "$b" gwB 192.0.2.1 192.0.2.2 esp "$sab" "$count"
sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$sba" "$count"
sa_grew "gwA in"  "$d" gwA 192.0.2.2 192.0.2.1 esp "$sba" "$count"

step "what crossed the gwA-gwB link"
capture_show "$pcap" 3
assert_ge "ESP packets gwA->gwB with spi $sab" "$count" \
    "$(capture_count "$pcap" "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50 and ip[20:4] = $sab")"
assert_ge "ESP packets gwB->gwA with spi $sba" "$count" \
    "$(capture_count "$pcap" "src 192.0.2.2 and dst 192.0.2.1 and ip proto 50 and ip[20:4] = $sba")"
assert_eq "packets with an inner address as outer header" 0 \
    "$(capture_count "$pcap" "net 198.51.100.0/24 or net 203.0.113.0/24")"
assert_eq "bare ICMP packets on the link" 0 "$(capture_count "$pcap" "icmp")"
assert_eq "IPv4 packets on the link other than ESP and IKE" 0 \
    "$(capture_count "$pcap" "ip and not ip proto 50 and not udp port 500")"

step "ipsecctl down $CONN: no SA, no policy left on either gateway"
run ip netns exec gwA "$IPSECCTL" down --socket "$W/a.sock" "$CONN" || fail "ipsecctl down $CONN"
gone() {
    local ns
    for ns in gwA gwB; do
        [ "$(ip netns exec "$ns" ip xfrm state | grep -c '^src')" = 0 ] || return 1
        [ "$(ip netns exec "$ns" ip xfrm policy | grep -c '^src')" = 0 ] || return 1
    done
}
for (( i = 0; i < 60; i++ )); do gone && break; sleep 0.5; done
for ns in gwA gwB; do
    assert_eq "[$ns] SAs after down" 0 "$(ip netns exec "$ns" ip xfrm state | grep -c '^src')"
    assert_eq "[$ns] policies after down" 0 "$(ip netns exec "$ns" ip xfrm policy | grep -c '^src')"
done
assert_eq "[gwA] IKE SAs after down" 0 "$(ctl gwA a status --json | jq '.ike_sas | length')"
assert_eq "[gwB] IKE SAs after down" 0 "$(ctl gwB b status --json | jq '.ike_sas | length')"

step "SIGTERM both daemons"
kill -TERM "$PIDA" "$PIDB"
for p in "$PIDA" "$PIDB"; do
    for (( i = 0; i < 100; i++ )); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "ipsecd pid $p still running 10 s after SIGTERM"
    wait "$p"; rc=$?
    assert_eq "ipsecd pid $p exit code" 0 "$rc"
done
E2E_PIDS=()
pass "ikev2-tunnel"
