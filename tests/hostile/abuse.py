#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Abuses ipsecd's control socket in one named way and prints what came back.

Usage: abuse.py SOCKET CASE [ARG]. Cases:
  line TEXT       one request line (TEXT as given, a Python escape string: "\\xff" is a byte),
                  prints the answer line
  long            a request line of 1 MiB + 64 bytes, prints the answer line
  many N          N bad requests on one connection, prints how many error answers came
  connections N   N connections in a row that send nothing and close, prints "done"
  bad-each N      N connections in a row, each with one bad request, prints error answers
  full N          N connections held open at once; prints the answer of each refused one
  slow SECONDS    sends a list-conns request, reads nothing for SECONDS, then the answer;
                  prints how many connections it holds
Every read waits at most 30 s.
"""
import json
import select
import socket
import sys
import time


def connect(path):
    # With a timeout the socket is non-blocking, and a Unix socket's connect() then fails
    # with EAGAIN while the listen backlog is full instead of waiting: wait here.
    for _ in range(3000):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            time.sleep(0.01)
    raise TimeoutError("the listen backlog stayed full for 30 s")


def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def main() -> int:
    path, case = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    if case == "line":
        with connect(path) as s:
            s.sendall(arg.encode().decode("unicode_escape").encode("latin-1") + b"\n")
            print(read_line(s))
    elif case == "long":
        with connect(path) as s:
            try:
                s.sendall(b'{"command":"status","x":"' + b"a" * (1 << 20) + b'"}\n')
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed after its answer: read it
            print(read_line(s))
    elif case == "many":
        n = int(arg)
        with connect(path) as s:
            s.sendall(b"garbage \x00\xff\n" * n)
            f = s.makefile("rb")
            errors = sum(1 for _ in range(n) if b'"ok":false' in f.readline())
            print(errors)
    elif case == "connections":
        for _ in range(int(arg)):
            connect(path).close()
        print("done")
    elif case == "bad-each":
        errors = 0
        for _ in range(int(arg)):
            with connect(path) as s:
                s.sendall(b"[1,2,3]\n")
                errors += '"ok":false' in read_line(s)
        print(errors)
    elif case == "full":
        held = [connect(path) for _ in range(int(arg))]
        time.sleep(2)  # the accepted ones have nothing to read until they ask
        ready, _, _ = select.select(held, [], [], 0)
        for s in ready:
            print(read_line(s))
        for s in held:
            s.close()
    elif case == "slow":
        with connect(path) as s:
            s.sendall(b'{"command":"list-conns"}\n')
            time.sleep(float(arg))
            answer = json.loads(read_line(s))
            print(f"after {arg} s: {len(answer['data']['connections'])} connections")
    else:
        print(f"unknown case {case}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
