# SPDX-License-Identifier: Apache-2.0
# Helpers of the ipsecd namespace tests: two network namespaces joined by a veth,
# ipsecd processes in them, pass/fail counting, bounded polling. Sourced.
# Needs IPSECD and IPSECCTL (the binaries) in the environment.
IPSECD=${IPSECD:?set IPSECD to the ipsecd binary}
IPSECCTL=${IPSECCTL:?set IPSECCTL to the ipsecctl binary}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIPPED: needs root to create network namespaces"; exit 77; fi
command -v jq >/dev/null || { echo "SKIPPED: jq is not installed"; exit 77; }
NSA=ipsecd-a-$$ NSB=ipsecd-b-$$
WORK=$(mktemp -d /var/tmp/ipsecd-test.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 1" INT TERM

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }

# Namespaces A and B joined by veth0, with the given addresses (/24) on each side.
make_namespaces() {  # "A addresses" "B addresses"
  ip netns add "$NSA" && ip netns add "$NSB" || { echo "SKIPPED: cannot create network namespaces"; exit 77; }
  ip -n "$NSA" link add veth0 type veth peer name veth0 netns "$NSB" || { echo "SKIPPED: no veth"; exit 77; }
  local a
  for a in $1; do ip -n "$NSA" addr add "$a/24" dev veth0; done
  for a in $2; do ip -n "$NSB" addr add "$a/24" dev veth0; done
  ip -n "$NSA" link set veth0 up && ip -n "$NSB" link set veth0 up
  ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up
}

# Starts ipsecd in a namespace: start_ipsecd NS NAME ARGS...; control socket $WORK/NAME.sock,
# log $WORK/NAME.log; the pid is appended to PIDS and printed in LAST_PID.
start_ipsecd() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$IPSECD" --memory-kernel --control "$WORK/$name.sock" "$@" \
    2>"$WORK/$name.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# Waits (bounded) for a control socket to answer.
wait_socket() {
  for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
  return 1
}

# ipsecctl against the daemon NAME: ctl NAME SUBCOMMAND ARGS...
ctl() { local n=$1 c=$2; shift 2; "$IPSECCTL" "$c" --socket "$WORK/$n.sock" "$@" 2>/dev/null; }

# Polls a condition for at most ~30 s.
# The real-kernel policies in namespace A other than per-socket ones, one line each
# (blanks squeezed), and how many have a template with reqid $1.
policies() {
  ip -n "$NSA" xfrm policy list |
    awk '/^src /{ if (r != "") print r; r = $0; next } { r = r " " $0 } END { if (r != "") print r }' |
    tr -s ' \t' ' ' | grep -Ev ' socket (in|out) ' || true
}
with_reqid() { policies | grep -c " reqid $1 " || true; }

poll() { for _ in $(seq 150); do "$@" && return 0; sleep 0.2; done; return 1; }
