#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipsecctl-policy(5) against the format: mandoc -Tlint clean, every property
# name of policies/ipsecctl.schema.json is documented (as an .Ic macro), every
# keyword the schema enumerates appears in the text, and every JSON example of
# the page is accepted by `ipsecctl validate`, so page and format cannot drift.
set -u
IPSECCTL=${IPSECCTL:?set IPSECCTL to the ipsecctl binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PAGE=$ROOT/man/ipsecctl-policy.5
SCHEMA=$ROOT/policies/ipsecctl.schema.json
command -v mandoc >/dev/null || { echo "SKIPPED: mandoc is not installed (tests/run deps)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIPPED: python3 is not installed (tests/run deps)"; exit 77; }
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }

lint=$(mandoc -Tlint -W warning "$PAGE" 2>&1)
[ -z "$lint" ] && ok "mandoc -Tlint is clean" || bad "mandoc -Tlint: $lint"
text=$(MANWIDTH=200 mandoc -Tascii "$PAGE" | col -b)

# Names the page marks up with .Ic (the macro and its following words up to the
# next macro), and the schema's property names and enumerated keywords.
documented=$(python3 - "$PAGE" <<'PY'
import re, sys
names = set()
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.startswith("."):
        continue
    words = line[1:].split()
    on = False
    for w in words:
        if w == "Ic":
            on = True
        elif re.fullmatch(r"[A-Z][a-z][a-z]?", w):
            on = False
        elif on:
            names.add(w)
print("\n".join(sorted(names)))
PY
)
read -r -d '' schema_words <<<"$(python3 - "$SCHEMA" <<'PY'
import json, sys
schema = json.load(open(sys.argv[1], encoding="utf-8"))
props, keywords = set(), set()
def walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                props.update(value)
            if key == "enum":
                keywords.update(v for v in value if isinstance(v, str))
            if key == "const" and isinstance(value, str):
                keywords.add(value)
            walk(value)
    elif isinstance(node, list):
        for item in node:
            walk(item)
walk(schema)
for p in sorted(props):
    print("property", p)
for k in sorted(keywords):
    print("keyword", k)
PY
)"
[ -n "$schema_words" ] || bad "no property names read from $SCHEMA"
while read -r kind word; do
  [ -n "$word" ] || continue
  if [ "$kind" = property ]; then
    grep -qxF -- "$word" <<<"$documented" && ok "property $word is documented" \
      || bad "property $word of the schema is not in ipsecctl-policy(5) (as .Ic $word)"
  else
    grep -qF -- "\"$word\"" <<<"$text" || grep -qwF -- "$word" <<<"$text" \
      && ok "keyword $word is documented" || bad "keyword \"$word\" of the schema is not in ipsecctl-policy(5)"
  fi
done <<<"$schema_words"

# The EXAMPLES: each literal block starting with "{" is a policy file; the key
# and PSK files it names are made (mode 0600) in a scratch folder beside it.
tmp=$(mktemp -d /var/tmp/ipsecctl-man5.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
MANWIDTH=400 mandoc -Tascii "$PAGE" | col -bx | python3 -c '
import sys, re
text = sys.stdin.read()
blocks, cur = [], None
for line in text.splitlines():
    if cur is None and re.match(r"^ {8,}\{", line):
        cur = [line]
    elif cur is not None:
        if line.strip() == "":
            blocks.append("\n".join(cur)); cur = None
        else:
            cur.append(line)
if cur: blocks.append("\n".join(cur))
for i, b in enumerate(blocks):
    open(sys.argv[1] + "/example%d.json" % i, "w").write(b + "\n")
' "$tmp"
mkdir -p "$tmp/keys" "$tmp/secrets"
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f > "$tmp/keys/enc.hex"
printf '%s\n' 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f > "$tmp/keys/auth.hex"
printf '%s\n' "an example secret, never use it" > "$tmp/secrets/site-b.psk"
chmod 600 "$tmp"/keys/* "$tmp"/secrets/*
count=0
for f in "$tmp"/example*.json; do
  [ -e "$f" ] || break
  count=$((count + 1))
  out=$("$IPSECCTL" validate "$f" 2>&1) && ok "EXAMPLES block $(basename "$f"): $out" \
    || bad "EXAMPLES block $(basename "$f") is refused: $out"
done
[ "$count" -ge 3 ] && ok "$count JSON examples found" || bad "only $count JSON examples found in EXAMPLES"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
