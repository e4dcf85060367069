#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for ipsecd's control socket, for ipsecctl's tests.

fake_ipsecd.py SOCKET LOG REPLY [EVENTS]: listens on the unix socket SOCKET; for
every connection, reads one request line, appends it to LOG and answers with the
contents of REPLY (read again each time, so a test can change it between
commands). A "monitor" request is answered the same way and then gets the lines
of EVENTS (read at that moment; none if it does not exist), one every 50 ms; a
line "CLOSE" closes the connection there (the daemon went away); otherwise the
connection stays open, silent, until the client closes it or 20 s pass.
Stops after 120 s at most, or when killed.
"""
import json
import os
import socket
import sys
import time

def stream_events(conn, events):
    """After a monitor's answer: the events, then silence until the client goes."""
    lines = []
    if events and os.path.exists(events):
        with open(events, "rb") as f:
            lines = [l.rstrip(b"\n") for l in f if l.strip()]
    try:
        for line in lines:
            if line == b"CLOSE":
                return
            time.sleep(0.05)
            conn.sendall(line + b"\n")
        conn.settimeout(20.0)
        while conn.recv(4096):
            pass
    except OSError:
        pass


def is_monitor(line):
    try:
        return json.loads(line).get("command") == "monitor"
    except (ValueError, AttributeError):
        return False


def main():
    path, log, reply = sys.argv[1:4]
    events = sys.argv[4] if len(sys.argv) > 4 else None
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
                continue
            if is_monitor(data.split(b"\n")[0]):
                stream_events(conn, events)
    os.unlink(path)

if __name__ == "__main__":
    main()
