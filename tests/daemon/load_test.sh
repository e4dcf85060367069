#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipsecctl load, the daemon's side: two ipsecd (memory kernel) in namespaces run the
# ikev2-psk-tunnel example; then policy files are loaded while they run. A broken file
# is refused with its file and JSON path and changes nothing; only root may load; a
# load adds a connection (on a new local address) that comes up while the first tunnel
# stays untouched; changing it re-establishes it; removing it deletes its SA at the peer.
set -u
. "$(dirname "$0")/lib.sh"
SEND=$SRC/tests/daemon/ctl_send.py
EXAMPLE=$SRC/policies/examples/ikev2-psk-tunnel
make_namespaces "192.0.2.1 192.0.2.11" "192.0.2.2 192.0.2.12"
cp "$EXAMPLE"/left.json "$EXAMPLE"/right.json "$EXAMPLE"/shared.psk "$WORK"/
chmod 600 "$WORK"/shared.psk

# extra NAME LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS START ESP: a second connection
extra() {
  cat <<JSON
{"connections": {"$1": {"version": 2,
  "local": {"address": "$2", "id": "fqdn:$4", "auth": "psk"},
  "remote": {"address": "$3", "id": "fqdn:$5", "auth": "psk"},
  "psk_file": "shared.psk", "proposals": ["aes256gcm16-prfsha256-x25519"],
  "children": {"net2": {"mode": "tunnel", "local_ts": ["$6"], "remote_ts": ["$7"],
                        "esp_proposals": [$9], "start_action": "$8"}}}}}
JSON
}
extra second 192.0.2.11 192.0.2.12 left2.example right2.example 198.51.100.128/25 \
  203.0.113.128/25 start '"aes256gcm16"' >"$WORK/left2.json"
extra second-peer 192.0.2.12 192.0.2.11 right2.example left2.example 203.0.113.128/25 \
  198.51.100.128/25 none '"aes256gcm16", "aes128gcm16"' >"$WORK/right2.json"
# A broken file: a prefix that is none.
sed 's|"198.51.100.128/25"|"198.51.100.128/33"|' "$WORK/left2.json" >"$WORK/broken.json"

start_ipsecd "$NSB" right --config "$WORK/right.json"
PIDB=$LAST_PID
start_ipsecd "$NSA" left --config "$WORK/left.json"
PIDA=$LAST_PID
wait_socket "$WORK/right.sock" && wait_socket "$WORK/left.sock" && ok "both ipsecd listen" \
  || { bad "ipsecd did not start: $(cat "$WORK"/*.log)"; finish; exit; }

# "connection spi_i spi_r" of every established SA with an installed CHILD SA, sorted.
sas() {
  ctl "$1" status --json | jq -r '.ike_sas[] | select(.state == "established" and
    any(.children[]; .state == "installed")) | "\(.connection) \(.spi_i) \(.spi_r)"' | sort
}
count() { sas "$1" | grep -c "^$2 "; }
first_up() { [ "$(count left to-right)" = 1 ] && [ "$(count right to-left)" = 1 ]; }
poll first_up && ok "the example's tunnel is up" || bad "no tunnel: $(ctl left status)"
first_sa=$(sas left | grep '^to-right ')

# 1. A broken file: refused, with its file and JSON path; nothing changes.
conns_before=$(ctl left list-conns) sas_before=$(sas left)
resp=$("$SEND" "$WORK/left.sock" "{\"command\": \"load\", \"files\": [\"$WORK/left.json\", \"$WORK/broken.json\"]}")
echo "$resp" | jq -e '.ok == false and (.error | test("^load refused: 1 problem"))' >/dev/null \
  && ok "broken file refused: $(echo "$resp" | jq -r .error)" || bad "broken file: $resp"
echo "$resp" | jq -e '.details[0] | test("broken.json: connections.second.children.net2.local_ts\\[0\\]")' >/dev/null \
  && ok "the refusal names file and JSON path: $(echo "$resp" | jq -r '.details[0]')" \
  || bad "details: $resp"
[ -n "$conns_before" ] && [ "$(ctl left list-conns)" = "$conns_before" ] && \
  [ -n "$sas_before" ] && [ "$(sas left)" = "$sas_before" ] \
  && ok "after the refusal: same connections, same SAs" || bad "the refused load changed something"
resp=$("$SEND" "$WORK/left.sock" "{\"command\": \"load\", \"files\": [\"$WORK/nonexistent.json\"]}")
echo "$resp" | jq -e '.ok == false and (.details[0] | test("nonexistent.json"))' >/dev/null \
  && ok "a missing file is refused and named" || bad "missing file: $resp"
# A file with an address this namespace does not have cannot bind: refused too.
extra third 192.0.2.99 192.0.2.12 l3.example r3.example 198.51.100.64/26 203.0.113.64/26 \
  none '"aes256gcm16"' >"$WORK/unbindable.json"
resp=$("$SEND" "$WORK/left.sock" "{\"command\": \"load\", \"files\": [\"$WORK/left.json\", \"$WORK/unbindable.json\"]}")
echo "$resp" | jq -e '.ok == false and (.details[0] | test("bind 192.0.2.99"))' >/dev/null \
  && [ "$(ctl left list-conns)" = "$conns_before" ] \
  && ok "an address that cannot be bound: refused, nothing changed" || bad "unbindable: $resp"

# 2. Only root (or ipsecd's own user) may load: a member of the socket's group may not.
chmod 711 "$WORK"
resp=$(setpriv --reuid=65534 --regid=0 --clear-groups /usr/bin/python3 "$SEND" "$WORK/left.sock" \
         "{\"command\": \"load\", \"files\": [\"$WORK/left.json\"]}")
echo "$resp" | jq -e '.ok == false and (.error | test("only root"))' >/dev/null \
  && ok "uid 65534 may not load: $(echo "$resp" | jq -r .error)" || bad "non-root load: $resp"

# 3. Adding a connection (on new addresses): it comes up, the first tunnel is untouched.
load() {  # NAME FILES...: ipsecctl load, JSON summary on stdout
  local n=$1; shift
  "$IPSECCTL" load --socket "$WORK/$n.sock" --json "$@"
}
summary=$(load right "$WORK/right.json" "$WORK/right2.json")
[ "$(echo "$summary" | jq -c '[.added, .unchanged, .changed, .removed]')" = '[["second-peer"],["to-left"],[],[]]' ] \
  && ok "responder load: added second-peer, to-left unchanged" || bad "responder load: $summary"
summary=$(load left "$WORK/left.json" "$WORK/left2.json")
[ "$(echo "$summary" | jq -c '[.added, .unchanged, .changed, .removed]')" = '[["second"],["to-right"],[],[]]' ] \
  && ok "initiator load: added second, to-right unchanged" || bad "initiator load: $summary"
second_up() { [ "$(count left second)" = 1 ] && [ "$(count right second-peer)" = 1 ]; }
poll second_up && ok "the added connection (start_action start) is up on both sides" \
  || bad "second not up: $(ctl left status; ctl right status; tail "$WORK/left.log")"
[ "$(sas left | grep '^to-right ')" = "$first_sa" ] && ok "the unchanged tunnel kept its SA" \
  || bad "to-right changed: $(sas left)"
second_sa=$(sas left | grep '^second ')

# 4. Changing it (its ESP proposals): deleted and established anew, with new SPIs.
extra second 192.0.2.11 192.0.2.12 left2.example right2.example 198.51.100.128/25 \
  203.0.113.128/25 start '"aes128gcm16"' >"$WORK/left2.json"
summary=$(load left "$WORK/left.json" "$WORK/left2.json")
[ "$(echo "$summary" | jq -c '[.changed, .unchanged]')" = '[["second"],["to-right"]]' ] \
  && ok "changed: second" || bad "change: $summary"
renewed() {
  local now; now=$(sas left | grep '^second ')
  [ -n "$now" ] && [ "$now" != "$second_sa" ] && [ "$(count right second-peer)" = 1 ] &&
    ctl left status --json | jq -e '.ike_sas[] | select(.connection == "second") |
      .children[0].algorithms | test("AES_GCM_16_128")' >/dev/null
}
poll renewed && ok "the changed connection is established again, with the new proposal" \
  || bad "not re-established: $(ctl left status; ctl right status)"
old_spi_i=${second_sa#second }; old_spi_i=${old_spi_i%% *}
ctl right status --json | jq -e --arg s "$old_spi_i" '[.ike_sas[] | select(.spi_i == $s)] | length == 0' >/dev/null \
  && ok "the peer deleted the old SA" || bad "old SA still at the peer"
[ "$(sas left | grep '^to-right ')" = "$first_sa" ] && ok "the unchanged tunnel kept its SA" \
  || bad "to-right changed: $(sas left)"

# 5. Removing it: its SA is deleted at the peer too; list-conns no longer shows it.
summary=$(load left "$WORK/left.json")
[ "$(echo "$summary" | jq -c '[.removed, .unchanged]')" = '[["second"],["to-right"]]' ] \
  && ok "removed: second" || bad "remove: $summary"
removed() { [ "$(count left second)" = 0 ] && [ "$(count right second-peer)" = 0 ]; }
poll removed && ok "its SA is gone on both sides" || bad "after remove: $(ctl right status)"
conns=$(ctl left list-conns)
echo "$conns" | grep -q '^to-right' && ! echo "$conns" | grep -q '^second' \
  && ok "list-conns shows to-right only" || bad "list-conns: $conns"
[ "$(sas left | grep '^to-right ')" = "$first_sa" ] && ok "the first tunnel kept its SA throughout" \
  || bad "to-right changed: $(sas left)"
kill -TERM "$PIDA" "$PIDB"; wait "$PIDA"; rca=$?; wait "$PIDB"; rcb=$?
PIDS=()
[ "$rca" = 0 ] && [ "$rcb" = 0 ] && ok "SIGTERM: both exit 0" || bad "exit codes $rca $rcb"
finish
