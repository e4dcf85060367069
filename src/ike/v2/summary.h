// SPDX-License-Identifier: Apache-2.0
// The IKEv2 engine's SAs as version-neutral summaries (ike/summary.h).
#pragma once

#include <vector>

#include "ike/summary.h"
#include "ike/v2/engine.h"

namespace ipsec::ike::v2 {

ChildSummary summarize(const IkeSa& sa, const ChildSa& child);
IkeSaSummary summarize(const IkeSa& sa, bool with_children = true);
ClosedSummary summarize(const ClosedSa& closed);
std::vector<IkeSaSummary> summaries(const Engine& engine, bool with_children = true);
std::vector<ClosedSummary> closed_summaries(const Engine& engine);

}  // namespace ipsec::ike::v2
