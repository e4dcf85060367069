// SPDX-License-Identifier: Apache-2.0
// Handing IKE SAs from one ipsecd process to the next (a restart or a package upgrade):
// an established IKE SA with nothing in flight is written as a self-contained record (its
// SPIs, negotiated proposal, keys, message IDs, last response, NAT state, peer identity,
// timers in CLOCK_MONOTONIC time and its installed CHILD SAs with their proposals,
// selectors and lifetimes) and rebuilt from it, SK ciphers included, so that the next
// process continues it where this one stopped: same SPIs, keys, message IDs and rekey
// schedule, without a message to the peer. The CHILD SAs' ESP keys never leave the kernel,
// which keeps them (and their traffic) across the restart.
//
// Records hold secrets: they live in SecretBytes only, and the file the daemon keeps them
// in is root's, mode 0600, read once and removed.
#pragma once

#include <memory>

#include "common/result.h"
#include "common/secret.h"
#include "ike/connections.h"
#include "ike/v2/ike_sa.h"

namespace ipsec::ike::v2 {

// Whether `sa` can be handed over now: established, current (not superseded), no request
// of ours or of the peer's half-way (no exchange in flight, queued or delayed, no
// authentication waiting), and every CHILD SA either installed whole or gone.
bool can_hand_over(const IkeSa& sa);

// The record of `sa` (can_hand_over must hold). Its installed CHILD SAs go with it.
SecretBytes export_ike_sa(const IkeSa& sa);

// Rebuilds an IKE SA from its record, with the configuration of its connection (and of its
// children) as `connections` has it now. An error names what is wrong: a malformed or
// truncated record, a connection or child that no longer exists, algorithms this build
// does not have. CHILD SAs come back as installed; whether the kernel still holds them is
// the caller's to check (Engine::reconcile).
Result<std::unique_ptr<IkeSa>> import_ike_sa(ByteView record, const Connections& connections);

}  // namespace ipsec::ike::v2
