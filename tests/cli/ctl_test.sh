#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipsecctl as an operator uses it, against this machine's kernel, inside a
# fresh network namespace: validate, apply, show --json round trip, remove,
# flush, errors that name the file and JSON path and change nothing, and
# all-or-nothing rollback when the kernel refuses an object.
# This kernel has XFRM policies but no ESP/AH, so SAs are refused here: that
# is what the rollback case uses. SAs with traffic are tested in the guest.
set -u
IPSECCTL=${IPSECCTL:?set IPSECCTL to the ipsecctl binary}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIPPED: needs root to create network namespaces"; exit 77; fi
NS=ipsecctl-cli-$$
WORK=$(mktemp -d /var/tmp/ipsecctl-cli.XXXXXX)
trap 'ip netns del $NS 2>/dev/null; rm -rf "$WORK"' EXIT
ip netns add "$NS" || { echo "SKIPPED: cannot create a network namespace"; exit 77; }
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
ctl() { ip netns exec "$NS" "$IPSECCTL" "$@"; }
npolicies() { ip -n "$NS" xfrm policy list | grep -c '^src' || true; }
nstates() { ip -n "$NS" xfrm state list | grep -c '^src' || true; }

# The kernel's SAs and policies as iproute2 prints them, one object a line,
# sorted: the same set of objects compares equal whatever the dump order.
kernel_state() {
  { ip -n "$NS" xfrm policy list; ip -n "$NS" xfrm state list; } |
    awk '/^src /{ if (r != "") print r; r = $0; next } { r = r " " $0 } END { if (r != "") print r }' | sort
}

# expect_fail NAME CODE FILE PATTERN...: exit code CODE, each pattern on stderr, kernel unchanged.
expect_fail() {
  local name=$1 code=$2 file=$3; shift 3
  local before after rc
  before="$(kernel_state)"
  ctl apply "$file" >"$WORK/out" 2>"$WORK/err"; rc=$?
  after="$(kernel_state)"
  local fine=1
  [ "$rc" = "$code" ] || { fine=0; echo "  exit code $rc, expected $code"; }
  for pat in "$@"; do
    grep -qF -- "$pat" "$WORK/err" || { fine=0; echo "  stderr lacks: $pat"; }
  done
  [ "$before" = "$after" ] || { fine=0; echo "  the kernel changed"; }
  [ $fine = 1 ] && ok "$name" || { bad "$name"; sed 's/^/  stderr: /' "$WORK/err"; }
}

cat >"$WORK/site.json" <<'JSON'
{
  "policies": [
    {"src": "10.1.0.0/24", "dst": "10.2.0.0/24", "dir": "out", "priority": 100,
     "templates": [{"protocol": "esp", "mode": "tunnel", "src": "192.0.2.1", "dst": "192.0.2.2", "reqid": 1}]},
    {"src": "10.2.0.0/24", "dst": "10.1.0.0/24", "dir": "in", "priority": 100,
     "templates": [{"protocol": "esp", "mode": "tunnel", "src": "192.0.2.2", "dst": "192.0.2.1", "reqid": 1}]},
    {"src": "10.2.0.0/24", "dst": "10.1.0.0/24", "dir": "fwd", "priority": 100,
     "templates": [{"protocol": "esp", "mode": "tunnel", "src": "192.0.2.2", "dst": "192.0.2.1", "reqid": 1}]},
    {"src": "2001:db8:1::/48", "dst": "2001:db8:2::/48", "dir": "out", "proto": "tcp", "dport": 443,
     "templates": [{"protocol": "ah", "mode": "transport"}, {"protocol": "esp", "mode": "transport"}]},
    {"src": "10.9.0.0/16", "dst": "10.8.0.0/16", "dir": "out", "action": "block", "priority": 5}
  ]
}
JSON

# validate touches nothing
out=$(ctl validate "$WORK/site.json" 2>&1); rc=$?
[ $rc = 0 ] && [ "$(npolicies)" = 0 ] && ok "validate accepts a good file and changes nothing" \
  || bad "validate: rc=$rc out=$out"

# dry run prints a plan and changes nothing
out=$(ctl apply -n "$WORK/site.json" 2>&1); rc=$?
[ $rc = 0 ] && grep -q "5 policies added" <<<"$out" && [ "$(npolicies)" = 0 ] \
  && ok "apply -n prints the plan and changes nothing" || bad "apply -n: rc=$rc out=$out"

out=$(ctl apply "$WORK/site.json" 2>&1); rc=$?
[ $rc = 0 ] && [ "$(npolicies)" = 5 ] && ok "apply installs 5 policies" || bad "apply: rc=$rc out=$out"
ip -n "$NS" xfrm policy list dir out | grep -q "proto ah" && \
  ip -n "$NS" xfrm policy list dir out | grep -q "dport 443" && \
  ok "iproute2 sees the AH+ESP bundle and the port selector" || bad "bundle not seen by ip xfrm"

out=$(ctl apply "$WORK/site.json" 2>&1); rc=$?
[ $rc = 0 ] && grep -q "5 unchanged" <<<"$out" && ok "applying again changes nothing" \
  || bad "re-apply: rc=$rc out=$out"

# show --json | apply - round trip
ctl show policy --json >"$WORK/a.json" || bad "show --json failed"
ctl flush >/dev/null && [ "$(npolicies)" = 0 ] && ok "flush empties the SPD" || bad "flush"
ctl apply - <"$WORK/a.json" >/dev/null 2>&1 && ctl show policy --json >"$WORK/b.json" \
  && cmp -s "$WORK/a.json" "$WORK/b.json" && [ "$(npolicies)" = 5 ] \
  && ok "show --json | apply - round-trips" || { bad "round trip"; diff "$WORK/a.json" "$WORK/b.json" | head; }
out=$(ctl apply "$WORK/site.json" 2>&1)
grep -q "5 unchanged" <<<"$out" && ok "the round-tripped state equals the original file" \
  || bad "after round trip: $out"

text=$(ctl show policy)
grep -q "out 10.1.0.0/24 -> 10.2.0.0/24  protect" <<<"$text" && grep -q "esp tunnel 192.0.2.1 -> 192.0.2.2 reqid 1" <<<"$text" \
  && ok "show prints readable policies" || { bad "show text"; echo "$text"; }

# all or nothing: the host kernel has no ESP, so the SA is refused and
# the policies installed in the same apply are taken out again.
ctl flush >/dev/null
python3 - "$WORK/site.json" "$WORK/with-sa.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["sas"] = [{"protocol": "esp", "mode": "tunnel", "spi": "0x1000", "src": "192.0.2.1", "dst": "192.0.2.2",
             "reqid": 1, "aead": {"algorithm": "aes-gcm-16", "key": "0x" + "11" * 36}}]
json.dump(d, open(sys.argv[2], "w"))
PY
if ip -n "$NS" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x99 mode tunnel \
     aead 'rfc4106(gcm(aes))' 0x$(printf '11%.0s' $(seq 36)) 128 2>/dev/null; then
  ip -n "$NS" xfrm state flush
  echo "skipped: this kernel has ESP, so the refused-SA rollback case does not apply here"
else
  expect_fail "a refused SA rolls back the whole apply" 3 "$WORK/with-sa.json" \
    "adding SA spi 0x1000 192.0.2.1->192.0.2.2 esp" "rolled back" "the kernel is as before"
fi

# the same with state already present: the old policies must stay exactly as they were
ctl apply "$WORK/site.json" >/dev/null
sed 's/"priority": 100/"priority": 200/g' "$WORK/with-sa.json" >"$WORK/with-sa-changed.json"
if ! ip -n "$NS" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x99 mode tunnel \
     aead 'rfc4106(gcm(aes))' 0x$(printf '11%.0s' $(seq 36)) 128 2>/dev/null; then
  expect_fail "a refused apply restores replaced policies" 3 "$WORK/with-sa-changed.json" "rolled back"
  ip -n "$NS" xfrm policy list | grep -q "priority 200" && bad "priority 200 left behind" \
    || ok "no replaced policy left behind"
fi

# broken files: one line per problem, JSON path named, nothing changed
cat >"$WORK/broken.json" <<'JSON'
{
  "sas": [
    {"protocol": "esp", "spi": "0x2000", "src": "192.0.2.1", "dst": "192.0.2.2",
     "aead": {"algorithm": "aes-gcm-17", "key": "0x00"}},
    {"protocol": "esp", "spi": "0x2001", "src": "192.0.2.1", "dst": "192.0.2.2",
     "encryption": {"algorithm": "aes-cbc", "key": "0x0011"},
     "integrity": {"algorithm": "hmac-sha256", "key_file": "open.key"}}
  ],
  "policies": [
    {"src": "10.0.0.0/33", "dst": "10.2.0.0/24", "dir": "out", "templates": [{"protocol": "esp", "mode": "transport"}]},
    {"src": "10.3.0.0/24", "dst": "10.4.0.0/24", "dir": "out", "colour": "blue",
     "templates": [{"protocol": "esp", "mode": "transport"}]}
  ]
}
JSON
printf '%064d\n' 0 >"$WORK/open.key"; chmod 644 "$WORK/open.key"
expect_fail "a broken file names each problem and changes nothing" 1 "$WORK/broken.json" \
  "broken.json: sas[0].aead.algorithm" "aes-gcm-17" \
  "broken.json: sas[1].encryption.key" \
  "broken.json: sas[1].integrity.key_file" "open.key" \
  "broken.json: policies[0].src: \"10.0.0.0/33\" is not a prefix" \
  "broken.json: policies[1].colour: unknown field"
lines=$(grep -c '^error: ' "$WORK/err")
[ "$lines" = 5 ] && ok "exactly one error line per problem (5)" || { bad "expected 5 error lines, got $lines"; cat "$WORK/err"; }

# a good file alongside a broken one: nothing from either is applied
ctl flush >/dev/null
expect_fail "one broken file among good ones applies nothing" 1 "$WORK/broken.json" "error:"
ctl apply "$WORK/site.json" "$WORK/broken.json" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && [ "$(npolicies)" = 0 ] && ok "good + broken file: exit 1, nothing applied" \
  || bad "good + broken: rc=$rc policies=$(npolicies)"

# remove takes out exactly the file's objects
ctl apply "$WORK/site.json" >/dev/null
ip -n "$NS" xfrm policy add src 10.50.0.0/16 dst 10.60.0.0/16 dir out action block
out=$(ctl remove "$WORK/site.json" 2>&1); rc=$?
[ $rc = 0 ] && [ "$(npolicies)" = 1 ] && grep -q "removed: 5 policies removed" <<<"$out" && ok "remove takes out the file's objects and nothing else" \
  || bad "remove: rc=$rc left=$(npolicies)"

# usage errors and help
ctl frobnicate >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "unknown subcommand exits 2" || bad "unknown subcommand exit $rc"
for c in validate apply remove show flush; do
  ctl "$c" --help | grep -qi "usage" || bad "$c --help"
done
ok "--help for every subcommand"
ctl validate /nonexistent.json >/dev/null 2>"$WORK/err"; rc=$?
[ $rc = 1 ] && grep -q "/nonexistent.json" "$WORK/err" && ok "a missing file is named" || bad "missing file: rc=$rc"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
