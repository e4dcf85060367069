#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Measures IKE SA setups per second against one responder ipsecd (memory kernel, two
# network namespaces on this machine), for each responder --workers count given:
#   IPSECD=... IPSECCTL=... tests/daemon/setup_rate.sh [SAS] [WORKERS...]
# One initiator ipsecd (--workers 2) has SAS connections (default 1000), each from its
# own IPv6 address with its own identity and traffic selectors, so every IKE SA also
# installs its own CHILD SA (SAs and policies); `up` is sent for each, at most 100 in
# flight (below the responder's cookie threshold), and the time until the responder has
# installed them all is measured. Not a ctest: it prints numbers, asserts nothing on them.
set -u
M=${1:-1000}; shift || true
WORKER_COUNTS=("$@")
[ $# -eq 0 ] && WORKER_COUNTS=(1 2)
. "$(dirname "$0")/lib.sh"
ulimit -n 16384  # a socket per address and worker
# The initiator's addresses sit on its loopback, routed through one veth address, so
# the responder needs one neighbour entry, not one per address (the neighbour table is
# shared by every namespace and overflows at 1024 entries).
make_namespaces "" ""
ip -n "$NSA" addr add 2001:db8::1/64 dev veth0 nodad
ip -n "$NSB" addr add 2001:db8::100/64 dev veth0 nodad
for i in $(seq $M); do printf 'addr add 2001:db8:a::%x/128 dev lo nodad\n' "$i"; done \
  | ip -n "$NSA" -batch -
ip -n "$NSB" route add 2001:db8:a::/64 via 2001:db8::1 dev veth0
cp "$SRC"/policies/examples/ikev2-psk-tunnel/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk
conn() {  # NAME LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS
  printf '"%s": {"version": 2, "local": {"address": "%s", "id": "fqdn:%s", "auth": "psk"},
  "remote": {"address": "%s", "id": "fqdn:%s", "auth": "psk"}, "psk_file": "shared.psk",
  "proposals": ["aes256gcm16-prfsha256-x25519"], "children": {"lan": {"mode": "tunnel",
  "local_ts": ["%s"], "remote_ts": ["%s"], "esp_proposals": ["aes256gcm16"],
  "start_action": "none"}}}\n' "$1" "$2" "$4" "$3" "$5" "$6" "$7"
}
for side in left right; do
  {
    echo '{"connections": {'
    for i in $(seq $M); do
      [ "$i" = 1 ] || echo ,
      a=$(printf 2001:db8:a::%x "$i") ts=$(printf 2001:db8:1::%x/128 "$i")
      if [ $side = left ]; then
        conn "c$i" "$a" 2001:db8::100 "l$i.example" r.example "$ts" 2001:db8:2::/64
      else
        conn "f$i" 2001:db8::100 "$a" r.example "l$i.example" 2001:db8:2::/64 "$ts"
      fi
    done
    echo '}}'
  } >"$WORK/$side.json"
done

measure() {  # WORKERS
  start_ipsecd "$NSB" "right$1" --workers "$1" --config "$WORK/right.json"
  local pidb=$LAST_PID
  start_ipsecd "$NSA" "left$1" --workers 2 --log-level warn --config "$WORK/left.json"
  local pida=$LAST_PID
  wait_socket "$WORK/right$1.sock" && wait_socket "$WORK/left$1.sock" || { bad "no daemons"; return; }
  /usr/bin/python3 - "$WORK/left$1.sock" "$WORK/right$1.sock" "$M" "$1" "$WORK/right$1.log" \
    "$pida" "$pidb" <<'PY'
import json, os, socket, sys, time
left, right, total, workers, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], open(sys.argv[5], "rb")
pids = {"initiator": sys.argv[6], "responder": sys.argv[7]}

def cpu_seconds(pid):  # user + system time of the whole process (all threads)
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rb")
    def ask(self, **req):
        self.s.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(self.f.readline())

# The responder's log line per installed CHILD SA: cheaper to follow than status polls,
# which would build the JSON of every SA under the workers' locks.
seen, tail = 0, b""
def installed():
    global seen, tail
    data = tail + log.read()
    lines = data.split(b"\n")
    tail = lines.pop()
    seen += sum(1 for line in lines if b": CHILD SA lan installed" in line)
    return seen

l, r = Ctl(left), Ctl(right)
window, sent = 100, 0
cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
t0 = time.monotonic()
while installed() < total and time.monotonic() - t0 < 300:
    for _ in range(min(window - (sent - seen), total - sent)):
        sent += 1
        l.ask(command="up", name=f"c{sent}")
    time.sleep(0.002)
elapsed = time.monotonic() - t0
cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
c = r.ask(command="status")["data"]["counters"]
if seen < total or c["child_installed"] != total:
    sys.exit(f"only {seen} of {total} installed: {c}")
print(f"responder --workers {workers}: {total} IKE SAs (IKE_SA_INIT + IKE_AUTH, x25519, PSK, "
      f"CHILD SA installed) in {elapsed:.2f} s = {total / elapsed:.0f} SAs/s; "
      f"retransmits {c['retransmits']}, cookies {c['cookies_sent']}, "
      f"kernel errors {c['kernel_errors']}; CPU seconds: responder {cpu['responder']:.2f}, "
      f"initiator {cpu['initiator']:.2f}")
PY
  kill -TERM "$pida" "$pidb"; wait "$pida" "$pidb" 2>/dev/null
  PIDS=()
}
echo "cpus online: $(getconf _NPROCESSORS_ONLN)"
for w in "${WORKER_COUNTS[@]}"; do measure "$w"; done
