#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (not a test): install N tunnel-mode policies into a fresh network
# namespace with iproute2's `ip -batch`, with our netlink batch mode
# (xfrm_bench), and with `ipsecctl apply` from JSON; then dump and flush them.
# Prints each rate and the ratios. Usage: tests/bench/policies.sh [N...]
# (default 10000 100000), REPS=3 runs each and reports the median.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
XFRM_BENCH=$BUILD/tests/bench/xfrm_bench
IPSECCTL=$BUILD/src/ctl/ipsecctl
REPS=${REPS:-3}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)"; exit 2; }
for f in "$XFRM_BENCH" "$IPSECCTL"; do [ -x "$f" ] || { echo "missing $f: build first"; exit 2; }; done

WORK=$(mktemp -d /var/tmp/ipsec-bench.XXXXXX)
NS=ipsecbench$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

fresh_ns() { ip netns del "$NS" 2>/dev/null || true; ip netns add "$NS"; }
policy_count() { ip -n "$NS" xfrm policy count | awk '/SPD IN/{print $3+$5+$7; exit}'; }

# Prints "wall user sys" in seconds for a command, run inside the namespace.
timed() {
  local TIMEFORMAT='%R %U %S'
  { time ip netns exec "$NS" "$@" >/dev/null 2>"$WORK/err"; } 2>&1 | tail -1
}

median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# Runs a measurement REPS times in fresh namespaces; prints the median of each column.
measure() {
  local setup=$1; shift
  local runs=()
  for ((r = 0; r < REPS; r++)); do
    fresh_ns
    [ "$setup" = none ] || ip netns exec "$NS" $setup >/dev/null
    runs+=("$(timed "$@")")
  done
  local w u s
  w=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
  u=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)
  s=$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)
  echo "$w $u $s"
}

generate() {
  local n=$1
  python3 - "$n" "$WORK" <<'PY'
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
def src(i): return "10.%d.%d.%d/32" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
tmpl = "tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 1"
with open(f"{work}/ip.batch", "w") as f:
    for i in range(n):
        f.write(f"xfrm policy add src {src(i)} dst 10.200.0.0/16 dir out {tmpl}\n")
pols = [{"src": src(i), "dst": "10.200.0.0/16", "dir": "out",
         "templates": [{"protocol": "esp", "mode": "tunnel", "src": "192.0.2.1",
                        "dst": "192.0.2.2", "reqid": 1}]} for i in range(n)]
with open(f"{work}/policies.json", "w") as f:
    json.dump({"policies": pols}, f)
PY
}

row() { printf '%-34s %9s %8s %8s %12s\n' "$@"; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN{ if (t > 0) printf "%.0f/s", n/t; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a/b; else print "-" }'; }

echo "kernel $(uname -r), $(nproc) cores; median of $REPS runs, each in a fresh namespace"
for n in "${SIZES[@]}"; do
  generate "$n"
  echo
  echo "== $n tunnel-mode policies"
  row "what" "wall s" "user s" "sys s" "rate"
  read -r iw iu is < <(measure none ip -batch "$WORK/ip.batch")
  row "install: ip -batch" "$iw" "$iu" "$is" "$(rate "$n" "$iw")"
  read -r bw bu bs < <(measure none "$XFRM_BENCH" install "$n")
  row "install: netlink batch (ours)" "$bw" "$bu" "$bs" "$(rate "$n" "$bw")"
  count=$(policy_count)
  [ "$count" = "$n" ] || { echo "error: expected $n policies after our batch, kernel has $count"; exit 1; }
  read -r aw au as < <(measure none "$IPSECCTL" apply -q "$WORK/policies.json")
  row "install: ipsecctl apply (JSON)" "$aw" "$au" "$as" "$(rate "$n" "$aw")"
  count=$(policy_count)
  [ "$count" = "$n" ] || { echo "error: expected $n policies after apply, kernel has $count"; exit 1; }

  load="ip -batch $WORK/ip.batch"
  read -r dw du ds < <(measure "$load" ip xfrm policy list)
  row "dump: ip xfrm policy list" "$dw" "$du" "$ds" "$(rate "$n" "$dw")"
  read -r ow ou os < <(measure "$load" "$XFRM_BENCH" dump "$n")
  row "dump: netlink dump (ours)" "$ow" "$ou" "$os" "$(rate "$n" "$ow")"
  read -r fw fu fs < <(measure "$load" ip xfrm policy flush)
  row "flush: ip xfrm policy flush" "$fw" "$fu" "$fs" "$(rate "$n" "$fw")"
  read -r gw gu gs < <(measure "$load" "$IPSECCTL" flush policy)
  row "flush: ipsecctl flush policy" "$gw" "$gu" "$gs" "$(rate "$n" "$gw")"

  echo "ratios (ip / ours, above 1 means we are faster):"
  echo "  install, netlink batch: $(ratio "$iw" "$bw");  ipsecctl apply from JSON: $(ratio "$iw" "$aw")"
  echo "  user-space share of our batch install: $(awk -v u="$bu" -v w="$bw" 'BEGIN{printf "%.1f%%", (w>0?100*u/w:0)}')"
  echo "  dump: $(ratio "$dw" "$ow");  flush: $(ratio "$fw" "$gw")"
done
