# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# strongSwan (charon + swanctl, Debian 12: 5.9.8) as an IKEv2 peer inside a
# network namespace, for the interop cases. Source after ../lib.sh:
#
#   . "$E2E_DIR/strongswan/charon.sh"
#   sw_require                       # skips when charon/swanctl are missing
#   sw_start NS DIR                  # private /run, own strongswan.conf and vici socket
#   sw_conn_conf DIR FILE ...        # write a swanctl.conf for one connection
#   sw_load DIR FILE                 # swanctl --load-all --file FILE
#   sw ARGS...                       # swanctl ARGS with this instance's config
#   sw_stop                          # SIGTERM charon, wait (bounded)
#
# One charon per namespace (see docs/interop.md): its pid file path
# (/var/run/charon.pid) is compiled in, so each instance runs in a private
# mount namespace with DIR/run bind-mounted on /run. strongswan.conf loads an
# explicit plugin list (load_modular = no) and logs to DIR/charon.log (kept by
# the caller in E2E_OUT).

SW_CHARON=${SW_CHARON:-/usr/lib/ipsec/charon}
SW_DIR='' SW_NS='' SW_PID=''
SW_LOG=${SW_LOG:-}   # charon's log file; default DIR/charon.log

sw_require() {
    [ -x "$SW_CHARON" ] || skip "strongSwan's charon is not installed ($SW_CHARON; apt-get install strongswan-charon)"
    command -v swanctl >/dev/null 2>&1 || skip "swanctl is not installed (apt-get install strongswan-swanctl)"
    local p missing=()
    for p in openssl gcm curve25519 chapoly kernel-netlink socket-default vici; do
        [ -e "/usr/lib/ipsec/plugins/libstrongswan-$p.so" ] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] || skip "strongSwan plugins missing: ${missing[*]} (libstrongswan-standard-plugins, libstrongswan-extra-plugins)"
}

# sw_write_strongswan_conf DIR: strongswan.conf for charon and swanctl (one
# setting per line: a value runs to the end of its line)
sw_write_strongswan_conf() {
    local d=$1
    cat > "$d/strongswan.conf" <<EOF
charon {
    load_modular = no
    load = random nonce openssl pem pkcs1 x509 pubkey curve25519 chapoly aes sha2 hmac gcm kdf kernel-netlink socket-default vici
    install_routes = no
    install_virtual_ip = no
    retransmit_timeout = 8
    retransmit_tries = 3
    plugins {
        vici {
            socket = unix://$d/charon.vici
        }
    }
    filelog {
        charon {
            path = ${SW_LOG:-$d/charon.log}
            time_format = %T
            append = yes
            flush_line = yes
            default = 1
            ike = 2
            cfg = 2
            knl = 1
            enc = 1
            net = 1
        }
    }
}
swanctl {
    socket = unix://$d/charon.vici
    load = pem pkcs1 x509 pubkey
}
EOF
}

# sw_start NS DIR: start charon in NS; DIR holds its config, run folder, log
sw_start() {
    local ns=$1 d=$2 i
    mkdir -p "$d/run" "$d/conf" || fail "mkdir $d"
    for i in x509 x509ca x509aa x509ocsp x509crl x509ac pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
        mkdir -p "$d/conf/$i"
    done
    sw_write_strongswan_conf "$d"
    SW_DIR=$d SW_NS=$ns SW_LOG=${SW_LOG:-$d/charon.log}
    log "+ [$ns] $SW_CHARON, log $SW_LOG"
    ip netns exec "$ns" unshare -m sh -c \
        "mount --bind '$d/run' /run && STRONGSWAN_CONF='$d/strongswan.conf' exec '$SW_CHARON'" \
        > "$d/charon.stdout" 2>&1 &
    E2E_PIDS+=("$!")
    for (( i = 0; i < 150; i++ )); do
        if [ -S "$d/charon.vici" ] && sw --stats >/dev/null 2>&1; then
            SW_PID=$(cat "$d/run/charon.pid" 2>/dev/null)
            log "charon in $ns is up (pid ${SW_PID:-?}, $(grep -o 'strongSwan [0-9.]*' "$SW_LOG" | head -n1), vici $d/charon.vici)"
            return 0
        fi
        sleep 0.2
    done
    cat "$d/charon.stdout" "$SW_LOG" 2>/dev/null | tail -n 30
    fail "charon did not come up in $ns within 30 s"
}

# sw ARGS...: swanctl with this instance's strongswan.conf (socket, plugins)
sw() { ip netns exec "$SW_NS" env STRONGSWAN_CONF="$SW_DIR/strongswan.conf" timeout 60 swanctl "$@"; }

# sw_load FILE: load FILE's connections and secrets (replacing what was loaded)
sw_load() {
    local out
    out=$(sw --load-all --file "$1" 2>&1) || { printf '%s\n' "$out"; fail "swanctl --load-all --file $1"; }
    log "swanctl --load-all: $(printf '%s\n' "$out" | grep -E 'loaded|successfully' | tr '\n' ';')"
}

# sw_conn_conf FILE NAME MODE LOCAL REMOTE LOCAL_ID REMOTE_ID IKE ESP LOCAL_TS REMOTE_TS PSK
#   one connection NAME with child NAME-child; LOCAL_TS/REMOTE_TS "-" means
#   dynamic (the addresses: transport mode between the gateways)
sw_conn_conf() {
    local f=$1 name=$2 mode=$3 l=$4 r=$5 lid=$6 rid=$7 ike=$8 esp=$9 lts=${10} rts=${11} psk=${12}
    {
        echo "connections {"
        echo "    $name {"
        echo "        version = 2"
        echo "        local_addrs = $l"
        echo "        remote_addrs = $r"
        echo "        proposals = $ike"
        echo "        mobike = no"
        echo "        dpd_delay = 0"
        echo "        local {"
        echo "            auth = psk"
        echo "            id = $lid"
        echo "        }"
        echo "        remote {"
        echo "            auth = psk"
        echo "            id = $rid"
        echo "        }"
        echo "        children {"
        echo "            $name-child {"
        echo "                mode = $mode"
        [ "$lts" = - ] || echo "                local_ts = $lts"
        [ "$rts" = - ] || echo "                remote_ts = $rts"
        echo "                esp_proposals = $esp"
        echo "                start_action = none"
        echo "                close_action = none"
        echo "                dpd_action = clear"
        echo "            }"
        echo "        }"
        echo "    }"
        echo "}"
        echo "secrets {"
        echo "    ike-$name {"
        echo "        id-1 = $lid"
        echo "        id-2 = $rid"
        echo "        secret = \"$psk\""
        echo "    }"
        echo "}"
    } > "$f"
}

# sw_sa_raw: 'swanctl --list-sas --raw' (one line per IKE SA, vici key=value)
sw_sa_raw() { sw --list-sas --raw 2>/dev/null; }

# sw_view NAME: charon's view of connection NAME's IKE SA and its CHILD SA, one
# line: "IKE_STATE SPI_I SPI_R IKE_ALGS CHILD_STATE MODE ESP_ALGS SPI_IN SPI_OUT
# PACKETS_IN PACKETS_OUT" (SPIs as swanctl prints them, hex without 0x;
# algorithms as in 'swanctl --list-sas': ENCR[-KEYSIZE][/INTEG][/PRF][/DH];
# '-' for what is missing); empty when charon has no IKE SA of NAME. One
# swanctl and one awk: process starts are slow in the guest.
sw_view() {
    sw --list-sas --ike "$1" --raw 2>/dev/null | awk -v name="$1" '
        function parse(s, M,   n, i, k, a) {
            n = split(s, a, /[ {}]+/)
            for (i = 1; i <= n; i++) {
                k = index(a[i], "=")
                if (k > 1 && !(substr(a[i], 1, k - 1) in M)) M[substr(a[i], 1, k - 1)] = substr(a[i], k + 1)
            }
        }
        function d(v) { return v == "" ? "-" : v }
        function algs(M,   s) {
            if (!("encr-alg" in M)) return "-"
            s = M["encr-alg"]
            if (("encr-keysize" in M) && M["encr-keysize"] != 0) s = s "-" M["encr-keysize"]
            if ("integ-alg" in M) s = s "/" M["integ-alg"]
            if ("prf-alg" in M) s = s "/" M["prf-alg"]
            if ("dh-group" in M) s = s "/" M["dh-group"]
            return s
        }
        index($0, "{" name " {") {
            c = index($0, "child-sas")
            parse(c ? substr($0, 1, c - 1) : $0, I)
            if (c) parse(substr($0, c), C)
            print d(I["state"]), d(I["initiator-spi"]), d(I["responder-spi"]), algs(I),
                  d(C["state"]), d(C["mode"]), algs(C), d(C["spi-in"]), d(C["spi-out"]),
                  d(C["packets-in"]), d(C["packets-out"])
            exit
        }'
}

# sw_stop: SIGTERM charon, wait (bounded, 15 s)
sw_stop() {
    local i
    [ -n "$SW_PID" ] || return 0
    log "+ [$SW_NS] stop charon (pid $SW_PID)"
    ip netns exec "$SW_NS" kill -TERM "$SW_PID" 2>/dev/null
    for (( i = 0; i < 75; i++ )); do kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$SW_PID" 2>/dev/null && { kill -KILL "$SW_PID" 2>/dev/null; log "charon did not stop on SIGTERM: killed"; }
    SW_PID=''
}

# sw_sas NAME: charon's IKE SAs of connection NAME and their CHILD SAs, one line
# each (one swanctl, one awk; all of them, also while a rekey has two):
#   ike UNIQUEID STATE SPI_I SPI_R
#   child IKE_UNIQUEID UNIQUEID STATE SPI_IN SPI_OUT ESP_ALGS
# SPIs as 0x lower-case hex (like 'ipsecctl status --json'), ESP_ALGS as in
# sw_view ('-' for what is missing). swanctl's raw format: "NAME {" opens a
# section, "}" closes it, "key=value" (a value may hold blanks), "key=[a b]".
sw_sas() {
    sw --list-sas --ike "$1" --raw 2>/dev/null | awk -v name="$1" '
        function hex(v) { return v == "" ? "-" : "0x" tolower(v) }
        function d(v) { return v == "" ? "-" : v }
        function algs(M,   s) {
            if (!("encr-alg" in M)) return "-"
            s = M["encr-alg"]
            if (("encr-keysize" in M) && M["encr-keysize"] != 0) s = s "-" M["encr-keysize"]
            if ("integ-alg" in M) s = s "/" M["integ-alg"]
            if ("dh-group" in M) s = s "/" M["dh-group"]
            return s
        }
        function close_section(   k) {
            if (depth == 2 && path[2] == name)
                print "ike", d(I["uniqueid"]), d(I["state"]), hex(I["initiator-spi"]), hex(I["responder-spi"])
            if (depth == 4 && path[2] == name && path[3] == "child-sas") {
                print "child", d(I["uniqueid"]), d(C["uniqueid"]), d(C["state"]), hex(C["spi-in"]), hex(C["spi-out"]), algs(C)
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
