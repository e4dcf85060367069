#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: ESP transport with each further algorithm example, one boot:
#   esp-cbc-sha256   AES-CBC-256 + HMAC-SHA-256
#   esp-chacha20     ChaCha20-Poly1305
#   esp-null-sha256  NULL encryption + HMAC-SHA-256 (integrity only)
# (AES-GCM is esp-transport's case.) For each: flush, apply, ping with a
# recognisable payload pattern, all four SA counters grow, only ESP on the
# wire; the pattern is readable in the capture for NULL and only for NULL.
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
topo_two_hosts

PATTERN=a5            # ping -p: payload filled with this byte
MARK=$(printf "$PATTERN%.0s" $(seq 16))   # 16 bytes of it, as hex

check() { # EXAMPLE SPI_LR SPI_RL CLEARTEXT(yes|no)
    local name=$1 ex=$EXAMPLES/$1 pcap=$1 n
    step "$name"
    flush left; flush right
    apply left "$ex/left.json"
    apply right "$ex/right.json"
    capture_start "$pcap" left eth0
    capture_start "$pcap" right eth0
    transport_roundtrip left right 192.0.2.1 192.0.2.2 esp "$2" "$3" 4 -p "$PATTERN"
    capture_stop
    capture_show "$pcap" 1
    assert_ge "$name: ESP packets on the wire" 8 "$(capture_count "$pcap" 'ip proto 50')"
    assert_eq "$name: bare ICMP packets on the wire" 0 "$(capture_count "$pcap" icmp)"
    n=$(capture_payload_count "$pcap" "$MARK")
    if [ "$4" = yes ]; then
        assert_ge "$name: ESP packets whose payload shows the ping pattern (NULL encryption)" 8 "$n"
    else
        assert_eq "$name: ESP packets whose payload shows the ping pattern (encrypted)" 0 "$n"
    fi
}

check esp-cbc-sha256  0x1007 0x2007 no
check esp-chacha20    0x1008 0x2008 no
check esp-null-sha256 0x1009 0x2009 yes

pass "algorithms: aes-cbc+hmac-sha256, chacha20-poly1305, null+hmac-sha256"
