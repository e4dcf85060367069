#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: rekeying and deletes between our ipsecd (gwA, real kernel) and
# strongSwan's charon 5.9.8 (gwB), tunnel 198.51.100.0/24 <-> 203.0.113.0/24
# (traffic hostA <-> hostB), AES-GCM-256. Four rounds, one ipsecd each:
#
#   R1 ipsecd initiates the IKE SA, no PFS, its CHILD rekey_time 30 s:
#      CHILD SA rekey initiated by ipsecd; then `swanctl --terminate --child`
#      (the IKE SA stays on both sides), then `swanctl --terminate --ike`.
#   R2 charon initiates, ESP aes256gcm16-x25519 on both sides (PFS):
#      `swanctl --rekey --child` (PFS), `swanctl --rekey --ike`, then
#      `swanctl --terminate --ike`.
#   R3 ipsecd initiates, ESP aes256gcm16-x25519 (PFS), CHILD rekey_time 30 s:
#      CHILD SA rekey with PFS initiated by ipsecd; then `ipsecctl down`.
#   R4 charon initiates, no PFS, ipsecd's connection rekey_time 60 s:
#      `swanctl --rekey --child` (no PFS), then the IKE SA rekey initiated by
#      ipsecd (the original responder); then `ipsecctl down`.
#
# After every rekey both sides must have settled on exactly one IKE SA and
# one CHILD SA (ipsecctl status --json, swanctl --list-sas): IKE SPIs equal,
# CHILD SPIs crossed, new ones (CHILD rekey: both SPIs new, ipsecd's "replaces"
# naming the old inbound SPI; IKE rekey: both IKE SPIs new, the CHILD SPIs
# unchanged), each kernel holding exactly the two SAs of that CHILD SA (the
# old ones gone) and the same policies as before. charon's log shows who sent
# the CREATE_CHILD_SA request. A ping runs across each rekey: no echo may be
# lost; after it, the counters of the new SAs grow. After each delete nothing
# is left on either side: no SA, no policy, no CHILD SA (and, after an IKE
# delete, no IKE SA) in either daemon. Logs in the job folder: charon.log,
# ipsecd-rekey-R*.log, ping-*.txt, status-*.json, swanctl-*.txt.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
. "$E2E_DIR/strongswan/charon.sh"
. "$E2E_DIR/strongswan/matrix.sh"   # ctl, start_ipsecd, stop_ipsecd, xfrm_sas, check_kernel, fail with logs

OUR=rk          # ipsecd's connection
LAN_A=198.51.100.0/24 LAN_B=203.0.113.0/24
GW_A=192.0.2.1 GW_B=192.0.2.2
ESP_PLAIN=aes256gcm16 ESP_PFS=aes256gcm16-x25519
IKE_PROP=aes256gcm16-prfsha256-x25519

# rk_conf FILE ESP CONN_EXTRA CHILD_EXTRA: ipsecd's connection; the extras are
# JSON members (each ending with a comma) for the connection and the child
rk_conf() {
    cat > "$1" <<EOF
{
  "connections": {
    "$OUR": {
      "version": 2,
      "local": {"address": "$GW_A", "id": "fqdn:left.example", "auth": "psk"},
      "remote": {"address": "$GW_B", "id": "fqdn:right.example", "auth": "psk"},
      "psk_file": "interop.psk",
      "proposals": ["$IKE_PROP"], $3
      "children": {
        "net": {
          "mode": "tunnel", "local_ts": ["$LAN_A"], "remote_ts": ["$LAN_B"], $4
          "esp_proposals": ["$2"],
          "start_action": "none"
        }
      }
    }
  }
}
EOF
}

# ---- the three views: ipsecd, charon, both kernels
# rk_ours: "ike SPI_I SPI_R STATE INITIATOR LAST_REKEY_AGO" per IKE SA, each
# followed by "child STATE SPI_IN SPI_OUT ALGS REPLACES" per CHILD SA
rk_ours() {
    ctl status --json 2>/dev/null | jq -r '.ike_sas[]
        | ("ike \(.spi_i) \(.spi_r) \(.state) \(.initiator) \(.last_rekey_seconds_ago)"),
          (.children[] | "child \(.state) \(.spi_in) \(.spi_out) \(.algorithms) \(.replaces)")' 2>/dev/null
}
V_OURS='' V_THEIRS='' V_KA='' V_KB='' V_PA='' V_PB=''
rk_snapshot() {
    V_OURS=$(rk_ours) V_THEIRS=$(sw_sas ss)
    V_KA=$(xfrm_sas gwA) V_KB=$(xfrm_sas gwB)
    V_PA=$(xfrm_policies gwA) V_PB=$(xfrm_policies gwB)
}
rk_show() {
    printf '%s\n' "$V_OURS" | sed '/^$/d; s/^/    [ipsecd] /'
    printf '%s\n' "$V_THEIRS" | sed '/^$/d; s/^/    [charon] /'
    printf '%s\n' "$V_KA" | sed '/^$/d; s/^/    [gwA sa] /'
    printf '%s\n' "$V_KB" | sed '/^$/d; s/^/    [gwB sa] /'
    printf '%s\n' "$V_PA" | sed '/^$/d; s/^/    [gwA policy] /'
    printf '%s\n' "$V_PB" | sed '/^$/d; s/^/    [gwB policy] /'
}

# rk_settled: true when the snapshot shows exactly one established IKE SA with
# exactly one installed CHILD SA on both sides, the same IKE SPIs, crossed
# CHILD SPIs, and each kernel holding exactly that CHILD SA's two SAs (and, once
# P0_A/P0_B are known, the same policies). Sets S_* from it; RK_WHY otherwise.
S_I='' S_R='' S_IN='' S_OUT='' S_ALGS='' S_REPL='' S_LAST='' T_ALGS=''
P0_A='' P0_B=''
rk_settled() {
    local oi oc ti tc x
    oi=$(grep '^ike ' <<< "$V_OURS") oc=$(grep '^child ' <<< "$V_OURS")
    ti=$(grep '^ike ' <<< "$V_THEIRS") tc=$(grep '^child ' <<< "$V_THEIRS")
    [ "$(nlines "$oi") $(nlines "$oc")" = "1 1" ] || { RK_WHY="ipsecd: $(nlines "$oi") IKE SA(s), $(nlines "$oc") CHILD SA(s)"; return 1; }
    [ "$(nlines "$ti") $(nlines "$tc")" = "1 1" ] || { RK_WHY="charon: $(nlines "$ti") IKE SA(s), $(nlines "$tc") CHILD SA(s)"; return 1; }
    local o_i o_r o_st o_in o_out o_cst t_st t_i t_r t_cst t_in t_out
    read -r _ o_i o_r o_st _ S_LAST <<< "$oi"
    read -r _ o_cst o_in o_out S_ALGS S_REPL <<< "$oc"
    read -r _ _ t_st t_i t_r <<< "$ti"
    read -r _ _ _ t_cst t_in t_out T_ALGS <<< "$tc"
    [ "$o_st $o_cst" = "established installed" ] || { RK_WHY="ipsecd: IKE SA $o_st, CHILD SA $o_cst"; return 1; }
    [ "$t_st $t_cst" = "ESTABLISHED INSTALLED" ] || { RK_WHY="charon: IKE SA $t_st, CHILD SA $t_cst"; return 1; }
    [ "$o_i $o_r" = "$t_i $t_r" ] || { RK_WHY="IKE SPIs differ: ipsecd $o_i $o_r, charon $t_i $t_r"; return 1; }
    [ "$o_in $o_out" = "$t_out $t_in" ] || { RK_WHY="CHILD SPIs not crossed: ipsecd in/out $o_in $o_out, charon in/out $t_in $t_out"; return 1; }
    for x in gwA gwB; do
        local k; if [ "$x" = gwA ]; then k=$V_KA; else k=$V_KB; fi
        [ "$(awk '{ print $1, $2, $3 }' <<< "$k" | sort | xargs)" = "$(printf '%s\n' "$GW_B $GW_A $o_in" "$GW_A $GW_B $o_out" | sort | xargs)" ] ||
            { RK_WHY="[$x] kernel SAs: $(awk '{ print $1 "->" $2, $3 }' <<< "$k" | xargs), want $GW_A->$GW_B $o_out, $GW_B->$GW_A $o_in"; return 1; }
    done
    if [ -n "$P0_A" ]; then
        [ "$V_PA" = "$P0_A" ] || { RK_WHY="[gwA] policies changed"; return 1; }
        [ "$V_PB" = "$P0_B" ] || { RK_WHY="[gwB] policies changed"; return 1; }
    fi
    S_I=$o_i S_R=$o_r S_IN=$o_in S_OUT=$o_out
    return 0
}

# rk_wait LABEL SECONDS [CONDITION]: until rk_settled and CONDITION (a shell
# expression over S_*) hold; fails after SECONDS with the views
rk_wait() {
    local label=$1 secs=$2 cond=${3:-true} end=$(( EPOCHSECONDS + $2 ))
    RK_WHY=''
    while (( EPOCHSECONDS < end )); do
        rk_snapshot
        if rk_settled; then
            if eval "$cond"; then log "settled ($label): IKE $S_I/$S_R, CHILD in $S_IN out $S_OUT"; return 0; fi
            RK_WHY="settled, but not yet: $cond"
        fi
        sleep 0.5
    done
    rk_show
    fail "$label: not settled within $secs s: $RK_WHY"
}

# rk_clean_wait LABEL SECONDS IKE_LEFT: until neither kernel holds an SA or a
# policy, neither daemon a CHILD SA, and each daemon IKE_LEFT (0 or 1) IKE SAs
rk_clean_wait() {
    local label=$1 end=$(( EPOCHSECONDS + $2 )) want=$3 seen
    while (( EPOCHSECONDS < end )); do
        rk_snapshot
        seen="$(grep -c '^ike ' <<< "$V_OURS") $(grep -c '^child ' <<< "$V_OURS") $(grep -c '^ike ' <<< "$V_THEIRS") $(grep -c '^child ' <<< "$V_THEIRS") $(nlines "$V_KA") $(nlines "$V_KB") $(nlines "$V_PA") $(nlines "$V_PB")"
        [ "$seen" = "$want 0 $want 0 0 0 0 0" ] && break
        sleep 0.5
    done
    rk_show
    log "after $label (IKE SAs ipsecd, CHILD SAs ipsecd, IKE SAs charon, CHILD SAs charon, SAs gwA, SAs gwB, policies gwA, policies gwB): $seen"
    assert_eq "[ipsecd] IKE SAs after $label" "$want" "$(grep -c '^ike ' <<< "$V_OURS")"
    assert_eq "[ipsecd] CHILD SAs after $label" 0 "$(grep -c '^child ' <<< "$V_OURS")"
    assert_eq "[charon] IKE SAs after $label" "$want" "$(grep -c '^ike ' <<< "$V_THEIRS")"
    assert_eq "[charon] CHILD SAs after $label" 0 "$(grep -c '^child ' <<< "$V_THEIRS")"
    assert_eq "[gwA] SAs after $label" "" "$V_KA"
    assert_eq "[gwB] SAs after $label" "" "$V_KB"
    assert_eq "[gwA] policies after $label" "" "$V_PA"
    assert_eq "[gwB] policies after $label" "" "$V_PB"
    if [ "$want" = 1 ]; then
        assert_eq "[ipsecd] IKE SA state after $label" established "$(grep '^ike ' <<< "$V_OURS" | cut -d' ' -f4)"
        assert_eq "[charon] IKE SA state after $label" ESTABLISHED "$(grep '^ike ' <<< "$V_THEIRS" | cut -d' ' -f3)"
    fi
}

# charon's log: CREATE_CHILD_SA requests it parsed (from ipsecd) and responses
# it parsed (to its own requests)
cc_requests()  { grep -c 'parsed CREATE_CHILD_SA request' "$SW_LOG"; }
cc_responses() { grep -c 'parsed CREATE_CHILD_SA response' "$SW_LOG"; }
# their counts when the last check ended: a rekey ipsecd starts on its own
# may come before the next step begins (its timers do not wait for us)
RK_Q=0 RK_R=0
cc_mark() { RK_Q=$(cc_requests) RK_R=$(cc_responses); }

# rk_traffic_after LABEL: ping again; the four counters of the current CHILD SA grow
rk_traffic_after() {
    local a0 b0 a1 b1
    a0=$(sa_counters gwA) b0=$(sa_counters gwB)
    ping_ok hostA 203.0.113.10 5
    a1=$(sa_counters gwA) b1=$(sa_counters gwB)
    grew "$1: gwA out (ipsecd)" "$a0" "$a1" "$S_OUT" 5
    grew "$1: gwB in (charon)"  "$b0" "$b1" "$S_OUT" 5
    grew "$1: gwB out (charon)" "$b0" "$b1" "$S_IN" 5
    grew "$1: gwA in (ipsecd)"  "$a0" "$a1" "$S_IN" 5
    local f
    for f in gwA gwB; do
        assert_eq "[$f] integrity failures on the SAs" "0 0" "$(xfrm_sas "$f" | awk '{ print $7 }' | xargs)"
    done
}

# rk_up ROUND ROLE ESP CONN_EXTRA CHILD_EXTRA: ipsecd with that connection,
# charon with its twin (ESP), ROLE (ipsecd's) initiates; checks the first CHILD
# SA like the interop matrix does and keeps the policies as the baseline
RK_ROUND=''
rk_up() {
    local round=$1 role=$2 esp=$3 w
    RK_ROUND=$round
    rk_conf "$INTEROP_W/rekey-$round.json" "$esp" "$4" "$5"
    cp "$INTEROP_W/rekey-$round.json" "$E2E_OUT/ipsecd-rekey-$round.json"
    log "ipsecd connection: $(jq -c ".connections.$OUR | del(.local, .remote, .psk_file)" "$INTEROP_W/rekey-$round.json")"
    ipsecctl_in gwA validate "$INTEROP_W/rekey-$round.json" > /dev/null || fail "ipsecctl validate rekey-$round.json"
    start_ipsecd "$INTEROP_W/rekey-$round.json" "$E2E_OUT/ipsecd-rekey-$round.log"
    sw_conn_conf "$INTEROP_W/swanctl-rekey-$round.conf" ss tunnel "$GW_B" "$GW_A" @right.example @left.example \
        "$IKE_PROP" "$esp" "$LAN_B" "$LAN_A" "$INTEROP_PSK"
    sed 's/secret = .*/secret = <elided>/' "$INTEROP_W/swanctl-rekey-$round.conf" > "$E2E_OUT/swanctl-rekey-$round.conf"
    sw_load "$INTEROP_W/swanctl-rekey-$round.conf"
    P0_A='' P0_B=''
    if [ "$role" = initiator ]; then
        log "+ [gwA] ipsecctl up $OUR"
        ctl up "$OUR" || fail "ipsecctl up $OUR"
    else
        log "+ [gwB] swanctl --initiate --child ss-child --timeout 30"
        w=$(sw --initiate --child ss-child --timeout 30 2>&1) || { printf '%s\n' "$w" | tail -n 20; fail "swanctl --initiate failed"; }
    fi
    rk_wait "$round: first CHILD SA" 60
    rk_show
    check_kernel gwA "$GW_A" "$GW_B" "$S_OUT" "$S_IN" tunnel gcm yes
    check_kernel gwB "$GW_B" "$GW_A" "$S_IN" "$S_OUT" tunnel gcm no
    assert_eq "[ipsecd] first CHILD SA replaces nothing" 0x00000000 "$S_REPL"
    assert_eq "[ipsecd] first CHILD SA: no key exchange (IKE_AUTH)" ENCR_AES_GCM_16_256/NO_ESN "$S_ALGS"
    assert_eq "[charon] first CHILD SA: no key exchange (IKE_AUTH)" AES_GCM_16-256 "$T_ALGS"
    P0_A=$V_PA P0_B=$V_PB
    ping_ok hostA 203.0.113.10 3
    cc_mark
}

# rk_child_rekey WHO PFS: a CHILD SA rekey started by WHO (ipsecd: its soft
# lifetime, already configured; strongswan: swanctl --rekey --child)
rk_child_rekey() {
    local who=$1 pfs=$2 label="$RK_ROUND: CHILD SA rekey by $1" o_i o_r o_in o_out q0=$RK_Q r0=$RK_R t0
    step "$label ($([ "$pfs" = yes ] && echo "PFS, x25519" || echo "no PFS"))"
    o_i=$S_I o_r=$S_R o_in=$S_IN o_out=$S_OUT t0=$EPOCHSECONDS
    ss_ping_start hostA 203.0.113.10 0.2
    sleep 1
    rk_not_yet child "$o_in"
    if [ "$who" = strongswan ]; then
        log "+ [gwB] swanctl --rekey --child ss-child"
        sw --rekey --child ss-child > "$INTEROP_W/rekey.out" 2>&1 || { cat "$INTEROP_W/rekey.out"; fail "swanctl --rekey --child ss-child"; }
        sed 's/^/    [swanctl] /' "$INTEROP_W/rekey.out"
    else
        log "waiting for ipsecd's soft lifetime (rekey_time) to start the rekey"
    fi
    rk_wait "$label" 60 "[ \"\$S_IN\" != $o_in ] && [ \"\$S_OUT\" != $o_out ]"
    log "rekeyed $(( EPOCHSECONDS - t0 )) s after the ping started"
    sleep 2   # traffic on the new SAs only
    ss_ping_stop
    rk_show
    ctl status --json > "$E2E_OUT/status-$RK_ROUND-child-$who.json"
    sw --list-sas > "$E2E_OUT/swanctl-$RK_ROUND-child-$who.txt" 2>&1
    assert_eq "IKE SPIs unchanged by the CHILD SA rekey" "$o_i $o_r" "$S_I $S_R"
    [ "$S_IN" != "$o_in" ] && [ "$S_OUT" != "$o_out" ] || fail "CHILD SPIs did not change"
    log "ok: CHILD SPIs in/out (ipsecd) $o_in/$o_out -> $S_IN/$S_OUT, crossed on charon"
    assert_eq "[ipsecd] the new CHILD SA replaces the old inbound SPI" "$o_in" "$S_REPL"
    assert_eq "[gwA] old SAs left" 0 "$(grep -Ec " ($o_in|$o_out) " <<< "$V_KA")"
    assert_eq "[gwB] old SAs left" 0 "$(grep -Ec " ($o_in|$o_out) " <<< "$V_KB")"
    assert_eq "[charon] old CHILD SAs left" 0 "$(grep -Ec " ($o_in|$o_out) " <<< "$V_THEIRS")"
    if [ "$who" = ipsecd ]; then
        assert_ge "CREATE_CHILD_SA requests charon parsed (from ipsecd)" 1 $(( $(cc_requests) - q0 ))
        assert_eq "CREATE_CHILD_SA responses charon parsed (it rekeyed nothing)" 0 $(( $(cc_responses) - r0 ))
    else
        assert_eq "CREATE_CHILD_SA requests charon parsed (ipsecd rekeyed nothing)" 0 $(( $(cc_requests) - q0 ))
        assert_ge "CREATE_CHILD_SA responses charon parsed" 1 $(( $(cc_responses) - r0 ))
    fi
    if [ "$pfs" = yes ]; then
        assert_eq "[ipsecd] rekeyed CHILD SA algorithms (PFS)" ENCR_AES_GCM_16_256/CURVE25519/NO_ESN "$S_ALGS"
        assert_eq "[charon] rekeyed CHILD SA algorithms (PFS)" AES_GCM_16-256/CURVE_25519 "$T_ALGS"
    else
        assert_eq "[ipsecd] rekeyed CHILD SA algorithms (no PFS)" ENCR_AES_GCM_16_256/NO_ESN "$S_ALGS"
        assert_eq "[charon] rekeyed CHILD SA algorithms (no PFS)" AES_GCM_16-256 "$T_ALGS"
    fi
    check_kernel gwA "$GW_A" "$GW_B" "$S_OUT" "$S_IN" tunnel gcm yes
    assert_ge "echoes answered across the rekey" 10 "$SS_PING_REPLIES"
    assert_eq "echoes lost across the rekey" 0 "$SS_PING_LOST"
    rk_traffic_after "$label"
    cc_mark
    RK_DONE+=("$label ($([ "$pfs" = yes ] && echo PFS || echo "no PFS")): $o_in/$o_out -> $S_IN/$S_OUT, $SS_PING_REPLIES echoes, 0 lost")
}

# rk_ike_rekey WHO: an IKE SA rekey started by WHO (ipsecd: its rekey_time,
# already configured; strongswan: swanctl --rekey --ike)
rk_ike_rekey() {
    local who=$1 label="$RK_ROUND: IKE SA rekey by $1" o_i o_r o_in o_out q0=$RK_Q r0=$RK_R t0
    step "$label"
    o_i=$S_I o_r=$S_R o_in=$S_IN o_out=$S_OUT t0=$EPOCHSECONDS
    ss_ping_start hostA 203.0.113.10 0.2
    sleep 1
    rk_not_yet ike "$o_i"
    if [ "$who" = strongswan ]; then
        log "+ [gwB] swanctl --rekey --ike ss"
        sw --rekey --ike ss > "$INTEROP_W/rekey.out" 2>&1 || { cat "$INTEROP_W/rekey.out"; fail "swanctl --rekey --ike ss"; }
        sed 's/^/    [swanctl] /' "$INTEROP_W/rekey.out"
    else
        log "waiting for ipsecd's IKE rekey_time (rekey in $(ctl status --json | jq '.ike_sas[0].rekey_in_seconds') s)"
    fi
    rk_wait "$label" 90 "[ \"\$S_I\" != $o_i ] && [ \"\$S_R\" != $o_r ]"
    log "rekeyed $(( EPOCHSECONDS - t0 )) s after the ping started"
    sleep 2
    ss_ping_stop
    rk_show
    ctl status --json > "$E2E_OUT/status-$RK_ROUND-ike-$who.json"
    sw --list-sas > "$E2E_OUT/swanctl-$RK_ROUND-ike-$who.txt" 2>&1
    [ "$S_I" != "$o_i" ] && [ "$S_R" != "$o_r" ] || fail "IKE SPIs did not change"
    log "ok: IKE SPIs $o_i/$o_r -> $S_I/$S_R on both sides; the old IKE SA is gone from both"
    assert_eq "CHILD SPIs (in out) survive the IKE SA rekey" "$o_in $o_out" "$S_IN $S_OUT"
    assert_ge "[ipsecd] last_rekey_seconds_ago of the new IKE SA" 0 "$S_LAST"
    if [ "$who" = ipsecd ]; then
        assert_ge "CREATE_CHILD_SA requests charon parsed (from ipsecd)" 1 $(( $(cc_requests) - q0 ))
        assert_eq "CREATE_CHILD_SA responses charon parsed" 0 $(( $(cc_responses) - r0 ))
    else
        assert_eq "CREATE_CHILD_SA requests charon parsed" 0 $(( $(cc_requests) - q0 ))
        assert_ge "CREATE_CHILD_SA responses charon parsed" 1 $(( $(cc_responses) - r0 ))
    fi
    assert_ge "echoes answered across the rekey" 10 "$SS_PING_REPLIES"
    assert_eq "echoes lost across the rekey" 0 "$SS_PING_LOST"
    rk_traffic_after "$label"
    cc_mark
    RK_DONE+=("$label: $o_i/$o_r -> $S_I/$S_R, CHILD $S_IN/$S_OUT kept, $SS_PING_REPLIES echoes, 0 lost")
}

# rk_not_yet child|ike OLD...: ipsecd has not finished rekeying yet (no
# installed CHILD SA replacing our inbound SPI OLD; no established IKE SA but
# OLD_SPI_I): the ping started before the switch. Otherwise ipsecd's timer beat
# this machine's pace (the configured times are too short for it): said so.
rk_not_yet() {
    local v; v=$(rk_ours)
    if [ "$1" = child ]; then
        awk -v o="$2" '$1 == "child" && $2 == "installed" && $6 == o { bad = 1 } END { exit bad }' <<< "$v" && return 0
    else
        awk -v o="$2" '$1 == "ike" && $4 == "established" && $2 != o { bad = 1 } END { exit bad }' <<< "$v" && return 0
    fi
    fail "the $1 SA was rekeyed before the ping started (this machine is slower than the lifetimes allow for): ipsecd lists $(xargs <<< "$v")"
}

rk_sw_terminate_child() {
    step "$RK_ROUND: swanctl --terminate --child ss-child"
    sw --terminate --child ss-child --timeout 30 > "$INTEROP_W/terminate.out" 2>&1 \
        || { cat "$INTEROP_W/terminate.out"; fail "swanctl --terminate --child ss-child"; }
    rk_clean_wait "swanctl --terminate --child" 30 1
    RK_DONE+=("$RK_ROUND: CHILD SA deleted by charon: nothing left, the IKE SA stays on both")
}
rk_sw_terminate_ike() {
    step "$RK_ROUND: swanctl --terminate --ike ss"
    sw --terminate --ike ss --timeout 30 > "$INTEROP_W/terminate.out" 2>&1 \
        || { cat "$INTEROP_W/terminate.out"; fail "swanctl --terminate --ike ss"; }
    rk_clean_wait "swanctl --terminate --ike" 30 0
    RK_DONE+=("$RK_ROUND: IKE SA deleted by charon: nothing left")
}
rk_down() {
    step "$RK_ROUND: ipsecctl down $OUR"
    ctl down "$OUR" || fail "ipsecctl down $OUR"
    rk_clean_wait "ipsecctl down" 30 0
    RK_DONE+=("$RK_ROUND: IKE SA deleted by ipsecd: nothing left")
}

# ---- main
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
RK_DONE=()

# ipsecd's CHILD SA lifetime in R1/R3: soft after exactly 30 s (no jitter),
# hard long after (the rekey must come from the soft limit)
CHILD_SHORT='"rekey_time": "30s", "life_time": "300s", "rand_time": 0,'

step "R1: ipsecd initiates, no PFS, ipsecd's CHILD rekey_time 30 s"
rk_up R1 initiator "$ESP_PLAIN" "" "$CHILD_SHORT"
rk_child_rekey ipsecd no
rk_sw_terminate_child     # before ipsecd's next rekey, 30 s after this one
rk_sw_terminate_ike
stop_ipsecd

step "R2: charon initiates, PFS (x25519) on both sides, ipsecd's lifetimes long (defaults)"
rk_up R2 responder "$ESP_PFS" "" ""
rk_child_rekey strongswan yes
rk_ike_rekey strongswan
rk_sw_terminate_ike
stop_ipsecd

step "R3: ipsecd initiates, PFS (x25519), ipsecd's CHILD rekey_time 30 s"
rk_up R3 initiator "$ESP_PFS" "" "$CHILD_SHORT"
rk_child_rekey ipsecd yes
rk_down
stop_ipsecd

step "R4: charon initiates, no PFS, ipsecd's IKE rekey_time 60 s"
rk_up R4 responder "$ESP_PLAIN" '"rekey_time": "60s", "rand_time": 0,' ""
rk_child_rekey strongswan no
rk_ike_rekey ipsecd
rk_down
stop_ipsecd

sw_stop
step "summary: rekeys and deletes between ipsecd and strongSwan"
printf '    %s\n' "${RK_DONE[@]}"
pass "interop-strongswan-rekey"
