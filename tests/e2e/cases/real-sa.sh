#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: the host-kernel tests on Debian's kernel, which has ESP/AH. Runs the
# "real-sa" doctest suite (every SA attribute programmed through XfrmKernel
# read back by get/dump and `ip xfrm state`, EXPIRE events), then the whole
# host suite, to show it passes on this kernel too. Each case makes its own
# network namespaces; no traffic leaves them.
# vm-run: requires HOST_TESTS
. "$(dirname "$(realpath "$0")")/../lib.sh"
[ -n "${HOST_TESTS:-}" ] && [ -x "$HOST_TESTS" ] || skip "host_tests not built (HOST_TESTS='${HOST_TESTS:-}')"
load_modules
# crypto the suite asks for beyond what load_modules preloads (the guest's
# kernel cannot autoload modules: its usermode modprobe runs in the initramfs)
for m in sha512_ssse3 sha512_generic authencesn xfrm_ipcomp ipcomp ipcomp6 deflate; do
    modprobe "$m" || fail "cannot load kernel module $m"
done

# host_tests: runs it with ARGS; fails the job unless every case passed (a
# 77 here means the suite could not run at all, which must not pass silently)
host_tests() {
    local rc
    log "+ host_tests $*"
    "$HOST_TESTS" "$@"
    rc=$?
    [ "$rc" = 0 ] || fail "host_tests $* exited $rc"
}

step "real-sa suite: SAs against a kernel with ESP/AH"
host_tests -ts=real-sa
step "the whole host suite on kernel $(uname -r)"
host_tests

pass "real-sa"
