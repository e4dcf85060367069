#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A restart that keeps the tunnels, between two ipsecd (memory kernel) in namespaces over
# real UDP: left initiates a PSK tunnel; `ipsecctl shutdown --keep` stops right, which
# leaves a state file (mode 0600) and no word to left; a new right started on the same
# control path continues the same IKE SA (same SPIs, nothing renegotiated: left never
# initiates again), and since its memory kernel started empty it finds the CHILD SA's ESP
# SAs missing and rekeys it over the continued IKE SA (keys and message IDs carried on,
# or left would refuse it); then `ipsecctl down --all` on right deletes it on both sides.
# The unit's ExecStop (ipsecd-stop) picks --keep only when systemd's job is a restart.
# The state file is read once and removed; one readable by others, or one that is not a
# state file, is refused with a reason; `shutdown` without --keep deletes everything.
# (Traffic through the kept ESP SAs during a restart needs ESP: the guest case ikev2-tunnel.)
set -u
. "$(dirname "$0")/lib.sh"
make_namespaces "192.0.2.1" "192.0.2.2"
EX=$SRC/policies/examples/ikev2-psk-tunnel
cp "$EX"/shared.psk "$EX"/left.json "$EX"/right.json "$WORK"/ && chmod 600 "$WORK"/shared.psk

start_ipsecd "$NSB" right --config "$WORK/right.json"
RIGHT1=$LAST_PID
wait_socket "$WORK/right.sock" || { bad "right did not start: $(cat "$WORK"/right.log)"; finish; exit; }
start_ipsecd "$NSA" left --config "$WORK/left.json"
wait_socket "$WORK/left.sock" || { bad "left did not start"; finish; exit; }

# "spi_i spi_r child_in child_out" of the established IKE SA's installed CHILD SA.
tunnel() {
  ctl "$1" status --json | jq -r '.ike_sas[] | select(.state == "established") | . as $sa
    | .children[] | select(.state == "installed") | "\($sa.spi_i) \($sa.spi_r) \(.spi_in) \(.spi_out)"'
}
up() { [ -n "$(tunnel left)" ] && [ -n "$(tunnel right)" ]; }
poll up && ok "tunnel up: $(tunnel right)" || { bad "no tunnel: $(ctl right status)"; finish; exit; }
read -r SPI_I SPI_R CHILD_IN CHILD_OUT <<<"$(tunnel right)"
initiations() { grep -c "initiating" "$WORK/left.log" || true; }
INIT_BEFORE=$(initiations)

# The unit's ExecStop (packaging/libexec/ipsecd-stop) as systemd runs it during a restart
# job: a stand-in systemctl answers list-jobs as systemd does.
mkdir -p "$WORK/bin"
fake_job() {  # TYPE: what `systemctl list-jobs` says of ipsecd.service
  printf '#!/bin/sh\n[ "$1" = list-jobs ] && echo "42 ipsecd.service %s running"\n' "$1" >"$WORK/bin/systemctl"
  chmod +x "$WORK/bin/systemctl"
}
stop_unit() {
  PATH="$WORK/bin:$PATH" IPSECD_CONTROL="$WORK/right.sock" "$SRC/packaging/libexec/ipsecd-stop" ipsecd.service
}
fake_job restart
out=$(stop_unit 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "ipsecd stopped for a restart: 1 IKE SA(s) left to the next ipsecd in $WORK/right.sock.state" <<<"$out" \
  && ok "ExecStop during a restart job: $(tr '\n' ' ' <<<"$out")" || bad "ExecStop (restart): exit $rc: $out"
wait "$RIGHT1"; rc=$?
[ "$rc" = 0 ] && ok "the first right has exited (status 0)" || bad "the first right: exit $rc"
STATE=$WORK/right.sock.state
[ "$(stat -c %a "$STATE" 2>/dev/null)" = 600 ] && ok "state file $STATE, mode 600" \
  || bad "state file: $(ls -l "$STATE" 2>&1)"
grep -q "handed over to the next ipsecd with 1 CHILD SA" "$WORK/right.log" \
  && ok "log: $(grep -m1 'handed over 1' "$WORK/right.log")" || bad "log: $(tail -5 "$WORK/right.log")"
grep -q "deleted by peer" "$WORK/left.log" \
  && bad "left was told something: $(grep 'deleted by peer' "$WORK/left.log")" \
  || ok "left was not told anything (no Delete)"
[ "$(tunnel left)" = "$SPI_I $SPI_R $CHILD_OUT $CHILD_IN" ] && ok "left still holds the same tunnel meanwhile" \
  || bad "left meanwhile: $(tunnel left)"

mv "$WORK/right.log" "$WORK/right.1.log"
start_ipsecd "$NSB" right --config "$WORK/right.json"
wait_socket "$WORK/right.sock" || { bad "right did not start again: $(cat "$WORK"/right.log)"; finish; exit; }
continued() { grep -q "continued 1 IKE SA(s) of the previous ipsecd" "$WORK/right.log"; }
poll continued && ok "log: $(grep -m1 'continued 1' "$WORK/right.log")" || bad "log: $(cat "$WORK/right.log")"
[ ! -e "$STATE" ] && ok "the state file was read once and removed" || bad "state file still there"
# The memory kernel of the new process is empty: the CHILD SA is rekeyed over the IKE SA.
rekeyed() {
  local t; t=$(tunnel right)
  [ -n "$t" ] && read -r i r ci co <<<"$t" && [ "$i $r" = "$SPI_I $SPI_R" ] && [ "$ci" != "$CHILD_IN" ] \
    && [ "$(tunnel left)" = "$i $r $co $ci" ]
}
if poll rekeyed; then
  ok "same IKE SA $SPI_I/$SPI_R on both sides; its CHILD SA, lost with the memory kernel, rekeyed: $(tunnel right)"
else
  bad "after the restart: right '$(tunnel right)' left '$(tunnel left)'; $(grep -i 'vanished\|rekey' "$WORK/right.log")"
fi
grep -q "its inbound and outbound ESP SA vanished from the kernel: rekeying" "$WORK/right.log" \
  && ok "right says why it rekeyed" || bad "right's log: $(cat "$WORK/right.log")"
[ "$(initiations)" = "$INIT_BEFORE" ] && ok "left never initiated again (nothing renegotiated)" \
  || bad "left initiated again: $(grep initiating "$WORK/left.log")"
[ "$(ctl right status --json | jq '[.ike_sas[]] | length')" = 1 ] && ok "right holds one IKE SA" \
  || bad "right: $(ctl right status)"

out=$(ctl right down --all); rc=$?
gone() { [ -z "$(ctl left status --json | jq -r '.ike_sas[] | select(.state == "established") | .spi_i')" ]; }
[ "$rc" = 0 ] && poll gone && ok "down --all on the new right deletes the continued IKE SA on both sides" \
  || bad "down --all: $rc $out; left: $(ctl left status)"

# Refused state files: readable by others (left in place), or not one ipsecd wrote (removed).
fake_job stop
stop_unit >"$WORK/plain.out" 2>&1 && grep -q "ipsecd stopped: 0 IKE SA(s) deleted" "$WORK/plain.out" \
  && ok "ExecStop during a stop job: $(tr '\n' ' ' <"$WORK/plain.out")" || bad "ExecStop (stop): $(cat "$WORK/plain.out")"
[ ! -e "$STATE" ] && ok "a plain stop leaves no state file" || bad "state file after a plain stop"
printf 'IPSECD-HANDOVER\nxx' >"$STATE" && chmod 644 "$STATE"
start_ipsecd "$NSB" right --config "$WORK/right.json"
wait_socket "$WORK/right.sock" || { bad "right did not start with a bad state file"; finish; exit; }
sleep 0.5
grep -q "right.sock.state: readable or writable by others (it holds keys); ignored (left in place)" "$WORK/right.log" \
  && [ -e "$STATE" ] && ok "a state file readable by others is refused and left alone" \
  || bad "mode 644: $(grep handover "$WORK/right.log")"
"$IPSECCTL" shutdown --socket "$WORK/right.sock" >/dev/null 2>&1
chmod 600 "$STATE"
start_ipsecd "$NSB" right --config "$WORK/right.json"
wait_socket "$WORK/right.sock" || { bad "right did not start"; finish; exit; }
sleep 0.5
grep -q "handover: the state file is not one ipsecd wrote" "$WORK/right.log" && [ ! -e "$STATE" ] \
  && ok "a damaged state file is refused with a reason" || bad "damaged: $(grep handover "$WORK/right.log")"
finish
