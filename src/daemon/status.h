// The engine's SAs as the control protocol's status (control/protocol.h).
#pragma once

#include <cstdint>
#include <string>

#include "control/protocol.h"
#include "ike/v2/engine.h"
#include "kernel/kernel.h"
#include "wire/payloads.h"

namespace ipsec::daemon {

// "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519"
std::string describe(const wire::Proposal& p);

// One CHILD SA of `sa`: times from the engine (`now`: the engine's clock), traffic
// counters and age from `kernel` (a failed query leaves them 0; `wall_now`: seconds since
// the epoch, the kernel's add_time clock).
control::ChildStatus child_status(const ike::v2::IkeSa& sa, const ike::v2::ChildSa& child,
                                  kernel::Kernel& kernel, ike::Millis now, uint64_t wall_now);
// One IKE SA with every CHILD SA, marked with `worker`.
control::IkeStatus ike_status(const ike::v2::IkeSa& sa, kernel::Kernel& kernel, uint32_t worker,
                              ike::Millis now, uint64_t wall_now);

// One engine's SAs, closed SAs and counters; the CHILD SAs' traffic counters and age
// come from `kernel` (a failed query leaves them 0). `now`: the engine's clock;
// `wall_now`: seconds since the epoch, the kernel's add_time clock. Every IKE SA is
// marked with `worker`.
control::Status make_status(const ike::v2::Engine& engine, kernel::Kernel& kernel, uint32_t worker,
                            ike::Millis now, uint64_t wall_now);

// Appends `part`'s SAs and closed SAs to `into` and adds up their counters.
void merge(control::Status& into, const control::Status& part);

}  // namespace ipsec::daemon
