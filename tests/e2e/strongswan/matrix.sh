# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# IKEv2 interop matrix: our ipsecd (real kernel) in gwA, strongSwan's charon in
# gwB (topo_gateways: hostA - gwA = gwB - hostB). Source after ../lib.sh and
# charon.sh, then:
#
#   interop_matrix ROLE [MODES]   ROLE: ipsecd's role, initiator | responder;
#                                 MODES: "tunnel transport" (default), or one
#
# For each mode (tunnel: 198.51.100.0/24 <-> 203.0.113.0/24, traffic hostA <->
# hostB; transport: gwA <-> gwB, traffic between the gateways) and each
# proposal set (gcm: IKE aes256gcm16-prfsha256-x25519 / ESP aes256gcm16; cbc:
# aes256-sha256-modp2048 / aes256-sha256; chacha:
# chacha20poly1305-prfsha256-ecp256 / chacha20poly1305), one combination:
#   - ipsecd restarted with one connection, charon reloaded with its twin
#     (exactly that proposal on both sides), the ROLE side initiates; as
#     responder, one more: charon offers its default proposals (which start
#     with transforms we do not offer, and with a KE we do not want) and
#     ipsecd must pick the cbc set;
#   - both sides show the IKE SA and an installed CHILD SA (ipsecctl status
#     --json, swanctl --list-sas), IKE SPIs equal, CHILD SPIs crossed, the
#     negotiated algorithms are the asked ones in both views, and each
#     gateway's kernel holds exactly the two SAs (mode, algorithm) and the
#     policies of that CHILD SA;
#   - a ping crosses, and the kernel counters of the four SAs (out and in on
#     both gateways) grow by at least the number of echoes;
#   - tunnel mode, gcm: ipsecd restarted with `ipsecctl shutdown --keep` under a ping and
#     a TCP stream (restart_keeping): nothing lost, same SPIs on both sides, nothing in
#     the clear; then charon rekeys the CHILD SA and the IKE SA over the continued one;
#   - teardown alternates between 'ipsecctl down' and 'swanctl --terminate';
#     afterwards neither daemon has an IKE SA and neither kernel an SA or a
#     policy; ipsecd then exits 0 on SIGTERM.

INTEROP_PSK='interop shared secret: long enough for a PSK'
INTEROP_COUNT=5
INTEROP_W=''

# ---- combinations
ike_proposal() { case $1 in gcm) echo aes256gcm16-prfsha256-x25519;; cbc) echo aes256-sha256-modp2048;; chacha) echo chacha20poly1305-prfsha256-ecp256;; esac; }
esp_proposal() { case $1 in gcm) echo aes256gcm16;; cbc) echo aes256-sha256;; chacha) echo chacha20poly1305;; esac; }
# what 'ipsecctl status' names the negotiated transforms
our_ike_algs() {
    case $1 in
        gcm)    echo ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519;;
        cbc)    echo ENCR_AES_CBC_256/PRF_HMAC_SHA2_256/AUTH_HMAC_SHA2_256_128/MODP_2048;;
        chacha) echo ENCR_CHACHA20_POLY1305/PRF_HMAC_SHA2_256/ECP_256;;
    esac
}
our_esp_algs() {
    case $1 in
        gcm)    echo ENCR_AES_GCM_16_256/NO_ESN;;
        cbc)    echo ENCR_AES_CBC_256/AUTH_HMAC_SHA2_256_128/NO_ESN;;
        chacha) echo ENCR_CHACHA20_POLY1305/NO_ESN;;
    esac
}
# what swanctl names them
sw_ike_algs_of() {
    case $1 in
        gcm)    echo AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519;;
        cbc)    echo AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048;;
        chacha) echo CHACHA20_POLY1305/PRF_HMAC_SHA2_256/ECP_256;;
    esac
}
sw_esp_algs_of() {
    case $1 in
        gcm)    echo AES_GCM_16-256;;
        cbc)    echo AES_CBC-256/HMAC_SHA2_256_128;;
        chacha) echo CHACHA20_POLY1305;;
    esac
}
# such an SA's algorithms as xfrm_sas summarizes them (KIND:NAME:KEYBITS[:ICVBITS],
# joined by '+' in the order iproute2 prints them; AEAD key bits include the
# 32-bit salt)
kernel_algs() {
    case $1 in
        gcm)    echo 'aead:rfc4106(gcm(aes)):288:128';;
        cbc)    echo 'auth-trunc:hmac(sha256):256:128+enc:cbc(aes):256';;
        chacha) echo 'aead:rfc7539esp(chacha20,poly1305):288:128';;
    esac
}

# log without a 'date' process per line (process starts are slow in the guest)
log()  { printf '[%3ds] %s\n' "$(( EPOCHSECONDS - E2E_T0 ))" "$*"; }
step() { printf '\n[%3ds] ==== %s\n' "$(( EPOCHSECONDS - E2E_T0 ))" "$*"; }

# ---- logs on failure: both daemons' logs, then lib.sh's fail (kernel state)
eval "$(declare -f fail | sed '1s/^fail /e2e_fail /')"
INTEROP_IPSECD_LOG=''
fail() {
    if [ -n "$INTEROP_IPSECD_LOG" ] && [ -r "$INTEROP_IPSECD_LOG" ]; then
        echo "---- ipsecd log ($INTEROP_IPSECD_LOG), last 60 lines ----"
        tail -n 60 "$INTEROP_IPSECD_LOG"
    fi
    if [ -n "$SW_LOG" ] && [ -r "$SW_LOG" ]; then
        echo "---- charon log ($SW_LOG), last 80 lines ----"
        tail -n 80 "$SW_LOG"
    fi
    if [ -n "$SW_DIR" ]; then
        echo "---- swanctl --list-sas ----"
        sw --list-sas 2>&1 | head -n 40
    fi
    e2e_fail "$@"
}

# ---- ipsecd
IPSECD_PID=''
# ctl SUBCOMMAND ARGS...: ipsecctl against our ipsecd in gwA
ctl() { local sub=$1; shift; ip netns exec gwA "$IPSECCTL" "$sub" --socket "$INTEROP_W/ipsecd.sock" "$@"; }

start_ipsecd() { # CONFIG LOG
    rm -f "$INTEROP_W/ipsecd.sock"
    INTEROP_IPSECD_LOG=$2
    ip netns exec gwA "$IPSECD" --config "$1" --control "$INTEROP_W/ipsecd.sock" \
        --pid-file "$INTEROP_W/ipsecd.pid" --log-level debug > "$2" 2>&1 &
    local pid=$! i
    E2E_PIDS+=("$pid")
    for (( i = 0; i < 100; i++ )); do
        [ -S "$INTEROP_W/ipsecd.sock" ] && { IPSECD_PID=$pid; log "ipsecd in gwA (pid $pid, real kernel) with $(basename "$1")"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    fail "ipsecd did not start in gwA"
}

stop_ipsecd() {
    local i rc
    [ -n "$IPSECD_PID" ] || return 0
    kill -TERM "$IPSECD_PID"
    for (( i = 0; i < 100; i++ )); do kill -0 "$IPSECD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$IPSECD_PID" 2>/dev/null && fail "ipsecd pid $IPSECD_PID still running 10 s after SIGTERM"
    wait "$IPSECD_PID"; rc=$?
    assert_eq "ipsecd exit code on SIGTERM" 0 "$rc"
    IPSECD_PID=''
}

# our_conf FILE NAME MODE PROP
our_conf() {
    local f=$1 name=$2 mode=$3 prop=$4 ts=''
    [ "$mode" = tunnel ] && ts='"local_ts": ["198.51.100.0/24"], "remote_ts": ["203.0.113.0/24"],'
    cat > "$f" <<EOF
{
  "connections": {
    "$name": {
      "version": 2,
      "local": {"address": "192.0.2.1", "id": "fqdn:left.example", "auth": "psk"},
      "remote": {"address": "192.0.2.2", "id": "fqdn:right.example", "auth": "psk"},
      "psk_file": "interop.psk",
      "proposals": ["$(ike_proposal "$prop")"],
      "children": {
        "net": {
          "mode": "$mode", $ts
          "esp_proposals": ["$(esp_proposal "$prop")"],
          "start_action": "none"
        }
      }
    }
  }
}
EOF
}

# our_view: "IKE_STATE SPI_I SPI_R IKE_ALGS CHILD_STATE MODE ESP_ALGS SPI_IN SPI_OUT" of our only IKE SA
our_view() {
    # status lists "children" (every CHILD SA of the IKE SA); older daemons had one "child"
    ctl status --json 2>/dev/null | jq -r '.ike_sas[0] // empty | . as $s | ((.children // [.child])[0] // {}) as $c
        | "\($s.state) \($s.spi_i) \($s.spi_r) \($s.algorithms) \($c.state) \($c.mode) \($c.algorithms) \($c.spi_in) \($c.spi_out)"' 2>/dev/null
}

# ---- kernel (one 'ip' per namespace and question, parsed by one awk)
# xfrm_sas NS: one line per SA: "SRC DST SPI MODE PACKETS BYTES FAILED ALGS"
xfrm_sas() {
    ip netns exec "$1" ip -s xfrm state | awk '
        function flush() { if (spi != "") print src, dst, spi, mode, p + 0, b + 0, f + 0, (algs == "" ? "-" : algs) }
        /^src / { flush(); src = $2; dst = $4; spi = ""; mode = "-"; algs = ""; p = b = f = 0; next }
        /^[ \t]+proto / { spi = $4; sub(/\(.*/, "", spi); for (i = 1; i < NF; i++) if ($i == "mode") mode = $(i + 1); next }
        /^[ \t]+(aead|enc|auth|auth-trunc) / {
            a = $1 ":" $2; bits = ""
            for (i = 3; i <= NF; i++) if ($i ~ /^\(/) { bits = substr($i, 2) }
            a = a ":" bits
            if ($1 == "aead" || $1 == "auth-trunc") a = a ":" $NF
            algs = algs (algs == "" ? "" : "+") a; next }
        /lifetime current:/ { getline; gsub(/[(),]/, " "); for (i = 1; i < NF; i++) { if ($(i+1) == "bytes") b = $i; if ($(i+1) == "packets") p = $i }; next }
        /^[ \t]+stats:/ { getline; for (i = 1; i < NF; i++) if ($i == "failed") f = $(i+1); next }
        END { flush() }'
}
# xfrm_policies NS: one line per policy with a direction (per-socket policies,
# which both daemons set on their IKE sockets, are left out):
# "DIR SRC DST TMPL_SRC TMPL_DST MODE"
xfrm_policies() {
    ip netns exec "$1" ip xfrm policy | awk '
        function flush() { if (dir != "") print dir, src, dst, ts, td, mode }
        /^src / { flush(); src = $2; dst = $4; dir = ""; ts = td = mode = "-"; next }
        /^[ \t]+dir / { dir = $2; next }
        /^[ \t]+tmpl / { ts = $3; td = $5; next }
        /^[ \t]+proto / { for (i = 1; i < NF; i++) if ($i == "mode") mode = $(i + 1); next }
        END { flush() }'
}
nlines() { [ -n "$1" ] && printf '%s\n' "$1" | wc -l || echo 0; }

# check_kernel NS LOCAL REMOTE SPI_OUT SPI_IN MODE PROP EXACT(yes|no): the
# namespace holds exactly the two SAs (mode, algorithms) and the policies of
# the CHILD SA (out, in, and fwd in tunnel mode; with EXACT=no, charon's side,
# others may exist besides, and are listed)
check_kernel() {
    local ns=$1 l=$2 r=$3 so=$4 si=$5 mode=$6 prop=$7 exact=$8 sas pols ln rn want line n
    sas=$(xfrm_sas "$ns") pols=$(xfrm_policies "$ns")
    printf '%s\n' "$sas" | sed "s/^/    [$ns sa] /"
    printf '%s\n' "$pols" | sed "s/^/    [$ns policy] /"
    assert_eq "[$ns] SAs in the kernel" 2 "$(printf '%s\n' "$sas" | grep -c .)"
    for want in "$l $r $so" "$r $l $si"; do
        line=$(printf '%s\n' "$sas" | grep "^$want ")
        read -r _ _ _ n _ _ _ line <<< "$line"
        assert_eq "[$ns] SA ${want// /->} mode" "$mode" "$n"
        assert_eq "[$ns] SA ${want// /->} algorithms" "$(kernel_algs "$prop")" "$line"
    done
    if [ "$mode" = tunnel ]; then
        if [ "$l" = 192.0.2.1 ]; then ln=198.51.100.0/24 rn=203.0.113.0/24; else ln=203.0.113.0/24 rn=198.51.100.0/24; fi
        set -- "out $ln $rn $l $r tunnel" "in $rn $ln $r $l tunnel" "fwd $rn $ln $r $l tunnel"
    else
        set -- "out $l/32 $r/32 " "in $r/32 $l/32 "
    fi
    for want in "$@"; do
        n=$(printf '%s\n' "$pols" | grep -c "^$want")
        if [ "$mode" = transport ]; then
            n=$(printf '%s\n' "$pols" | grep "^$want" | grep -c ' transport$')
        fi
        assert_eq "[$ns] policy '$want'" 1 "$n"
    done
    if [ "$exact" = yes ]; then
        assert_eq "[$ns] policies in the kernel" "$#" "$(printf '%s\n' "$pols" | grep -c .)"
    fi
}

# counters "SPI PACKETS BYTES" of every SA in NS
sa_counters() { xfrm_sas "$1" | awk '{ print $3, $5, $6 }'; }
# grew LABEL BEFORE AFTER SPI MIN: that SA's packets grew by >= MIN, bytes too
grew() {
    local label=$1 before=$2 after=$3 spi=$4 min=$5 bp bb ap ab
    read -r _ bp bb <<< "$(printf '%s\n' "$before" | grep "^$spi ")"
    read -r _ ap ab <<< "$(printf '%s\n' "$after" | grep "^$spi ")"
    [ -n "$ap" ] || fail "$label: no SA with spi $spi"
    log "counters $label spi $spi: packets ${bp:-0} -> $ap, bytes ${bb:-0} -> $ab"
    (( ap - ${bp:-0} >= min )) || fail "$label: expected packets to grow by >= $min, saw ${bp:-0} -> $ap"
    (( ab > ${bb:-0} )) || fail "$label: expected bytes to grow, saw ${bb:-0} -> $ab"
}

# nothing_left: neither gateway holds an SA or a (non-socket) policy
nothing_left() {
    local ns
    for ns in gwA gwB; do
        [ -z "$(xfrm_sas "$ns")" ] && [ -z "$(xfrm_policies "$ns")" ] || return 1
    done
}

# ---- one combination
# combo INDEX ROLE MODE PROP TEARDOWN: the side that tears down, ipsecd | charon
combo() {
    local idx=$1 role=$2 mode=$3 prop=$4 down=$5
    local name="sw-$mode-$prop" tag="$role-$mode-$prop" w i
    local ours theirs p=${prop%-vs-default} sw_ike sw_esp
    # PROP-vs-default: ipsecd asks for PROP, charon offers its default
    # proposals (many; the first ones are not ours): we must pick PROP's
    sw_ike=$(ike_proposal "$p") sw_esp=$(esp_proposal "$p")
    [ "$p" != "$prop" ] && sw_ike=default sw_esp=default
    step "[$idx] ipsecd $role, $mode, IKE $(ike_proposal "$p") / ESP $(esp_proposal "$p"), charon: $sw_ike / $sw_esp"

    our_conf "$INTEROP_W/$tag.json" "$name" "$mode" "$p"
    cp "$INTEROP_W/$tag.json" "$E2E_OUT/ipsecd-$tag.json"
    start_ipsecd "$INTEROP_W/$tag.json" "$E2E_OUT/ipsecd-$tag.log"
    if [ "$mode" = tunnel ]; then
        sw_conn_conf "$INTEROP_W/swanctl-$tag.conf" ss tunnel 192.0.2.2 192.0.2.1 @right.example @left.example \
            "$sw_ike" "$sw_esp" 203.0.113.0/24 198.51.100.0/24 "$INTEROP_PSK"
    else
        sw_conn_conf "$INTEROP_W/swanctl-$tag.conf" ss transport 192.0.2.2 192.0.2.1 @right.example @left.example \
            "$sw_ike" "$sw_esp" - - "$INTEROP_PSK"
    fi
    sed 's/secret = .*/secret = <elided>/' "$INTEROP_W/swanctl-$tag.conf" > "$E2E_OUT/swanctl-$tag.conf"
    sw_load "$INTEROP_W/swanctl-$tag.conf"

    if [ "$role" = initiator ]; then
        log "+ [gwA] ipsecctl up $name"
        ctl up "$name" || fail "ipsecctl up $name"
    else
        log "+ [gwB] swanctl --initiate --child ss-child --timeout 30"
        w=$(sw --initiate --child ss-child --timeout 30 2>&1) || { printf '%s\n' "$w" | tail -n 20; fail "swanctl --initiate failed"; }
        printf '%s\n' "$w" | grep -E 'established|installed|failed' | sed 's/^/    [swanctl] /'
    fi

    # both sides: established with an installed CHILD SA (bounded, 30 s)
    for (( i = 0; i < 60; i++ )); do
        ours=$(our_view) theirs=$(sw_view ss)
        [[ $ours == "established "*" installed "* ]] && [[ $theirs == "ESTABLISHED "*" INSTALLED "* ]] && break
        sleep 0.5
    done
    log "ours:   $ours"
    log "theirs: $theirs"
    local o_state o_spi_i o_spi_r o_ike o_child o_mode o_esp o_in o_out
    local t_state t_spi_i t_spi_r t_ike t_child t_mode t_esp t_in t_out t_pin t_pout
    read -r o_state o_spi_i o_spi_r o_ike o_child o_mode o_esp o_in o_out <<< "$ours"
    read -r t_state t_spi_i t_spi_r t_ike t_child t_mode t_esp t_in t_out t_pin t_pout <<< "$theirs"
    assert_eq "our IKE SA" established "$o_state"
    assert_eq "our CHILD SA" installed "$o_child"
    assert_eq "charon's IKE SA" ESTABLISHED "$t_state"
    assert_eq "charon's CHILD SA" INSTALLED "$t_child"
    ctl status --json > "$E2E_OUT/status-$tag.json"
    sw --list-sas > "$E2E_OUT/swanctl-list-sas-$tag.txt" 2>&1

    # SPIs: IKE equal, CHILD crossed (ours 0x%08x, swanctl's bare hex)
    assert_eq "IKE SPIs (ours / charon's)" "$o_spi_i $o_spi_r" "0x$t_spi_i 0x$t_spi_r"
    assert_eq "our inbound CHILD SPI = charon's outbound" "$o_in" "0x$t_out"
    assert_eq "our outbound CHILD SPI = charon's inbound" "$o_out" "0x$t_in"
    # algorithms: the asked ones, in both views
    assert_eq "IKE algorithms (ipsecctl status)" "$(our_ike_algs "$p")" "$o_ike"
    assert_eq "ESP algorithms (ipsecctl status)" "$(our_esp_algs "$p")" "$o_esp"
    assert_eq "IKE algorithms (swanctl --list-sas)" "$(sw_ike_algs_of "$p")" "$t_ike"
    assert_eq "ESP algorithms (swanctl --list-sas)" "$(sw_esp_algs_of "$p")" "$t_esp"
    if [ "$p" != "$prop" ]; then   # charon's first KE (x25519) was not ours
        assert_eq "INVALID_KE_PAYLOAD sent by ipsecd (status counters)" 1 \
            "$(jq '.counters.invalid_ke_sent' "$E2E_OUT/status-$tag.json")"
    fi
    assert_eq "mode (ipsecctl status)" "$mode" "$o_mode"
    assert_eq "mode (swanctl --list-sas)" "${mode^^}" "$t_mode"

    # kernels: gwA (ours: exactly its SAs and policies) and gwB (charon's)
    local sab=$o_out sba=$o_in
    check_kernel gwA 192.0.2.1 192.0.2.2 "$sab" "$sba" "$mode" "$p" yes
    check_kernel gwB 192.0.2.2 192.0.2.1 "$sba" "$sab" "$mode" "$p" no

    # traffic, and the counters of the four SAs
    local src_ns=hostA dst=203.0.113.10 a0 b0 a1 b1 f
    [ "$mode" = transport ] && src_ns=gwA dst=192.0.2.2
    a0=$(sa_counters gwA) b0=$(sa_counters gwB)
    ping_ok "$src_ns" "$dst" "$INTEROP_COUNT"
    a1=$(sa_counters gwA) b1=$(sa_counters gwB)
    grew "gwA out (ipsecd)" "$a0" "$a1" "$sab" "$INTEROP_COUNT"
    grew "gwB in (charon)"  "$b0" "$b1" "$sab" "$INTEROP_COUNT"
    grew "gwB out (charon)" "$b0" "$b1" "$sba" "$INTEROP_COUNT"
    grew "gwA in (ipsecd)"  "$a0" "$a1" "$sba" "$INTEROP_COUNT"
    read -r _ _ _ _ _ _ _ _ _ t_pin t_pout <<< "$(sw_view ss)"
    assert_ge "charon's CHILD SA packets in (swanctl)" "$INTEROP_COUNT" "${t_pin//-/0}"
    assert_ge "charon's CHILD SA packets out (swanctl)" "$INTEROP_COUNT" "${t_pout//-/0}"
    for f in gwA gwB; do
        assert_eq "[$f] integrity failures on the SAs" "0 0" "$(xfrm_sas "$f" | awk '{ print $7 }' | xargs)"
    done

    # tunnel mode, first proposal set: ipsecd restarted keeping the tunnel
    if [ "$mode" = tunnel ] && [ "$prop" = gcm ]; then
        restart_keeping "$name" "$o_spi_i $o_spi_r" "$o_in $o_out" "$tag"
    fi

    # teardown from one side; both must end up clean
    if [ "$down" = ipsecd ]; then
        log "+ [gwA] ipsecctl down $name"
        ctl down "$name" || fail "ipsecctl down $name"
    else
        log "+ [gwB] swanctl --terminate --ike ss --timeout 30"
        sw --terminate --ike ss --timeout 30 > "$INTEROP_W/terminate.out" 2>&1 \
            || { cat "$INTEROP_W/terminate.out"; fail "swanctl --terminate --ike ss"; }
    fi
    for (( i = 0; i < 30; i++ )); do
        nothing_left && [ -z "$(our_view)" ] && [ -z "$(sw_view ss)" ] && break
        sleep 0.5
    done
    for f in gwA gwB; do
        assert_eq "[$f] SAs after teardown by $down" "" "$(xfrm_sas "$f")"
        assert_eq "[$f] policies after teardown by $down" "" "$(xfrm_policies "$f")"
    done
    assert_eq "our IKE SAs after teardown" "" "$(our_view)"
    assert_eq "charon's IKE SAs after teardown" "" "$(sw_view ss)"
    stop_ipsecd
    log "ok: combination $tag"
    INTEROP_DONE+=("$tag (down: $down)")
}

# restart_keeping NAME "SPI_I SPI_R" "CHILD_IN CHILD_OUT" TAG: `ipsecctl shutdown --keep`
# and a new ipsecd, under a ping every 0.1 s and a TCP stream hostA -> hostB: no ping
# lost, the stream intact, the same IKE and CHILD SPIs on both sides, no IKE message and
# nothing in the clear on the link; then charon rekeys the CHILD SA and the IKE SA over
# the continued IKE SA (its keys and message IDs must be ours from before).
restart_keeping() {
    local name=$1 ike=$2 child=$3 tag=$4 old_pid=$IPSECD_PID rc ping=$E2E_OUT/restart-ping-$4.txt
    local ours theirs i
    step "restart keeping the tunnel with charon: ipsecctl shutdown --keep, a new ipsecd, under ping and TCP"
    capture_start "restart-$tag" gwA wan
    capture_start "restart-$tag" gwB wan
    lc_tcp_stream_start hostA hostB 203.0.113.10 5003 $(( 512 * 1024 )) 8
    lc_ping_start hostA 203.0.113.10 80 0.1 "$ping"
    sleep 1
    ctl shutdown --keep || fail "ipsecctl shutdown --keep"
    wait "$old_pid"; rc=$?
    assert_eq "ipsecd exit code after shutdown --keep" 0 "$rc"
    sleep 1   # nobody answers IKE on gwA for a second; the kernel carries the traffic
    start_ipsecd "$INTEROP_W/$tag.json" "$E2E_OUT/ipsecd-$tag.restarted.log"
    grep -q "continued 1 IKE SA(s) of the previous ipsecd" "$E2E_OUT/ipsecd-$tag.restarted.log" \
        || fail "the new ipsecd did not continue the IKE SA"
    lc_ping_wait "$ping"
    lc_tcp_stream_wait
    capture_stop
    log "pings: $LC_PING_TX sent, $LC_PING_RX answered, lost: $(lc_ping_lost "$ping" "$LC_PING_TX")"
    assert_eq "pings lost across the restart" "" "$(lc_ping_lost "$ping" "$LC_PING_TX")"
    ours=$(our_view) theirs=$(sw_view ss)
    read -r _ o_spi_i o_spi_r _ _ _ _ o_in o_out <<< "$ours"
    read -r _ t_spi_i t_spi_r _ _ _ _ t_in t_out _ _ <<< "$theirs"
    assert_eq "our IKE SPIs after the restart" "$ike" "$o_spi_i $o_spi_r"
    assert_eq "charon's IKE SPIs after the restart" "$ike" "0x$t_spi_i 0x$t_spi_r"
    assert_eq "our CHILD SPIs after the restart" "$child" "$o_in $o_out"
    assert_eq "packets with an inner address as outer header across the restart" 0 \
        "$(capture_count "restart-$tag" "net 198.51.100.0/24 or net 203.0.113.0/24")"
    assert_eq "IKE messages on the link across the restart" 0 \
        "$(capture_count "restart-$tag" "udp port 500 or udp port 4500")"
    log "+ [gwB] swanctl --rekey --child ss-child, then --rekey --ike ss"
    sw --rekey --child ss-child > /dev/null 2>&1 || fail "swanctl --rekey --child ss-child"
    for (( i = 0; i < 60; i++ )); do
        ours=$(our_view)
        read -r _ _ _ _ o_child _ _ o_in _ <<< "$ours"
        [ "$o_child" = installed ] && [ "$o_in" != "${child%% *}" ] && [ "$(nlines "$(xfrm_sas gwA)")" = 2 ] && break
        sleep 0.5
    done
    [ "$o_in" != "${child%% *}" ] || fail "charon's CHILD SA rekey over the continued IKE SA did not complete"
    log "CHILD SA rekeyed by charon: ours now $ours"
    sw --rekey --ike ss > /dev/null 2>&1 || fail "swanctl --rekey --ike ss"
    for (( i = 0; i < 60; i++ )); do
        read -r _ o_spi_i _ <<< "$(our_view)"
        [ -n "$o_spi_i" ] && [ "$o_spi_i" != "${ike%% *}" ] && break
        sleep 0.5
    done
    [ "$o_spi_i" != "${ike%% *}" ] || fail "charon's IKE SA rekey over the continued IKE SA did not complete"
    log "IKE SA rekeyed by charon: ours now $(our_view)"
    ping_ok hostA 203.0.113.10 3
}

INTEROP_DONE=()
interop_matrix() {
    local role=$1 modes=${2:-tunnel transport} idx=0 mode prop props down
    case $role in initiator|responder) ;; *) fail "interop_matrix: role '$role'";; esac
    for mode in $modes; do
        case $mode in tunnel|transport) ;; *) fail "interop_matrix: mode '$mode'";; esac
    done
    require_ipsecctl
    have_real_ipsecctl || skip "needs the real ipsecctl (status/up/down), not E2E_APPLY=ipxfrm"
    if [ -z "${IPSECD:-}" ] || [ ! -x "$IPSECD" ]; then skip "ipsecd not built (IPSECD='${IPSECD:-}')"; fi
    command -v jq >/dev/null 2>&1 || skip "jq is not installed"
    sw_require
    load_modules
    topo_gateways

    INTEROP_W=$(mktemp -d /tmp/interop.XXXXXX) || fail "mktemp"
    printf '%s\n' "$INTEROP_PSK" > "$INTEROP_W/interop.psk"
    chmod 600 "$INTEROP_W/interop.psk"
    SW_LOG=$E2E_OUT/charon.log
    sw_start gwB "$INTEROP_W/charon"

    for mode in $modes; do
        props="gcm cbc chacha"
        # as responder, also charon's default proposals (they start with what
        # we do not offer, and with another key exchange: INVALID_KE_PAYLOAD)
        [ "$role" = responder ] && props+=" cbc-vs-default"
        for prop in $props; do
            # alternate the side that tears down: each mode and each role sees both
            if (( idx % 2 == 0 )); then down=ipsecd; else down=charon; fi
            combo "$(( idx + 1 ))" "$role" "$mode" "$prop" "$down"
            idx=$(( idx + 1 ))
        done
    done
    sw_stop
    step "summary: ipsecd $role with strongSwan ($modes), ${#INTEROP_DONE[@]} combinations"
    printf '    %s\n' "${INTEROP_DONE[@]}"
}
