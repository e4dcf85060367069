#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, as an operator meets it: packaging/build-deb.sh builds it
# from this tree (nocheck, -j2); `dpkg-deb -c` must list every file we ship with
# the right modes; lintian must report no error or warning; the unit must pass
# `systemd-analyze verify` and keep its `security` exposure at or below 2.5; the
# bash completion must know every subcommand and option of `ipsecctl --help`.
# As root it then installs the package on this machine (refusing to if an
# ipsecctl is installed already), checks `ipsecctl --version`, `man ipsecctl`,
# the enabled-but-not-started service, /etc/ipsecctl's mode and the runtime
# directory, runs the installed ipsecd once, and removes (configuration kept)
# and purges it (configuration gone).
#   PACKAGE_TEST_DEBS=DIR  use the packages already built in DIR (no build)
#   PACKAGE_TEST_OUT=DIR   keep the built packages in DIR (CTest: for e2e_packaged_unit)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
skip() { echo "SKIPPED: $1"; exit 77; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }

for tool in dpkg-buildpackage dh lintian systemd-analyze python3; do
  command -v "$tool" >/dev/null || skip "$tool is missing: run tests/run deps (debhelper, lintian, dpkg-dev, systemd)"
done
version=$(sed -n 's/^project(ipsecctl VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d /var/tmp/ipsecctl-pkg.XXXXXX)
installed_by_us=0
cleanup() {
  if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' ipsecctl 2>/dev/null | grep -q .; then
    dpkg -P ipsecctl >/dev/null 2>&1 || true
  fi
  [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- build -------------------------------------------------------------------
if [ -n "${PACKAGE_TEST_DEBS:-}" ]; then
  debs=$(cd "$PACKAGE_TEST_DEBS" && pwd)
  echo "using the packages already built in $debs (PACKAGE_TEST_DEBS)"
else
  debs=${PACKAGE_TEST_OUT:-$tmp/out}
  mkdir -p "$debs" && rm -f "$debs"/ipsecctl*
  start=$(date +%s)
  if DEB_BUILD_OPTIONS="nocheck parallel=2" "$ROOT/packaging/build-deb.sh" "$debs" >"$tmp/build.log" 2>&1; then
    ok "packaging/build-deb.sh built the package in $(($(date +%s) - start)) s"
  else
    tail -40 "$tmp/build.log"
    bad "packaging/build-deb.sh failed (log above)"
    finish
  fi
fi
deb=$debs/ipsecctl_${version}_${arch}.deb
[ -f "$deb" ] && ok "$(basename "$deb") exists (version $version from CMakeLists.txt)" \
  || { bad "no $deb"; finish; }
ls "$debs"/ipsecctl-dbgsym_"${version}"_"${arch}".*deb >/dev/null 2>&1 && ok "the -dbgsym package exists" \
  || bad "no ipsecctl-dbgsym_${version}_${arch}.deb beside it"

# --- contents ----------------------------------------------------------------
listing=$(dpkg-deb -c "$deb")
# has MODE PATH: the listing holds PATH (as ./PATH) with permissions MODE.
has() {
  if awk -v m="$1" -v p="./$2" '$1 == m && $NF == p {f = 1} END {exit !f}' <<<"$listing"; then
    ok "dpkg-deb -c: $1 $2"
  else
    bad "dpkg-deb -c: no $2 with mode $1 (found: $(grep -F " ./$2" <<<"$listing" | head -1))"
  fi
}
has -rwxr-xr-x usr/sbin/ipsecd
has -rwxr-xr-x usr/sbin/ipsecctl
has -rw-r--r-- lib/systemd/system/ipsecd.service
has -rwxr-xr-x usr/libexec/ipsecctl/ipsecd-stop
has -rw-r--r-- usr/lib/tmpfiles.d/ipsecd.conf
has -rw-r--r-- usr/share/bash-completion/completions/ipsecctl
has drwxr-x--- etc/ipsecctl/
has -rw-r--r-- etc/ipsecctl/ipsecd.json
has -rw-r--r-- etc/default/ipsecd
has -rw-r--r-- usr/share/ipsecctl/ipsecctl.schema.json
has -rw-r--r-- usr/share/doc/ipsecctl/copyright
has -rw-r--r-- usr/share/doc/ipsecctl/README.Debian
for page in "$ROOT"/man/*.[1-8]; do
  name=$(basename "$page")
  has -rw-r--r-- "usr/share/man/man${name##*.}/$name.gz"
done
for f in "$ROOT"/policies/examples/*/*; do
  rel=${f#"$ROOT"/policies/examples/}
  if grep -qE " \./usr/share/doc/ipsecctl/examples/$rel(\.gz)?$" <<<"$listing"; then
    ok "example $rel is shipped"
  else
    bad "example $rel is missing from /usr/share/doc/ipsecctl/examples/"
  fi
done
grep -qE ' \./usr/share/doc/ipsecctl/policies/README\.md(\.gz)?$' <<<"$listing" \
  && ok "policies/README.md is shipped" || bad "usr/share/doc/ipsecctl/policies/README.md is missing"
conffiles=$(dpkg-deb -I "$deb" conffiles)
for c in /etc/ipsecctl/ipsecd.json /etc/default/ipsecd; do
  grep -qxF "$c" <<<"$conffiles" && ok "$c is a conffile" || bad "$c is not a conffile"
done
for d in libmnl0 libssl3 libsystemd0; do
  dpkg-deb -f "$deb" Depends | grep -q "$d" && ok "Depends names $d" || bad "Depends lacks $d"
done

# --- lintian -----------------------------------------------------------------
changes=$debs/ipsecctl_${version}_${arch}.changes
[ -f "$changes" ] || changes=$deb
lintian --fail-on error,warning -I --pedantic "$changes" >"$tmp/lintian.log" 2>&1
lint_rc=$?
grep -v '^running with root privileges' "$tmp/lintian.log" | sed 's/^/  lintian: /'
[ "$lint_rc" = 0 ] && ok "lintian: no error or warning" || bad "lintian reports errors or warnings (above)"

# --- the unpacked package: completion and unit file ----------------------------
dpkg-deb -x "$deb" "$tmp/root"
ctl=$tmp/root/usr/sbin/ipsecctl
completion=$tmp/root/usr/share/bash-completion/completions/ipsecctl
subs=$("$ctl" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$subs" ] || bad "no subcommands in ipsecctl --help"
words=$(grep -E '^ *local subcommands=' "$completion")
for sub in $subs; do
  grep -qw -- "$sub" <<<"$words" && ok "completion knows subcommand $sub" \
    || bad "bash completion lacks subcommand $sub"
  # the options of the completion's case branch for this subcommand, plus -h --help
  branch=$(grep -E "^ +([a-z-]+ \| )*$sub( \| [a-z-]+)*\) opts\+=" "$completion")
  for opt in $("$ctl" "$sub" --help | awk '/^Options:/{on=1; next} /^$/{on=0} on && /^  -/{print $1}' | tr ',' ' '); do
    grep -qE -- "[ \"]$opt( |\"|$)" <<<" -h --help $branch" && ok "completion: $sub $opt" \
      || bad "bash completion lacks $sub $opt"
  done
done

unit=$tmp/root/lib/systemd/system/ipsecd.service
score=$(systemd-analyze security --offline=yes "$unit" 2>&1 | sed -n 's/.*Overall exposure level for ipsecd.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN {exit !(s <= 2.5)}'; then
  ok "systemd-analyze security: exposure $score (at most 2.5)"
else
  bad "systemd-analyze security: exposure '${score:-unknown}' above 2.5 or not computed"
fi
for key in Type=notify "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE" ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes RuntimeDirectory=ipsecd \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX" SystemCallFilter=@system-service \
  'ExecStart=/usr/sbin/ipsecd --config $IPSECD_CONFIG' 'ExecReload=/usr/sbin/ipsecctl load $IPSECD_CONFIG'; do
  grep -q "^$(sed 's/[$]/[$]/g' <<<"$key")" "$unit" && ok "unit: $key" || bad "unit lacks $key"
done

# --- install, remove, purge (root only) ----------------------------------------
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED (part): install/remove/purge need root; the checks above ran"
  finish
fi
if dpkg-query -W -f='${Status}' ipsecctl 2>/dev/null | grep -q installed; then
  echo "SKIPPED (part): an ipsecctl package is installed on this machine already; not touching it"
  finish
fi
for f in /usr/sbin/ipsecd /usr/sbin/ipsecctl /etc/ipsecctl; do
  if [ -e "$f" ] && ! dpkg -S "$f" >/dev/null 2>&1; then
    echo "SKIPPED (part): $f exists and no package owns it (a make install?); not overwriting it"
    finish
  fi
done
installed_by_us=1
if out=$(dpkg -i "$deb" 2>&1); then
  ok "dpkg -i $(basename "$deb")"
else
  echo "$out"
  bad "dpkg -i failed (missing dependencies? tests/run deps installs them)"
  finish
fi
v=$(/usr/sbin/ipsecctl --version 2>&1)
[ "$v" = "ipsecctl $version" ] && ok "installed ipsecctl --version: $v" || bad "ipsecctl --version: '$v'"
/usr/sbin/ipsecd --help >/dev/null 2>&1 && ok "installed ipsecd --help" || bad "installed ipsecd --help fails"
if command -v man >/dev/null; then
  for pg in "8 ipsecctl" "5 ipsecctl-policy"; do
    # shellcheck disable=SC2086
    text=$(MANPAGER=cat MANWIDTH=80 man $pg 2>&1)
    grep -q "^NAME" <<<"$text" && ok "man $pg shows the page ($(man -w $pg))" || bad "man $pg: $text"
  done
  [ -f "$ROOT/man/ipsecd.8" ] && { MANPAGER=cat man 8 ipsecd 2>/dev/null | grep -q '^NAME' \
    && ok "man 8 ipsecd" || bad "man 8 ipsecd does not show the page"; }
else
  bad "man is not installed (man-db: tests/run deps)"
fi
out=$(/usr/sbin/ipsecctl validate /etc/ipsecctl/ipsecd.json 2>&1) && ok "the default /etc/ipsecctl/ipsecd.json validates: $out" \
  || bad "default config refused: $out"
mode=$(stat -c '%a %U:%G' /etc/ipsecctl)
[ "$mode" = "750 root:root" ] && ok "/etc/ipsecctl is $mode" || bad "/etc/ipsecctl is $mode, not 750 root:root"
if command -v systemd-tmpfiles >/dev/null; then
  mode=$(stat -c '%a %U:%G' /run/ipsecd 2>&1)
  [ "$mode" = "750 root:root" ] && ok "tmpfiles made /run/ipsecd $mode" || bad "/run/ipsecd: $mode"
fi
[ -L /etc/systemd/system/multi-user.target.wants/ipsecd.service ] && ok "ipsecd.service is enabled" \
  || bad "ipsecd.service is not enabled (no multi-user.target.wants link)"
if [ -d /run/systemd/system ]; then
  systemctl is-active --quiet ipsecd && bad "ipsecd.service was started on installation" \
    || ok "ipsecd.service is not started on installation"
else
  echo "note: systemd is not PID 1 here: the no-start on installation is checked in the maintainer scripts only"
  grep -q 'deb-systemd-invoke start\|deb-systemd-invoke restart' /var/lib/dpkg/info/ipsecctl.postinst \
    && bad "postinst starts ipsecd" || ok "postinst does not start ipsecd (only try-restart on upgrade)"
fi
grep -q "deb-systemd-invoke stop 'ipsecd.service'" /var/lib/dpkg/info/ipsecctl.prerm 2>/dev/null \
  && ok "prerm stops ipsecd on removal" || bad "prerm does not stop ipsecd"
vout=$(systemd-analyze verify /lib/systemd/system/ipsecd.service 2>&1) && ok "systemd-analyze verify: clean" \
  || bad "systemd-analyze verify: $vout"

# The installed daemon as the unit runs it, minus the kernel: default config,
# a private control socket, the memory kernel; then SIGTERM.
sock=$tmp/ctl.sock
/usr/sbin/ipsecd --config /etc/ipsecctl/ipsecd.json --memory-kernel --control "$sock" >"$tmp/ipsecd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
if out=$(/usr/sbin/ipsecctl list-conns --socket "$sock" 2>&1); then
  ok "installed ipsecd answers list-conns on its control socket"
else
  bad "installed ipsecd does not answer: $out $(cat "$tmp/ipsecd.log")"
fi
kill -TERM "$daemon_pid" 2>/dev/null
for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$daemon_pid" 2>/dev/null; then
  bad "installed ipsecd ignores SIGTERM"; kill -KILL "$daemon_pid"
else
  wait "$daemon_pid" && ok "installed ipsecd exits 0 on SIGTERM" || bad "ipsecd exit status $? on SIGTERM"
fi
daemon_pid=

# Completion from the installed file, as bash runs it.
if [ -f /usr/share/bash-completion/bash_completion ]; then
  got=$(bash -c 'source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/ipsecctl
    COMP_WORDS=(ipsecctl ap); COMP_CWORD=1; COMP_LINE="ipsecctl ap"; COMP_POINT=${#COMP_LINE}
    _ipsecctl; echo "${COMPREPLY[*]}"
    COMP_WORDS=(ipsecctl apply --d); COMP_CWORD=2; COMP_LINE="ipsecctl apply --d"; COMP_POINT=${#COMP_LINE}
    _ipsecctl; echo "${COMPREPLY[*]}"' 2>&1)
  [ "$got" = $'apply\n--dry-run' ] && ok "bash completes 'ap' to apply and 'apply --d' to --dry-run" \
    || bad "bash completion gave: $got"
else
  echo "note: bash-completion is not installed; the completion was not run"
fi

out=$(dpkg -r ipsecctl 2>&1) && ok "dpkg -r ipsecctl" || bad "dpkg -r: $out"
[ ! -e /usr/sbin/ipsecd ] && [ ! -e /usr/sbin/ipsecctl ] && ok "remove: the programs are gone" \
  || bad "remove left /usr/sbin/ipsecd or ipsecctl"
[ -f /etc/ipsecctl/ipsecd.json ] && [ -f /etc/default/ipsecd ] && ok "remove: the configuration is kept" \
  || bad "remove deleted the configuration"
st=$(dpkg-query -W -f='${db:Status-Abbrev}' ipsecctl 2>&1)
[ "${st%% *}" = rc ] && ok "dpkg status after remove: rc (config-files)" || bad "dpkg status after remove: $st"
out=$(dpkg -P ipsecctl 2>&1) && ok "dpkg -P ipsecctl" || bad "dpkg -P: $out"
[ ! -e /etc/ipsecctl ] && [ ! -e /etc/default/ipsecd ] && ok "purge: /etc/ipsecctl and /etc/default/ipsecd are gone" \
  || bad "purge left $(ls -d /etc/ipsecctl /etc/default/ipsecd 2>/dev/null)"
[ ! -e /etc/systemd/system/multi-user.target.wants/ipsecd.service ] && ok "purge: the enable link is gone" \
  || bad "purge left the multi-user.target.wants link"
dpkg-query -W ipsecctl >/dev/null 2>&1 && bad "dpkg still knows ipsecctl after purge" || ok "dpkg forgot ipsecctl"
installed_by_us=0
finish
