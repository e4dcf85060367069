#!/usr/bin/env python3
"""A stand-in for ipsecd's control socket, for ipsecctl's tests.

fake_ipsecd.py SOCKET LOG REPLY: listens on the unix socket SOCKET; for every
connection, reads one request line, appends it to LOG and answers with the
contents of REPLY (read again each time, so a test can change it between
commands). Stops after 120 s at most, or when killed.
"""
import os
import socket
import sys
import time

def main():
    path, log, reply = sys.argv[1:4]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(1.0)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        with conn:
            conn.settimeout(5.0)
            data = b""
            try:
                while b"\n" not in data and len(data) < (1 << 21):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass
            with open(log, "ab") as f:
                f.write(data.split(b"\n")[0] + b"\n")
            with open(reply, "rb") as f:
                answer = f.read().strip() + b"\n"
            try:
                conn.sendall(answer)
            except OSError:
                pass
    os.unlink(path)

if __name__ == "__main__":
    main()
