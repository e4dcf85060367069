// SPDX-License-Identifier: Apache-2.0
// IKEv2 SAs as summaries.
#include "ike/v2/summary.h"

#include "ike/v2/exchanges.h"
#include "wire/names.h"

namespace ipsec::ike {

std::string describe_transforms(const wire::Proposal& p) {
  std::string out;
  for (const auto& t : p.transforms) {
    if (!out.empty()) out += '/';
    out += wire::transform_name(t.type, t.id);
    if (auto bits = t.key_length()) out += "_" + std::to_string(*bits);
  }
  return out;
}

}  // namespace ipsec::ike

namespace ipsec::ike::v2 {
namespace {

SaPhase phase_of(IkeState s) {
  switch (s) {
    case IkeState::Established:
      return SaPhase::Established;
    case IkeState::Deleting:
      return SaPhase::Deleting;
    case IkeState::Closed:
    case IkeState::Failed:
      return SaPhase::Gone;
    default:
      return SaPhase::Negotiating;
  }
}

}  // namespace

ChildSummary summarize(const IkeSa& sa, const ChildSa& ch) {
  ChildSummary c;
  c.name = ch.cfg ? ch.cfg->name : sa.config->children.front().name;
  c.state = std::string(to_string(ch.state));
  c.in_kernel = child_in_kernel(ch);
  if (ch.kernel_gone) {  // never "installed" when the kernel does not hold it
    c.state = "missing";
    c.in_kernel = false;
  }
  c.outbound_pending = ch.outbound_pending;
  c.spi_in = ch.spi_in;
  c.spi_out = ch.spi_out;
  c.transport = ch.transport;
  for (const auto& ts : ch.local_ts) c.local_ts.push_back(describe(ts));
  for (const auto& ts : ch.remote_ts) c.remote_ts.push_back(describe(ts));
  if (ch.state != ChildState::None) c.algorithms = describe_transforms(ch.proposal);
  c.failure = ch.failure;
  c.replaces = ch.replaces;
  c.installed = ch.installed;
  c.soft_at = ch.soft_at;
  c.hard_at = ch.hard_at;
  return c;
}

IkeSaSummary summarize(const IkeSa& sa, bool with_children) {
  IkeSaSummary s;
  s.connection = sa.config->name;
  s.local_spi = sa.local_spi();
  s.spi_i = sa.spi_i;
  s.spi_r = sa.spi_r;
  s.initiator = sa.initiator;
  s.phase = phase_of(sa.state);
  s.state = std::string(to_string(sa.state));
  s.replaced = sa.superseded();
  s.local = sa.local;
  s.remote = sa.remote;
  s.algorithms = describe_transforms(sa.ike_proposal);
  if (sa.state == IkeState::Established || sa.state == IkeState::Deleting) {
    s.peer_id = sa.peer_id.str();
    s.peer_auth = sa.config->remote_auth == AuthMethod::Pubkey ? "pubkey" : "psk";
    s.peer_cert = sa.peer_cert_subject;
  }
  s.failure = sa.failure;
  s.created = sa.created;
  s.established_at = sa.established_at;
  s.rekey_at = sa.rekey_at;
  s.expire_at = sa.expire_at;
  s.replaces = sa.replaces;
  if (with_children)
    for (const ChildSa& ch : sa.children) s.children.push_back(summarize(sa, ch));
  return s;
}

ClosedSummary summarize(const ClosedSa& c) {
  return ClosedSummary{c.label, std::string(to_string(c.state)), c.reason, c.child_failure};
}

std::vector<IkeSaSummary> summaries(const Engine& engine, bool with_children) {
  std::vector<IkeSaSummary> out;
  for (const IkeSa* sa : engine.sas()) out.push_back(summarize(*sa, with_children));
  return out;
}

std::vector<ClosedSummary> closed_summaries(const Engine& engine) {
  std::vector<ClosedSummary> out;
  for (const auto& c : engine.closed_sas()) out.push_back(summarize(c));
  return out;
}

}  // namespace ipsec::ike::v2
