// SPDX-License-Identifier: Apache-2.0
// CHILD SA negotiation, responder and initiator side, for IKE_AUTH and CREATE_CHILD_SA.
#include "ike/v2/child_negotiation.h"

#include "ike/traffic_selectors.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/proposals.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {
namespace {

std::vector<wire::Proposal> without_dh(std::vector<wire::Proposal> ps) {
  for (auto& p : ps)
    std::erase_if(p.transforms,
                  [](const wire::Transform& t) { return t.type == wire::TransformType::Dh; });
  return ps;
}

std::string mode_name(bool transport) { return transport ? " transport" : " tunnel"; }

// One child: selectors first (they decide which child the peer means), then mode and
// proposals.
ChildChoice try_child(const ChildConfig& cc, const ChildRequest& req) {
  ChildChoice out;
  out.ts_i = drop_covered(narrow(req.tsi, cc.remote_ts));
  out.ts_r = drop_covered(narrow(req.tsr, cc.local_ts));
  if (out.ts_i.empty() || out.ts_r.empty()) {
    out.error = wire::NotifyType::TsUnacceptable;
    out.why = "peer proposed " + describe(req.tsi) + " === " + describe(req.tsr);
    return out;
  }
  const auto mine = to_wire(cc.proposals, {}, !req.in_ike_auth);
  const auto theirs = req.in_ike_auth ? without_dh(req.proposals) : req.proposals;
  auto chosen = select_proposal(mine, theirs, req.ke_group);
  const bool transport = cc.mode == kernel::Mode::Transport;
  if (!chosen || chosen->spi.size() != 4 || !esp_algorithms(*chosen) ||
      req.transport != transport) {
    out.error = wire::NotifyType::NoProposalChosen;
    out.why = "peer offered " + describe(req.proposals) + mode_name(req.transport) + "; child " +
              cc.name + " accepts " + describe(mine) + mode_name(transport);
    return out;
  }
  out.cfg = &cc;
  out.proposal = std::move(*chosen);
  return out;
}

}  // namespace

ChildChoice choose_child(const ConnectionConfig& conn, const ChildRequest& req,
                         const ChildConfig* only) {
  if (only != nullptr) return try_child(*only, req);
  ChildChoice best;
  best.error = wire::NotifyType::TsUnacceptable;
  for (const auto& cc : conn.children) {
    ChildChoice c = try_child(cc, req);
    if (c) return c;
    // A child whose selectors fit says more about the failure than one whose do not.
    if (best.why.empty() || c.error == wire::NotifyType::NoProposalChosen) best = std::move(c);
  }
  if (best.why.empty()) best.why = "connection " + conn.name + " has no children";
  return best;
}

ChildAnswer check_child_answer(const ChildConfig& cc, uint32_t spi_in, bool with_dh,
                               const std::vector<wire::Payload>& in) {
  ChildAnswer out;
  const auto* sa_payload = find_payload<wire::SaPayload>(in);
  const auto* tsi = find_payload<wire::TsIPayload>(in);
  const auto* tsr = find_payload<wire::TsRPayload>(in);
  if (sa_payload == nullptr || tsi == nullptr || tsr == nullptr) {
    out.why = "response without SA, TSi and TSr";
    return out;
  }
  out.transport = has_notify(in, wire::NotifyType::UseTransportMode);
  const auto mine = to_wire(cc.proposals, esp_spi_bytes(spi_in), with_dh);
  auto chosen = select_proposal(mine, sa_payload->proposals);
  if (sa_payload->proposals.size() != 1 || !chosen || chosen->spi.size() != 4 ||
      !same_transforms(*chosen, sa_payload->proposals.front()) || !esp_algorithms(*chosen)) {
    out.why = "peer chose an ESP proposal we did not offer: " + describe(sa_payload->proposals);
    return out;
  }
  if (out.transport != (cc.mode == kernel::Mode::Transport)) {
    out.why = std::string("peer chose") + mode_name(out.transport) + " mode; child " + cc.name +
              " is" + mode_name(!out.transport);
    return out;
  }
  out.local_ts = drop_covered(tsi->selectors);
  out.remote_ts = drop_covered(tsr->selectors);
  if (drop_covered(narrow(out.local_ts, cc.local_ts)) != out.local_ts ||
      drop_covered(narrow(out.remote_ts, cc.remote_ts)) != out.remote_ts) {
    out.why = "peer's traffic selectors exceed ours: " + describe(tsi->selectors) +
              " === " + describe(tsr->selectors);
    return out;
  }
  out.proposal = std::move(*chosen);
  return out;
}

}  // namespace ipsec::ike::v2
