#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 certificate authentication ("auth": "pubkey") on Debian's real kernel,
# hostA - gwA = gwB - hostB, tunnel 198.51.100.0/24 <-> 203.0.113.0/24, IKE
# aes256gcm16-prfsha256-x25519, ESP aes256gcm16. The test makes its own PKI at run time
# with the openssl command (nothing generated is committed): a test CA (ECDSA P-256,
# "C=DE, O=Example, CN=ipsecctl e2e CA") issuing gw-a-TYPE and gw-b-TYPE certificates
# for TYPE ecdsa (P-256), rsa (2048, rsaEncryption) and ed25519, with subjectAltName
# DNS:gw-a.example / DNS:gw-b.example (the ids: fqdn:gw-a.example, fqdn:gw-b.example),
# and a second, unrelated CA ("C=DE, O=Rogue, CN=rogue e2e CA") issuing gw-b-rogue.
# Each side holds its own certificate and key and only the test CA for its peer: the
# peer's certificate must come in a CERT payload, asked for with a CERTREQ.
#
# Sub-case 1, ipsecd <-> ipsecd (ECDSA P-256): gwA initiates. Both show the IKE SA
#   established with the CHILD SA installed (status --json: SPIs equal/crossed),
#   peer_auth "pubkey", peer_id the peer's fqdn and peer_cert the peer's subject, and
#   'ipsecctl status' prints the "peer ... (pubkey, certificate SUBJECT)" line; a ping
#   hostA -> hostB is answered and the four kernel ESP SA counters (out and in on both
#   gateways) grow; 'ipsecctl down' leaves no SA or policy.
# Sub-case 2, ipsecd (gwA) <-> strongSwan's charon (gwB, swanctl: local pubkey with its
#   certificate, remote pubkey with cacerts = the test CA, default send_cert ifasked and
#   send_certreq yes, rsa_pss = yes), for each TYPE, ipsecd as initiator ('ipsecctl up')
#   and as responder ('swanctl --initiate'): the same checks on ipsecd's side, plus
#   swanctl --list-sas shows the IKE SA ESTABLISHED with ipsecd's SPIs and the CHILD SA
#   INSTALLED with crossed SPIs and its packet counters grown by the ping; charon's log
#   says it received a CERTREQ for the test CA (our CERTREQ's hash names it), received
#   our end entity certificate and sent its own, and authenticated ipsecd with the
#   signature scheme expected for TYPE (ECDSA_WITH_SHA256_DER, RSA_EMSA_PSS_SHA2_256
#   (RFC 7427 with RSASSA-PSS, from a plain rsaEncryption key), ED25519; ipsecd's own log
#   does not name the scheme). A TYPE charon cannot load a key of is an explicit SKIP.
# Sub-case 3, negative: charon presents gw-b-rogue (another CA), once as responder to
#   ipsecd's 'up', once as initiator: ipsecd installs no CHILD SA and holds no IKE SA,
#   the kernel on gwA has no SA, and both its 'status --json' closed entry (state
#   failed) and its log say "unable to get local issuer certificate"; as initiator,
#   ipsecd deletes the IKE SA charon had completed (charon and gwB's kernel end up
#   empty); as responder, charon is told AUTHENTICATION_FAILED.
# Sub-case 4, IKE fragmentation (RFC 7383): gw-a-big and gw-b-big are RSA-4096 end
#   entities (one key for both) under two intermediates (test CA -> Intermediate 1 ->
#   Intermediate 2, RSA 2048), so each IKE_AUTH (three certificates, a 512-byte signature) exceeds 1280 bytes.
#   4a, ipsecd <-> ipsecd (before charon starts), with nftables on both gateways dropping
#   30% of the IKE datagrams whose first payload is SKF: the tunnel comes up (traffic and
#   counters as in sub-case 1), both sides' status counters show fragments sent and
#   messages reassembled, and the captures (both gateways' wan, analysed by
#   tools/ike_pcap.py) show IKE_AUTH in SKF fragments both ways and no IKE datagram over
#   1280 bytes. 4b, ipsecd <-> charon (charon: gw-b-big with the intermediates in
#   x509ca/, fragmentation = yes and fragment_size 1280 by default), ipsecd as initiator
#   and as responder: up with traffic on both sides; the captures show SKF both ways
#   within 1280 bytes; charon's log says it split its IKE_AUTH into fragments, reassembled
#   ours and received our intermediates; ipsecd's counters show fragments sent and a
#   message reassembled.
# Evidence in the job folder: ipsecd-*.log, charon.log, status-*.json, swanctl-*.txt,
# frag-*.pcap (with their ike_pcap.py summaries, frag-*.txt), certs/ (the
# certificates, no keys).
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
. "$E2E_DIR/strongswan/charon.sh"

# on failure: the current daemons' logs, then lib.sh's fail (the kernel state)
CUR_IPSECD=''
eval "$(declare -f fail | sed '1s/^fail /e2e_fail /')"
fail() {
    local f
    for f in ${CUR_IPSECD:+"$E2E_OUT/ipsecd-$CUR_IPSECD.log"} ${SW_LOG:+"$SW_LOG"}; do
        [ -r "$f" ] || continue
        echo "---- $(basename "$f"), last 60 lines ----"
        tail -n 60 "$f"
    done
    if [ -n "$SW_DIR" ]; then echo "---- swanctl --list-sas ----"; sw --list-sas 2>&1 | head -n 40; fi
    e2e_fail "$@"
}
require_ipsecd
sw_require
command -v openssl >/dev/null 2>&1 || skip "the openssl command is not installed (apt-get install openssl)"

# the binaries as they are now (see ikev2-children.sh: a relink on the host during the
# run would be seen live over 9p)
BIN=$(mktemp -d /tmp/certs-bin.XXXXXX) || fail "mktemp"
{ cp "$IPSECD" "$BIN/ipsecd" && cp "$IPSECCTL" "$BIN/ipsecctl"; } || fail "copy ipsecd and ipsecctl into $BIN"
IPSECD=$BIN/ipsecd IPSECCTL=$BIN/ipsecctl
# shellcheck disable=SC2034  # lib.sh's ipsecctl_in
IPSECCTL_CMD=("$IPSECCTL")

load_modules
topo_gateways

W=$(mktemp -d /tmp/ikev2-certs.XXXXXX) || fail "mktemp"
PKI=$W/pki
mkdir -p "$PKI" "$E2E_OUT/certs" || fail "mkdir $PKI"
COUNT=5
TYPES=(ecdsa rsa ed25519)
CA_SUBJECT='C=DE, O=Example, CN=ipsecctl e2e CA'
ROGUE_SUBJECT='C=DE, O=Rogue, CN=rogue e2e CA'
SKIPPED=() RESULTS=()

# ------------------------------------------------------------------ the PKI (openssl)
# genkey TYPE FILE: a private key (PKCS#8 PEM), mode 0600
genkey() {
    local out
    case $1 in
        ecdsa)   out=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" 2>&1);;
        rsa)     out=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" 2>&1);;
        ed25519) out=$(openssl genpkey -algorithm ED25519 -out "$2" 2>&1);;
        rsa4096) out=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$2" 2>&1);;
        big)     out=$(cp "$PKI/big.key" "$2" 2>&1);;  # the RSA-4096 key made once
    esac || { printf '%s\n' "$out"; fail "openssl genpkey ($1) for $2"; }
    chmod 600 "$2"
}
# slash DN: "C=DE, O=Example, CN=x" -> "/C=DE/O=Example/CN=x" (openssl -subj)
slash() { local s=$1; echo "/${s//, //}"; }
# mkca NAME SUBJECT: a self-signed ECDSA P-256 CA, NAME.key and NAME.pem
mkca() {
    genkey ecdsa "$PKI/$1.key"
    openssl req -x509 -new -key "$PKI/$1.key" -subj "$(slash "$2")" -days 2 -sha256 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -out "$PKI/$1.pem" 2> "$PKI/$1.err" || { cat "$PKI/$1.err"; fail "openssl req -x509 ($1)"; }
}
# mkleaf CA NAME TYPE SUBJECT DNS: NAME.key (TYPE) and NAME.pem issued by CA, with
# subjectAltName DNS:DNS
mkleaf() {
    local ca=$1 n=$2
    genkey "$3" "$PKI/$n.key"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:%s\n' "$5" > "$PKI/$n.ext"
    { openssl req -new -key "$PKI/$n.key" -subj "$(slash "$4")" -out "$PKI/$n.csr" &&
      openssl x509 -req -in "$PKI/$n.csr" -CA "$PKI/$ca.pem" -CAkey "$PKI/$ca.key" \
          -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$PKI/$n.ext" -out "$PKI/$n.pem"
    } > "$PKI/$n.err" 2>&1 || { cat "$PKI/$n.err"; fail "openssl: certificate $n"; }
    cp "$PKI/$n.pem" "$E2E_OUT/certs/"
}
subject_of() { printf 'C=DE, O=Example, CN=%s' "$1"; }
# mkint ISSUER NAME SUBJECT: an intermediate CA (RSA 2048), NAME.key and NAME.pem
mkint() {
    local n=$2
    genkey rsa "$PKI/$n.key"
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$PKI/$n.ext"
    { openssl req -new -key "$PKI/$n.key" -subj "$(slash "$3")" -out "$PKI/$n.csr" &&
      openssl x509 -req -in "$PKI/$n.csr" -CA "$PKI/$1.pem" -CAkey "$PKI/$1.key" \
          -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$PKI/$n.ext" -out "$PKI/$n.pem"
    } > "$PKI/$n.err" 2>&1 || { cat "$PKI/$n.err"; fail "openssl: intermediate CA $n"; }
    cp "$PKI/$n.pem" "$E2E_OUT/certs/"
}

step "PKI: the test CA, gw-a-TYPE and gw-b-TYPE for ${TYPES[*]}; a rogue CA and gw-b-rogue (openssl $(openssl version | cut -d' ' -f2))"
t0=$EPOCHSECONDS
mkca ca "$CA_SUBJECT"
mkca rogue "$ROGUE_SUBJECT"
cp "$PKI/ca.pem" "$PKI/rogue.pem" "$E2E_OUT/certs/"
for t in "${TYPES[@]}"; do
    mkleaf ca "gw-a-$t" "$t" "$(subject_of "gw-a-$t")" gw-a.example
    mkleaf ca "gw-b-$t" "$t" "$(subject_of "gw-b-$t")" gw-b.example
done
mkleaf rogue gw-b-rogue ecdsa "$(subject_of gw-b-rogue)" gw-b.example
mkint ca int1 'C=DE, O=Example, CN=ipsecctl e2e Intermediate 1'
mkint int1 int2 'C=DE, O=Example, CN=ipsecctl e2e Intermediate 2'
# one RSA-4096 key for both (key generation under the guest's TCG takes about a minute)
genkey rsa4096 "$PKI/big.key"
for g in a b; do
    mkleaf int2 "gw-$g-big" big "$(subject_of "gw-$g-big")" "gw-$g.example"
    # ipsecd's cert file: the end entity, then its intermediates
    cat "$PKI/gw-$g-big.pem" "$PKI/int2.pem" "$PKI/int1.pem" > "$PKI/gw-$g-bigchain.pem"
    cp "$PKI/gw-$g-big.key" "$PKI/gw-$g-bigchain.key" && chmod 600 "$PKI/gw-$g-bigchain.key"
done
for n in ca rogue gw-a-ecdsa gw-b-rsa gw-b-ed25519 gw-b-rogue; do
    log "$n: $(openssl x509 -in "$PKI/$n.pem" -noout -subject -issuer -ext subjectAltName 2>/dev/null | grep -v 'Subject Alternative' | tr -s ' \n' ' ')"
done
log "PKI made in $(( EPOCHSECONDS - t0 )) s"

# ------------------------------------------------------------------ ipsecd
# our_conf FILE CONN LOCAL REMOTE LID RID LTS RTS CERT START: one connection, pubkey on
# both sides (our certificate CERT and its key; the peer: the test CA only)
our_conf() {
    cat > "$1" <<EOF
{
  "connections": {
    "$2": {
      "version": 2,
      "local": {"address": "$3", "id": "fqdn:$5", "auth": "pubkey",
                "cert": "$PKI/${9}.pem", "key": "$PKI/${9}.key"},
      "remote": {"address": "$4", "id": "fqdn:$6", "auth": "pubkey", "cacerts": "$PKI/ca.pem"},
      "proposals": ["aes256gcm16-prfsha256-x25519"],
      "children": {
        "net": {
          "mode": "tunnel",
          "local_ts": ["$7"],
          "remote_ts": ["$8"],
          "esp_proposals": ["aes256gcm16"],
          "start_action": "${10}"
        }
      }
    }
  }
}
EOF
}
conf_a() { our_conf "$1" to-b 192.0.2.1 192.0.2.2 gw-a.example gw-b.example 198.51.100.0/24 203.0.113.0/24 "$2" "$3"; }
conf_b() { our_conf "$1" to-a 192.0.2.2 192.0.2.1 gw-b.example gw-a.example 203.0.113.0/24 198.51.100.0/24 "$2" "$3"; }

# our_view NAME: "STATE SPI_I SPI_R CHILD_STATE SPI_IN SPI_OUT|PEER_ID|PEER_AUTH|PEER_CERT"
# of its first IKE SA and that SA's first installed CHILD SA (empty when it has none)
our_view() {
    lc_status "$1" | jq -r '.ike_sas[0] // empty | . as $s
        | ([(.children // [])[] | select(.state == "installed")][0] // {state: "-", spi_in: "-", spi_out: "-"}) as $c
        | "\($s.state) \($s.spi_i) \($s.spi_r) \($c.state) \($c.spi_in) \($c.spi_out)|\($s.peer_id)|\($s.peer_auth)|\($s.peer_cert)"' 2>/dev/null
}

# check_ours NAME LABEL PEER_FQDN PEER_SUBJECT: its status (kept as status-LABEL.json):
# established, CHILD SA installed, authenticated by certificate PEER_SUBJECT; sets
# V_SPI_I V_SPI_R V_IN V_OUT (0x%08x for the CHILD SPIs)
check_ours() {
    local n=$1 label=$2 v st cs ci co pid pauth pcert text
    lc_status "$n" > "$E2E_OUT/status-$label.json"
    text=$(ipsecd_ctl "$n" status)
    printf '%s\n' "$text" | sed "s/^/    [$label status] /"
    v=$(our_view "$n")
    IFS='|' read -r st pid pauth pcert <<< "$v"
    read -r st V_SPI_I V_SPI_R cs ci co <<< "$st"
    assert_eq "[$label] IKE SA state, CHILD SA state" "established installed" "$st $cs"
    assert_eq "[$label] peer_id" "fqdn:$3" "$pid"
    assert_eq "[$label] peer_auth" pubkey "$pauth"
    assert_eq "[$label] peer_cert (the subject of the certificate the peer sent)" "$4" "$pcert"
    assert_eq "[$label] 'ipsecctl status' peer line" 1 \
        "$(grep -E '^ +peer +' <<< "$text" | grep -cF "fqdn:$3 (pubkey, certificate $4)")"
    V_IN=$(printf '0x%08x' "$ci") V_OUT=$(printf '0x%08x' "$co")
}

# wait_ours NAME [CHARON_CONN]: (<= 40 s) until NAME has an installed CHILD SA (and
# charon an INSTALLED one of CHARON_CONN)
wait_ours() {
    local i v s
    for (( i = 0; i < 80; i++ )); do
        v=$(our_view "$1")
        if [[ $v == "established "*" installed "* ]]; then
            [ -z "${2:-}" ] && return 0
            s=$(sw_view "$2")
            [[ $s == ESTABLISHED*" INSTALLED "* ]] && return 0
        fi
        sleep 0.5
    done
    log "no CHILD SA up within 40 s: ipsecd: '${v:-}', charon: '${s:-not asked}'"
    return 1
}

# traffic LABEL OUT IN: ping hostA -> hostB; the ESP SAs OUT (gwA->gwB) and IN
# (gwB->gwA) grow on both gateways' kernels
traffic() {
    local a b c d
    a=$(sa_snap gwA 192.0.2.1 192.0.2.2 esp "$2"); b=$(sa_snap gwB 192.0.2.1 192.0.2.2 esp "$2")
    c=$(sa_snap gwB 192.0.2.2 192.0.2.1 esp "$3"); d=$(sa_snap gwA 192.0.2.2 192.0.2.1 esp "$3")
    ping_ok hostA 203.0.113.10 "$COUNT"
    sa_grew "[$1] gwA out" "$a" gwA 192.0.2.1 192.0.2.2 esp "$2" "$COUNT"
    sa_grew "[$1] gwB in" "$b" gwB 192.0.2.1 192.0.2.2 esp "$2" "$COUNT"
    sa_grew "[$1] gwB out" "$c" gwB 192.0.2.2 192.0.2.1 esp "$3" "$COUNT"
    sa_grew "[$1] gwA in" "$d" gwA 192.0.2.2 192.0.2.1 esp "$3" "$COUNT"
}

# clean_wait NS...: (<= 30 s) until the namespaces hold no SA and no
# policy; then asserts it
clean_wait() {
    local ns i ok
    for (( i = 0; i < 60; i++ )); do
        ok=1
        for ns in "$@"; do [ "$(xfrm_count "$ns")" = "0 0" ] || ok=0; done
        [ "$ok" = 1 ] && break
        sleep 0.5
    done
    for ns in "$@"; do assert_eq "[$ns] SAs and policies after down" "0 0" "$(xfrm_count "$ns")"; done
}

# ================================================================== sub-case 1
step "1: ipsecd (gwA) <-> ipsecd (gwB), ECDSA P-256 certificates of the test CA"
conf_a "$W/a.json" gw-a-ecdsa start
conf_b "$W/b.json" gw-b-ecdsa none
for f in a b; do
    run ip netns exec gwA "$IPSECCTL" validate "$W/$f.json" || fail "ipsecctl validate $f.json"
done
CUR_IPSECD=b; ipsecd_start gwB b "$W/b.json"
CUR_IPSECD=a; ipsecd_start gwA a "$W/a.json"
ipsecd_pair_up a b to-b tunnel 1-gwA 1-gwB
check_ours a 1-gwA gw-b.example "$(subject_of gw-b-ecdsa)"
check_ours b 1-gwB gw-a.example "$(subject_of gw-a-ecdsa)"
traffic 1 "$PAIR_OUT" "$PAIR_IN"
ipsecd_pair_down a b to-b gwA gwB
ipsecd_stop a b
RESULTS+=("1 ipsecd<->ipsecd ecdsa: PASS")

# ------------------------------------------------------------------ fragmentation helpers
# frag_capture LABEL: capture what both gateways send on wan (IKE only)
frag_capture() {
    capture_start "frag-$1" gwA wan udp port 500 or udp port 4500
    capture_start "frag-$1" gwB wan udp port 500 or udp port 4500
}
# frag_wire LABEL: after capture_stop, the IKE datagrams each gateway sent
# (tools/ike_pcap.py): IKE_AUTH went in SKF fragments both ways, none over 1280 bytes of IP
frag_wire() {
    local f sum skf max dir
    for f in $(capture_files "frag-$1"); do
        dir=$(basename "$f" .pcap); dir=${dir##*.}
        python3 "$E2E_DIR/tools/ike_pcap.py" "$f" > "${f%.pcap}.txt" || fail "ike_pcap.py $f"
        sed "s/^/    [$dir sent] /" "${f%.pcap}.txt" | head -n 24
        sum=$(tail -n 1 "${f%.pcap}.txt")
        skf=$(sed -n 's/.*skf=\([0-9]*\).*/\1/p' <<< "$sum")
        max=$(sed -n 's/.*max_ip=\([0-9]*\).*/\1/p' <<< "$sum")
        assert_ge "[$1] IKE_AUTH datagrams $dir sent as SKF fragments (capture)" 2 \
            "$(grep -c ' IKE_AUTH [IR] 53 ' "${f%.pcap}.txt")"
        (( ${max:-99999} <= 1280 )) || fail "[$1] $dir sent an IKE datagram of $max bytes (> 1280)"
        log "ok: [$1] $dir: $skf SKF datagrams, the largest IKE datagram $max bytes <= 1280"
    done
}
# frag_counters NAME LABEL: ipsecd's fragment counters (status --json): fragments sent
# and a message reassembled
frag_counters() {
    local c fs fr
    c=$(lc_status "$1" | jq -r '.counters | "\(.fragments_sent) \(.fragments_received) \(.fragments_reassembled) \(.fragments_dropped)"')
    log "[$2] ipsecd $1 fragments sent/received/reassembled/dropped: $c"
    read -r fs _ fr _ <<< "$c"
    assert_ge "[$2] ipsecd $1: fragments sent" 2 "$fs"
    assert_ge "[$2] ipsecd $1: messages reassembled" 1 "$fr"
}

# ================================================================== sub-case 4a
step "4a: ipsecd <-> ipsecd, RSA-4096 under two intermediates, 30% of the SKF fragments dropped"
for m in nf_tables nft_numgen; do modprobe "$m" || fail "cannot load kernel module $m"; done
for ns in gwA gwB; do
    printf '%s\n' 'table inet e2e_fragloss {' '    chain out {' \
        '        type filter hook output priority 0; policy accept;' \
        '        udp dport 500 @th,192,8 53 numgen random mod 100 < 30 counter drop' '    }' '}' |
        ip netns exec "$ns" nft -f - || fail "nft: fragment loss on $ns"
done
conf_a "$W/fa.json" gw-a-bigchain start
conf_b "$W/fb.json" gw-b-bigchain none
frag_capture 4a
CUR_IPSECD=fb; ipsecd_start gwB fb "$W/fb.json"
CUR_IPSECD=fa; ipsecd_start gwA fa "$W/fa.json"
ipsecd_pair_up fa fb to-b tunnel 4a-gwA 4a-gwB
capture_stop
lost=0
for ns in gwA gwB; do
    c=$(ip netns exec "$ns" nft list chain inet e2e_fragloss out | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
    log "[4a] nft on $ns dropped ${c:-?} SKF datagrams"
    lost=$(( lost + ${c:-0} ))
    ip netns exec "$ns" nft delete table inet e2e_fragloss || fail "nft delete table on $ns"
done
check_ours fa 4a-gwA gw-b.example "$(subject_of gw-b-big)"
check_ours fb 4a-gwB gw-a.example "$(subject_of gw-a-big)"
frag_wire 4a
frag_counters fa 4a
frag_counters fb 4a
traffic 4a "$PAIR_OUT" "$PAIR_IN"
ipsecd_pair_down fa fb to-b gwA gwB
ipsecd_stop fa fb
RESULTS+=("4a ipsecd<->ipsecd rsa4096 + 2 intermediates, fragmented, $lost SKF datagrams lost: PASS")

# ================================================================== sub-case 2
step "2: ipsecd (gwA) <-> charon (gwB)"
SW_LOG=$E2E_OUT/charon.log
# charon: also rsa_pss = yes (its RSA signatures RSASSA-PSS, as ours), and swanctl
# parses the keys of every type (openssl, pkcs8)
eval "$(declare -f sw_write_strongswan_conf | sed '1s/^sw_write_strongswan_conf /sw_write_strongswan_conf_orig /')"
sw_write_strongswan_conf() {
    sw_write_strongswan_conf_orig "$@"
    sed -i 's/^    load = pem pkcs1 x509 pubkey$/    load = pem pkcs1 pkcs8 openssl x509 pubkey/
            s/^    load_modular = no$/    load_modular = no\n    rsa_pss = yes/' "$1/strongswan.conf"
}
SWD=$W/charon
sw_start gwB "$SWD"
grep -E 'rsa_pss|    load = pem' "$SWD/strongswan.conf" | sed 's/^ */    [strongswan.conf] /'

# sw_conf CERT: charon's swanctl.conf (next to the x509, private... folders) for
# connection to-ipsecd: its certificate CERT (its key copied into private/), the test
# CA for ipsecd; loads it. Sets SW_KEY_LOADED (the "loaded ... key" line, or empty)
sw_conf() {
    local c=$SWD/conf out
    rm -f "$c/private/"*
    cp "$PKI/$1.key" "$c/private/" || fail "copy $1.key"
    cat > "$c/swanctl.conf" <<EOF
connections {
    to-ipsecd {
        version = 2
        local_addrs = 192.0.2.2
        remote_addrs = 192.0.2.1
        proposals = aes256gcm16-prfsha256-x25519
        mobike = no
        dpd_delay = 0
        local {
            auth = pubkey
            certs = $PKI/$1.pem
            id = gw-b.example
        }
        remote {
            auth = pubkey
            id = gw-a.example
            cacerts = $PKI/ca.pem
        }
        children {
            net {
                mode = tunnel
                local_ts = 203.0.113.0/24
                remote_ts = 198.51.100.0/24
                esp_proposals = aes256gcm16
                start_action = none
                close_action = none
                dpd_action = clear
            }
        }
    }
}
EOF
    cp "$c/swanctl.conf" "$E2E_OUT/swanctl-$1.conf"
    out=$(sw --load-all --file "$c/swanctl.conf" 2>&1) || { printf '%s\n' "$out"; fail "swanctl --load-all ($1)"; }
    printf '%s\n' "$out" | grep -v 'opening directory' | sed 's/^/    [swanctl --load-all] /'
    SW_KEY_LOADED=$(grep -E "^loaded .* key from '.*/$1.key'" <<< "$out")
}

# charon_log_since N: charon's log after line N
charon_log_since() { tail -n +"$(( $1 + 1 ))" "$SW_LOG"; }
# scheme TYPE: how charon names the signature scheme of ipsecd's AUTH (RFC 7427)
scheme() { case $1 in ecdsa) echo 'ECDSA_WITH_SHA256_DER';; rsa) echo 'RSA_EMSA_PSS_SHA2_256';; ed25519) echo 'ED25519';; esac; }

# initiate_as ROLE NAME LABEL: ipsecd NAME initiates ('ipsecctl up'), or charon does
# (ROLE responder: 'swanctl --initiate', which must succeed)
initiate_as() {
    if [ "$1" = initiator ]; then
        run ipsecd_ctl "$2" up to-b || log "up: exit $?"
        return
    fi
    log "+ [gwB] swanctl --initiate --child net"
    sw --initiate --child net --timeout 30 > "$E2E_OUT/swanctl-initiate-$3.txt" 2>&1 ||
        { sed 's/^/    /' "$E2E_OUT/swanctl-initiate-$3.txt" | tail -n 20; fail "[$3] swanctl --initiate failed"; }
}

n=0
for t in "${TYPES[@]}"; do
    for role in initiator responder; do
        n=$(( n + 1 ))
        label="2-$t-$role"
        step "2 ($t, ipsecd $role): gw-a-$t in ipsecd, gw-b-$t in charon"
        sw_conf "gw-b-$t"
        if [ -z "$SW_KEY_LOADED" ]; then
            log "SKIP: sub-case $label: charon (strongSwan 5.9.8, plugins of strongswan.conf) could not load the $t key gw-b-$t.key (see the swanctl output above)"
            SKIPPED+=("$label: charon could not load a $t private key")
            RESULTS+=("$label: SKIP (charon cannot load a $t key)")
            continue
        fi
        conf_a "$W/c$n.json" "gw-a-$t" none
        CUR_IPSECD=c$n
        ipsecd_start gwA "c$n" "$W/c$n.json"
        l0=$(wc -l < "$SW_LOG")
        initiate_as "$role" "c$n" "$label"
        wait_ours "c$n" to-ipsecd || fail "[$label] no CHILD SA on both sides"
        check_ours "c$n" "$label" gw-b.example "$(subject_of "gw-b-$t")"
        sw --list-sas > "$E2E_OUT/swanctl-list-sas-$label.txt" 2>&1
        sed 's/^/    [swanctl --list-sas] /' "$E2E_OUT/swanctl-list-sas-$label.txt"
        read -r s_st s_i s_r _ s_cst s_mode _ s_in s_out s_pin s_pout <<< "$(sw_view to-ipsecd)"
        assert_eq "[$label] charon: IKE SA state and SPIs (swanctl --list-sas)" \
            "ESTABLISHED $V_SPI_I $V_SPI_R" "$s_st 0x$s_i 0x$s_r"
        assert_eq "[$label] charon: CHILD SA state, mode, SPIs in/out = ipsecd's out/in" \
            "INSTALLED TUNNEL $V_OUT $V_IN" "$s_cst $s_mode 0x$s_in 0x$s_out"
        cl=$(charon_log_since "$l0")
        printf '%s\n' "$cl" | grep -E 'cert|authentication of|signature|hash algorithm' | sed 's/^/    [charon.log] /'
        assert_ge "[$label] charon received our CERTREQ and knew its CA" 1 \
            "$(grep -cF "received cert request for \"$CA_SUBJECT\"" <<< "$cl")"
        assert_ge "[$label] charon received our certificate (CERT)" 1 \
            "$(grep -cF "received end entity cert \"$(subject_of "gw-a-$t")\"" <<< "$cl")"
        assert_ge "[$label] charon sent its certificate (CERT)" 1 \
            "$(grep -cF "sending end entity cert \"$(subject_of "gw-b-$t")\"" <<< "$cl")"
        assert_ge "[$label] charon authenticated ipsecd with $(scheme "$t")" 1 \
            "$(grep -cE "authentication of 'gw-a.example' with $(scheme "$t")[A-Z0-9_]* successful" <<< "$cl")"
        log "charon's own AUTH: $(grep -oE "authentication of 'gw-b.example' \(myself\) with [A-Z0-9_]+" <<< "$cl" | head -n1)"
        traffic "$label" "$V_OUT" "$V_IN"
        read -r _ _ _ _ _ _ _ _ _ s_pin2 s_pout2 <<< "$(sw_view to-ipsecd)"
        log "charon's CHILD SA packets in/out (swanctl): $s_pin/$s_pout -> $s_pin2/$s_pout2"
        (( s_pin2 - s_pin >= COUNT && s_pout2 - s_pout >= COUNT )) ||
            fail "[$label] charon's CHILD SA counters: expected >= $COUNT more packets in and out, saw $s_pin/$s_pout -> $s_pin2/$s_pout2"
        run ipsecd_ctl "c$n" down to-b || fail "[$label] ipsecctl down"
        clean_wait gwA gwB
        assert_eq "[$label] IKE SAs after down: ipsecd / charon" "0 / 0" \
            "$(lc_ike_count "c$n") / $(sw --list-sas --raw 2>/dev/null | grep -c 'to-ipsecd')"
        ipsecd_stop "c$n"
        RESULTS+=("$label: PASS")
    done
done

# ================================================================== sub-case 3
# neg NAME LABEL: ipsecd NAME refused charon's gw-b-rogue: no IKE SA, no CHILD SA, no SA
# in gwA's kernel; status --json's closed entry and the log name the verify error
neg_checks() {
    local n=$1 label=$2 i closed
    for (( i = 0; i < 60; i++ )); do
        closed=$(lc_status "$n" | jq -r '.closed // [] | .[] | select(.state == "failed") | .reason')
        [ -n "$closed" ] && break
        sleep 0.5
    done
    lc_status "$n" > "$E2E_OUT/status-$label.json"
    ipsecd_ctl "$n" status | sed "s/^/    [$label status] /"
    printf '%s\n' "$closed" | sed "s/^/    [$label closed, failed] /"
    grep -E 'authentication|certificate' "$E2E_OUT/ipsecd-$n.log" | sed "s/^/    [ipsecd-$n.log] /" | head -n 10
    assert_ge "[$label] failed entries in status --json's closed list naming 'unable to get local issuer certificate'" 1 \
        "$(grep -c 'unable to get local issuer certificate' <<< "$closed")"
    assert_ge "[$label] ipsecd's log lines naming 'unable to get local issuer certificate'" 1 \
        "$(grep -c 'unable to get local issuer certificate' "$E2E_OUT/ipsecd-$n.log")"
    assert_eq "[$label] ipsecd's IKE SAs / installed CHILD SAs" "0 / 0" \
        "$(lc_ike_count "$n") / $(lc_installed "$n" | grep -c .)"
    assert_eq "[$label] [gwA] SAs, policies" "0 0" "$(xfrm_count gwA)"
}
step "3: charon presents gw-b-rogue (another CA): ipsecd must refuse it"
sw_conf gw-b-rogue
[ -n "$SW_KEY_LOADED" ] || fail "charon did not load gw-b-rogue.key"
for role in initiator responder; do
    n=$(( n + 1 ))
    label="3-rogue-$role"
    step "3 (ipsecd $role): charon with gw-b-rogue"
    conf_a "$W/c$n.json" gw-a-ecdsa none
    CUR_IPSECD=c$n
    ipsecd_start gwA "c$n" "$W/c$n.json"
    l0=$(wc -l < "$SW_LOG")
    if [ "$role" = initiator ]; then
        run ipsecd_ctl "c$n" up to-b || log "up: exit $?"
    else
        log "+ [gwB] swanctl --initiate --child net (expected to fail)"
        if sw --initiate --child net --timeout 30 > "$E2E_OUT/swanctl-initiate-$label.txt" 2>&1; then
            fail "[$label] swanctl --initiate succeeded: ipsecd accepted a certificate of another CA"
        fi
        log "ok: swanctl --initiate failed: $(tail -n 1 "$E2E_OUT/swanctl-initiate-$label.txt")"
    fi
    neg_checks "c$n" "$label"
    cl=$(charon_log_since "$l0")
    printf '%s\n' "$cl" | grep -E 'cert|authentication|AUTHENTICATION_FAILED|deleting|INFORMATIONAL' | sed 's/^/    [charon.log] /' | head -n 12
    if [ "$role" = responder ]; then
        assert_ge "[$label] charon was told AUTHENTICATION_FAILED" 1 "$(grep -c 'AUTHENTICATION_FAILED' <<< "$cl")"
    fi
    # as responder, charon installed its CHILD SA before ipsecd checked its AUTH: ipsecd
    # deletes the IKE SA it refused (INFORMATIONAL with a Delete, RFC 7296 §2.21.2)
    for (( i = 0; i < 20; i++ )); do
        [ "$(sw --list-sas --raw 2>/dev/null | grep -c 'to-ipsecd') $(xfrm_count gwB)" = "0 0 0" ] && break
        sleep 0.5
    done
    assert_eq "[$label] charon's IKE SAs of to-ipsecd, gwB's SAs and policies (<= 10 s after)" "0 0 0" \
        "$(sw --list-sas --raw 2>/dev/null | grep -c 'to-ipsecd') $(xfrm_count gwB)"
    sw --terminate --ike to-ipsecd --timeout 10 > /dev/null 2>&1 || true
    ipsecd_stop "c$n"
    RESULTS+=("$label: PASS")
done

# ================================================================== sub-case 4b
step "4b: ipsecd <-> charon, RSA-4096 under two intermediates: IKE_AUTH fragmented both ways"
cp "$PKI/int1.pem" "$PKI/int2.pem" "$SWD/conf/x509ca/" || fail "copy the intermediates into charon's x509ca/"
sw_conf gw-b-big
[ -n "$SW_KEY_LOADED" ] || fail "charon did not load gw-b-big.key"
for role in initiator responder; do
    n=$(( n + 1 ))
    label="4b-$role"
    step "4b (ipsecd $role): gw-a-bigchain in ipsecd, gw-b-big in charon"
    conf_a "$W/c$n.json" gw-a-bigchain none
    CUR_IPSECD=c$n
    ipsecd_start gwA "c$n" "$W/c$n.json"
    frag_capture "$label"
    l0=$(wc -l < "$SW_LOG")
    initiate_as "$role" "c$n" "$label"
    wait_ours "c$n" to-ipsecd || fail "[$label] no CHILD SA on both sides"
    capture_stop
    check_ours "c$n" "$label" gw-b.example "$(subject_of gw-b-big)"
    read -r s_st s_i s_r _ <<< "$(sw_view to-ipsecd)"
    assert_eq "[$label] charon: IKE SA state and SPIs (swanctl --list-sas)" \
        "ESTABLISHED $V_SPI_I $V_SPI_R" "$s_st 0x$s_i 0x$s_r"
    cl=$(charon_log_since "$l0")
    printf '%s\n' "$cl" | grep -E 'fragment|issuer cert|end entity cert' | sed 's/^/    [charon.log] /'
    assert_ge "[$label] charon split its IKE_AUTH into fragments" 1 \
        "$(grep -cE 'splitting IKE message \([0-9]+ bytes\) into [0-9]+ fragments' <<< "$cl")"
    assert_ge "[$label] charon reassembled ipsecd's fragmented IKE_AUTH" 1 \
        "$(grep -cE 'reassembled fragmented IKE message' <<< "$cl")"
    assert_ge "[$label] charon received ipsecd's intermediates" 1 \
        "$(grep -cF 'received issuer cert "C=DE, O=Example, CN=ipsecctl e2e Intermediate 2"' <<< "$cl")"
    frag_wire "$label"
    frag_counters "c$n" "$label"
    traffic "$label" "$V_OUT" "$V_IN"
    run ipsecd_ctl "c$n" down to-b || fail "[$label] ipsecctl down"
    clean_wait gwA gwB
    ipsecd_stop "c$n"
    RESULTS+=("$label: PASS")
done
rm -f "$SWD/conf/x509ca/int1.pem" "$SWD/conf/x509ca/int2.pem"

step "stop charon"
sw_stop
clean_wait gwA gwB

step "results"
for r in "${RESULTS[@]}"; do log "$r"; done
for s in "${SKIPPED[@]}"; do log "SKIP: $s"; done
pass "ikev2-certs: ${#RESULTS[@]} sub-cases, ${#SKIPPED[@]} skipped${SKIPPED:+ (${SKIPPED[*]})}"
