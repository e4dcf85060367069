#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The responder picks its connection by the peer's identity (IDi) at IKE_AUTH, among
# the connections whose addresses fit. Five namespaces, ipsecd in each (memory kernel),
# over real UDP: B (192.0.2.2) is the responder, on a bridge with A (192.0.2.1),
# C (192.0.2.3), D (192.0.2.4) and E (192.0.2.5).
# 1. One peer address, two connections told apart by IDi: A brings up alice.example
#    and carol.example, each with its own PSK; B serves them by "from-alice" and
#    "from-carol", each with its own child and selectors.
# 2. A wildcard: B's "warriors" (remote 0.0.0.0, id *.example.org) serves C
#    (a.example.org) and D (d.example.org), each with its own narrowed selectors; after
#    an exact "dave" (d.example.org, listed after "warriors") is loaded, D gets "dave".
# 3. E (x.example.net) matches nothing: refused with "peer identity ... is not the
#    expected ...", no IKE SA for it at B, E's SA failed.
# "dave" has remote address 0.0.0.0 too: the identity alone (exact over pattern) decides.
set -u
. "$(dirname "$0")/lib.sh"
NSC=ipsecd-c-$$ NSD=ipsecd-d-$$ NSE=ipsecd-e-$$
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for n in "$NSA" "$NSB" "$NSC" "$NSD" "$NSE"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$WORK"
}

# B holds the bridge br0 (192.0.2.2/24); every other namespace has veth0 on it.
ip netns add "$NSB" || { echo "SKIPPED: cannot create network namespaces"; exit 77; }
ip -n "$NSB" link add br0 type bridge || { echo "SKIPPED: no bridge support"; exit 77; }
ip -n "$NSB" addr add 192.0.2.2/24 dev br0
ip -n "$NSB" link set br0 up && ip -n "$NSB" link set lo up
peer_ns() {  # NS ADDRESS TAG
  ip netns add "$1" || { echo "SKIPPED: cannot create network namespaces"; exit 77; }
  ip -n "$1" link add veth0 type veth peer name "v$3" netns "$NSB" || { echo "SKIPPED: no veth"; exit 77; }
  ip -n "$NSB" link set "v$3" master br0 && ip -n "$NSB" link set "v$3" up
  ip -n "$1" addr add "$2/24" dev veth0
  ip -n "$1" link set veth0 up && ip -n "$1" link set lo up
}
peer_ns "$NSA" 192.0.2.1 a
peer_ns "$NSC" 192.0.2.3 c
peer_ns "$NSD" 192.0.2.4 d
peer_ns "$NSE" 192.0.2.5 e

echo "alice's secret, a test key: 3f6a0c" >"$WORK/alice.psk"
echo "carol's secret, a test key: 91d2e7" >"$WORK/carol.psk"
echo "the warriors' secret, a test key: 5b8c41" >"$WORK/shared.psk"
chmod 600 "$WORK"/*.psk

# conn NAME LOCAL REMOTE LOCAL_ID REMOTE_ID PSK CHILD LOCAL_TS REMOTE_TS START
conn() {
  cat <<JSON
"$1": {"version": 2,
  "local": {"address": "$2", "id": "$4", "auth": "psk"},
  "remote": {"address": "$3", "id": "$5", "auth": "psk"},
  "psk_file": "$6", "proposals": ["aes256gcm16-prfsha256-x25519"],
  "children": {"$7": {"mode": "tunnel", "local_ts": ["$8"], "remote_ts": ["$9"],
                      "esp_proposals": ["aes256gcm16"], "start_action": "${10}"}}}
JSON
}
GW=fqdn:gw.example
# B, the responder. "dave" comes later (right2.json), after "warriors".
{
  echo '{"connections": {'
  conn from-alice 192.0.2.2 192.0.2.1 $GW fqdn:alice.example alice.psk alice-net \
    10.20.0.0/16 10.1.0.0/16 none
  echo ,
  conn from-carol 192.0.2.2 192.0.2.1 $GW fqdn:carol.example carol.psk carol-net \
    10.21.0.0/16 10.3.0.0/16 none
  echo ,
  conn warriors 192.0.2.2 0.0.0.0 $GW '*.example.org' shared.psk net \
    10.2.0.0/16 10.128.0.0/9 none
  echo '}}'
} >"$WORK/right.json"
{
  head -n -1 "$WORK/right.json"
  echo ,
  conn dave 192.0.2.2 0.0.0.0 $GW fqdn:d.example.org shared.psk dave-net \
    10.2.0.0/16 10.140.0.0/16 none
  echo '}}'
} >"$WORK/right2.json"
# A: two connections to B from one address, told apart by their ids and PSKs.
{
  echo '{"connections": {'
  conn to-b-alice 192.0.2.1 192.0.2.2 fqdn:alice.example $GW alice.psk alice-net \
    10.1.0.0/16 10.20.0.0/16 start
  echo ,
  conn to-b-carol 192.0.2.1 192.0.2.2 fqdn:carol.example $GW carol.psk carol-net \
    10.3.0.0/16 10.21.0.0/16 start
  echo '}}'
} >"$WORK/a.json"
# C, D, E: one connection each; their local selectors narrow warriors' 10.128.0.0/9.
warrior() {  # LOCAL ID LOCAL_TS
  echo '{"connections": {'
  conn to-b "$1" 192.0.2.2 "fqdn:$2" $GW shared.psk net "$3" 10.2.0.0/16 start
  echo '}}'
}
warrior 192.0.2.3 a.example.org 10.130.0.0/16 >"$WORK/c.json"
warrior 192.0.2.4 d.example.org 10.140.0.0/16 >"$WORK/d.json"
warrior 192.0.2.5 x.example.net 10.150.0.0/16 >"$WORK/e.json"
for f in right right2 a c d e; do
  jq empty "$WORK/$f.json" || { bad "$f.json is not JSON"; finish; exit; }
done

start_ipsecd "$NSB" b --config "$WORK/right.json" --log-level debug
PIDB=$LAST_PID
wait_socket "$WORK/b.sock" && ok "responder B listens" \
  || { bad "B did not start: $(cat "$WORK/b.log")"; finish; exit; }
start_ipsecd "$NSA" a --config "$WORK/a.json"
start_ipsecd "$NSC" c --config "$WORK/c.json"
start_ipsecd "$NSD" d --config "$WORK/d.json"
start_ipsecd "$NSE" e --config "$WORK/e.json"
for n in a c d e; do
  wait_socket "$WORK/$n.sock" || { bad "$n did not start: $(cat "$WORK/$n.log")"; finish; exit; }
done
ok "initiators A, C, D, E listen"

# "connection child local_ts remote_ts" of every established IKE SA's installed CHILD SAs
# on daemon NAME (optionally only those from REMOTE), sorted.
sas() {  # NAME [REMOTE]
  ctl "$1" status --json | jq -r --arg r "${2:-}" '.ike_sas[]
    | select(.state == "established" and ($r == "" or (.remote | startswith($r + "["))))
    | . as $sa | .children[] | select(.state == "installed")
    | "\($sa.connection) \(.name) \(.local_ts | join(",")) \(.remote_ts | join(","))"' | sort
}
ike_count() {  # NAME: how many IKE SAs (any state)
  ctl "$1" status --json | jq '.ike_sas | length'
}

# 1. Two connections from one peer address, told apart by IDi.
want_b1=$'from-alice alice-net 10.20.0.0/16 10.1.0.0/16\nfrom-carol carol-net 10.21.0.0/16 10.3.0.0/16'
want_a1=$'to-b-alice alice-net 10.1.0.0/16 10.20.0.0/16\nto-b-carol carol-net 10.3.0.0/16 10.21.0.0/16'
one_address() { [ "$(sas b 192.0.2.1)" = "$want_b1" ] && [ "$(sas a)" = "$want_a1" ]; }
poll one_address && ok "one peer address, two ids: B serves alice by from-alice and carol by from-carol" \
  || bad "from 192.0.2.1: B has [$(sas b 192.0.2.1)], A has [$(sas a)]"
[ "$(ike_count a)" = 2 ] && [ "$(ctl b status --json | jq '[.ike_sas[] | select(.remote | startswith("192.0.2.1["))] | length')" = 2 ] \
  && ok "exactly two IKE SAs between A and B, each with one CHILD SA" \
  || bad "A: $(ctl a status)"
ctl b status --json | jq -e '[.ike_sas[] | select(.connection == "from-alice" or .connection == "from-carol")
  | .children | length] == [1, 1]' >/dev/null && ok "one CHILD SA each" \
  || bad "children: $(ctl b status --json | jq -c '[.ike_sas[] | {connection, children: [.children[].name]}]')"

# 2. The wildcard serves C and D, each with its own narrowed selectors.
want_c=$'warriors net 10.2.0.0/16 10.130.0.0/16'
want_d=$'warriors net 10.2.0.0/16 10.140.0.0/16'
warriors_up() { [ "$(sas b 192.0.2.3)" = "$want_c" ] && [ "$(sas b 192.0.2.4)" = "$want_d" ] &&
                [ "$(sas c)" = "to-b net 10.130.0.0/16 10.2.0.0/16" ] &&
                [ "$(sas d)" = "to-b net 10.140.0.0/16 10.2.0.0/16" ]; }
poll warriors_up && ok "*.example.org: a.example.org and d.example.org both on warriors, narrowed" \
  || bad "warriors: B has [$(sas b 192.0.2.3)] [$(sas b 192.0.2.4)], C [$(sas c)], D [$(sas d)]; B's log: $(grep -m2 'from 192.0.2.[34]' "$WORK/b.log")"

# 3. x.example.net matches nothing: refused.
e_failed() { ctl e status --json | jq -e 'any(.closed[]; .state == "failed" and
               (.reason | test("^authentication failed")))' >/dev/null; }
poll e_failed && ok "E's IKE SA failed: $(ctl e status --json | jq -r '.closed[0].reason')" \
  || bad "E: $(ctl e status --json | jq -c '{ike_sas, closed}')"
b_refusal() { ctl b status --json | jq -e '.closed[] | select(.reason |
      test("authentication failed: peer identity fqdn:x\\.example\\.net is not the expected "))' >/dev/null; }
poll b_refusal && ok "B's failure: $(ctl b status --json | jq -r '[.closed[] | select(.reason | test("x.example.net"))][0].reason')" \
  || bad "no refusal at B: $(ctl b status --json | jq -c .closed); $(grep -i 'x.example.net' "$WORK/b.log" | tail -3)"
[ "$(ctl b status --json | jq '[.ike_sas[] | select(.remote | startswith("192.0.2.5["))] | length')" = 0 ] \
  && ok "B keeps no IKE SA for x.example.net" || bad "B: $(ctl b status)"
[ "$(sas e)" = "" ] && ok "E has no established SA" || bad "E: $(sas e)"

# 2b. An exact "dave" for d.example.org, listed after "warriors", wins over the pattern.
summary=$("$IPSECCTL" load --socket "$WORK/b.sock" --json "$WORK/right2.json")
[ "$(echo "$summary" | jq -c '[.added, .removed]')" = '[["dave"],[]]' ] \
  && ok "B loads dave" || bad "load: $summary"
ctl d down to-b >/dev/null  # D may have no SA here if it never came up on warriors
d_gone() { [ "$(sas b 192.0.2.4)" = "" ] && [ "$(ike_count d)" = 0 ]; }
poll d_gone && ok "D's SA gone on both sides" || bad "after down: B [$(sas b 192.0.2.4)], D $(ike_count d)"
ctl d up to-b >/dev/null && ok "D: up" || bad "D: up refused"
d_dave() { [ "$(sas b 192.0.2.4)" = "dave dave-net 10.2.0.0/16 10.140.0.0/16" ] &&
           [ "$(sas d)" = "to-b net 10.140.0.0/16 10.2.0.0/16" ]; }
poll d_dave && ok "d.example.org is now served by dave, not warriors" \
  || bad "D after dave: B [$(sas b 192.0.2.4)], D [$(sas d)]"
[ "$(sas b 192.0.2.1)" = "$want_b1" ] && ok "A's two SAs stay" || bad "B from A: $(sas b 192.0.2.1)"
[ "$(sas b 192.0.2.3)" = "$want_c" ] && ok "C stays on warriors" || bad "B from C: [$(sas b 192.0.2.3)]"

kill -TERM "${PIDS[@]}"
rcs=
for p in "${PIDS[@]}"; do wait "$p"; rcs+="$? "; done
PIDS=()
[ "$rcs" = "0 0 0 0 0 " ] && ok "SIGTERM: all five exit 0" || bad "exit codes $rcs"
finish
