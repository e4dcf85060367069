// SPDX-License-Identifier: Apache-2.0
// Negotiating a CHILD SA, both sides, shared by IKE_AUTH (§1.2) and CREATE_CHILD_SA
// (§1.3). Responder: which of the connection's children fits the peer's traffic
// selectors and mode, which of its ESP proposals (§2.7) and which narrowed selectors
// (§2.9) it gets; or the error Notify that refuses it. Initiator: whether the
// responder's answer lies within what we offered.
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

// The initiator's reading of the responder's answer: one proposal of ours with an SPI,
// our mode, selectors within ours (the responder may only narrow, §2.9).
struct ChildAnswer {
  wire::Proposal proposal;  // with the peer's SPI
  bool transport = false;
  std::vector<wire::TrafficSelector> local_ts, remote_ts;  // covered ones dropped
  std::string why;                                         // non-empty: refused
  explicit operator bool() const { return why.empty(); }
};

// `in`: the response's payloads; `spi_in`: the SPI we offered; `with_dh`: our offer
// carried DH transforms (CREATE_CHILD_SA with PFS). Error Notifies are the caller's.
ChildAnswer check_child_answer(const ChildConfig& cc, uint32_t spi_in, bool with_dh,
                               const std::vector<wire::Payload>& in);

}  // namespace ipsec::ike::v2
