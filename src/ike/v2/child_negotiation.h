// SPDX-License-Identifier: Apache-2.0
// The responder's side of negotiating a CHILD SA, shared by IKE_AUTH (§1.2) and
// CREATE_CHILD_SA (§1.3): which of the connection's children fits the peer's traffic
// selectors and mode, which of its ESP proposals (§2.7) and which narrowed selectors
// (§2.9) it gets; or the error Notify that refuses it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ike/config.h"
#include "wire/payloads.h"

namespace ipsec::ike::v2 {

struct ChildRequest {
  const std::vector<wire::Proposal>& proposals;
  const std::vector<wire::TrafficSelector>&tsi, &tsr;
  bool transport = false;  // N(USE_TRANSPORT_MODE)
  // CREATE_CHILD_SA: the group of the KE payload (PFS); IKE_AUTH: no KE, and any DH
  // transform of the peer's proposals is ignored (§1.2).
  bool in_ike_auth = false;
  std::optional<uint16_t> ke_group;
};

struct ChildChoice {
  const ChildConfig* cfg = nullptr;               // null: refused, see `error`
  wire::Proposal proposal;                        // with the peer's SPI
  std::vector<wire::TrafficSelector> ts_i, ts_r;  // narrowed, covered ones dropped
  wire::NotifyType error = wire::NotifyType::NoProposalChosen;
  std::string why;  // operator-readable, when refused
  explicit operator bool() const { return cfg != nullptr; }
};

// `only`: a rekey keeps its child (§1.3.3); otherwise every child of `conn` is tried in
// order and the first that fits wins. Refused with TS_UNACCEPTABLE when no child's
// selectors fit, NO_PROPOSAL_CHOSEN when selectors fit but mode or proposals do not.
ChildChoice choose_child(const ConnectionConfig& conn, const ChildRequest& req,
                         const ChildConfig* only = nullptr);

}  // namespace ipsec::ike::v2
