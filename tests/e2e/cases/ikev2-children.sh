#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: one IKE SA, several CHILD SAs, on Debian's real kernel. hostA - gwA = gwB -
# hostB, each host with one address in each of three subnet pairs:
#   lan   198.51.100.0/26   <-> 203.0.113.0/26    (hostA .10,  hostB .10)
#   dmz   198.51.100.64/26  <-> 203.0.113.64/26   (hostA .74,  hostB .74)
#   voice 198.51.100.128/26 <-> 203.0.113.128/26  (hostA .138, hostB .138)
# each child with its own ESP proposal (lan AES-GCM-16; dmz AES-CBC/HMAC-SHA256
# with PFS x25519; voice ChaCha20-Poly1305 with PFS x25519) and, on some, a
# fixed reqid (tests/e2e/fixtures/children).
#
# Scenario 1, ipsecd <-> ipsecd: gwA's connection has lan and dmz (start) and voice
# (on-demand); gwB's the same three mirrored (start_action none, listed in
# another order). Proves:
#   - after gwA starts: one IKE SA on each side with exactly the lan and dmz CHILD
#     SAs (status --json names them, IKE SPIs equal, CHILD SPIs crossed, the
#     selectors and proposal of that child on both sides); each kernel holds their
#     4 ESP SAs and their policies (the child's reqid, algorithm), gwA also the
#     voice trap policies;
#   - a ping through lan, then through dmz (ping -I: the source address picks the
#     child): every echo answered, and the 4 SA counters of exactly that child
#     grow while the other child's stay still;
#   - a ping through voice: the first packets raise an ACQUIRE (monitor event),
#     the voice CHILD SA comes up in CREATE_CHILD_SA on the SAME IKE SA (no new
#     IKE SA, no ike-up event), every echo after the first answered one is
#     answered, voice's counters grow and only voice's; 6 ESP SAs per gateway;
#   - the capture on the gateways' link holds ESP (of each child's SPIs) and IKE
#     only: no ICMP in the clear, no inner address as outer header;
#   - 'ipsecctl down' on gwA: no ESP SA on either gateway, no policy on gwB, only
#     the 3 voice trap policies on gwA; SIGTERM on both leaves nothing.
# Scenario 2, ipsecd initiator -> strongSwan charon responder (gwB), same boot:
# the same three children, all start_action start on ipsecd. Proves: one IKE SA
# on both sides, the three CHILD SAs installed on both (swanctl --list-sas names
# them, SPIs crossed with ipsecd's status), the kernels hold their 6 ESP SAs and
# policies; a ping through each child is answered and grows that child's counters
# only (kernel, and swanctl's per-child counters); ESP only on the link;
# 'ipsecctl down' leaves no IKE SA on either side (swanctl --list-sas empty) and
# no SA or policy in either kernel. Evidence in the job folder: ipsecd-{a,b,c}.log,
# charon.log, status-*.json, swanctl-*, children-events-gwA.txt, the pcaps.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
. "$E2E_DIR/strongswan/charon.sh"

# on failure, the daemons' logs too (then lib.sh's fail: the kernel state)
eval "$(declare -f fail | sed '1s/^fail /e2e_fail /')"
fail() {
    local f
    for f in "$E2E_OUT"/ipsecd-*.log "$E2E_OUT/charon.log"; do
        [ -r "$f" ] || continue
        echo "---- $(basename "$f"), last 60 lines ----"
        tail -n 60 "$f"
    done
    e2e_fail "$@"
}
require_ipsecd
sw_require

# The binaries as they are now, in the guest's own tmpfs: this case runs for minutes,
# and a rebuild on the host meanwhile (the guest sees the build tree live over 9p)
# makes the guest's next exec of the replaced file read a mix of stale cached and new
# pages and crash (seen: SIGSEGV at start of a second ipsecd after a relink).
BIN=$(mktemp -d /tmp/children-bin.XXXXXX) || fail "mktemp"
cp "$IPSECD" "$BIN/ipsecd" && cp "$IPSECCTL" "$BIN/ipsecctl" || fail "copy ipsecd and ipsecctl into $BIN"
log "ipsecd ($(stat -c %s "$BIN/ipsecd") bytes) and ipsecctl ($(stat -c %s "$BIN/ipsecctl") bytes) copied to $BIN"
IPSECD=$BIN/ipsecd IPSECCTL=$BIN/ipsecctl
IPSECCTL_CMD=("$IPSECCTL")

load_modules
topo_gateways

# ------------------------------------------------------------------ topology
# one more address for each of dmz and voice on both hosts; the /24 routes and
# default routes of topo_gateways carry them (the gateways' lan sides are /24)
addr hostA eth0 198.51.100.74/24 198.51.100.138/24
addr hostB eth0 203.0.113.74/24 203.0.113.138/24
log "hosts: hostA 198.51.100.{10,74,138}, hostB 203.0.113.{10,74,138}"

CHILDREN=(dmz lan voice)   # sorted by name, as the lists below are
declare -A TS_A=([lan]=198.51.100.0/26 [dmz]=198.51.100.64/26 [voice]=198.51.100.128/26)
declare -A TS_B=([lan]=203.0.113.0/26 [dmz]=203.0.113.64/26 [voice]=203.0.113.128/26)
declare -A HOST_A=([lan]=198.51.100.10 [dmz]=198.51.100.74 [voice]=198.51.100.138)
declare -A HOST_B=([lan]=203.0.113.10 [dmz]=203.0.113.74 [voice]=203.0.113.138)
# ESP proposal of each child (both sides, and charon), what 'ipsecctl status' and
# swanctl name its encryption, and the kernel's algorithm line in 'ip xfrm state'
declare -A ESP=([lan]=aes256gcm16 [dmz]=aes256-sha256-x25519 [voice]=chacha20poly1305-x25519)
declare -A OUR_ENCR=([lan]=ENCR_AES_GCM_16_256 [dmz]=ENCR_AES_CBC_256 [voice]=ENCR_CHACHA20_POLY1305)
declare -A SW_ENCR=([lan]=AES_GCM_16-256 [dmz]=AES_CBC-256 [voice]=CHACHA20_POLY1305)
declare -A KERNEL_ALG=([lan]='aead rfc4106(gcm(aes))' [dmz]='enc cbc(aes)' [voice]='aead rfc7539esp(chacha20,poly1305)')
# fixed reqids in the fixtures (the others are allocated)
declare -A REQID_A=([lan]=21 [voice]=23) REQID_B=([dmz]=32 [voice]=33)

W=$(mktemp -d /tmp/ikev2-children.XXXXXX) || fail "mktemp"
fx=$FIXTURES/children
cp "$fx/left.json" "$fx/right.json" "$fx/strongswan-left.json" "$fx/shared.psk" "$W/" || fail "copy $fx"
chmod 600 "$W/shared.psk"
COUNT=5
EV_A=$E2E_OUT/children-events-gwA.txt

# Process starts are slow under TCG (0.1-0.5 s each): the helpers below ask each
# daemon and each kernel once per check and parse the answer in the shell.

# ------------------------------------------------------------------ ipsecd's view
# load_status NAME: one 'ipsecctl status --json' of ipsecd NAME into
#   JSON[NAME]          the answer
#   IKE[NAME]           "STATE SPI_I SPI_R" of each IKE SA, one per line
#   NAMES[NAME]         the names of all its CHILD SAs (any state), sorted, one line
#   INSTALLED[NAME]     the names of its installed CHILD SAs, sorted, one line
#   CH[NAME:CHILD:F]    F = state spi_in spi_out mode lts rts algs (the last one of
#                       that name, should there be several)
declare -A JSON=() IKE=() NAMES=() INSTALLED=() CH=()
load_status() {
    local n=$1 kind name state si so mode lts rts algs ike='' names='' inst=''
    JSON[$n]=$(lc_status "$n")
    while read -r kind name state si so mode lts rts algs; do
        case $kind in
            ike) ike+="${ike:+$'\n'}$name $state $si";;
            child)
                names+="${names:+ }$name"
                [ "$state" = installed ] && inst+="${inst:+ }$name"
                CH[$n:$name:state]=$state CH[$n:$name:spi_in]=$si CH[$n:$name:spi_out]=$so CH[$n:$name:mode]=$mode
                CH[$n:$name:lts]=$lts CH[$n:$name:rts]=$rts CH[$n:$name:algs]=$algs;;
        esac
    done <<< "$(jq -r '.ike_sas // [] | .[] | "ike \(.state) \(.spi_i) \(.spi_r)",
        ((.children // []) | sort_by(.name) | .[]
         | "child \(.name) \(.state) \(.spi_in) \(.spi_out) \(.mode) \(.local_ts | join(",")) \(.remote_ts | join(",")) \(.algorithms)")' <<< "${JSON[$n]}")"
    IKE[$n]=$ike NAMES[$n]=$names INSTALLED[$n]=$inst
}

# OUT/IN: the ESP SPIs (0x%08x, as ip xfrm prints them) of each child, gwA->gwB and
# gwB->gwA; set by check_pair and in scenario 2
declare -A OUT=() IN=()

# check_pair LABEL CHILD...: ipsecd a and b: one established IKE SA each, the same
# SPIs (and the same as at the previous check); exactly these CHILD SAs on both, all
# installed; each child's SPIs crossed, its selectors, mode and encryption as
# configured on both sides; 'ipsecctl status' (text) names each one
check_pair() {
    local label=$1 c n text want; shift
    want=$(printf '%s\n' "$@" | sort | xargs)
    load_status a; load_status b
    for n in a b; do
        printf '%s\n' "${JSON[$n]}" > "$E2E_OUT/status-$label-$n.json"
    done
    text=$(ipsecd_ctl a status)
    printf '%s\n' "$text" | sed "s/^/    [gwA status] /"
    ipsecd_ctl b status | sed "s/^/    [gwB status] /"
    assert_eq "[$label] IKE SAs on gwA / gwB (state SPIs; one each, the same)" "${IKE[a]}" "${IKE[b]}"
    assert_eq "[$label] IKE SAs on gwA, the state of the first" "1 established" "$(grep -c . <<< "${IKE[a]}") ${IKE[a]%% *}"
    [ -n "${IKE_SPIS:-}" ] && assert_eq "[$label] the IKE SA is still the first one" "$IKE_SPIS" "${IKE[a]}"
    IKE_SPIS=${IKE[a]}
    assert_eq "[$label] CHILD SAs on gwA / gwB (names, any state)" "$want / $want" "${NAMES[a]} / ${NAMES[b]}"
    assert_eq "[$label] installed CHILD SAs on gwA / gwB" "$want / $want" "${INSTALLED[a]} / ${INSTALLED[b]}"
    assert_eq "[$label] 'ipsecctl status' on gwA: a 'CHILD SA NAME: installed, tunnel' line for each" "$#" \
        "$(grep -cE "CHILD SA +(${want// /|}): installed, tunnel" <<< "$text")"
    for c in "$@"; do
        assert_eq "[$label] $c: SPIs crossed (gwA in/out = gwB out/in)" \
            "${CH[a:$c:spi_in]}/${CH[a:$c:spi_out]}" "${CH[b:$c:spi_out]}/${CH[b:$c:spi_in]}"
        assert_eq "[$label] $c: gwA's local, remote TS / gwB's; modes; encryption on gwA, gwB" \
            "${TS_A[$c]} ${TS_B[$c]} / ${TS_B[$c]} ${TS_A[$c]}; tunnel tunnel; ${OUR_ENCR[$c]} ${OUR_ENCR[$c]}" \
            "${CH[a:$c:lts]} ${CH[a:$c:rts]} / ${CH[b:$c:lts]} ${CH[b:$c:rts]}; ${CH[a:$c:mode]} ${CH[b:$c:mode]}; ${CH[a:$c:algs]%%/*} ${CH[b:$c:algs]%%/*}"
        OUT[$c]=${CH[a:$c:spi_out]} IN[$c]=${CH[a:$c:spi_in]}
        log "$c: ESP SPIs gwA->gwB ${OUT[$c]}, gwB->gwA ${IN[$c]} (${CH[a:$c:algs]})"
    done
}

# ------------------------------------------------------------------ the kernels
# load_xfrm NS...: each namespace's SAs and policies (xfrm_records) into XST[NS], XPO[NS]
declare -A XST=() XPO=()
load_xfrm() {
    local ns
    for ns in "$@"; do XST[$ns]=$(xfrm_records "$ns" state) XPO[$ns]=$(xfrm_records "$ns" policy); done
}
# nmatch TEXT ERE: how many lines of TEXT match (no process)
nmatch() {
    local line n=0
    while IFS= read -r line; do [[ $line =~ $2 ]] && n=$(( n + 1 )); done <<< "$1"
    echo "$n"
}
# check_child_sas NS CHILD [REQID [WHY]]: in what load_xfrm read, NS holds the child's
# two tunnel-mode ESP SAs (the SPIs in OUT/IN, one reqid, the child's algorithm) and
# its out, in and fwd policies with ESP tunnel templates of that reqid between the
# gateways; REQID: the one expected (WHY: where it comes from, default the policy
# file). Sets CHILD_REQID.
check_child_sas() {
    local ns=$1 c=$2 fixed=${3:-} l=192.0.2.1 r=192.0.2.2 ln=${TS_A[$2]} rn=${TS_B[$2]} so=${OUT[$2]} si=${IN[$2]}
    local st=${XST[$1]} po=${XPO[$1]} line ro='' ri='' algs=0 t re_o re_i
    if [ "$ns" = gwB ]; then l=192.0.2.2 r=192.0.2.1 ln=${TS_B[$c]} rn=${TS_A[$c]} so=${IN[$c]} si=${OUT[$c]}; fi
    re_o="^src $l dst $r proto esp spi $so reqid ([0-9]+) mode tunnel "
    re_i="^src $r dst $l proto esp spi $si reqid ([0-9]+) mode tunnel "
    while IFS= read -r line; do
        if [[ $line =~ $re_o ]]; then
            ro+="${ro:+,}${BASH_REMATCH[1]}"; [[ $line == *"${KERNEL_ALG[$c]} "* ]] && algs=$(( algs + 1 ))
        elif [[ $line =~ $re_i ]]; then
            ri+="${ri:+,}${BASH_REMATCH[1]}"; [[ $line == *"${KERNEL_ALG[$c]} "* ]] && algs=$(( algs + 1 ))
        fi
    done <<< "$st"
    assert_eq "[$ns] $c: tunnel-mode ESP SAs $l->$r spi $so and $r->$l spi $si, of one reqid, with '${KERNEL_ALG[$c]}'" \
        "$ro $ro 2" "${ro:-none} ${ri:-none} $algs"
    [ -n "$fixed" ] && assert_eq "[$ns] $c: reqid (${4:-as in the policy file})" "$fixed" "$ro"
    # (charon's out templates name the SPI too: "proto esp spi 0x... reqid N")
    t="proto esp (spi 0x[0-9a-f]+ )?reqid $ro mode tunnel"
    assert_eq "[$ns] $c: policies out $ln -> $rn, in and fwd $rn -> $ln, ESP tunnel templates $l<->$r with reqid $ro" "1 1 1" \
        "$(nmatch "$po" "^src $ln dst $rn dir out .*tmpl src $l dst $r $t") $(nmatch "$po" "^src $rn dst $ln dir in .*tmpl src $r dst $l $t") $(nmatch "$po" "^src $rn dst $ln dir fwd .*tmpl src $r dst $l $t")"
    CHILD_REQID=$ro
}
# voice_traps: "OUT IN FWD" - how many of gwA's policies (load_xfrm) are voice's with
# the ESP tunnel template of reqid 23 (its trap policies; while its CHILD SA is up,
# the same policies serve it)
voice_traps() {
    local t="tmpl src 192.0.2.[12] dst 192.0.2.[12] proto esp reqid 23 mode tunnel"
    echo "$(nmatch "${XPO[gwA]}" "^src ${TS_A[voice]} dst ${TS_B[voice]} dir out .*$t")" \
         "$(nmatch "${XPO[gwA]}" "^src ${TS_B[voice]} dst ${TS_A[voice]} dir in .*$t")" \
         "$(nmatch "${XPO[gwA]}" "^src ${TS_B[voice]} dst ${TS_A[voice]} dir fwd .*$t")"
}
# counts NS: "SAS POLICIES" from what load_xfrm read (policies: in, out, fwd; not
# the per-socket ones), like lib.sh's xfrm_count
counts() { echo "$(nmatch "${XST[$1]}" '^src ') $(nmatch "${XPO[$1]}" ' dir (in|out|fwd) ')"; }

# ------------------------------------------------------------------ traffic
# snap_all: every SA's "packets bytes" on both gateways into SN["NS SPI"] (one
# 'ip -s xfrm state' per gateway)
declare -A SN=()
snap_all() {
    local ns spi p b
    SN=()
    for ns in gwA gwB; do
        while read -r spi p b; do [ -n "$spi" ] && SN["$ns $spi"]="$p $b"; done <<< "$(ip -n "$ns" -s xfrm state | awk '
            /proto esp spi/ { for (i = 1; i < NF; i++) if ($i == "spi") s = $(i + 1); sub(/\(.*/, "", s) }
            /lifetime current:/ { getline; gsub(/[(),]/, " ")
                for (i = 1; i < NF; i++) { if ($(i+1) == "bytes") b = $i; if ($(i+1) == "packets") p = $i }
                print s, p + 0, b + 0 }')"
    done
}
# sa4 CHILD K: "NS SRC DST esp SPI" of the child's SA K: 0 gwA out, 1 gwB in, 2 gwB
# out, 3 gwA in
sa4() {
    case $2 in
        0) echo "gwA 192.0.2.1 192.0.2.2 esp ${OUT[$1]}";;
        1) echo "gwB 192.0.2.1 192.0.2.2 esp ${OUT[$1]}";;
        2) echo "gwB 192.0.2.2 192.0.2.1 esp ${IN[$1]}";;
        3) echo "gwA 192.0.2.2 192.0.2.1 esp ${IN[$1]}";;
    esac
}
SA4_LABEL=("gwA out" "gwB in" "gwB out" "gwA in")
# through CHILD OTHER...: ping hostB's address in CHILD from hostA's (ping -I):
# every echo answered; CHILD's 4 SA counters grow by >= COUNT packets (sa_grew);
# the OTHER children's 4 SAs each do not move at all
through() {
    local c=$1 o k ns spi before=() now=(); shift
    snap_all
    local -A b4=()
    for k in "${!SN[@]}"; do b4[$k]=${SN[$k]}; done
    ping_ok hostA "${HOST_B[$c]}" "$COUNT" -I "${HOST_A[$c]}"
    for k in 0 1 2 3; do
        read -r ns _ _ _ spi <<< "$(sa4 "$c" "$k")"
        # shellcheck disable=SC2046  # sa4 gives the five arguments
        sa_grew "$c ${SA4_LABEL[$k]}" "${b4["$ns $spi"]:--1 -1}" $(sa4 "$c" "$k") "$COUNT"
    done
    snap_all
    for o in "$@"; do
        before=() now=()
        for k in 0 1 2 3; do
            read -r ns _ _ _ spi <<< "$(sa4 "$o" "$k")"
            before+=("${b4["$ns $spi"]:-missing}") now+=("${SN["$ns $spi"]:-missing}")
        done
        assert_eq "$o's 4 SAs (gwA out, gwB in, gwB out, gwA in: packets bytes) while pinging through $c: unchanged" \
            "$(IFS=,; echo "${before[*]}")" "$(IFS=,; echo "${now[*]}")"
    done
}

# link_only_esp PCAP MIN_IKE CHILD...: the capture holds >= COUNT ESP packets of
# each child's SPI in each direction, >= MIN_IKE IKE messages (UDP 500; 0: none
# expected, only counted), and nothing else: no ICMP, no inner address as outer header
link_only_esp() {
    local pcap=$1 min_ike=$2 c f text='' line re='IP (192\.0\.2\.[12]) > (192\.0\.2\.[12]): ESP\(spi=(0x[0-9a-f]+),'; shift 2
    local -A n=()
    capture_show "$pcap" 4
    for f in $(capture_files "$pcap"); do text+=$(tcpdump -nn -r "$f" 2>/dev/null)$'\n'; done
    while IFS= read -r line; do
        [[ $line =~ $re ]] &&
            n["${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"]=$(( ${n["${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"]:-0} + 1 ))
    done <<< "$text"
    for c in "$@"; do
        assert_ge "ESP packets gwA->gwB with $c's spi ${OUT[$c]}" "$COUNT" "${n["192.0.2.1 ${OUT[$c]}"]:-0}"
        assert_ge "ESP packets gwB->gwA with $c's spi ${IN[$c]}" "$COUNT" "${n["192.0.2.2 ${IN[$c]}"]:-0}"
    done
    if [ "$min_ike" -gt 0 ]; then
        assert_ge "IKE messages on the link (UDP 500)" "$min_ike" "$(capture_count "$pcap" "udp port 500")"
    else
        log "IKE messages on the link (UDP 500): $(capture_count "$pcap" "udp port 500") (none required)"
    fi
    assert_eq "packets with an inner address as outer header" 0 "$(capture_count "$pcap" "net 198.51.100.0/24 or net 203.0.113.0/24")"
    assert_eq "bare ICMP packets on the link" 0 "$(capture_count "$pcap" "icmp")"
    assert_eq "IPv4 packets on the link other than ESP and IKE" 0 "$(capture_count "$pcap" "ip and not ip proto 50 and not udp port 500")"
}

# ================================================================== scenario 1
step "scenario 1: ipsecd in gwB (three children, start_action none) and gwA (lan, dmz: start; voice: on-demand)"
ipsecd_start gwB b "$W/right.json"
ipsecd_start gwA a "$W/left.json"

step "wait (<= 40 s) for lan and dmz on both gateways"
for (( i = 0; i < 80; i++ )); do
    load_status a; load_status b
    [ "${INSTALLED[a]}|${INSTALLED[b]}" = "dmz lan|dmz lan" ] && break
    # start_action may have raced the responder's start: ask once, only if gwA has no IKE SA at all
    if [ "$i" = 30 ] && [ -z "${IKE[a]}" ]; then
        log "+ [gwA] ipsecctl up to-right (no IKE SA after 15 s)"; ipsecd_ctl a up to-right || log "up: exit $?"
    fi
    sleep 0.5
done
sleep 1   # anything more (a third CHILD SA, a second IKE SA) would show by now
IKE_SPIS=''
check_pair start lan dmz
# for the record (not checked): which child rode IKE_AUTH; the others followed in CREATE_CHILD_SA
log "gwA's log: the CHILD SA installed with IKE_AUTH: $(grep -m1 -o 'CHILD SA [^ ]* installed' "$E2E_OUT/ipsecd-a.log")"
ipsecd_ctl a list-conns | sed 's/^/    [gwA conns] /'
assert_eq "gwA's connection to-right is trapped (list-conns --json: voice is on-demand)" true \
    "$(ipsecd_ctl a list-conns --json | jq -r '[.. | objects | select(.name? == "to-right") | .trapped] | first')"

step "kernel state after start: lan and dmz (4 ESP SAs, 6 policies) on both; gwA also voice's trap policies"
load_xfrm gwA gwB
printf '%s\n' "${XST[gwA]}" | sed 's/ replay-window .*//; s/^/    [gwA SA] /'
printf '%s\n' "${XPO[gwA]}" | sed 's/^/    [gwA policy] /'
printf '%s\n' "${XPO[gwB]}" | sed 's/^/    [gwB policy] /'
assert_eq "[gwA] ESP SAs, policies (lan, dmz: 3 each; voice's traps: 3)" "4 9" "$(counts gwA)"
assert_eq "[gwB] ESP SAs, policies (lan, dmz: 3 each)" "4 6" "$(counts gwB)"
assert_eq "[gwA] voice trap policies out, in, fwd (reqid 23)" "1 1 1" "$(voice_traps)"
declare -A RQ=()
for c in lan dmz; do
    check_child_sas gwA "$c" "${REQID_A[$c]:-}"; RQ[gwA:$c]=$CHILD_REQID
    check_child_sas gwB "$c" "${REQID_B[$c]:-}"; RQ[gwB:$c]=$CHILD_REQID
done
for ns in gwA gwB; do
    v=23; [ "$ns" = gwB ] && v=33
    [ "${RQ[$ns:lan]}" != "${RQ[$ns:dmz]}" ] && [ "${RQ[$ns:lan]}" != "$v" ] && [ "${RQ[$ns:dmz]}" != "$v" ] ||
        fail "[$ns] reqids of lan (${RQ[$ns:lan]}), dmz (${RQ[$ns:dmz]}) and voice ($v) are not distinct"
    log "ok: [$ns] reqids distinct: lan ${RQ[$ns:lan]}, dmz ${RQ[$ns:dmz]}, voice $v"
done

step "ping through lan, then through dmz: only that child's SAs count the traffic"
capture_start children-wan gwA wan
capture_start children-wan gwB wan
through lan dmz
through dmz lan

step "ping through voice: ACQUIRE on the first packet, the CHILD SA on the same IKE SA"
lc_monitor_start a "$EV_A" 90
PING=$E2E_OUT/children-voice-ping.txt VCOUNT=20
log "+ [hostA] ping -c $VCOUNT -i 0.3 -I ${HOST_A[voice]} ${HOST_B[voice]}  (background)"
# shellcheck disable=SC2046  # ping_cmd may be two words
ip netns exec hostA timeout 60 $(ping_cmd) -c "$VCOUNT" -i 0.3 -W 3 -I "${HOST_A[voice]}" "${HOST_B[voice]}" > "$PING" 2>&1 &
LC_PING_PID=$!
E2E_PIDS+=("$LC_PING_PID")
lc_ping_wait "$PING"
tx=$LC_PING_TX rx=$LC_PING_RX
lost=$(lc_ping_lost "$PING" "$tx")
log "voice ping: $tx transmitted, $rx received; without a reply: ${lost:-none}"
assert_eq "voice pings transmitted" "$VCOUNT" "$tx"
assert_ge "voice pings answered" 1 "$rx"
first=$(grep -o 'seq=[0-9]*' "$PING" | head -n1 | cut -d= -f2)
assert_eq "voice pings without a reply: exactly the first $first (sent before the CHILD SA was up)" \
    "$(seq -s' ' 0 $(( first - 1 )) 2>/dev/null)" "$lost"
for (( i = 0; i < 40; i++ )); do
    load_status a; load_status b
    [ "${INSTALLED[a]}|${INSTALLED[b]}" = "dmz lan voice|dmz lan voice" ] && break
    sleep 0.5
done
sed 's/^/    [events gwA] /' "$EV_A" | cut -c1-240
# the events: "TIME {json}"; keys sorted, so read them with jq
ev=$(cut -d' ' -f2- "$EV_A" | jq -r '"\(.event) \(.child // "-") \(.ike_spi // "-")"')
read -r _ spi_i _ <<< "$IKE_SPIS"
assert_ge "acquire events on gwA for voice" 1 "$(nmatch "$ev" '^acquire voice ')"
assert_eq "child-up events on gwA: one, voice's, on the IKE SA that was up before" "1 1" \
    "$(nmatch "$ev" '^child-up ') $(nmatch "$ev" "^child-up voice $spi_i\$")"
assert_eq "ike-up events on gwA (the voice CHILD SA needs no new IKE SA)" 0 "$(nmatch "$ev" '^ike-up ')"
check_pair voice lan dmz voice
load_xfrm gwA gwB
assert_eq "[gwA] ESP SAs, policies (lan, dmz, voice: 3 each; voice's trap policies serve its CHILD SA)" "6 9" "$(counts gwA)"
assert_eq "[gwB] ESP SAs, policies" "6 9" "$(counts gwB)"
assert_eq "[gwA] voice policies out, in, fwd (reqid 23)" "1 1 1" "$(voice_traps)"
check_child_sas gwA voice 23
check_child_sas gwB voice 33
for c in lan dmz; do   # the first two, untouched
    check_child_sas gwA "$c" "${RQ[gwA:$c]}" "as at the start"
    check_child_sas gwB "$c" "${RQ[gwB:$c]}" "as at the start"
done
through voice lan dmz
capture_stop

step "what crossed the gwA-gwB link (lan, dmz and voice pings, voice's CREATE_CHILD_SA): ESP and IKE only"
link_only_esp children-wan 2 lan dmz voice

step "ipsecctl down to-right: every ESP SA goes on both gateways; gwA keeps voice's trap policies"
run ipsecd_ctl a down to-right || fail "ipsecctl down to-right"
lc_wait_until 30 eval '[ "$(xfrm_count gwA)|$(xfrm_count gwB)" = "0 3|0 0" ] && [ "$(lc_ike_count a) $(lc_ike_count b)" = "0 0" ]' ||
    log "(still not clean after 30 s: the checks below say what is left)"
load_xfrm gwA gwB
printf '%s\n' "${XPO[gwA]}" | sed 's/^/    [gwA policy] /'
assert_eq "[gwA] SAs, policies after down (voice's trap policies only)" "0 3" "$(counts gwA)"
assert_eq "[gwA] voice trap policies out, in, fwd (reqid 23) after down" "1 1 1" "$(voice_traps)"
assert_eq "[gwB] SAs, policies after down" "0 0" "$(counts gwB)"
load_status a; load_status b
assert_eq "IKE SAs on gwA / gwB after down" "none / none" "${IKE[a]:-none} / ${IKE[b]:-none}"

step "SIGTERM both daemons: nothing left, trap policies included"
ipsecd_stop a b
for ns in gwA gwB; do
    assert_eq "[$ns] SAs, policies, per-socket policies after SIGTERM" "0 0 0" "$(xfrm_count "$ns") $(xfrm_socket_policies "$ns")"
done
S1_DONE=$(( $(date +%s) - E2E_T0 ))

# ================================================================== scenario 2
step "scenario 2: charon in gwB (one connection, three children), ipsecd in gwA (three children, all start)"
PSK=$(cat "$W/shared.psk")
# shellcheck disable=SC2034  # read by charon.sh (sw_start)
SW_LOG=$E2E_OUT/charon.log
sw_start gwB "$W/charon"
{
    echo "connections {"
    echo "    from-ipsecd {"
    echo "        version = 2"
    echo "        local_addrs = 192.0.2.2"
    echo "        remote_addrs = 192.0.2.1"
    echo "        proposals = aes256gcm16-prfsha256-x25519"
    echo "        mobike = no"
    echo "        dpd_delay = 0"
    echo "        local {"
    echo "            auth = psk"
    echo "            id = @right.example"
    echo "        }"
    echo "        remote {"
    echo "            auth = psk"
    echo "            id = @left.example"
    echo "        }"
    echo "        children {"
    for c in voice lan dmz; do
        echo "            $c {"
        echo "                mode = tunnel"
        echo "                local_ts = ${TS_B[$c]}"
        echo "                remote_ts = ${TS_A[$c]}"
        echo "                esp_proposals = ${ESP[$c]}"
        echo "                start_action = none"
        echo "                close_action = none"
        echo "                dpd_action = clear"
        echo "            }"
    done
    echo "        }"
    echo "    }"
    echo "}"
    echo "secrets {"
    echo "    ike-from-ipsecd {"
    echo "        id-1 = @right.example"
    echo "        id-2 = @left.example"
    echo "        secret = \"$PSK\""
    echo "    }"
    echo "}"
} > "$W/swanctl.conf"
sed 's/secret = .*/secret = <elided>/' "$W/swanctl.conf" > "$E2E_OUT/swanctl-children.conf"
sw_load "$W/swanctl.conf"

# load_sw: charon's view of from-ipsecd (one swanctl --list-sas --raw) into
#   SW_IKE          "STATE SPI_I SPI_R" of each IKE SA, one per line
#   SW_NAMES        the names of its CHILD SAs (any state), sorted, one line
#   SW_INSTALLED    the names of the INSTALLED ones
#   SWC[CHILD:F]    F = state spi_in spi_out pin pout encr (SPIs as 0x lower-case hex)
# (swanctl --raw: "NAME {" opens a section, "}" closes it, "key=value", "key=[a b]")
declare -A SWC=()
SW_IKE='' SW_NAMES='' SW_INSTALLED=''
load_sw() {
    local kind name state si so pin pout encr names=()
    SW_IKE='' SW_INSTALLED=''
    while read -r kind name state si so pin pout encr; do
        case $kind in
            ike) SW_IKE+="${SW_IKE:+$'\n'}$name $state $si";;
            child)
                names+=("$name")
                SWC[$name:state]=$state SWC[$name:spi_in]=$si SWC[$name:spi_out]=$so
                SWC[$name:pin]=$pin SWC[$name:pout]=$pout SWC[$name:encr]=$encr;;
        esac
    done <<< "$(sw --list-sas --ike from-ipsecd --raw 2>/dev/null | awk -v name=from-ipsecd '
        function hex(v) { return v == "" ? "-" : "0x" tolower(v) }
        function d(v) { return v == "" ? "-" : v }
        function close_section(   k) {
            if (depth == 2 && path[2] == name)
                print "ike", d(I["state"]), hex(I["initiator-spi"]), hex(I["responder-spi"])
            if (depth == 4 && path[2] == name && path[3] == "child-sas") {
                print "child", d(C["name"]), d(C["state"]), hex(C["spi-in"]), hex(C["spi-out"]),
                      C["packets-in"] + 0, C["packets-out"] + 0,
                      d(C["encr-alg"]) ((C["encr-keysize"] + 0) ? "-" C["encr-keysize"] : "")
                for (k in C) delete C[k]
            }
            depth--
        }
        {
            gsub(/\{/, " { "); gsub(/\}/, " } ")
            n = split($0, t, /[ \t]+/)
            depth = 0; pending = ""; inlist = 0
            for (k in I) delete I[k]
            for (k in C) delete C[k]
            for (i = 1; i <= n; i++) {
                x = t[i]
                if (x == "") continue
                if (inlist) { if (x ~ /\]$/) inlist = 0; continue }
                if (x == "{") { depth++; path[depth] = pending; pending = ""; continue }
                if (x == "}") { close_section(); continue }
                e = index(x, "=")
                if (e > 1) {
                    key = substr(x, 1, e - 1); val = substr(x, e + 1)
                    if (val ~ /^\[/ && val !~ /\]$/) inlist = 1
                    if (depth == 2) I[key] = val
                    else if (depth == 4 && path[3] == "child-sas") C[key] = val
                    continue
                }
                pending = x
            }
        }')"
    SW_NAMES=$(printf '%s\n' "${names[@]}" | sort | xargs)
    for name in $SW_NAMES; do [ "${SWC[$name:state]}" = INSTALLED ] && SW_INSTALLED+="${SW_INSTALLED:+ }$name"; done
}

ipsecd_start gwA c "$W/strongswan-left.json"
step "wait (<= 40 s) for lan, dmz and voice on ipsecd and charon"
for (( i = 0; i < 80; i++ )); do
    load_status c; load_sw
    [ "${INSTALLED[c]}|$SW_INSTALLED" = "dmz lan voice|dmz lan voice" ] && break
    if [ "$i" = 30 ] && [ -z "${IKE[c]}" ]; then
        log "+ [gwA] ipsecctl up to-charon (no IKE SA after 15 s)"; ipsecd_ctl c up to-charon || log "up: exit $?"
    fi
    sleep 0.5
done
sleep 1
load_status c; load_sw
printf '%s\n' "${JSON[c]}" > "$E2E_OUT/status-strongswan-c.json"
text=$(ipsecd_ctl c status)
printf '%s\n' "$text" | sed 's/^/    [gwA status] /'
sw --list-sas > "$E2E_OUT/swanctl-list-sas-children.txt" 2>&1
sed 's/^/    [swanctl --list-sas] /' "$E2E_OUT/swanctl-list-sas-children.txt"
assert_eq "IKE SAs: ipsecd's / charon's" "1 / 1" "$(grep -c . <<< "${IKE[c]}") / $(grep -c . <<< "$SW_IKE")"
assert_eq "ipsecd's IKE SA state" established "${IKE[c]%% *}"
assert_eq "charon's IKE SA (state SPI_I SPI_R): ESTABLISHED with ipsecd's SPIs" "ESTABLISHED ${IKE[c]#* }" "$SW_IKE"
assert_eq "CHILD SAs, any state: ipsecd's / charon's (swanctl --list-sas)" "dmz lan voice / dmz lan voice" "${NAMES[c]} / $SW_NAMES"
assert_eq "installed CHILD SAs: ipsecd's / charon's (INSTALLED in swanctl --list-sas)" "dmz lan voice / dmz lan voice" "${INSTALLED[c]} / $SW_INSTALLED"
assert_eq "'ipsecctl status': a 'CHILD SA NAME: installed, tunnel' line for each" 3 \
    "$(grep -cE 'CHILD SA +(lan|dmz|voice): installed, tunnel' <<< "$text")"
for c in "${CHILDREN[@]}"; do
    assert_eq "$c: SPIs crossed (ipsecd in/out = charon out/in)" \
        "${CH[c:$c:spi_in]}/${CH[c:$c:spi_out]}" "${SWC[$c:spi_out]}/${SWC[$c:spi_in]}"
    assert_eq "$c: ipsecd's local, remote TS; encryption (ipsecd, charon)" \
        "${TS_A[$c]} ${TS_B[$c]}; ${OUR_ENCR[$c]} ${SW_ENCR[$c]}" \
        "${CH[c:$c:lts]} ${CH[c:$c:rts]}; ${CH[c:$c:algs]%%/*} ${SWC[$c:encr]}"
    OUT[$c]=${CH[c:$c:spi_out]} IN[$c]=${CH[c:$c:spi_in]}
    log "$c: ESP SPIs gwA->gwB ${OUT[$c]}, gwB->gwA ${IN[$c]}"
done

step "kernel state: the three CHILD SAs (6 ESP SAs, 9 policies) on both gateways"
load_xfrm gwA gwB
printf '%s\n' "${XPO[gwB]}" | sed 's/^/    [gwB policy] /'
assert_eq "[gwA] ESP SAs, policies (ipsecd)" "6 9" "$(counts gwA)"
assert_eq "[gwB] ESP SAs, policies (charon)" "6 9" "$(counts gwB)"
for c in "${CHILDREN[@]}"; do
    check_child_sas gwA "$c" "${REQID_A[$c]:-}"
    check_child_sas gwB "$c"
done

step "ping through each child: only that child's SAs count the traffic (kernels and swanctl)"
capture_start children-sw-wan gwA wan
capture_start children-sw-wan gwB wan
through lan dmz voice
through dmz lan voice
through voice lan dmz
capture_stop
load_sw
for c in "${CHILDREN[@]}"; do
    assert_eq "$c: charon's packets in/out (swanctl --list-sas): $COUNT echoes in, $COUNT replies out" \
        "$COUNT $COUNT" "${SWC[$c:pin]} ${SWC[$c:pout]}"
done
for ns in gwA gwB; do
    assert_eq "[$ns] integrity failures on the SAs" 0 "$(ip -n "$ns" -s xfrm state | awk '/ failed / { for (i = 1; i < NF; i++) if ($i == "failed") s += $(i + 1) } END { print s + 0 }')"
done

step "what crossed the gwA-gwB link (pings through the three children): ESP only (IKE was done before)"
link_only_esp children-sw-wan 0 lan dmz voice

step "ipsecctl down to-charon: nothing left on either side"
run ipsecd_ctl c down to-charon || fail "ipsecctl down to-charon"
lc_wait_until 30 eval '[ "$(xfrm_count gwA)|$(xfrm_count gwB)" = "0 0|0 0" ] && [ "$(lc_ike_count c)" = 0 ] && [ -z "$(sw --list-sas --raw 2>/dev/null | grep from-ipsecd)" ]' ||
    log "(still not clean after 30 s: the checks below say what is left)"
load_xfrm gwA gwB; load_status c; load_sw
sw_left=$(sw --list-sas 2>&1)
printf '%s\n' "$sw_left" | sed 's/^/    [swanctl --list-sas] /'
assert_eq "[gwA] SAs, policies after down / [gwB]" "0 0 / 0 0" "$(counts gwA) / $(counts gwB)"
assert_eq "IKE SAs after down: ipsecd's / charon's" "none / none" "${IKE[c]:-none} / ${SW_IKE:-none}"
assert_eq "CHILD SAs after down: charon's (swanctl --list-sas)" none "${SW_NAMES:-none}"
assert_eq "SAs in 'swanctl --list-sas' after down" 0 "$(grep -cE 'ESTABLISHED|CONNECTING|DELETING|INSTALLED' <<< "$sw_left")"

step "SIGTERM ipsecd, stop charon"
ipsecd_stop c
sw_stop
for ns in gwA gwB; do
    assert_eq "[$ns] SAs and policies at the end" "0 0" "$(xfrm_count "$ns")"
done
log "scenario 1 took ${S1_DONE} s, scenario 2 $(( $(date +%s) - E2E_T0 - S1_DONE )) s"
pass "ikev2-children: ipsecd<->ipsecd (lan, dmz at start, voice on demand on the same IKE SA) and ipsecd->charon (three children)"
