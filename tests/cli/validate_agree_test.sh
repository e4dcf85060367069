#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `ipsecctl validate` and `ipsecd --check` agree on every file of the corpus: the worked
# examples (policies/examples) and the edge cases in tests/cli/corpus (no children, empty
# proposals, no PSK, a reqid given twice, three children, wildcard remote ids, a pattern as
# a local id, IKEv1, mixed address families of addresses and of selectors, a transport-mode
# child or SA with selectors of the other family, a world-readable PSK file). Same verdict, and on
# refusal the same error lines (file and JSON path). Needs no root and no kernel.
set -u
IPSECCTL=$(readlink -f "${IPSECCTL:?set IPSECCTL to the ipsecctl binary}")
IPSECD=$(readlink -f "${IPSECD:?set IPSECD to the ipsecd binary}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/ipsec-agree.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0 refused=0 accepted=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }

# A private copy (git keeps no modes: PSK files are made 0600 here), plus one file whose
# PSK file is readable by others, which both must refuse.
mkdir -p "$WORK/examples" "$WORK/corpus"
cp -r "$SRC"/policies/examples/. "$WORK/examples/"
cp "$SRC"/tests/cli/corpus/* "$WORK/corpus/"
find "$WORK" \( -name '*.psk' -o -name '*.key' \) -exec chmod 600 {} +
cp "$WORK/corpus/shared.psk" "$WORK/corpus/open.psk" && chmod 644 "$WORK/corpus/open.psk"
sed 's/shared.psk/open.psk/' "$WORK/corpus/three-children.json" >"$WORK/corpus/open-psk.json"

errors() { grep '^error: ' "$1" | sort; }

while IFS= read -r f; do
  "$IPSECCTL" validate "$f" >"$WORK/v.out" 2>"$WORK/v.err"; v=$?
  "$IPSECD" --check --config "$f" >"$WORK/d.out" 2>"$WORK/d.err"; d=$?
  name=${f#"$WORK"/}
  if [ "$v" = 0 ] && [ "$d" = 0 ]; then
    accepted=$((accepted + 1)); ok
  elif [ "$v" = 1 ] && [ "$d" = 1 ]; then
    refused=$((refused + 1))
    if [ "$(errors "$WORK/v.err")" = "$(errors "$WORK/d.err")" ] && [ -n "$(errors "$WORK/v.err")" ]; then
      ok
    else
      bad "$name: both refuse it, with different errors:"
      diff <(errors "$WORK/v.err") <(errors "$WORK/d.err") | sed 's/^/    /'
    fi
  else
    bad "$name: ipsecctl validate exits $v, ipsecd --check exits $d"
    sed 's/^/    validate: /' "$WORK/v.err"
    sed 's/^/    ipsecd: /' "$WORK/d.err"
  fi
done < <(find "$WORK" -name '*.json' | sort)

# The corpus has both kinds, so that agreement is not two programs refusing everything.
[ "$accepted" -ge 10 ] && ok || bad "only $accepted files accepted by both"
[ "$refused" -ge 9 ] && ok || bad "only $refused files refused by both"
echo "validate and ipsecd --check: $accepted accepted, $refused refused by both"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
