#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: mismatched keys (tests/e2e/fixtures/esp-badkey: esp-transport, but the
# right host holds a different key for the left->right SA 0x100b).
# Proves: no traffic passes either way (requests die at right; replies to
# right's requests die at right too), right's SA 0x100b counts integrity
# failures, and right's XfrmInStateProtoError grows; the healthy SA 0x200b
# (right->left) still works, as left's counters show.
# vm-run: requires IPSECCTL
. "$(dirname "$(realpath "$0")")/../lib.sh"
require_ipsecctl
load_modules
topo_two_hosts
FX=$FIXTURES/esp-badkey
L=192.0.2.1 R=192.0.2.2

step "apply the mismatched pair"
apply left "$FX/left.json"
apply right "$FX/right.json"

step "left -> right: ESP sent with left's key, rejected by right"
out0=$(sa_snap left $L $R esp 0x100b)
fail0=$(sa_stat right $L $R esp 0x100b failed)
in0=$(sa_stat right $L $R esp 0x100b packets)
perr0=$(xfrm_stat right XfrmInStateProtoError)
ping_fails left $R 3
sa_grew "left out (sent encrypted)" "$out0" left $L $R esp 0x100b 3
fail1=$(sa_stat right $L $R esp 0x100b failed)
in1=$(sa_stat right $L $R esp 0x100b packets)
perr1=$(xfrm_stat right XfrmInStateProtoError)
log "right SA 0x100b: integrity failures $fail0 -> $fail1, packets accepted $in0 -> $in1"
log "right /proc/net/xfrm_stat XfrmInStateProtoError: $perr0 -> $perr1"
assert_ge "right SA 0x100b integrity failures" $(( fail0 + 3 )) "$fail1"
assert_ge "right XfrmInStateProtoError" $(( perr0 + 3 )) "$perr1"
assert_eq "right SA 0x100b packets accepted" "$in0" "$in1"

step "right -> left: the request gets through (good key), the reply does not"
good0=$(sa_snap left $R $L esp 0x200b)
fail0=$fail1
ping_fails right $L 3
sa_grew "left in (good SA 0x200b)" "$good0" left $R $L esp 0x200b 3
fail1=$(sa_stat right $L $R esp 0x100b failed)
assert_ge "right SA 0x100b integrity failures (the replies)" $(( fail0 + 3 )) "$fail1"

assert_cli_counters right $L $R esp 0x100b

step "other error counters on right (for the record)"
ip netns exec right awk '$2 != 0' /proc/net/xfrm_stat | sed 's/^/    /'

pass "negative-badkey"
