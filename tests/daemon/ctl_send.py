#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sends one raw JSON request line to ipsecd's control socket and prints the answer line.

Usage: ctl_send.py SOCKET 'JSON'. Lets the tests speak the protocol without ipsecctl's own
checks in between (ipsecctl load validates the files before it sends anything).
"""
import socket
import sys


def main() -> int:
    path, line = sys.argv[1], sys.argv[2]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    sys.stdout.write(answer.decode())
    return 0 if answer else 1


if __name__ == "__main__":
    sys.exit(main())
