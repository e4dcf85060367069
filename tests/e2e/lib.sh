# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shell library for the e2e guest jobs (tests/e2e/cases/*.sh). Source it:
#
#   . "$(dirname "$0")/../lib.sh"
#
# Runs inside the test guest as root (see vm-run.sh). Everything it creates
# (namespaces, veth pairs, captures) is removed by the EXIT trap. Traffic only
# flows inside namespaces made here. Every loop is bounded.
#
# Conventions: functions print what they do; assert_* print what was expected
# and what was seen, and fail the job (exit 1) on a mismatch; fail() dumps the
# XFRM state of every namespace first.

set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_ROOT=$(cd "$E2E_DIR/../.." && pwd)
EXAMPLES=$E2E_ROOT/policies/examples
FIXTURES=$E2E_DIR/fixtures   # broken policy pairs for negative cases; lifecycle/ connections
E2E_NAMESPACES=()
E2E_PIDS=()
E2E_T0=$(date +%s)
# where to keep evidence (pcaps, json dumps): the job share when in the guest
E2E_OUT=${JOB_DIR:-$PWD}

# ------------------------------------------------------------------ output
log()  { printf '[%3ds] %s\n' "$(( $(date +%s) - E2E_T0 ))" "$*"; }
step() { printf '\n[%3ds] ==== %s\n' "$(( $(date +%s) - E2E_T0 ))" "$*"; }
skip() { printf 'SKIPPED: %s\n' "$*"; exit 77; }
fail() {
    printf '\nFAIL: %s\n' "$*"
    dump_state
    exit 1
}
pass() { printf '\nPASS: %s (%ds)\n' "$*" "$(( $(date +%s) - E2E_T0 ))"; exit 0; }

# run and show a command (for evidence in the log)
run() { log "+ $*"; "$@"; }

dump_state() {
    local ns
    for ns in "${E2E_NAMESPACES[@]}"; do
        echo "---- namespace $ns: ip -s xfrm state ----"
        ip netns exec "$ns" ip -s xfrm state 2>&1 | sed 's/0x[0-9a-f]\{16,\}/<key>/g'
        echo "---- namespace $ns: ip xfrm policy ----"
        ip netns exec "$ns" ip xfrm policy 2>&1
        echo "---- namespace $ns: non-zero /proc/net/xfrm_stat ----"
        ip netns exec "$ns" awk '$2 != 0' /proc/net/xfrm_stat 2>&1
    done
}

# ------------------------------------------------------------------ cleanup
e2e_cleanup() {
    local rc=$? p ns
    for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${E2E_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for ns in "${E2E_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ the CLI
# Sets IPSECCTL_CMD (an array). With E2E_APPLY=ipxfrm (development only, before
# the CLI existed) a small JSON -> 'ip xfrm' translator stands in for
# 'ipsecctl apply/flush'.
require_ipsecctl() {
    if [ "${E2E_APPLY:-}" = ipxfrm ]; then
        log "E2E_APPLY=ipxfrm: using tools/json2ipxfrm.py instead of ipsecctl (development mode)"
        IPSECCTL_CMD=(python3 "$E2E_DIR/tools/json2ipxfrm.py")
        return 0
    fi
    if [ -z "${IPSECCTL:-}" ] || [ ! -x "${IPSECCTL}" ]; then
        skip "ipsecctl not built (IPSECCTL='${IPSECCTL:-}')"
    fi
    IPSECCTL_CMD=("$IPSECCTL")
}
have_real_ipsecctl() { [ "${E2E_APPLY:-}" != ipxfrm ] && [ -n "${IPSECCTL:-}" ] && [ -x "$IPSECCTL" ]; }

# ipsecctl NS ARGS...: run the CLI inside a namespace
ipsecctl_in() { local ns=$1; shift; ip netns exec "$ns" "${IPSECCTL_CMD[@]}" "$@"; }

# apply NS FILE...: install SAs and policies from policy files in NS
apply() {
    local ns=$1; shift
    log "+ [$ns] ipsecctl apply $*"
    ipsecctl_in "$ns" apply "$@" || fail "ipsecctl apply $* failed in $ns"
}
flush() {
    local ns=$1
    log "+ [$ns] ipsecctl flush"
    ipsecctl_in "$ns" flush || fail "ipsecctl flush failed in $ns"
    local n
    n=$(ip netns exec "$ns" ip xfrm state | grep -c '^src') || true
    assert_eq "SAs left in $ns after flush" 0 "$n"
    n=$(ip netns exec "$ns" ip xfrm policy | grep -c '^src') || true
    assert_eq "policies left in $ns after flush" 0 "$n"
}

# ------------------------------------------------------------------ modules
load_modules() {
    local m missing=()
    for m in xfrm_user esp4 esp6 ah4 ah6 veth; do
        modprobe "$m" || missing+=("$m")
    done
    [ ${#missing[@]} -eq 0 ] || fail "cannot load kernel modules: ${missing[*]}"
    # tunnel mode helpers and the crypto the SAs will ask for: loading them
    # now keeps the first SA (and its first packet) from being slow under TCG
    for m in xfrm4_tunnel tunnel4 xfrm6_tunnel tunnel6 \
             aesni_intel gcm ghash-generic ghash_clmulni_intel ctr \
             chacha20poly1305 chacha20_generic poly1305_generic \
             authenc seqiv echainiv cbc ecb sha256_ssse3 crypto_null drbg; do
        modprobe -q "$m" 2>/dev/null || true
    done
    log "kernel $(uname -r): xfrm/esp/ah/veth modules loaded"
}

# ------------------------------------------------------------------ topology
ns_add() {
    local ns
    for ns in "$@"; do
        ip netns add "$ns" || fail "ip netns add $ns"
        E2E_NAMESPACES+=("$ns")
        ip -n "$ns" link set lo up
    done
}

# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up
veth() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || fail "veth $1:$2 - $3:$4"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

# addr NS IF PREFIX...: add addresses (IPv6 without duplicate address detection)
addr() {
    local ns=$1 ifc=$2 a; shift 2
    for a in "$@"; do
        case $a in
            *:*) ip -n "$ns" addr add "$a" dev "$ifc" nodad || fail "addr $a on $ns:$ifc";;
            *)   ip -n "$ns" addr add "$a" dev "$ifc" || fail "addr $a on $ns:$ifc";;
        esac
    done
}

# Two hosts on one link: left 192.0.2.1 / 2001:db8::1, right 192.0.2.2 / 2001:db8::2
topo_two_hosts() {
    ns_add left right
    veth left eth0 right eth0
    addr left eth0 192.0.2.1/24 2001:db8::1/64
    addr right eth0 192.0.2.2/24 2001:db8::2/64
    log "topology: left(192.0.2.1, 2001:db8::1) <-> right(192.0.2.2, 2001:db8::2)"
}

# hostA -- gwA ==== gwB -- hostB
#   198.51.100.10  198.51.100.1 | 192.0.2.1 == 192.0.2.2 | 203.0.113.1  203.0.113.10
topo_gateways() {
    ns_add hostA gwA gwB hostB
    veth hostA eth0 gwA lan
    veth gwA wan gwB wan
    veth gwB lan hostB eth0
    addr hostA eth0 198.51.100.10/24
    addr gwA lan 198.51.100.1/24
    addr gwA wan 192.0.2.1/24
    addr gwB wan 192.0.2.2/24
    addr gwB lan 203.0.113.1/24
    addr hostB eth0 203.0.113.10/24
    ip -n hostA route add default via 198.51.100.1
    ip -n hostB route add default via 203.0.113.1
    ip -n gwA route add 203.0.113.0/24 via 192.0.2.2
    ip -n gwB route add 198.51.100.0/24 via 192.0.2.1
    ip netns exec gwA sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward on gwA"
    ip netns exec gwB sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward on gwB"
    log "topology: hostA(198.51.100.10) - gwA(198.51.100.1|192.0.2.1) = gwB(192.0.2.2|203.0.113.1) - hostB(203.0.113.10)"
}

# NAT traversal: gwA behind a masquerading NAT router (namespace nat)
# hostA -- gwA ==== nat ==== gwB -- hostB
#   198.51.100.10  198.51.100.1 | 10.0.0.2 = 10.0.0.1 | 192.0.2.1 == 192.0.2.2 | 203.0.113.1  203.0.113.10
# The NAT (nftables) rewrites the source of everything gwA sends out to
# 192.0.2.1, UDP source ports into 20000-29999 (so that the port translation
# is visible: 500 and 4500 never stay), and forwards nothing inwards that
# conntrack does not know. Needs load_nat_modules (which skips without nft).
load_nat_modules() {
    command -v nft >/dev/null 2>&1 || skip "nft is not installed (apt-get install nftables)"
    local m missing=()
    for m in nf_tables nf_conntrack nf_nat nft_chain_nat nft_masq nft_ct; do
        modprobe "$m" || missing+=("$m")
    done
    [ ${#missing[@]} -eq 0 ] || fail "cannot load kernel modules: ${missing[*]}"
    log "nf_tables/nf_nat/nft_masq modules loaded"
}
topo_nat_gateways() {
    ns_add hostA gwA nat gwB hostB
    veth hostA eth0 gwA lan
    veth gwA wan nat in
    veth nat out gwB wan
    veth gwB lan hostB eth0
    addr hostA eth0 198.51.100.10/24
    addr gwA lan 198.51.100.1/24
    addr gwA wan 10.0.0.2/24
    addr nat in 10.0.0.1/24
    addr nat out 192.0.2.1/24
    addr gwB wan 192.0.2.2/24
    addr gwB lan 203.0.113.1/24
    addr hostB eth0 203.0.113.10/24
    ip -n hostA route add default via 198.51.100.1
    ip -n hostB route add default via 203.0.113.1
    ip -n gwA route add default via 10.0.0.1
    ip -n gwB route add 198.51.100.0/24 via 192.0.2.1
    local ns
    for ns in gwA nat gwB; do
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward on $ns"
    done
    ip netns exec nat nft -f - <<'EOF' || fail "nft: NAT rules in namespace nat"
table ip e2e_nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "out" meta l4proto udp masquerade to :20000-29999
        oifname "out" masquerade
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        iifname "in" oifname "out" accept
        iifname "out" oifname "in" ct state established,related accept
    }
}
EOF
    log "topology: hostA(198.51.100.10) - gwA(198.51.100.1|10.0.0.2) - NAT(10.0.0.1|192.0.2.1, masquerade) = gwB(192.0.2.2|203.0.113.1) - hostB(203.0.113.10)"
}

# ------------------------------------------------------------------ traffic
ping_cmd() { if command -v ping >/dev/null 2>&1; then echo ping; else echo "busybox ping"; fi; }

# ping_ok NS DST [COUNT] [extra ping args]: every echo must be answered
ping_ok() {
    local ns=$1 dst=$2 count=${3:-5}; shift $(( $# < 3 ? $# : 3 ))
    local out rc
    log "+ [$ns] ping -c $count $* $dst"
    # shellcheck disable=SC2046  # ping_cmd may be two words
    out=$(ip netns exec "$ns" timeout 60 $(ping_cmd) -c "$count" -i 0.2 -W 5 "$@" "$dst" 2>&1); rc=$?
    printf '%s\n' "$out" | tail -n 2 | sed 's/^/    /'
    [ "$rc" = 0 ] || fail "ping $dst from $ns failed (exit $rc)"
    local got; got=$(ping_received "$out")
    [ "$got" = "$count" ] || fail "ping $dst from $ns: expected $count replies, saw $got"
}
# number of replies in ping's summary (busybox: "N packets received", iputils: "N received")
ping_received() { printf '%s\n' "$1" | sed -n 's/.* \([0-9][0-9]*\) \(packets \)\{0,1\}received.*/\1/p' | tail -n1; }

# ping_fails NS DST [COUNT]: no echo may be answered (bounded: -w)
ping_fails() {
    local ns=$1 dst=$2 count=${3:-3} out
    log "+ [$ns] ping -c $count $dst  (expected to fail)"
    # shellcheck disable=SC2046  # ping_cmd may be two words
    out=$(ip netns exec "$ns" timeout 60 $(ping_cmd) -c "$count" -i 0.2 -W 2 -w $(( count + 3 )) "$dst" 2>&1)
    printf '%s\n' "$out" | tail -n 2 | sed 's/^/    /'
    local got; got=$(ping_received "$out")
    [ "${got:-0}" = 0 ] || fail "ping $dst from $ns: expected no reply, saw $got"
    log "ok: no reply from $dst"
}

# ------------------------------------------------------------------ counters
# sa_fields NS SRC DST PROTO SPI: "packets bytes failed replay" of the SA
# (SRC, DST, PROTO, SPI) from 'ip -s xfrm state' (failed = integrity
# failures); "-1 -1 -1 -1" when there is no such SA
sa_fields() {
    ip netns exec "$1" ip -s xfrm state list src "$2" dst "$3" proto "$4" spi "$5" 2>/dev/null |
    awk '
        /^src /               { found = 1 }
        /lifetime current:/   { getline; gsub(/[(),]/, " ")      # "  84 bytes  1 packets"
                                for (i = 1; i < NF; i++) { if ($(i+1) == "bytes") b = $i; if ($(i+1) == "packets") p = $i } }
        /^[ \t]*stats:/       { getline                          # "  replay-window 0 replay 0 failed 0"
                                for (i = 1; i < NF; i++) { if ($i == "replay") r = $(i+1); if ($i == "failed") f = $(i+1) } }
        END { if (found) print p + 0, b + 0, f + 0, r + 0; else print "-1 -1 -1 -1" }'
}
# sa_stat NS SRC DST PROTO SPI FIELD: one of packets | bytes | failed | replay
sa_stat() {
    local p b f r
    read -r p b f r <<< "$(sa_fields "${@:1:5}")"
    case $6 in packets) echo "$p";; bytes) echo "$b";; failed) echo "$f";; replay) echo "$r";; *) echo -1;; esac
}

# xfrm_stat NS NAME: a counter from the namespace's /proc/net/xfrm_stat
xfrm_stat() { ip netns exec "$1" awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print -1 }' /proc/net/xfrm_stat; }

# snapshot of an SA's packets and bytes: "packets bytes"
sa_snap() { local p b f r; read -r p b f r <<< "$(sa_fields "$@")"; echo "$p $b"; }

# sa_grew LABEL BEFORE NS SRC DST PROTO SPI MIN_PACKETS: the SA's packet counter
# grew by at least MIN_PACKETS and its byte counter grew too since BEFORE
sa_grew() {
    local label=$1 before=$2; shift 2
    local min=${*: -1} bp bb ap ab
    set -- "${@:1:$#-1}"
    read -r bp bb <<< "$before"
    read -r ap ab <<< "$(sa_snap "$@")"
    [ "$ap" != -1 ] || fail "$label: SA $* not found in namespace $1"
    log "counters $label [$1 $4 spi $5 $2->$3]: packets $bp -> $ap, bytes $bb -> $ab"
    (( ap - bp >= min )) || fail "$label: expected packets to grow by >= $min, saw $bp -> $ap"
    (( ab > bb ))       || fail "$label: expected bytes to grow, saw $bb -> $ab"
}

# ------------------------------------------------------------------ asserts
assert_eq() { # LABEL EXPECTED SEEN
    if [ "$2" = "$3" ]; then log "ok: $1 = $3"; else fail "$1: expected '$2', saw '$3'"; fi
}
assert_gt() { # LABEL BASELINE SEEN   (SEEN > BASELINE)
    if (( $3 > $2 )); then log "ok: $1: $2 -> $3"; else fail "$1: expected more than $2, saw $3"; fi
}
assert_ge() { # LABEL MIN SEEN
    if (( $3 >= $2 )); then log "ok: $1: $3 >= $2"; else fail "$1: expected at least $2, saw $3"; fi
}

# ------------------------------------------------------------------ capture
# Captures keep only what a namespace SENDS (tcpdump -Q out): a capture of
# both directions on one end would also show the inbound packets a second
# time, after the kernel decapsulated them (tunnel mode re-injects the inner
# packet on the same device), which would look like cleartext on the wire.
# So to see what crossed a link, capture its outbound traffic at both ends
# under one NAME; the capture_* readers add up all files of a NAME.
#
# capture_start NAME NS IF [FILTER...]: tcpdump in the background, until
# capture_stop; waits (bounded) until it listens
declare -A E2E_CAPTURES=()
capture_start() {
    local name=$1 ns=$2 ifc=$3; shift 3
    local file=$E2E_OUT/$name.$ns.pcap i pid
    ip netns exec "$ns" tcpdump -Z root -U -n -Q out -i "$ifc" -w "$file" "$@" 2> "$file.err" &
    pid=$!
    E2E_PIDS+=("$pid")
    E2E_CAPTURES[$file]=$pid
    for (( i = 0; i < 100; i++ )); do
        grep -q 'listening on' "$file.err" 2>/dev/null && { log "capturing what $ns sends on $ifc ($name)"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$file.err"
    fail "tcpdump did not start on $ns:$ifc"
}
# capture_stop: stop all running captures. libpcap hands packets over a buffer
# block at a time, a block at the latest when tcpdump's 1 s timeout retires it;
# packets in a block not yet retired when tcpdump stops are lost, so it stops
# only after that timeout (a count once came up one packet short). Immediate
# mode instead made tcpdump drop half of a 2 MiB transfer on the slow guest.
capture_stop() {
    local f
    sleep 1.2
    for f in "${!E2E_CAPTURES[@]}"; do kill -INT "${E2E_CAPTURES[$f]}" 2>/dev/null; done
    for f in "${!E2E_CAPTURES[@]}"; do wait "${E2E_CAPTURES[$f]}" 2>/dev/null; done
    E2E_CAPTURES=()
}
capture_files() { ls "$E2E_OUT/$1".*.pcap 2>/dev/null; }
# capture_show NAME [N]: the first N packets of each file, for the log
capture_show() {
    local f
    for f in $(capture_files "$1"); do
        tcpdump -nn -r "$f" 2>/dev/null | head -n "${2:-3}" | sed "s/^/    [$(basename "$f" .pcap)] /"
    done
}
# capture_count NAME FILTER...: packets of the NAME captures matching FILTER
capture_count() {
    local name=$1 f n=0; shift
    for f in $(capture_files "$name"); do
        n=$(( n + $(tcpdump -n -r "$f" "$@" 2>/dev/null | wc -l) ))
    done
    echo "$n"
}
# capture_payload_count NAME HEX: packets whose bytes contain HEX (lower-case
# hex digits, no spaces)
capture_payload_count() {
    local name=$1 f n=0
    for f in $(capture_files "$name"); do
        n=$(( n + $(tcpdump -nn -xx -r "$f" 2>/dev/null |
            awk '/^[ \t]+0x[0-9a-f]+:/ { sub(/^[ \t]+0x[0-9a-f]+:[ \t]*/, ""); gsub(/ /, ""); printf "%s", $0; next }
                 { print "" } END { print "" }' | grep -c "$2") ))
    done
    echo "$n"
}

# ------------------------------------------------------------------ show --json
# show_json NS WHAT OUT: 'ipsecctl show WHAT --json --keys' into OUT (a file apply accepts)
show_json() {
    ipsecctl_in "$1" show "$2" --json --keys > "$3" || fail "ipsecctl show $2 --json --keys failed in $1"
}

# ------------------------------------------------------------------ checks
# transport_roundtrip NSL NSR L R PROTO SPI_LR SPI_RL [COUNT [PING_ARGS...]]
#   ping R from NSL; the L->R SA (out on NSL, in on NSR) and the R->L SA
#   (out on NSR, in on NSL) must each have counted >= COUNT packets
transport_roundtrip() {
    local nsl=$1 nsr=$2 l=$3 r=$4 proto=$5 slr=$6 srl=$7 count=${8:-5}
    local a b c d
    shift $(( $# < 8 ? $# : 8 ))   # the rest: extra ping arguments
    a=$(sa_snap "$nsl" "$l" "$r" "$proto" "$slr")
    b=$(sa_snap "$nsr" "$l" "$r" "$proto" "$slr")
    c=$(sa_snap "$nsr" "$r" "$l" "$proto" "$srl")
    d=$(sa_snap "$nsl" "$r" "$l" "$proto" "$srl")
    ping_ok "$nsl" "$r" "$count" "$@"
    sa_grew "out" "$a" "$nsl" "$l" "$r" "$proto" "$slr" "$count"
    sa_grew "in"  "$b" "$nsr" "$l" "$r" "$proto" "$slr" "$count"
    sa_grew "out" "$c" "$nsr" "$r" "$l" "$proto" "$srl" "$count"
    sa_grew "in"  "$d" "$nsl" "$r" "$l" "$proto" "$srl" "$count"
}

# json_same LABEL A B: the two 'show --json' outputs are identical byte for
# byte (show sorts its output, so the kernel's dump order does not matter).
json_same() {
    if cmp -s "$2" "$3"; then
        log "ok: $1: identical ($(wc -c < "$2") bytes)"
        return 0
    fi
    diff -u "$2" "$3" | head -n 60 | sed 's/0x[0-9a-f]\{16,\}/<key>/g'
    fail "$1: show --json output differs"
}

# tunnel_case EXAMPLE PROTO SPI_AB SPI_BA: hostA - gwA = gwB - hostB, the
# example's left.json on gwA and right.json on gwB; hostA pings hostB. The four
# gateway SA counters must grow, and on the gwA-gwB link only PROTO between
# the gateways may be seen: no packet with an inner address as outer header,
# no bare ICMP. Then a show --json / flush / apply round trip on both.
tunnel_case() {
    local ex=$EXAMPLES/$1 proto=$2 sab=$3 sba=$4 count=5 pnum pcap=$1-wan a b c d
    case $proto in esp) pnum=50;; ah) pnum=51;; esac
    topo_gateways

    step "apply $1: left.json on gwA, right.json on gwB"
    apply gwA "$ex/left.json"
    apply gwB "$ex/right.json"

    step "hostA -> hostB through the $proto tunnel"
    a=$(sa_snap gwA 192.0.2.1 192.0.2.2 "$proto" "$sab")
    b=$(sa_snap gwB 192.0.2.1 192.0.2.2 "$proto" "$sab")
    c=$(sa_snap gwB 192.0.2.2 192.0.2.1 "$proto" "$sba")
    d=$(sa_snap gwA 192.0.2.2 192.0.2.1 "$proto" "$sba")
    capture_start "$pcap" gwA wan
    capture_start "$pcap" gwB wan
    ping_ok hostA 203.0.113.10 "$count"
    capture_stop
    sa_grew "gwA out" "$a" gwA 192.0.2.1 192.0.2.2 "$proto" "$sab" "$count"
    sa_grew "gwB in"  "$b" gwB 192.0.2.1 192.0.2.2 "$proto" "$sab" "$count"
    sa_grew "gwB out" "$c" gwB 192.0.2.2 192.0.2.1 "$proto" "$sba" "$count"
    sa_grew "gwA in"  "$d" gwA 192.0.2.2 192.0.2.1 "$proto" "$sba" "$count"

    step "what crossed the gwA-gwB link"
    capture_show "$pcap" 2
    assert_ge "$proto packets gwA->gwB on the link" "$count" \
        "$(capture_count "$pcap" "src 192.0.2.1 and dst 192.0.2.2 and ip proto $pnum")"
    assert_ge "$proto packets gwB->gwA on the link" "$count" \
        "$(capture_count "$pcap" "src 192.0.2.2 and dst 192.0.2.1 and ip proto $pnum")"
    assert_eq "packets with an inner address as outer header" 0 \
        "$(capture_count "$pcap" "net 198.51.100.0/24 or net 203.0.113.0/24")"
    assert_eq "bare ICMP packets on the link" 0 "$(capture_count "$pcap" "icmp")"
    assert_eq "IPv4 packets on the link other than $proto" 0 "$(capture_count "$pcap" "ip and not ip proto $pnum")"

    # both ends: re-adding an SA restarts its sequence numbers, which the
    # peer's replay window would drop (XfrmInStateSeqError) had it kept its SA
    step "round trip on both gateways (tunnel templates, reqid, fwd policies)"
    roundtrip gwA gwB
    a=$(sa_snap gwA 192.0.2.1 192.0.2.2 "$proto" "$sab")
    ping_ok hostA 203.0.113.10 2
    sa_grew "gwA out, after the round trip" "$a" gwA 192.0.2.1 192.0.2.2 "$proto" "$sab" 2
}

# roundtrip NS...: in each NS (give both ends of the SAs: a re-added SA
# restarts its sequence numbers, which the other end's replay window drops), 'show sa --json --keys' and 'show policy --json',
# flush, apply both dumps back, show again: the configuration must be the same
# (json_same). Needs the real ipsecctl; a no-op (logged) otherwise.
roundtrip() {
    local ns what
    if ! have_real_ipsecctl; then
        log "round trip needs the real ipsecctl: not checked in E2E_APPLY=ipxfrm mode"
        return 0
    fi
    for ns in "$@"; do
        # applying what the kernel holds back to it changes nothing
        local out
        out=$(ipsecctl_in "$ns" show --json --keys | ipsecctl_in "$ns" apply -) \
            || fail "[$ns] ipsecctl show --json --keys | ipsecctl apply - failed"
        case $out in *added*|*replaced*) fail "[$ns] show --json --keys | apply - changed something: $out";; esac
        log "ok: [$ns] show --json --keys | apply -: $out"
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
}

# cli_sa_fields NS SRC DST PROTO SPI: "packets bytes integrity replay" of the
# SA as 'ipsecctl show sa' reports it ("-1 -1 -1 -1" if it lists no such SA)
cli_sa_fields() {
    local head
    head=$(printf '%s spi 0x%08x %s -> %s' "$4" "$5" "$2" "$3")
    ipsecctl_in "$1" show sa 2>/dev/null | awk -v h="$head" '
        index($0, h) == 1          { found = 1; next }
        found && /^    traffic /   { gsub(/[,;]/, " ")
                                     for (i = 1; i < NF; i++) { if ($(i+1) == "bytes") b = $i; if ($(i+1) == "packets") p = $i
                                                                if ($i == "integrity") f = $(i+1); if ($i == "replay") r = $(i+1) }
                                     print p + 0, b + 0, f + 0, r + 0; done = 1; exit }
        END { if (!done) print "-1 -1 -1 -1" }'
}

# assert_cli_counters NS SRC DST PROTO SPI: 'ipsecctl show sa' reports the same
# packets, bytes, integrity failures and replay errors as 'ip -s xfrm state'
assert_cli_counters() {
    have_real_ipsecctl || { log "CLI counters not checked in E2E_APPLY=ipxfrm mode"; return 0; }
    local ip cli
    ip=$(sa_fields "$@")
    cli=$(cli_sa_fields "$@")
    log "counters of $4 spi $5 $2->$3 in $1 (packets bytes integrity-failures replay): ip -s xfrm: $ip; ipsecctl show sa: $cli"
    [ "$cli" = "$ip" ] || fail "ipsecctl show sa counters for $4 spi $5 in $1: expected '$ip' (ip -s xfrm state), saw '$cli'"
}

# ------------------------------------------------------------------ IPv6 gateways
# topo_gateways plus IPv6 (forwarding on), the same four namespaces:
#   hostA 2001:db8:a::10 - gwA 2001:db8:a::1 | 2001:db8::1 == 2001:db8::2 | 2001:db8:b::1 - hostB 2001:db8:b::10
topo_gateways6() {
    topo_gateways
    addr hostA eth0 2001:db8:a::10/64
    addr gwA lan 2001:db8:a::1/64
    addr gwA wan 2001:db8::1/64
    addr gwB wan 2001:db8::2/64
    addr gwB lan 2001:db8:b::1/64
    addr hostB eth0 2001:db8:b::10/64
    ip -n hostA -6 route add default via 2001:db8:a::1 || fail "IPv6 default route on hostA"
    ip -n hostB -6 route add default via 2001:db8:b::1 || fail "IPv6 default route on hostB"
    ip -n gwA -6 route add 2001:db8:b::/64 via 2001:db8::2 || fail "IPv6 route on gwA"
    ip -n gwB -6 route add 2001:db8:a::/64 via 2001:db8::1 || fail "IPv6 route on gwB"
    ip netns exec gwA sysctl -qw net.ipv6.conf.all.forwarding=1 || fail "IPv6 forwarding on gwA"
    ip netns exec gwB sysctl -qw net.ipv6.conf.all.forwarding=1 || fail "IPv6 forwarding on gwB"
    log "topology (IPv6): hostA(2001:db8:a::10) - gwA(2001:db8:a::1|2001:db8::1) = gwB(2001:db8::2|2001:db8:b::1) - hostB(2001:db8:b::10)"
}

# ------------------------------------------------------------------ TCP data
# tcp_transfer SRC_NS DST_NS DST_ADDR PORT BYTES: sends BYTES random bytes from
# SRC_NS to DST_ADDR:PORT (a listener in DST_NS) over one TCP connection; the
# sha256 and length the receiver saw must be the sender's. Bounded (180 s).
E2E_TCP_RECV='
import hashlib, socket, sys
addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(1); s.settimeout(120)
open(out + ".ready", "w").close()
c, peer = s.accept(); c.settimeout(120)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
open(out, "w").write("%s %d %s\n" % (h.hexdigest(), n, peer[0]))
c.close()
'
E2E_TCP_SEND='
import socket, sys
addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
c = socket.create_connection((addr, port), timeout=120)
c.sendall(data); c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
'
tcp_transfer() {
    local src=$1 dst=$2 addr=$3 port=$4 bytes=$5 f pid i t0 want got
    f=$(mktemp /tmp/e2e-tcp.XXXXXX) || fail "mktemp"
    head -c "$bytes" /dev/urandom > "$f" || fail "random payload"
    want="$(sha256sum < "$f" | cut -d' ' -f1) $bytes"
    ip netns exec "$dst" timeout 180 python3 -c "$E2E_TCP_RECV" "$addr" "$port" "$f.got" &
    pid=$!
    E2E_PIDS+=("$pid")
    for (( i = 0; i < 200; i++ )); do
        [ -e "$f.got.ready" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -e "$f.got.ready" ] || fail "TCP listener on [$addr]:$port in $dst did not start"
    log "+ [$src] TCP: $bytes random bytes (sha256 ${want%% *}) to [$addr]:$port, received in $dst"
    t0=$(date +%s)
    ip netns exec "$src" timeout 180 python3 -c "$E2E_TCP_SEND" "$addr" "$port" "$f" \
        || fail "TCP send from $src to [$addr]:$port failed"
    wait "$pid" || fail "TCP receiver in $dst failed (exit $?)"
    got=$(cut -d' ' -f1,2 "$f.got" 2>/dev/null)
    log "TCP transfer done in $(( $(date +%s) - t0 )) s; receiver saw $(cat "$f.got" 2>/dev/null)"
    assert_eq "sha256 and length received in $dst" "$want" "$got"
    rm -f "$f" "$f.got" "$f.got.ready"
}

# sa_grew_bytes LABEL BEFORE NS SRC DST PROTO SPI MIN_BYTES: the SA's byte
# counter grew by at least MIN_BYTES since BEFORE (a sa_snap)
sa_grew_bytes() {
    local label=$1 before=$2 min=$8 bp bb ap ab
    read -r bp bb <<< "$before"
    read -r ap ab <<< "$(sa_snap "$3" "$4" "$5" "$6" "$7")"
    [ "$ap" != -1 ] || fail "$label: SA $6 spi $7 $4->$5 not found in namespace $3"
    log "counters $label [$3 $6 spi $7 $4->$5]: packets $bp -> $ap, bytes $bb -> $ab (+$(( ab - bb )))"
    (( ab - bb >= min )) || fail "$label: expected bytes to grow by >= $min, saw $bb -> $ab"
}

# xfrm_count NS: "SAS POLICIES" the namespace's kernel holds (policies: in,
# out and fwd; not the per-socket ones, see xfrm_socket_policies)
xfrm_count() {
    echo "$(ip netns exec "$1" ip xfrm state | grep -c '^src') $(ip netns exec "$1" ip xfrm policy | grep -Ec '^[[:space:]]+dir (in|out|fwd) ')"
}
# xfrm_records NS state|policy: the namespace's SAs or policies, one line per
# object (ip xfrm's lines joined, blanks squeezed), e.g.
#   src 203.0.113.0/24 dst 198.51.100.0/24 dir fwd priority 0 ptype main tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 7 mode tunnel
xfrm_records() {
    ip netns exec "$1" ip xfrm "$2" | awk '/^src / { if (r != "") print r; r = $0; next }
        { r = r " " $0 } END { if (r != "") print r }' | tr -s ' \t' '  '
}
# check_child_kernel NS MODE LOCAL REMOTE LOCAL_TS REMOTE_TS SPI_OUT SPI_IN [PAIRS]:
# the namespace holds exactly one negotiated CHILD SA (MODE tunnel|transport):
# the 2 ESP SAs with these SPIs, an out and an in policy (and fwd in tunnel
# mode) for the selectors, with templates of that mode (tunnel: between LOCAL
# and REMOTE), and the 2 per-socket bypass policies of each of ipsecd's IKE
# sockets (E2E_IKE_PORTS of them, default 2: port 500 and the NAT-T port).
# PAIRS (default 1): how many selector pairs the CHILD SA has in all.
check_child_kernel() {
    local ns=$1 mode=$2 l=$3 r=$4 ln=$5 rn=$6 so=$7 si=$8 pairs=${9:-1} st po
    local npol=2 dirs='in, out' tout='src [^ ]* dst [^ ]* ' tin='src [^ ]* dst [^ ]* ' vout='' vin=''
    st=$(xfrm_records "$ns" state) po=$(xfrm_records "$ns" policy)
    printf '%s\n' "$st" | sed 's/ replay-window .*//; s/0x[0-9a-f]\{16,\}/<key>/g; s/^/    ['"$ns"' SA] /'
    printf '%s\n' "$po" | sed 's/^/    ['"$ns"' policy] /'
    if [ "$mode" = tunnel ]; then
        npol=3 dirs='in, out, fwd' tout="src $l dst $r " tin="src $r dst $l " vout=" via $l->$r" vin=" via $r->$l"
    fi
    assert_eq "[$ns] SAs, policies ($dirs for $pairs selector pair(s)), per-socket bypass policies of ipsecd (in, out per IKE port)" \
        "2 $(( npol * pairs )) $(( 2 * ${E2E_IKE_PORTS:-2} ))" \
        "$(grep -c '^src' <<< "$st") $(grep -Ec ' dir (in|out|fwd) ' <<< "$po") $(grep -Ec ' socket (in|out) ' <<< "$po")"
    assert_eq "[$ns] $mode-mode ESP SA $l->$r spi $so" 1 \
        "$(grep -c "^src $l dst $r proto esp spi $so reqid [0-9]* mode $mode" <<< "$st")"
    assert_eq "[$ns] $mode-mode ESP SA $r->$l spi $si" 1 \
        "$(grep -c "^src $r dst $l proto esp spi $si reqid [0-9]* mode $mode" <<< "$st")"
    assert_eq "[$ns] out policy $ln -> $rn, $mode template$vout" 1 \
        "$(grep -c "^src $ln dst $rn dir out .*tmpl ${tout}proto esp reqid [0-9]* mode $mode" <<< "$po")"
    assert_eq "[$ns] in policy $rn -> $ln, $mode template$vin" 1 \
        "$(grep -c "^src $rn dst $ln dir in .*tmpl ${tin}proto esp reqid [0-9]* mode $mode" <<< "$po")"
    [ "$mode" = tunnel ] || return 0
    assert_eq "[$ns] fwd policy $rn -> $ln, $mode template$vin" 1 \
        "$(grep -c "^src $rn dst $ln dir fwd .*tmpl ${tin}proto esp reqid [0-9]* mode $mode" <<< "$po")"
}

# xfrm_socket_policies NS: how many per-socket policies (IP_XFRM_POLICY, e.g.
# ipsecd's IKE bypass) the namespace's sockets hold
xfrm_socket_policies() { ip netns exec "$1" ip xfrm policy | grep -Ec '^[[:space:]]+socket (in|out) '; }

# ------------------------------------------------------------------ ipsecd
# For cases with two real ipsecd (IKEv2) in namespaces. Each instance has a
# NAME: control socket and pid file under IPSECD_RUN, log $E2E_OUT/ipsecd-NAME.log.
#   require_ipsecd                 skip unless IPSECD and the real ipsecctl (and jq) are there
#   ipsecd_start NS NAME CONFIG... start it, wait (<= 10 s) for its control socket
#                                  (IPSECD_OPTS: more ipsecd options, e.g. "--natt-keepalive 2")
#   ipsecd_ctl NAME SUBCOMMAND ARGS...   ipsecctl SUBCOMMAND --socket ... in its namespace
#   ipsecd_child NAME              "spi_i spi_r child_spi_in child_spi_out mode" of its
#                                  established IKE SA with an installed CHILD SA (empty if none)
#   ipsecd_wait_child INIT RESP CONN   (<= 30 s) until both have one, asking INIT to
#                                  'up CONN' after 10 s; sets IPSECD_CHILD_INIT/RESP
#   ipsecd_stop NAME...            SIGTERM, each must exit 0 within 10 s
declare -A IPSECD_PID=() IPSECD_NS=()
IPSECD_RUN=''
IPSECD_CHILD_INIT='' IPSECD_CHILD_RESP=''

require_ipsecd() {
    require_ipsecctl
    have_real_ipsecctl || skip "needs the real ipsecctl (status/up/down), not E2E_APPLY=ipxfrm"
    if [ -z "${IPSECD:-}" ] || [ ! -x "$IPSECD" ]; then skip "ipsecd not built (IPSECD='${IPSECD:-}')"; fi
    command -v jq >/dev/null 2>&1 || skip "jq is not installed"
}

ipsecd_start() {
    local ns=$1 name=$2 pid i args=(); shift 2
    [ -n "$IPSECD_RUN" ] || IPSECD_RUN=$(mktemp -d /tmp/ipsecd.XXXXXX) || fail "mktemp"
    for i in "$@"; do args+=(--config "$i"); done
    # shellcheck disable=SC2086  # IPSECD_OPTS: extra options, split on blanks
    ip netns exec "$ns" "$IPSECD" "${args[@]}" ${IPSECD_OPTS:-} --control "$IPSECD_RUN/$name.sock" \
        --pid-file "$IPSECD_RUN/$name.pid" --log-level debug > "$E2E_OUT/ipsecd-$name.log" 2>&1 &
    pid=$!
    E2E_PIDS+=("$pid")
    IPSECD_PID[$name]=$pid
    IPSECD_NS[$name]=$ns
    for (( i = 0; i < 100; i++ )); do
        [ -S "$IPSECD_RUN/$name.sock" ] && { log "ipsecd $name in $ns (pid $pid): $*"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$E2E_OUT/ipsecd-$name.log"
    fail "ipsecd $name did not start in $ns"
}

ipsecd_ctl() {
    local name=$1 sub=$2; shift 2
    ip netns exec "${IPSECD_NS[$name]}" "$IPSECCTL" "$sub" --socket "$IPSECD_RUN/$name.sock" "$@"
}

ipsecd_child() {
    # status lists "children" (every CHILD SA of the IKE SA); older daemons had one "child"
    ipsecd_ctl "$1" status --json 2>/dev/null | jq -r '.ike_sas[] | select(.state == "established") | . as $s
         | (.children // [.child])[] | select(. != null and .state == "installed")
         | "\($s.spi_i) \($s.spi_r) \(.spi_in) \(.spi_out) \(.mode)"' 2>/dev/null | head -n1
}

ipsecd_wait_child() {
    local init=$1 resp=$2 conn=$3 i
    IPSECD_CHILD_INIT='' IPSECD_CHILD_RESP=''
    for (( i = 0; i < 60; i++ )); do
        IPSECD_CHILD_INIT=$(ipsecd_child "$init") IPSECD_CHILD_RESP=$(ipsecd_child "$resp")
        [ -n "$IPSECD_CHILD_INIT" ] && [ -n "$IPSECD_CHILD_RESP" ] && return 0
        # start_action may have raced the responder's start: ask explicitly
        [ "$i" = 20 ] && { log "+ [$init] ipsecctl up $conn"; ipsecd_ctl "$init" up "$conn" || log "up: exit $?"; }
        sleep 0.5
    done
    ipsecd_ctl "$init" status; ipsecd_ctl "$resp" status
    tail -n 40 "$E2E_OUT/ipsecd-$init.log" "$E2E_OUT/ipsecd-$resp.log"
    fail "no installed CHILD SA on both $init and $resp after 30 s"
}

# ipsecd_pair_up INIT RESP CONN MODE LABEL_INIT LABEL_RESP: waits for the CHILD
# SA on both daemons, keeps their status (status-LABEL.json) and prints it,
# checks that both see the same IKE SPIs, crossed CHILD SPIs and MODE; sets
# PAIR_OUT (ESP SPI INIT->RESP) and PAIR_IN (RESP->INIT) as 0x%08x.
ipsecd_pair_up() {
    local init=$1 resp=$2 conn=$3 mode=$4 li=$5 lr=$6
    local ii ir iin iout imode ri rr rin rout rmode
    ipsecd_wait_child "$init" "$resp" "$conn"
    ipsecd_ctl "$init" status --json > "$E2E_OUT/status-$li.json"
    ipsecd_ctl "$resp" status --json > "$E2E_OUT/status-$lr.json"
    ipsecd_ctl "$init" status | sed "s/^/    [$li] /"
    ipsecd_ctl "$resp" status | sed "s/^/    [$lr] /"
    read -r ii ir iin iout imode <<< "$IPSECD_CHILD_INIT"
    read -r ri rr rin rout rmode <<< "$IPSECD_CHILD_RESP"
    assert_eq "IKE SPIs $li/$lr" "$ii $ir" "$ri $rr"
    assert_eq "$li's inbound CHILD SPI = $lr's outbound" "$iin" "$rout"
    assert_eq "$li's outbound CHILD SPI = $lr's inbound" "$iout" "$rin"
    assert_eq "CHILD SA mode on $li/$lr" "$mode $mode" "$imode $rmode"
    PAIR_OUT=$(printf '0x%08x' "$iout") PAIR_IN=$(printf '0x%08x' "$iin")
    log "negotiated ESP SPIs: $li->$lr $PAIR_OUT, $lr->$li $PAIR_IN"
}

# ipsecd_pair_down INIT RESP CONN NS_INIT NS_RESP: `ipsecctl down CONN` on INIT,
# waits (<= 30 s), then checks that neither namespace holds an SA or a policy
# and that neither daemon still lists an IKE SA.
ipsecd_pair_down() {
    local init=$1 resp=$2 conn=$3 ni=$4 nr=$5 i ns
    run ipsecd_ctl "$init" down "$conn" || fail "ipsecctl down $conn"
    for (( i = 0; i < 60; i++ )); do
        [ "$(xfrm_count "$ni") $(xfrm_count "$nr")" = "0 0 0 0" ] &&
            [ "$(ipsecd_ctl "$resp" status --json | jq '.ike_sas | length')" = 0 ] && break
        sleep 0.5
    done
    for ns in "$ni" "$nr"; do
        assert_eq "[$ns] SAs and policies after down" "0 0" "$(xfrm_count "$ns")"
    done
    assert_eq "[$ni] IKE SAs after down" 0 "$(ipsecd_ctl "$init" status --json | jq '.ike_sas | length')"
    assert_eq "[$nr] IKE SAs after down" 0 "$(ipsecd_ctl "$resp" status --json | jq '.ike_sas | length')"
}

ipsecd_stop() {
    local name pid i rc p keep
    for name in "$@"; do kill -TERM "${IPSECD_PID[$name]}" 2>/dev/null; done
    for name in "$@"; do
        pid=${IPSECD_PID[$name]}
        for (( i = 0; i < 100; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && fail "ipsecd $name (pid $pid) still running 10 s after SIGTERM"
        wait "$pid"; rc=$?
        keep=()
        for p in "${E2E_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
        E2E_PIDS=("${keep[@]}")
        assert_eq "ipsecd $name exit code after SIGTERM" 0 "$rc"
    done
}

# ------------------------------------------------------------------ lifecycle (lc_)
# For the IKEv2 lifecycle cases (ikev2-rekey, ikev2-ondemand, ikev2-dpd): the daemons'
# status and events over time, the kernel's SAs sampled while traffic runs.
#   lc_now                        seconds since the epoch, with milliseconds
#   lc_status NAME                ipsecctl status --json ('{}' when it does not answer)
#   lc_ike_count NAME             how many IKE SAs it lists (any state)
#   lc_children NAME              its CHILD SAs, one per line: "SPI_I STATE SPI_IN SPI_OUT"
#   lc_installed NAME             "SPI_IN SPI_OUT" of each installed CHILD SA
#   lc_log_count NAME REGEX       lines of its log (ipsecd-NAME.log) matching REGEX (grep -E)
#   lc_esp_count NS               ESP SAs in the namespace's kernel (larval ACQUIRE states too)
#   lc_wait_until SECS CMD...     runs CMD every 0.2 s until it succeeds; false after SECS
#   lc_monitor_start NAME FILE SECS   `ipsecctl monitor --json` for at most SECS in the
#                                 background, each line prefixed with lc_now
#   lc_events FILE KIND           how many KIND events ("child-rekeyed", ...) FILE holds
#   lc_event_time FILE KIND       lc_now of the first KIND event (empty if none)
#   lc_watch_start FILE SECS NS...    every ~0.2 s, at most SECS, one line per NS:
#                                 "TIME NS ESP_SAS SPI,SPI,..." until lc_watch_stop
#   lc_watch_max FILE NS          the most ESP SAs seen in NS
#   lc_watch_gap FILE NS          the longest time between two samples of NS
#   lc_xfrm_events_start NS FILE  'ip xfrm monitor SA expire' of NS in the background
#   lc_xfrm_events_max FILE SPIS  the most ESP SAs NS held at once according to those
#                                 events (SPIS: those it held when they started, comma-separated)
#   lc_watch_spis FILE NS         how many distinct ESP SPIs NS held over the watch
#   lc_ping_start NS DST COUNT INTERVAL FILE   ping in the background into FILE
#   lc_ping_wait FILE             waits for it (bounded by its own timeout); sets
#                                 LC_PING_TX and LC_PING_RX (not in a subshell: it waits)
#   lc_ping_lost FILE COUNT       the sequence numbers (0..COUNT-1) without a reply
#   lc_tcp_stream_start SRC_NS DST_NS ADDR PORT BYTES SECS   BYTES random bytes over one
#                                 TCP connection, paced over about SECS seconds
#   lc_tcp_stream_wait            waits for it; the receiver's sha256 and length must match
LC_PIDS=()
lc_now() { date +%s.%3N; }
lc_status() { ipsecd_ctl "$1" status --json 2>/dev/null || echo '{}'; }
lc_ike_count() { lc_status "$1" | jq '.ike_sas // [] | length'; }
lc_children() {
    lc_status "$1" | jq -r '.ike_sas // [] | .[] | .spi_i as $i | (.children // [])[]
        | "\($i) \(.state) \(.spi_in) \(.spi_out)"'
}
lc_installed() { lc_children "$1" | awk '$2 == "installed" { print $3, $4 }'; }
lc_log_count() { grep -cE "$2" "$E2E_OUT/ipsecd-$1.log" 2>/dev/null || true; }
lc_esp_count() { ip -n "$1" xfrm state 2>/dev/null | grep -c 'proto esp spi' || true; }
lc_wait_until() {
    local end=$(( $(date +%s) + $1 )) i; shift
    for (( i = 0; i < 10000; i++ )); do
        "$@" && return 0
        (( $(date +%s) < end )) || return 1
        sleep 0.2
    done
    return 1
}

lc_monitor_start() {
    local name=$1 file=$2 secs=$3
    : > "$file"
    ( ipsecd_ctl "$name" monitor --json --timeout "$secs" 2> "$file.err" |
        while IFS= read -r line; do printf '%s %s\n' "$(lc_now)" "$line"; done >> "$file" ) &
    E2E_PIDS+=("$!") LC_PIDS+=("$!")
    sleep 1   # subscribed by then (the daemon says nothing when a monitor joins)
    log "ipsecctl monitor --json on $name for at most $secs s -> $(basename "$file")"
}
lc_events() { awk -v k="\"event\":\"$2\"" 'index($0, k) { n++ } END { print n + 0 }' "$1"; }
lc_event_time() { awk -v k="\"event\":\"$2\"" 'index($0, k) { print $1; exit }' "$1"; }

LC_WATCH_PY='
import re, subprocess, sys, time, os
out, stop, secs, nss = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
end = time.time() + secs
with open(out, "a") as f:
    while not os.path.exists(stop) and time.time() < end:
        t = "%.3f" % time.time()
        for ns in nss:
            r = subprocess.run(["ip", "-n", ns, "xfrm", "state"], capture_output=True, text=True)
            spis = re.findall(r"proto esp spi (0x[0-9a-f]+)", r.stdout)
            f.write("%s %s %d %s\n" % (t, ns, len(spis), ",".join(spis) or "-"))
        f.flush()
        time.sleep(0.2)
'
lc_watch_start() {
    local file=$1 secs=$2 i; shift 2
    : > "$file"
    rm -f "$file.stop"
    python3 -c "$LC_WATCH_PY" "$file" "$file.stop" "$secs" "$@" &
    LC_WATCH_PID=$! LC_WATCH_FILE=$file
    E2E_PIDS+=("$LC_WATCH_PID")
    # python starts slowly under TCG: wait (bounded) for its first sample
    for (( i = 0; i < 150; i++ )); do [ -s "$file" ] && break; sleep 0.1; done
    log "sampling the ESP SAs of $* every ~0.2 s (at most $secs s) -> $(basename "$file")"
}
lc_watch_stop() {
    touch "$LC_WATCH_FILE.stop"
    wait "$LC_WATCH_PID" 2>/dev/null
    log "SA sampling stopped: $(wc -l < "$LC_WATCH_FILE") samples"
}
# lc_watch_gap FILE NS: the longest time (s) between two samples of NS
lc_watch_gap() {
    awk -v ns="$2" '$2 == ns { if (p != "" && $1 - p > g) g = $1 - p; p = $1 } END { printf "%.2f\n", g }' "$1"
}
lc_watch_max() { awk -v ns="$2" '$2 == ns && $3 > m { m = $3 } END { print m + 0 }' "$1"; }
lc_watch_spis() {
    awk -v ns="$2" '$2 == ns && $4 != "-" { n = split($4, s, ","); for (i = 1; i <= n; i++) seen[s[i]] = 1 }
        END { c = 0; for (k in seen) c++; print c }' "$1"
}

lc_ping_start() {
    local ns=$1 dst=$2 count=$3 interval=$4 file=$5 limit
    limit=$(awk -v c="$count" -v i="$interval" 'BEGIN { printf "%d", c * i + 30 }')
    log "+ [$ns] ping -c $count -i $interval $dst  (background, at most $limit s)"
    # shellcheck disable=SC2046  # ping_cmd may be two words
    ip netns exec "$ns" timeout "$limit" $(ping_cmd) -c "$count" -i "$interval" -W 3 "$dst" > "$file" 2>&1 &
    LC_PING_PID=$!
    E2E_PIDS+=("$LC_PING_PID")
}
lc_ping_wait() {
    wait "$LC_PING_PID" 2>/dev/null
    LC_PING_TX=$(sed -n 's/^\([0-9][0-9]*\) packets transmitted.*/\1/p' "$1" | tail -n1)
    LC_PING_RX=$(ping_received "$(cat "$1")")
    LC_PING_TX=${LC_PING_TX:-0} LC_PING_RX=${LC_PING_RX:-0}
}
lc_ping_lost() {
    local seen
    seen=$(grep -o 'seq=[0-9]*' "$1" | cut -d= -f2 | sort -n | uniq | paste -sd' ' -)
    awk -v c="$2" -v s="$seen" 'BEGIN { n = split(s, a, " "); for (i = 1; i <= n; i++) got[a[i]] = 1
        out = ""; for (i = 0; i < c; i++) if (!(i in got)) out = out (out == "" ? "" : " ") i; print out }'
}

LC_TCP_SEND_PACED='
import socket, sys, time
addr, port, path, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
data = open(path, "rb").read()
chunk = 16384
pause = secs / max(1, (len(data) + chunk - 1) // chunk)
c = socket.create_connection((addr, port), timeout=120)
for i in range(0, len(data), chunk):
    c.sendall(data[i:i + chunk])
    time.sleep(pause)
c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
'
lc_tcp_stream_start() {
    local src=$1 dst=$2 addr=$3 port=$4 bytes=$5 secs=$6 i
    LC_TCP_FILE=$(mktemp /tmp/lc-tcp.XXXXXX) || fail "mktemp"
    head -c "$bytes" /dev/urandom > "$LC_TCP_FILE" || fail "random payload"
    LC_TCP_WANT="$(sha256sum < "$LC_TCP_FILE" | cut -d' ' -f1) $bytes"
    ip netns exec "$dst" timeout $(( secs + 150 )) python3 -c "$E2E_TCP_RECV" "$addr" "$port" "$LC_TCP_FILE.got" &
    LC_TCP_RECV_PID=$!
    E2E_PIDS+=("$LC_TCP_RECV_PID")
    for (( i = 0; i < 200; i++ )); do
        [ -e "$LC_TCP_FILE.got.ready" ] && break
        kill -0 "$LC_TCP_RECV_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -e "$LC_TCP_FILE.got.ready" ] || fail "TCP listener on [$addr]:$port in $dst did not start"
    log "+ [$src] TCP: $bytes random bytes (sha256 ${LC_TCP_WANT%% *}) to [$addr]:$port over ~$secs s (background)"
    ip netns exec "$src" timeout $(( secs + 120 )) python3 -c "$LC_TCP_SEND_PACED" "$addr" "$port" "$LC_TCP_FILE" "$secs" &
    LC_TCP_SEND_PID=$!
    E2E_PIDS+=("$LC_TCP_SEND_PID")
    LC_TCP_T0=$(date +%s)
}
lc_tcp_stream_wait() {
    local got
    wait "$LC_TCP_SEND_PID" || fail "paced TCP sender failed (exit $?)"
    wait "$LC_TCP_RECV_PID" || fail "TCP receiver failed (exit $?)"
    got=$(cut -d' ' -f1,2 "$LC_TCP_FILE.got" 2>/dev/null)
    log "TCP stream done in $(( $(date +%s) - LC_TCP_T0 )) s; receiver saw $(cat "$LC_TCP_FILE.got" 2>/dev/null)"
    assert_eq "sha256 and length of the TCP stream received" "$LC_TCP_WANT" "$got"
    rm -f "$LC_TCP_FILE" "$LC_TCP_FILE.got" "$LC_TCP_FILE.got.ready"
}

# ------------------------------------------------------------------ ping across an event
# For watching traffic while something happens (a rekey): a ping runs in the
# background from ss_ping_start until ss_ping_stop, which counts the echoes
# that went unanswered.
#   ss_ping_start NS DST [INTERVAL]   ping every INTERVAL s (0.2), at most 600 s
#   ss_ping_stop                      SIGINT; sets SS_PING_REPLIES (distinct
#                                     echoes answered) and SS_PING_LOST (echo
#                                     sequence numbers missing before the
#                                     last answered one: an echo still in
#                                     flight at SIGINT is not a loss)
SS_PING_PID='' SS_PING_OUT='' SS_PING_REPLIES=0 SS_PING_LOST=0 SS_PING_N=0
ss_ping_start() {
    local ns=$1 dst=$2 iv=${3:-0.2} count
    count=$(awk -v i="$iv" 'BEGIN { printf "%d", 600 / i }')
    SS_PING_N=$(( SS_PING_N + 1 ))
    SS_PING_OUT=$E2E_OUT/ping-$SS_PING_N.txt
    log "+ [$ns] ping -i $iv $dst  (background, $SS_PING_OUT)"
    # shellcheck disable=SC2046  # ping_cmd may be two words
    ip netns exec "$ns" timeout -s INT 610 $(ping_cmd) -c "$count" -i "$iv" -W 2 "$dst" > "$SS_PING_OUT" 2>&1 &
    SS_PING_PID=$!
    E2E_PIDS+=("$SS_PING_PID")
}
ss_ping_stop() {
    local i p keep=()
    [ -n "$SS_PING_PID" ] || fail "ss_ping_stop: no ping running"
    # $! is timeout ('ip netns exec' execs it), which passes SIGINT on to ping
    kill -INT "$SS_PING_PID" 2>/dev/null
    for (( i = 0; i < 50; i++ )); do kill -0 "$SS_PING_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SS_PING_PID" 2>/dev/null && { kill -TERM "$SS_PING_PID" 2>/dev/null; log "ping did not stop on SIGINT"; }
    wait "$SS_PING_PID" 2>/dev/null
    for p in "${E2E_PIDS[@]}"; do [ "$p" = "$SS_PING_PID" ] || keep+=("$p"); done
    E2E_PIDS=("${keep[@]}")
    SS_PING_PID=''
    # iputils: "icmp_seq=N" from 1; busybox: "seq=N" from 0
    read -r SS_PING_REPLIES SS_PING_LOST <<< "$(awk '
        /bytes from/ && !/DUP/ {
            if (match($0, /icmp_seq=[0-9]+/)) { s = substr($0, RSTART + 9, RLENGTH - 9); first = 1 }
            else if (match($0, /seq=[0-9]+/)) { s = substr($0, RSTART + 4, RLENGTH - 4); first = 0 }
            else next
            s += 0; if (!(s in seen)) { seen[s] = 1; n++ }
            if (s > max) max = s
        }
        END { if (n == 0) print 0, 0; else print n, max - first + 1 - n }' "$SS_PING_OUT")"
    tail -n 2 "$SS_PING_OUT" | sed 's/^/    /'
    log "background ping: $SS_PING_REPLIES echoes answered, $SS_PING_LOST lost before the last answer"
}

lc_xfrm_events_start() {
    ip -n "$1" xfrm monitor SA expire > "$2" 2>&1 &
    E2E_PIDS+=("$!")
    LC_PIDS+=("$!")
    sleep 0.5
    log "recording $1's SA events (ip xfrm monitor SA expire) -> $(basename "$2")"
}
# New SAs ("src ..." then "proto esp spi X"; an inbound SA whose SPI was reserved with
# ALLOCSPI shows up as "Updated src ...", the reservation itself is not announced),
# deleted ones ("Deleted src ..."), and hard expiry ("Expired src ..." ... "hard 1": the
# kernel removes the SA without a Deleted)
lc_xfrm_events_max() {
    awk -v init="$2" '
        BEGIN { n = split(init, a, ","); for (i = 1; i <= n; i++) if (a[i] != "" && a[i] != "-") { have[a[i]] = 1; cur++ }
                max = cur }
        /^(Deleted |Updated |Expired )?src / { kind = ($1 == "src") ? "new" : $1; want = 1; next }
        want && /proto esp spi/ { for (i = 1; i < NF; i++) if ($i == "spi") spi = $(i + 1)
                                  sub(/\(.*/, "", spi); want = 0
                                  if (spi == "0x00000000") next
                                  if ((kind == "new" || kind == "Updated") && !(spi in have)) { have[spi] = 1; cur++ }
                                  if (kind == "Deleted" && (spi in have)) { delete have[spi]; cur-- }
                                  if (kind == "Expired") exp_spi = spi
                                  if (cur > max) max = cur
                                  next }
        /hard 1/ && exp_spi != "" { if (exp_spi in have) { delete have[exp_spi]; cur-- }; exp_spi = "" }
        /hard 0/ { exp_spi = "" }
        END { print max + 0 }' "$1"
}

# lc_child_kernel_ok NS LOCAL REMOTE LOCAL_TS REMOTE_TS SPI_OUT SPI_IN: true when the
# namespace holds exactly the 2 ESP SAs of one tunnel-mode CHILD SA with these SPIs and
# its out, in and fwd policies (check_child_kernel's checks, without failing: for states
# that change every few seconds, such as under rekeying)
lc_child_kernel_ok() {
    local ns=$1 l=$2 r=$3 ln=$4 rn=$5 so=$6 si=$7 st po
    st=$(xfrm_records "$ns" state) po=$(xfrm_records "$ns" policy)
    [ "$(grep -c '^src' <<< "$st") $(grep -Ec ' dir (in|out|fwd) ' <<< "$po")" = "2 3" ] &&
    grep -q "^src $l dst $r proto esp spi $so reqid [0-9]* mode tunnel" <<< "$st" &&
    grep -q "^src $r dst $l proto esp spi $si reqid [0-9]* mode tunnel" <<< "$st" &&
    grep -q "^src $ln dst $rn dir out .*tmpl src $l dst $r proto esp reqid [0-9]* mode tunnel" <<< "$po" &&
    grep -q "^src $rn dst $ln dir in .*tmpl src $r dst $l proto esp reqid [0-9]* mode tunnel" <<< "$po" &&
    grep -q "^src $rn dst $ln dir fwd .*tmpl src $r dst $l proto esp reqid [0-9]* mode tunnel" <<< "$po"
}

# lc_sa_list NS: the namespace's ESP SAs, one line each: "SRC DST SPI MODE" (one process
# besides ip: quick enough to compare with a daemon's status between two rekeys)
lc_sa_list() {
    ip -n "$1" xfrm state 2>/dev/null | awk '/^src / { s = $2; d = $4 }
        /proto esp spi/ { for (i = 1; i < NF; i++) { if ($i == "spi") p = $(i + 1); if ($i == "mode") m = $(i + 1) }
                          print s, d, p, m }'
}
