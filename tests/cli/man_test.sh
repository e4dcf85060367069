#!/usr/bin/env bash
# ipsecctl(8) against the program: mandoc -Tlint clean, and every subcommand
# and every option that `--help` lists is documented, so they cannot drift.
set -u
IPSECCTL=${IPSECCTL:?set IPSECCTL to the ipsecctl binary}
PAGE=$(cd "$(dirname "$0")/../.." && pwd)/man/ipsecctl.8
command -v mandoc >/dev/null || { echo "SKIPPED: mandoc is not installed"; exit 77; }
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }

lint=$(mandoc -Tlint -W warning "$PAGE" 2>&1)
[ -z "$lint" ] && ok "mandoc -Tlint is clean" || bad "mandoc -Tlint: $lint"

text=$(MANWIDTH=200 mandoc -Tascii "$PAGE" | col -b)
# subcommands: the indented names under "Subcommands:" in the top-level help
subs=$("$IPSECCTL" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$subs" ] || bad "no subcommands found in --help"
for sub in $subs; do
  grep -qE "^ +ipsecctl $sub( |$)" <<<"$text" && ok "subcommand $sub is in SYNOPSIS" \
    || bad "subcommand $sub missing from the SYNOPSIS of ipsecctl(8)"
  # options: "-n,--dry-run" style entries under "Options:"
  for opt in $("$IPSECCTL" $sub --help | awk '/^Options:/{on=1; next} on && /^  -/{print $1}' | tr ',' ' '); do
    grep -qF -- "$opt" <<<"$text" && ok "$sub $opt is documented" \
      || bad "$sub option $opt missing from ipsecctl(8)"
  done
done
for opt in $("$IPSECCTL" --help | awk '/^Options:/{on=1; next} /^$/{on=0} on && /^  -/{print $1}' | tr ',' ' '); do
  grep -qF -- "$opt" <<<"$text" && ok "$opt is documented" || bad "option $opt missing from ipsecctl(8)"
done
# exit codes named in the page are the ones the program uses (0-5)
for code in 0 1 2 3 4 5; do
  grep -qE "^ +$code[[:space:]]+[A-Z]" <<<"$text" && ok "exit status $code is documented" \
    || bad "exit status $code missing from EXIT STATUS"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
