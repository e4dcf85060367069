#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Summarise the IKEv2 messages of a pcap file (tcpdump -w, Ethernet or Linux cooked).

Usage: ike_pcap.py FILE
Prints one line per IKE datagram: "SRC DST EXCHANGE I|R FIRST_PAYLOAD IP_LENGTH [n/total]"
(FIRST_PAYLOAD is the IKE header's Next Payload: SK=46, SKF=53; n/total for SKF), then a
summary line "skf=N sk=N max_ip=N" to stdout. Only UDP ports 500 and 4500 (with the
non-ESP marker) are read; ESP-in-UDP and keepalives are skipped.
"""
import struct
import sys

EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}


def frames(data):
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise SystemExit("not a pcap file (pcapng is not read: use tcpdump -w)")
    link = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield link, data[off:off + caplen]
        off += caplen


def ip_payload(link, frame):
    if link == 1:  # Ethernet
        ethertype = struct.unpack(">H", frame[12:14])[0]
        rest = frame[14:]
    elif link == 113:  # Linux cooked (any)
        ethertype = struct.unpack(">H", frame[14:16])[0]
        rest = frame[16:]
    else:
        return None
    if ethertype == 0x0800 and len(rest) >= 20:
        ihl = (rest[0] & 0x0F) * 4
        if rest[9] != 17:
            return None
        total = struct.unpack(">H", rest[2:4])[0]
        src = ".".join(str(b) for b in rest[12:16])
        dst = ".".join(str(b) for b in rest[16:20])
        return src, dst, total, rest[ihl:]
    if ethertype == 0x86DD and len(rest) >= 40:
        if rest[6] != 17:
            return None
        total = 40 + struct.unpack(">H", rest[4:6])[0]
        src = rest[8:24].hex()
        dst = rest[24:40].hex()
        return src, dst, total, rest[40:]
    return None


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    skf = sk = max_ip = 0
    for link, frame in frames(data):
        p = ip_payload(link, frame)
        if p is None:
            continue
        src, dst, total, udp = p
        if len(udp) < 8:
            continue
        sport, dport = struct.unpack(">HH", udp[:4])
        ike = udp[8:]
        if 4500 in (sport, dport):
            if len(ike) < 4 or ike[:4] != b"\0\0\0\0":
                continue  # ESP in UDP, or a keepalive
            ike = ike[4:]
        elif 500 not in (sport, dport):
            continue
        if len(ike) < 28:
            continue
        first, exchange, flags = ike[16], ike[18], ike[19]
        role = "R" if flags & 0x20 else "I"
        extra = ""
        if first == 53 and len(ike) >= 36:
            n, t = struct.unpack(">HH", ike[32:36])
            extra = " %d/%d" % (n, t)
            skf += 1
        elif first == 46:
            sk += 1
        max_ip = max(max_ip, total)
        print("%s %s %s %s %d %d%s" % (src, dst, EXCHANGES.get(exchange, str(exchange)),
                                       role, first, total, extra))
    print("skf=%d sk=%d max_ip=%d" % (skf, sk, max_ip))


if __name__ == "__main__":
    main()
