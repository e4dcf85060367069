#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ASan and UBSan in `check`: the daemon, the CLI and the unit and host test binaries built
# with -fsanitize=address,undefined in their own tree (one core, niced: ctest runs this
# beside the guest tests, which need the other), then the unit tests, the host kernel tests
# and every daemon test run against those binaries. Every sanitizer report goes to a file
# (log_path); any file there fails the run, whatever a test script made of the exit code.
#   run.sh build SRC DIR      configure and build DIR
#   run.sh unit|host|daemon SRC DIR
set -u
mode=$1 src=$2 dir=$3
reports=$dir/sanitizer-reports
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"

# Fails (1) when a sanitizer wrote a report; prints them.
no_reports() {
  local f found=0
  for f in "$reports"/*; do
    [ -e "$f" ] || continue
    found=1
    echo "== sanitizer report $f"
    head -60 "$f"
  done
  [ "$found" = 0 ] && echo "no sanitizer report"
  return "$found"
}

case $mode in
  build)
    # -O1 -g1: quick to build, line numbers in reports, fast enough to run.
    cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
      -DCMAKE_C_FLAGS="-O1 -g1" -DIPSEC_SANITIZE=ON -DIPSEC_WERROR=OFF \
      >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
    cmake --build "$dir" -j"${JOBS:-2}" --target unit_tests host_tests ipsecd ipsecctl
    ;;
  unit)
    rm -rf "$reports" && mkdir -p "$reports"
    "$dir/tests/unit/unit_tests" --minimal || rc=1
    no_reports || rc=1
    exit "${rc:-0}"
    ;;
  host)
    rm -rf "$reports" && mkdir -p "$reports"
    # Not the real-sa suite: this kernel has no ESP (the guest runs it).
    "$dir/tests/host/host_tests" --minimal || rc=1  # as host_kernel: real-sa left out
    no_reports || rc=1
    exit "${rc:-0}"
    ;;
  daemon)
    rm -rf "$reports" && mkdir -p "$reports"
    export IPSECD=$dir/src/daemon/ipsecd IPSECCTL=$dir/src/ctl/ipsecctl
    passed=0 skipped=0 failed=()
    for t in "$src"/tests/daemon/*_test.sh; do
      name=$(basename "$t" .sh)
      IPSECD_WORKERS=2 bash "$t" >"$dir/$name.log" 2>&1
      case $? in
        0) passed=$((passed + 1)) ;;
        77) skipped=$((skipped + 1)); echo "$name: $(grep -m1 SKIPPED "$dir/$name.log")" ;;
        *) failed+=("$name"); echo "== $name failed:"; grep -E 'FAILED|bad' "$dir/$name.log" | head -20 ;;
      esac
    done
    echo "daemon tests under ASan+UBSan: $passed passed, $skipped skipped, ${#failed[@]} failed ${failed[*]}"
    no_reports || exit 1
    [ "${#failed[@]}" = 0 ]
    ;;
  *) echo "usage: $0 build|unit|host|daemon SRC DIR" >&2; exit 2 ;;
esac
