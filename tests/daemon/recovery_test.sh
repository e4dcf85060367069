#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash recovery on this machine's real kernel (XFRM netlink; ESP itself is not needed):
# an ipsecd with two on-demand connections (trap policies, reqids 9 and 11) is killed with
# SIGKILL, which leaves its policies in the kernel. Started again with only the first
# connection, it reports what the previous one left, takes the first connection's
# policies over (updated in place, no duplicate), keeps the second's protecting the
# traffic for --leftover-grace, then removes them (status counter), never calling them
# foreign. SIGTERM then leaves nothing. Leftover ESP SAs need a kernel with ESP: the guest
# case ikev2-tunnel kills and restarts a daemon under traffic.
set -u
. "$(dirname "$0")/lib.sh"
make_namespaces "192.0.2.1" "192.0.2.2"
EX=$SRC/policies/examples
cp "$EX"/ikev2-psk-ondemand/left.json "$WORK/od.json"
cp "$EX"/ikev2-psk-tunnel/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk
jq '.connections |= with_entries(.key = "other" | .value.children.lan.reqid = 11
      | .value.children.lan.local_ts = ["198.51.100.128/25"]
      | .value.children.lan.remote_ts = ["203.0.113.128/25"])' "$WORK/od.json" >"$WORK/other.json" \
  || { bad "jq"; finish; exit; }

start_left() {  # LOG FILE...
  local log=$1; shift
  local args=()
  for f in "$@"; do args+=(--config "$f"); done
  ip netns exec "$NSA" "$IPSECD" --workers 1 --control "$WORK/left.sock" "${args[@]}" \
    --leftover-grace 3 2>"$WORK/$log" &
  LEFT=$!
  PIDS+=("$LEFT")
  wait_socket "$WORK/left.sock"
}

if ! start_left first.log "$WORK/od.json" "$WORK/other.json"; then
  grep -q "kernel" "$WORK/first.log" && { echo "SKIPPED: ipsecd cannot use this kernel's XFRM"; exit 77; }
  bad "ipsecd did not start: $(cat "$WORK/first.log")"; finish; exit
fi
both() { [ "$(with_reqid 9)" = 3 ] && [ "$(with_reqid 11)" = 3 ]; }
poll both && ok "two on-demand connections: 3 trap policies each (reqids 9 and 11)" \
  || { bad "policies: $(policies)"; finish; exit; }
kill -KILL "$LEFT"; wait "$LEFT" 2>/dev/null
rm -f "$WORK/left.sock"
[ "$(with_reqid 9)" = 3 ] && [ "$(with_reqid 11)" = 3 ] && ok "after SIGKILL the kernel still holds all 6" \
  || bad "after SIGKILL: $(policies)"

start_left second.log "$WORK/od.json" || { bad "restart: $(cat "$WORK/second.log")"; finish; exit; }
t0=$(date +%s%N)
grep -q "crash recovery: 0 SA(s) and 6 policy(ies) with our reqids were left by a previous ipsecd" "$WORK/second.log" \
  && ok "restarted with only the first connection: $(grep -m1 'crash recovery' "$WORK/second.log" | sed 's/^[a-z]*: //')" \
  || bad "log: $(cat "$WORK/second.log")"
[ "$(with_reqid 9)" = 3 ] && ok "the first connection's trap policies taken over: still 3, no duplicate" \
  || bad "reqid 9: $(policies)"
[ "$(with_reqid 11)" = 3 ] && ok "the removed connection's policies still protect its traffic during the grace" \
  || bad "reqid 11 during the grace: $(policies)"
gone() { [ "$(with_reqid 11)" = 0 ]; }
if poll gone; then
  ok "after the grace they are removed ($(( ($(date +%s%N) - t0) / 1000000 )) ms after the start; --leftover-grace 3)"
else
  bad "reqid 11 after the grace: $(policies)"
fi
[ "$(ctl left status --json | jq .counters.leftover_policies_removed)" = 3 ] \
  && ok "status: leftover_policies_removed 3" || bad "counters: $(ctl left status --json | jq -c .counters)"
[ "$(ctl left status --json | jq .counters.foreign_policies)" = 0 ] \
  && ok "none of them was reported as foreign" || bad "foreign: $(grep 'not ours' "$WORK/second.log")"
kill -TERM "$LEFT"; wait "$LEFT"; rc=$?
[ "$rc" = 0 ] && [ -z "$(policies)" ] && ok "SIGTERM: exit 0, no policy left" \
  || bad "SIGTERM: exit $rc, policies: $(policies)"
finish
