#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One initiator ipsecd with 16 connections (each from its own address, 192.0.2.1-16)
# brings them all up against one responder ipsecd (192.0.2.100) running 4 workers
# (memory kernel). Checks: all 16 established with installed CHILD SAs and matching SPIs
# on both sides; the responder's SAs spread over more than one worker, each owned by
# the worker its SPI names (the SO_REUSEPORT BPF steering and the engines' SPI shards
# agree); down and SIGTERM leave no SA on either side.
set -u
. "$(dirname "$0")/lib.sh"
N=16 RESP_WORKERS=4 INIT_WORKERS=2
addrs_a=$(for i in $(seq $N); do echo 192.0.2.$i; done)
make_namespaces "$addrs_a" "192.0.2.100"
cp "$SRC"/policies/examples/ikev2-psk-tunnel/shared.psk "$WORK"/ && chmod 600 "$WORK"/shared.psk

# conn NAME LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS START
conn() {
  cat <<JSON
"$1": {"version": 2,
  "local": {"address": "$2", "id": "fqdn:$4", "auth": "psk"},
  "remote": {"address": "$3", "id": "fqdn:$5", "auth": "psk"},
  "psk_file": "shared.psk", "proposals": ["aes256gcm16-prfsha256-x25519"],
  "children": {"lan": {"mode": "tunnel", "local_ts": ["$6"], "remote_ts": ["$7"],
                       "esp_proposals": ["aes256gcm16"], "start_action": "$8"}}}
JSON
}
{
  echo '{"connections": {'
  for i in $(seq $N); do
    [ "$i" = 1 ] || echo ,
    conn "c$i" 192.0.2.$i 192.0.2.100 "left$i.example" right.example \
      "198.51.100.$i/32" 203.0.113.0/24 start
  done
  echo '}}'
} >"$WORK/left.json"
{
  echo '{"connections": {'
  for i in $(seq $N); do
    [ "$i" = 1 ] || echo ,
    conn "from$i" 192.0.2.100 192.0.2.$i right.example "left$i.example" \
      203.0.113.0/24 "198.51.100.$i/32" none
  done
  echo '}}'
} >"$WORK/right.json"

start_ipsecd "$NSB" right --workers $RESP_WORKERS --config "$WORK/right.json"
PIDB=$LAST_PID
wait_socket "$WORK/right.sock" && ok "responder listens ($RESP_WORKERS workers)" \
  || { bad "responder did not start: $(cat "$WORK/right.log")"; finish; exit; }
start_ipsecd "$NSA" left --workers $INIT_WORKERS --config "$WORK/left.json"
PIDA=$LAST_PID
wait_socket "$WORK/left.sock" && ok "initiator listens ($INIT_WORKERS workers)" \
  || { bad "initiator did not start: $(cat "$WORK/left.log")"; finish; exit; }

established() {  # NAME: how many IKE SAs are established with an installed CHILD SA
  ctl "$1" status --json | jq '[.ike_sas[] | select(.state == "established" and
                                  any(.children[]; .state == "installed"))] | length'
}
all_up() { [ "$(established left)" = $N ] && [ "$(established right)" = $N ]; }
poll all_up && ok "all $N IKE SAs established, CHILD SAs installed, on both sides" \
  || bad "not all up: left $(established left), right $(established right)"

ctl left status --json >"$WORK/left.status"
ctl right status --json >"$WORK/right.status"
pairs() { jq -r '.ike_sas[] | "\(.spi_i) \(.spi_r) \(.children[0].spi_in) \(.children[0].spi_out)"' "$1" | sort; }
swap() { awk '{print $1, $2, $4, $3}' | sort; }
[ "$(pairs "$WORK/left.status")" = "$(pairs "$WORK/right.status" | swap)" ] \
  && ok "IKE and CHILD SPIs match pairwise" || bad "SPIs differ: $(pairs "$WORK/left.status")"
spread=$(jq '[.ike_sas[].worker] | unique | length' "$WORK/right.status")
echo "responder SAs per worker: $(jq -c '[.ike_sas[].worker] | group_by(.) |
      map({worker: .[0], sas: length})' "$WORK/right.status")"
[ "$spread" -gt 1 ] && ok "responder SAs spread over $spread workers" \
  || bad "responder SAs on $spread worker(s)"
# Our SPI (SPIr as responder, SPIi as initiator): last byte % workers == owning worker.
owned() {  # FILE FIELD WORKERS -> count of SAs whose SPI does not match their worker
  jq --arg f "$2" --argjson n "$3" '[.ike_sas[] | select(((.[$f][16:18] |
      explode | map(if . >= 97 then . - 87 else . - 48 end) | .[0] * 16 + .[1]) % $n)
      != .worker)] | length' "$1"
}
[ "$(owned "$WORK/right.status" spi_r $RESP_WORKERS)" = 0 ] \
  && ok "responder: every SA lives on the worker its SPIr names" \
  || bad "responder SAs on the wrong worker: $(jq -c '[.ike_sas[] | [.spi_r, .worker]]' "$WORK/right.status")"
[ "$(owned "$WORK/left.status" spi_i $INIT_WORKERS)" = 0 ] \
  && ok "initiator: every SA lives on the worker its SPIi names" \
  || bad "initiator SAs on the wrong worker: $(jq -c '[.ike_sas[] | [.spi_i, .worker]]' "$WORK/left.status")"
[ "$(jq '.counters.ike_established' "$WORK/right.status")" = $N ] \
  && ok "responder counters summed over workers: ike_established $N" \
  || bad "counters: $(jq -c .counters "$WORK/right.status")"
[ "$(jq -s 'map(.counters.retransmits + .counters.dropped_unknown_spi) | add' \
      "$WORK/left.status" "$WORK/right.status")" = 0 ] \
  && ok "no retransmits, no message for an unknown SPI (every message met its SA's worker)" \
  || bad "steering misses: $(jq -c .counters "$WORK/left.status" "$WORK/right.status")"

ctl left down c7 >/dev/null && ok "down c7 accepted" || bad "down c7 refused"
gone_c7() { [ "$(established left)" = $((N - 1)) ] && [ "$(established right)" = $((N - 1)) ] &&
            ! ctl right status --json | jq -e '.ike_sas[] | select(.connection == "from7")' >/dev/null; }
poll gone_c7 && ok "down: c7 gone on both sides, the others stay" \
  || bad "after down: left $(established left), right $(established right)"

kill -TERM "$PIDA"; wait "$PIDA"; rca=$?
none_right() { [ "$(ctl right status --json | jq '.ike_sas | length')" = 0 ]; }
poll none_right && ok "initiator's SIGTERM deleted every SA at the responder too" \
  || bad "responder keeps: $(ctl right status)"
grep -q "deleting $((N - 1)) IKE SA" "$WORK/left.log" && ok "SIGTERM deletes $((N - 1)) IKE SAs over $INIT_WORKERS workers" \
  || bad "no graceful delete: $(tail -5 "$WORK/left.log")"
kill -TERM "$PIDB"; wait "$PIDB"; rcb=$?
PIDS=()
[ "$rca" = 0 ] && [ "$rcb" = 0 ] && ok "SIGTERM: both exit 0" || bad "exit codes $rca $rcb"
finish
