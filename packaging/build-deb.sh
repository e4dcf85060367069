#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package from this source tree:
#   packaging/build-deb.sh OUTDIR
# copies the tree (git's tracked and untracked-but-not-ignored files, so no build
# directories) to a temporary directory, puts packaging/debian at debian/ and runs
# `dpkg-buildpackage -us -uc -b`. OUTDIR receives ipsecctl_VERSION_ARCH.deb, the
# -dbgsym package, .buildinfo and .changes. DEB_BUILD_OPTIONS is passed through
# (e.g. "nocheck parallel=2"); the version is CMakeLists.txt's project VERSION
# and must equal debian/changelog's.
set -euo pipefail

die() { echo "build-deb.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
for tool in dpkg-buildpackage dpkg-parsechangelog dh; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install dpkg-dev debhelper)"
done

version=$(sed -n 's/^project(ipsecctl VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[ -n "$version" ] || die "no 'project(ipsecctl VERSION x.y.z' line in $root/CMakeLists.txt"
deb_version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
[ "$deb_version" = "$version" ] ||
  die "packaging/debian/changelog is at $deb_version but CMakeLists.txt at $version: add a changelog entry (dch -v $version)"

work=$(mktemp -d /var/tmp/ipsecctl-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$work/ipsecctl-$version"
mkdir "$src"

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked files still present, and new files not ignored (.gitignore has build*/).
  git -C "$root" ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$root/$f" ] || [ -L "$root/$f" ] && printf '%s\0' "$f"; done |
    tar -C "$root" --null -T - -cf - | tar -C "$src" -xf -
else
  tar -C "$root" --exclude='./build*' --exclude=./out --exclude=./.git -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -a "$root/packaging/debian" "$src/debian"

echo "== dpkg-buildpackage in $src (DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-})"
(cd "$src" && dpkg-buildpackage -us -uc -b)

shopt -s nullglob
made=("$work"/ipsecctl*_"$version"_*.deb "$work"/ipsecctl*_"$version"_*.ddeb
      "$work"/ipsecctl_"$version"_*.buildinfo "$work"/ipsecctl_"$version"_*.changes)
[ ${#made[@]} -gt 0 ] || die "dpkg-buildpackage made no package in $work"
cp "${made[@]}" "$out/"
for f in "${made[@]}"; do echo "built $out/$(basename "$f")"; done
