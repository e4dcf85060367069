// SPDX-License-Identifier: Apache-2.0
// Responder-side CHILD SA negotiation for IKE_AUTH and CREATE_CHILD_SA.
#include "ike/v2/child_negotiation.h"

#include "ike/traffic_selectors.h"
#include "ike/v2/proposals.h"

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

}  // namespace ipsec::ike::v2
