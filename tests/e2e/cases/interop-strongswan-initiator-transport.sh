#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# e2e: IKEv2 interop with strongSwan (Debian 12's charon + swanctl 5.9.8) on
# Debian's real kernel: our ipsecd as the initiator (ipsecctl up),
# transport mode between the gateways (traffic gwA <-> gwB).
# ipsecd (real kernel) in gwA, charon in gwB; one combination per proposal set:
# AES-GCM-256 + X25519, AES-CBC-256/HMAC-SHA256 + MODP-2048, ChaCha20-Poly1305
# + ECP-256. Each: both sides show the CHILD SA with the same SPIs and the asked
# algorithms, the kernels hold exactly those SAs and policies, ping crosses and
# the four kernel SA counters grow; teardown (ipsecctl down, swanctl
# --terminate, alternately) leaves no SA and no policy on either side. See
# tests/e2e/strongswan/matrix.sh. Logs in the job folder: ipsecd-*.log,
# charon.log.
# vm-run: requires IPSECCTL
# vm-run: requires IPSECD
. "$(dirname "$(realpath "$0")")/../lib.sh"
. "$E2E_DIR/strongswan/charon.sh"
. "$E2E_DIR/strongswan/matrix.sh"
interop_matrix initiator transport
pass "interop-strongswan-initiator-transport"
