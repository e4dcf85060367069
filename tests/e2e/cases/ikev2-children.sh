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
#     selectors and proposals of that child); each kernel holds their 4 ESP SAs
#     and their policies (with the child's reqid and algorithms), gwA also the
#     voice trap policies;
#   - a ping through lan, then through dmz (ping -I: the source address picks the
#     child): every echo answered, and the 4 SA counters of exactly that child
#     grow while the other child's stay still;
#   - a ping through voice: the first packets raise an ACQUIRE (monitor event),
#     the voice CHILD SA comes up in CREATE_CHILD_SA on the SAME IKE SA (no new
#     IKE SA, no ike-up event), later echoes are answered, voice's counters grow
#     and only voice's; 6 ESP SAs on each gateway;
#   - the capture on the gateways' link holds ESP (of each child's SPIs) and IKE
#     only: no ICMP in the clear, no inner address as outer header;
#   - 'ipsecctl down' on gwA: no ESP SA on either gateway, no policy on gwB, only
#     the 3 voice trap policies on gwA; SIGTERM on both leaves nothing.
# Scenario 2, ipsecd initiator -> strongSwan charon responder (gwB), same boot:
# the same three children, all start_action start on ipsecd. Proves: one IKE SA
# on both sides, the three CHILD SAs installed on both (swanctl --list-sas names
# them, SPIs crossed with ipsecd's status), the kernels hold their 6 ESP SAs and
# policies; a ping through each child is answered and grows that child's counters
# only (kernel and swanctl); ESP and IKE only on the link; 'ipsecctl down' leaves
# no IKE SA on either side (swanctl --list-sas empty) and no SA or policy in
# either kernel. Logs in the job folder: ipsecd-{a,b,c}.log, charon.log,
# status-*.json, children-events-gwA.txt, the pcaps.
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
load_modules
topo_gateways

# ------------------------------------------------------------------ topology
# one more address for each of dmz and voice on both hosts; the /24 routes and
# default routes of topo_gateways carry them (the gateways' lan sides are /24)
addr hostA eth0 198.51.100.74/24 198.51.100.138/24
addr hostB eth0 203.0.113.74/24 203.0.113.138/24
log "hosts: hostA 198.51.100.{10,74,138}, hostB 203.0.113.{10,74,138}"

# the children: NAME LOCAL_TS(gwA) REMOTE_TS(gwA) HOST_A HOST_B
CHILDREN=(lan dmz voice)
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
# fixed reqids in the fixtures (the others are allocated by ipsecd)
declare -A REQID_A=([lan]=21 [voice]=23) REQID_B=([dmz]=32 [voice]=33)

W=$(mktemp -d /tmp/ikev2-children.XXXXXX) || fail "mktemp"
fx=$FIXTURES/children
cp "$fx/left.json" "$fx/right.json" "$fx/strongswan-left.json" "$fx/shared.psk" "$W/" || fail "copy $fx"
chmod 600 "$W/shared.psk"
COUNT=5
EV_A=$E2E_OUT/children-events-gwA.txt

# ------------------------------------------------------------------ helpers
# our_children NAME: the CHILD SAs ipsecd NAME lists, one line each, sorted by name:
#   "CHILD STATE SPI_IN SPI_OUT MODE IKE_SPI_I IKE_SPI_R LOCAL_TS REMOTE_TS ALGORITHMS"
our_children() {
    lc_status "$1" | jq -r '.ike_sas // [] | .[] | . as $s | (.children // [])[]
        | "\(.name) \(.state) \(.spi_in) \(.spi_out) \(.mode) \($s.spi_i) \($s.spi_r) \(.local_ts | join(",")) \(.remote_ts | join(",")) \(.algorithms)"' | sort
}
# our_installed NAME: the names of its installed CHILD SAs, sorted, on one line
our_installed() { our_children "$1" | awk '$2 == "installed" { print $1 }' | xargs; }
# our_ike NAME: "STATE SPI_I SPI_R" of each IKE SA, one per line
our_ike() { lc_status "$1" | jq -r '.ike_sas // [] | .[] | "\(.state) \(.spi_i) \(.spi_r)"'; }

# child_field LINES CHILD N: field N of CHILD's line in our_children's output
child_field() { awk -v c="$2" -v n="$3" '$1 == c { print $n; exit }' <<< "$1"; }

# child_events FILE KIND CHILD: how many KIND events of CHILD a monitor file holds
child_events() {
    cut -d' ' -f2- "$1" | jq -c --arg k "$2" --arg c "$3" 'select(.event == $k and .child == $c)' 2>/dev/null | grep -c .
}

# OUT/IN: the ESP SPIs (0x%08x, as ip xfrm prints them) of each child, gwA->gwB and
# gwB->gwA; set by check_pair / check_sw_pair
declare -A OUT=() IN=()

# check_pair LABEL CHILD...: ipsecd a and b: one established IKE SA each, same SPIs;
# exactly these children installed on both, no other CHILD SA; each child's SPIs
# crossed, its selectors and its proposal as configured on both sides
check_pair() {
    local label=$1 c ca cb ike_a ike_b want; shift
    want=$(printf '%s\n' "$@" | sort | xargs)
    ipsecd_ctl a status --json > "$E2E_OUT/status-$label-gwA.json"
    ipsecd_ctl b status --json > "$E2E_OUT/status-$label-gwB.json"
    ipsecd_ctl a status | sed "s/^/    [gwA status] /"
    ipsecd_ctl b status | sed "s/^/    [gwB status] /"
    ike_a=$(our_ike a) ike_b=$(our_ike b)
    assert_eq "[$label] IKE SAs on gwA" 1 "$(grep -c . <<< "$ike_a")"
    assert_eq "[$label] IKE SAs on gwB" 1 "$(grep -c . <<< "$ike_b")"
    assert_eq "[$label] IKE SA state on gwA" established "${ike_a%% *}"
    assert_eq "[$label] IKE SPIs gwA / gwB" "$ike_a" "$ike_b"
    [ -n "${IKE_SPIS:-}" ] && assert_eq "[$label] the IKE SA is still the first one (SPIs)" "$IKE_SPIS" "$ike_a"
    IKE_SPIS=$ike_a
    ca=$(our_children a) cb=$(our_children b)
    assert_eq "[$label] CHILD SAs on gwA (names, all states)" "$want" "$(awk '{ print $1 }' <<< "$ca" | xargs)"
    assert_eq "[$label] CHILD SAs on gwB (names, all states)" "$want" "$(awk '{ print $1 }' <<< "$cb" | xargs)"
    assert_eq "[$label] installed CHILD SAs on gwA" "$want" "$(our_installed a)"
    assert_eq "[$label] installed CHILD SAs on gwB" "$want" "$(our_installed b)"
    assert_eq "[$label] status text on gwA names every CHILD SA" "$#" \
        "$(ipsecd_ctl a status | grep -cE "CHILD SA +($(IFS='|'; echo "$*")): installed, tunnel")"
    for c in "$@"; do
        assert_eq "[$label] $c: gwA's inbound SPI = gwB's outbound" "$(child_field "$ca" "$c" 3)" "$(child_field "$cb" "$c" 4)"
        assert_eq "[$label] $c: gwA's outbound SPI = gwB's inbound" "$(child_field "$ca" "$c" 4)" "$(child_field "$cb" "$c" 3)"
        assert_eq "[$label] $c: selectors on gwA (local remote)" "${TS_A[$c]} ${TS_B[$c]}" \
            "$(child_field "$ca" "$c" 8) $(child_field "$ca" "$c" 9)"
        assert_eq "[$label] $c: selectors on gwB (local remote)" "${TS_B[$c]} ${TS_A[$c]}" \
            "$(child_field "$cb" "$c" 8) $(child_field "$cb" "$c" 9)"
        assert_eq "[$label] $c: mode on gwA/gwB" "tunnel tunnel" "$(child_field "$ca" "$c" 5) $(child_field "$cb" "$c" 5)"
        assert_eq "[$label] $c: encryption on gwA/gwB" "${OUR_ENCR[$c]} ${OUR_ENCR[$c]}" \
            "$(child_field "$ca" "$c" 10 | cut -d/ -f1) $(child_field "$cb" "$c" 10 | cut -d/ -f1)"
        OUT[$c]=$(child_field "$ca" "$c" 4) IN[$c]=$(child_field "$ca" "$c" 3)
        log "$c: ESP SPIs gwA->gwB ${OUT[$c]}, gwB->gwA ${IN[$c]} ($(child_field "$ca" "$c" 10))"
    done
}

# check_child_sas NS CHILD [REQID]: NS holds the child's two tunnel-mode ESP SAs (the
# SPIs in OUT/IN, one reqid, the child's algorithm) and its out, in and fwd policies
# with ESP tunnel templates of that reqid between the gateways; REQID: the one the
# policy file gives it. Prints the reqid as CHILD_REQID.
check_child_sas() {
    local ns=$1 c=$2 fixed=${3:-} st po l=192.0.2.1 r=192.0.2.2 ln=${TS_A[$2]} rn=${TS_B[$2]} so=${OUT[$2]} si=${IN[$2]} ro ri
    if [ "$ns" = gwB ]; then l=192.0.2.2 r=192.0.2.1 ln=${TS_B[$c]} rn=${TS_A[$c]} so=${IN[$c]} si=${OUT[$c]}; fi
    st=$(xfrm_records "$ns" state) po=$(xfrm_records "$ns" policy)
    ro=$(grep "^src $l dst $r proto esp spi $so reqid [0-9]* mode tunnel" <<< "$st" | awk '{ print $10 }')
    ri=$(grep "^src $r dst $l proto esp spi $si reqid [0-9]* mode tunnel" <<< "$st" | awk '{ print $10 }')
    assert_eq "[$ns] $c: tunnel-mode ESP SAs $l->$r spi $so and $r->$l spi $si (one each)" "1 1" \
        "$(grep -c . <<< "$ro") $(grep -c . <<< "$ri")"
    assert_eq "[$ns] $c: both SAs have one reqid" "$ro" "$ri"
    [ -n "$fixed" ] && assert_eq "[$ns] $c: reqid (the policy file's)" "$fixed" "$ro"
    assert_eq "[$ns] $c: SAs with '${KERNEL_ALG[$c]}'" 2 \
        "$(grep -E "^src [^ ]+ dst [^ ]+ proto esp spi ($so|$si) " <<< "$st" | grep -cF "${KERNEL_ALG[$c]}")"
    # (charon's out templates name the SPI too: "proto esp spi 0x... reqid N")
    local t="proto esp (spi 0x[0-9a-f]+ )?reqid $ro mode tunnel"
    assert_eq "[$ns] $c: policies out $ln -> $rn, in and fwd $rn -> $ln, ESP tunnel templates with reqid $ro" "1 1 1" \
        "$(grep -cE "^src $ln dst $rn dir out .*tmpl src $l dst $r $t" <<< "$po") $(grep -cE "^src $rn dst $ln dir in .*tmpl src $r dst $l $t" <<< "$po") $(grep -cE "^src $rn dst $ln dir fwd .*tmpl src $r dst $l $t" <<< "$po")"
    CHILD_REQID=$ro
}

# voice_traps: "OUT IN FWD" - gwA's voice policies with the ESP tunnel template of
# reqid 23 (the trap policies; the CHILD SA's while it is up: the same policies)
voice_traps() {
    local po
    po=$(xfrm_records gwA policy)
    echo "$(grep -c "^src ${TS_A[voice]} dst ${TS_B[voice]} dir out .*tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 23 mode tunnel" <<< "$po")" \
         "$(grep -c "^src ${TS_B[voice]} dst ${TS_A[voice]} dir in .*tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 23 mode tunnel" <<< "$po")" \
         "$(grep -c "^src ${TS_B[voice]} dst ${TS_A[voice]} dir fwd .*tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 23 mode tunnel" <<< "$po")"
}

# snaps CHILD...: sa_snap of the 4 SAs (gwA out, gwB in, gwB out, gwA in) of each
# child into SNAP[CHILD:k]
declare -A SNAP=()
sa4() { # CHILD K: "NS SRC DST esp SPI" of SA K (0..3) of the child
    case $2 in
        0) echo "gwA 192.0.2.1 192.0.2.2 esp ${OUT[$1]}";;
        1) echo "gwB 192.0.2.1 192.0.2.2 esp ${OUT[$1]}";;
        2) echo "gwB 192.0.2.2 192.0.2.1 esp ${IN[$1]}";;
        3) echo "gwA 192.0.2.2 192.0.2.1 esp ${IN[$1]}";;
    esac
}
SA4_LABEL=("gwA out" "gwB in" "gwB out" "gwA in")
snaps() {
    local c k
    for c in "$@"; do
        for k in 0 1 2 3; do
            # shellcheck disable=SC2046  # sa4 gives the five arguments
            SNAP[$c:$k]=$(sa_snap $(sa4 "$c" "$k"))
        done
    done
}
# through CHILD OTHER...: ping hostB's address in CHILD from hostA's (ping -I);
# every echo answered, CHILD's 4 SA counters grow by >= COUNT packets, the OTHER
# children's 4 SAs do not move
through() {
    local c=$1 o k now; shift
    snaps "$c" "$@"
    ping_ok hostA "${HOST_B[$c]}" "$COUNT" -I "${HOST_A[$c]}"
    for k in 0 1 2 3; do
        # shellcheck disable=SC2046
        sa_grew "$c ${SA4_LABEL[$k]}" "${SNAP[$c:$k]}" $(sa4 "$c" "$k") "$COUNT"
    done
    for o in "$@"; do
        for k in 0 1 2 3; do
            # shellcheck disable=SC2046
            now=$(sa_snap $(sa4 "$o" "$k"))
            assert_eq "$o ${SA4_LABEL[$k]} spi $(sa4 "$o" "$k" | cut -d' ' -f5) (packets bytes) while pinging through $c" \
                "${SNAP[$o:$k]}" "$now"
        done
    done
}

# link_only_esp_ike PCAP CHILD...: the capture holds ESP packets of each child's SPIs
# (>= COUNT each way), and nothing else but IKE (UDP 500): no ICMP, no inner address
link_only_esp_ike() {
    local pcap=$1 c; shift
    capture_show "$pcap" 4
    for c in "$@"; do
        assert_ge "ESP packets gwA->gwB with $c's spi ${OUT[$c]}" "$COUNT" \
            "$(capture_count "$pcap" "src 192.0.2.1 and dst 192.0.2.2 and ip proto 50 and ip[20:4] = ${OUT[$c]}")"
        assert_ge "ESP packets gwB->gwA with $c's spi ${IN[$c]}" "$COUNT" \
            "$(capture_count "$pcap" "src 192.0.2.2 and dst 192.0.2.1 and ip proto 50 and ip[20:4] = ${IN[$c]}")"
    done
    assert_ge "IKE messages on the link" 2 "$(capture_count "$pcap" "udp port 500")"
    assert_eq "packets with an inner address as outer header" 0 "$(capture_count "$pcap" "net 198.51.100.0/24 or net 203.0.113.0/24")"
    assert_eq "bare ICMP packets on the link" 0 "$(capture_count "$pcap" "icmp")"
    assert_eq "IPv4 packets on the link other than ESP and IKE" 0 "$(capture_count "$pcap" "ip and not ip proto 50 and not udp port 500")"
}

# ================================================================== scenario 1
step "scenario 1: ipsecd in gwB (three children, start_action none) and gwA (lan, dmz: start; voice: on-demand)"
ipsecd_start gwB b "$W/right.json"
ipsecd_start gwA a "$W/left.json"
ipsecd_ctl a list-conns | sed 's/^/    [gwA conns] /'
ipsecd_ctl b list-conns | sed 's/^/    [gwB conns] /'
assert_eq "gwA's connection to-right is trapped (list-conns --json: voice is on-demand)" true \
    "$(ipsecd_ctl a list-conns --json | jq -r '[.. | objects | select(.name? == "to-right") | .trapped] | first')"

step "wait (<= 40 s) for lan and dmz on both gateways"
for (( i = 0; i < 80; i++ )); do
    [ "$(our_installed a)|$(our_installed b)" = "dmz lan|dmz lan" ] && break
    # start_action may have raced the responder's start: ask once, only if gwA has no IKE SA at all
    if [ "$i" = 30 ] && [ "$(lc_ike_count a)" = 0 ]; then
        log "+ [gwA] ipsecctl up to-right (no IKE SA after 15 s)"; ipsecd_ctl a up to-right || log "up: exit $?"
    fi
    sleep 0.5
done
sleep 1   # anything more (a third CHILD SA, a second IKE SA) would show by now
IKE_SPIS=''
check_pair start lan dmz

step "kernel state after start: lan and dmz (4 ESP SAs, 6 policies) on both; gwA also voice's trap policies"
xfrm_records gwA state | sed 's/ replay-window .*//; s/^/    [gwA SA] /'
xfrm_records gwA policy | sed 's/^/    [gwA policy] /'
xfrm_records gwB policy | sed 's/^/    [gwB policy] /'
assert_eq "[gwA] ESP SAs, policies (lan, dmz: 3 each; voice trap: 3)" "4 9" "$(xfrm_count gwA)"
assert_eq "[gwB] ESP SAs, policies (lan, dmz: 3 each)" "4 6" "$(xfrm_count gwB)"
assert_eq "[gwA] voice trap policies out, in, fwd (reqid 23)" "1 1 1" "$(voice_traps)"
declare -A RQ=()
for c in lan dmz; do
    check_child_sas gwA "$c" "${REQID_A[$c]:-}"; RQ[gwA:$c]=$CHILD_REQID
    check_child_sas gwB "$c" "${REQID_B[$c]:-}"; RQ[gwB:$c]=$CHILD_REQID
done
assert_eq "[gwA] lan's and dmz's reqids differ from each other and from voice's (23)" 3 \
    "$(printf '%s\n' "${RQ[gwA:lan]}" "${RQ[gwA:dmz]}" 23 | sort -u | grep -c .)"
assert_eq "[gwB] lan's and dmz's reqids differ from each other and from voice's (33)" 3 \
    "$(printf '%s\n' "${RQ[gwB:lan]}" "${RQ[gwB:dmz]}" 33 | sort -u | grep -c .)"

step "ping through lan, then through dmz: only that child's SAs count the traffic"
capture_start children-wan gwA wan
capture_start children-wan gwB wan
through lan dmz
through dmz lan

step "ping through voice: ACQUIRE on the first packet, the CHILD SA on the same IKE SA"
lc_monitor_start a "$EV_A" 90
PING=$E2E_OUT/children-voice-ping.txt VCOUNT=25
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
assert_eq "voice pings lost are exactly the first $first (before the CHILD SA was up)" \
    "$(seq -s' ' 0 $(( first - 1 )) 2>/dev/null)" "$lost"
for (( i = 0; i < 40; i++ )); do
    [ "$(our_installed a)|$(our_installed b)" = "dmz lan voice|dmz lan voice" ] && break
    sleep 0.5
done
sed 's/^/    [events gwA] /' "$EV_A" | cut -c1-240
assert_ge "acquire events on gwA for voice" 1 "$(child_events "$EV_A" acquire voice)"
assert_eq "child-up events on gwA (all, voice's)" "1 1" \
    "$(lc_events "$EV_A" child-up) $(child_events "$EV_A" child-up voice)"
read -r _ spi_i _ <<< "$IKE_SPIS"
assert_eq "voice's child-up event: on the IKE SA that was up before (gwA's SPI)" "$spi_i" \
    "$(cut -d' ' -f2- "$EV_A" | jq -r 'select(.event == "child-up") | .ike_spi' | head -n1)"
assert_eq "ike-up events on gwA (the voice CHILD SA needs no new IKE SA)" 0 "$(lc_events "$EV_A" ike-up)"
check_pair voice lan dmz voice
assert_eq "[gwA] ESP SAs, policies (lan, dmz, voice: 3 each; voice's trap policies are its CHILD SA's)" "6 9" "$(xfrm_count gwA)"
assert_eq "[gwB] ESP SAs, policies" "6 9" "$(xfrm_count gwB)"
assert_eq "[gwA] voice policies out, in, fwd (reqid 23)" "1 1 1" "$(voice_traps)"
check_child_sas gwA voice 23
check_child_sas gwB voice 33
for c in lan dmz; do   # the first two are untouched
    check_child_sas gwA "$c" "${RQ[gwA:$c]}"
    check_child_sas gwB "$c" "${RQ[gwB:$c]}"
done
through voice lan dmz
capture_stop

step "what crossed the gwA-gwB link (lan, dmz and voice pings): ESP and IKE only"
link_only_esp_ike children-wan lan dmz voice

step "ipsecctl down to-right: every ESP SA goes on both gateways; gwA keeps voice's trap policies"
run ipsecd_ctl a down to-right || fail "ipsecctl down to-right"
lc_wait_until 30 eval '[ "$(xfrm_count gwA)|$(xfrm_count gwB)" = "0 3|0 0" ] && [ "$(lc_ike_count a) $(lc_ike_count b)" = "0 0" ]' ||
    log "(still not clean after 30 s: the checks below say what is left)"
xfrm_records gwA policy | sed 's/^/    [gwA policy] /'
assert_eq "[gwA] ESP SAs after down" 0 "$(lc_esp_count gwA)"
assert_eq "[gwB] ESP SAs after down" 0 "$(lc_esp_count gwB)"
assert_eq "[gwB] SAs and policies after down" "0 0" "$(xfrm_count gwB)"
assert_eq "[gwA] SAs and policies after down (voice's trap policies only)" "0 3" "$(xfrm_count gwA)"
assert_eq "[gwA] voice trap policies out, in, fwd (reqid 23) after down" "1 1 1" "$(voice_traps)"
assert_eq "[gwA] IKE SAs after down" 0 "$(lc_ike_count a)"
assert_eq "[gwB] IKE SAs after down" 0 "$(lc_ike_count b)"

step "SIGTERM both daemons: nothing left, trap policies included"
ipsecd_stop a b
for ns in gwA gwB; do
    assert_eq "[$ns] SAs and policies after SIGTERM" "0 0" "$(xfrm_count "$ns")"
    assert_eq "[$ns] per-socket policies after SIGTERM" 0 "$(xfrm_socket_policies "$ns")"
done
S1_DONE=$(( $(date +%s) - E2E_T0 ))

# ================================================================== scenario 2
step "scenario 2: charon in gwB (one connection, three children), ipsecd in gwA (three children, all start)"
PSK=$(cat "$W/shared.psk")
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

# sw_children CONN: charon's view, one line per IKE SA and per CHILD SA:
#   ike STATE SPI_I SPI_R
#   child NAME STATE SPI_IN SPI_OUT PACKETS_IN PACKETS_OUT ENCR
# (SPIs as 0x lower-case hex; swanctl --raw: "NAME {" opens a section, "}" closes it)
sw_children() {
    sw --list-sas --ike "$1" --raw 2>/dev/null | awk -v name="$1" '
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
        }'
}
sw_installed() { sw_children from-ipsecd | awk '$1 == "child" && $3 == "INSTALLED" { print $2 }' | sort | xargs; }

ipsecd_start gwA c "$W/strongswan-left.json"
step "wait (<= 40 s) for lan, dmz and voice on ipsecd and charon"
for (( i = 0; i < 80; i++ )); do
    [ "$(our_installed c)|$(sw_installed)" = "dmz lan voice|dmz lan voice" ] && break
    if [ "$i" = 30 ] && [ "$(lc_ike_count c)" = 0 ]; then
        log "+ [gwA] ipsecctl up to-charon (no IKE SA after 15 s)"; ipsecd_ctl c up to-charon || log "up: exit $?"
    fi
    sleep 0.5
done
sleep 1
ipsecd_ctl c status --json > "$E2E_OUT/status-strongswan-gwA.json"
ipsecd_ctl c status | sed 's/^/    [gwA status] /'
sw --list-sas > "$E2E_OUT/swanctl-list-sas-children.txt" 2>&1
sed 's/^/    [swanctl --list-sas] /' "$E2E_OUT/swanctl-list-sas-children.txt"
ours_ike=$(our_ike c) ours=$(our_children c) theirs=$(sw_children from-ipsecd)
printf '%s\n' "$theirs" | sed 's/^/    [charon] /'
assert_eq "IKE SAs on ipsecd" 1 "$(grep -c . <<< "$ours_ike")"
assert_eq "IKE SAs on charon" 1 "$(grep -c '^ike ' <<< "$theirs")"
read -r o_state o_spi_i o_spi_r <<< "$ours_ike"
read -r _ t_state t_spi_i t_spi_r <<< "$(grep '^ike ' <<< "$theirs")"
assert_eq "IKE SA state (ipsecd, charon)" "established ESTABLISHED" "$o_state $t_state"
assert_eq "IKE SPIs (ipsecd / charon)" "$o_spi_i $o_spi_r" "$t_spi_i $t_spi_r"
assert_eq "CHILD SAs on ipsecd (names, all states)" "dmz lan voice" "$(awk '{ print $1 }' <<< "$ours" | xargs)"
assert_eq "installed CHILD SAs on ipsecd" "dmz lan voice" "$(our_installed c)"
assert_eq "CHILD SAs on charon (names, all states)" "dmz lan voice" "$(awk '$1 == "child" { print $2 }' <<< "$theirs" | sort | xargs)"
assert_eq "INSTALLED CHILD SAs on charon (swanctl --list-sas)" "dmz lan voice" "$(sw_installed)"
assert_eq "status text on ipsecd names every CHILD SA" 3 \
    "$(ipsecd_ctl c status | grep -cE 'CHILD SA +(lan|dmz|voice): installed, tunnel')"
for c in "${CHILDREN[@]}"; do
    sw_line=$(awk -v c="$c" '$1 == "child" && $2 == c' <<< "$theirs")
    read -r _ _ _ t_in t_out _ _ t_encr <<< "$sw_line"
    assert_eq "$c: ipsecd's inbound SPI = charon's outbound" "$(child_field "$ours" "$c" 3)" "$t_out"
    assert_eq "$c: ipsecd's outbound SPI = charon's inbound" "$(child_field "$ours" "$c" 4)" "$t_in"
    assert_eq "$c: selectors on ipsecd (local remote)" "${TS_A[$c]} ${TS_B[$c]}" \
        "$(child_field "$ours" "$c" 8) $(child_field "$ours" "$c" 9)"
    assert_eq "$c: encryption (ipsecd, charon)" "${OUR_ENCR[$c]} ${SW_ENCR[$c]}" \
        "$(child_field "$ours" "$c" 10 | cut -d/ -f1) $t_encr"
    OUT[$c]=$(child_field "$ours" "$c" 4) IN[$c]=$(child_field "$ours" "$c" 3)
    log "$c: ESP SPIs gwA->gwB ${OUT[$c]}, gwB->gwA ${IN[$c]}"
done

step "kernel state: the three CHILD SAs (6 ESP SAs, 9 policies) on both gateways"
assert_eq "[gwA] ESP SAs, policies (ipsecd)" "6 9" "$(xfrm_count gwA)"
assert_eq "[gwB] ESP SAs, policies (charon)" "6 9" "$(xfrm_count gwB)"
for c in "${CHILDREN[@]}"; do
    check_child_sas gwA "$c" "${REQID_A[$c]:-}"
    check_child_sas gwB "$c"
done

step "ping through each child: only that child's SAs count the traffic (kernel and swanctl)"
capture_start children-sw-wan gwA wan
capture_start children-sw-wan gwB wan
through lan dmz voice
through dmz lan voice
through voice lan dmz
capture_stop
theirs=$(sw_children from-ipsecd)
for c in "${CHILDREN[@]}"; do
    read -r _ _ _ _ _ t_pin t_pout _ <<< "$(awk -v c="$c" '$1 == "child" && $2 == c' <<< "$theirs")"
    assert_eq "$c: charon's packets in/out (swanctl --list-sas) = $COUNT/$COUNT" "$COUNT $COUNT" "$t_pin $t_pout"
done
for ns in gwA gwB; do
    assert_eq "[$ns] integrity failures on the SAs" 0 "$(ip -n "$ns" -s xfrm state | awk '/ failed / { for (i = 1; i < NF; i++) if ($i == "failed") s += $(i + 1) } END { print s + 0 }')"
done

step "what crossed the gwA-gwB link (pings through the three children): ESP and IKE only"
link_only_esp_ike children-sw-wan lan dmz voice

step "ipsecctl down to-charon: nothing left on either side"
run ipsecd_ctl c down to-charon || fail "ipsecctl down to-charon"
lc_wait_until 30 eval '[ "$(xfrm_count gwA)|$(xfrm_count gwB)" = "0 0|0 0" ] && [ "$(lc_ike_count c)" = 0 ] && [ -z "$(sw_children from-ipsecd)" ]' ||
    log "(still not clean after 30 s: the checks below say what is left)"
assert_eq "[gwA] SAs and policies after down" "0 0" "$(xfrm_count gwA)"
assert_eq "[gwB] SAs and policies after down" "0 0" "$(xfrm_count gwB)"
assert_eq "ipsecd's IKE SAs after down" 0 "$(lc_ike_count c)"
sw_left=$(sw --list-sas 2>&1)
printf '%s\n' "$sw_left" | sed 's/^/    [swanctl --list-sas] /'
assert_eq "charon's IKE and CHILD SAs after down (swanctl --list-sas)" "" "$(sw_children from-ipsecd)"
assert_eq "IKE SAs in swanctl --list-sas after down" 0 "$(grep -c 'ESTABLISHED\|CONNECTING\|DELETING' <<< "$sw_left")"

step "SIGTERM ipsecd, stop charon"
ipsecd_stop c
sw_stop
for ns in gwA gwB; do
    assert_eq "[$ns] SAs and policies at the end" "0 0" "$(xfrm_count "$ns")"
done
log "scenario 1 took ${S1_DONE} s, scenario 2 $(( $(date +%s) - E2E_T0 - S1_DONE )) s"
pass "ikev2-children: ipsecd<->ipsecd (lan, dmz at start, voice on demand on the same IKE SA) and ipsecd->charon (three children)"
