// SPDX-License-Identifier: Apache-2.0
// The engine's SAs as the control protocol's status (control/protocol.h).
#pragma once

#include <cstdint>
#include <string>

#include "control/protocol.h"
#include "ike/summary.h"
#include "kernel/kernel.h"

namespace ipsec::daemon {

// What one worker's engines report (ike::Ike's sas(), closed_sas(), counters()).
struct EngineView {
  std::vector<ike::IkeSaSummary> sas;
  std::vector<ike::ClosedSummary> closed;
  ike::Counters counters;
};

// One CHILD SA of `sa`: times from the engine (`now`: the engine's clock), traffic
// counters and age from `kernel` (a failed query leaves them 0; `wall_now`: seconds since
// the epoch, the kernel's add_time clock).
control::ChildStatus child_status(const ike::IkeSaSummary& sa, const ike::ChildSummary& child,
                                  kernel::Kernel& kernel, ike::Millis now, uint64_t wall_now);
// One IKE SA with every CHILD SA, marked with `worker`.
control::IkeStatus ike_status(const ike::IkeSaSummary& sa, kernel::Kernel& kernel, uint32_t worker,
                              ike::Millis now, uint64_t wall_now);

// One engine's SAs, closed SAs and counters; the CHILD SAs' traffic counters and age
// come from `kernel` (a failed query leaves them 0). `now`: the engine's clock;
// `wall_now`: seconds since the epoch, the kernel's add_time clock. Every IKE SA is
// marked with `worker`.
control::Status make_status(const EngineView& engine, kernel::Kernel& kernel, uint32_t worker,
                            ike::Millis now, uint64_t wall_now);

// Appends `part`'s SAs and closed SAs to `into` and adds up their counters.
void merge(control::Status& into, const control::Status& part);

}  // namespace ipsec::daemon
