#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ipsecctl(8) and ipsecd(8) against the programs: mandoc -Tlint clean, and every
# subcommand and every option that `--help` lists is documented (and every
# option ipsecd(8) documents exists), so they cannot drift.
set -u
IPSECCTL=${IPSECCTL:?set IPSECCTL to the ipsecctl binary}
IPSECD=${IPSECD:?set IPSECD to the ipsecd binary}
MAN=$(cd "$(dirname "$0")/../.." && pwd)/man
PAGE=$MAN/ipsecctl.8
DPAGE=$MAN/ipsecd.8
command -v mandoc >/dev/null || { echo "SKIPPED: mandoc is not installed"; exit 77; }
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }

# "-n,--dry-run" style entries under "Options:" of a --help text
help_options() { awk '/^Options:/{on=1; next} /^$/{on=0} on && /^  -/{print $1}' | tr ',' ' '; }

for page in "$PAGE" "$DPAGE"; do
  lint=$(mandoc -Tlint -W warning "$page" 2>&1)
  [ -z "$lint" ] && ok "mandoc -Tlint is clean: ${page##*/}" || bad "mandoc -Tlint: $lint"
done

text=$(MANWIDTH=200 mandoc -Tascii "$PAGE" | col -b)
# subcommands: the indented names under "Subcommands:" in the top-level help
subs=$("$IPSECCTL" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$subs" ] || bad "no subcommands found in --help"
for sub in $subs; do
  grep -qE "^ +ipsecctl $sub( |$)" <<<"$text" && ok "subcommand $sub is in SYNOPSIS" \
    || bad "subcommand $sub missing from the SYNOPSIS of ipsecctl(8)"
  for opt in $("$IPSECCTL" $sub --help | help_options); do
    grep -qF -- "$opt" <<<"$text" && ok "$sub $opt is documented" \
      || bad "$sub option $opt missing from ipsecctl(8)"
  done
done
for opt in $("$IPSECCTL" --help | help_options); do
  grep -qF -- "$opt" <<<"$text" && ok "$opt is documented" || bad "option $opt missing from ipsecctl(8)"
done
# exit codes named in the page are the ones the program uses (0-6)
for code in 0 1 2 3 4 5 6; do
  grep -qE "^ +$code[[:space:]]+[A-Z]" <<<"$text" && ok "exit status $code is documented" \
    || bad "exit status $code missing from EXIT STATUS"
done

# ipsecd(8): every option of `ipsecd --help` is in the SYNOPSIS and has its own
# entry in the option list; every entry of the list is an option ipsecd has.
dtext=$(MANWIDTH=200 mandoc -Tascii "$DPAGE" | col -b)
dhelp=$("$IPSECD" --help | help_options)
[ -n "$dhelp" ] || bad "no options found in ipsecd --help"
synopsis=$(awk '/^SYNOPSIS/{on=1; next} /^[A-Z]/{on=0} on' <<<"$dtext")
entries=$(awk '/^DESCRIPTION/{on=1; next} /^[A-Z]/{on=0} on && /^     -/' <<<"$dtext")
for opt in $dhelp; do
  grep -qE -- "(\[|\| )$opt( |\]|$)" <<<"$synopsis" && ok "ipsecd $opt is in SYNOPSIS" \
    || bad "ipsecd option $opt missing from the SYNOPSIS of ipsecd(8)"
  grep -qE -- "(^| )$opt(,| |$)" <<<"$entries" && ok "ipsecd $opt has an entry" \
    || bad "ipsecd option $opt has no entry in the option list of ipsecd(8)"
done
for opt in $(sed -E 's/^ +//; s/,//g' <<<"$entries" | tr ' ' '\n' | grep -E '^--?[a-z]'); do
  tr ' ' '\n' <<<"$dhelp" | grep -qxF -- "$opt" && ok "ipsecd(8) entry $opt exists in ipsecd --help" \
    || bad "ipsecd(8) documents $opt, which ipsecd --help does not list"
done
for code in 0 1; do
  grep -qE "^ +$code[[:space:]]+[A-Z]" <<<"$dtext" && ok "ipsecd exit status $code is documented" \
    || bad "ipsecd exit status $code missing from EXIT STATUS"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
