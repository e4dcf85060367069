// Policy-file connections to the IKEv2 engine's ConnectionConfig: a field-by-field translation.
#include "ike/v2/from_policy.h"

namespace ipsec::ike::v2 {

namespace {

// RFC 7296 §3.5: the policy's IdKind values are the IANA ID types.
Identity identity_of(const policy::Identity &id) {
  return Identity{static_cast<wire::IdType>(id.kind), id.data};
}

std::vector<EncrSpec> encr_of(const policy::Proposal &p) {
  std::vector<EncrSpec> out;
  for (const auto &e : p.encryption) out.push_back({static_cast<wire::EncrId>(e.id), e.key_bits});
  return out;
}

template <class Id>
std::vector<Id> ids_of(const std::vector<uint16_t> &ids) {
  std::vector<Id> out;
  for (uint16_t id : ids) out.push_back(static_cast<Id>(id));
  return out;
}

IkeProposalConfig ike_proposal(const policy::Proposal &p) {
  return {encr_of(p), ids_of<wire::PrfId>(p.prf), ids_of<wire::IntegId>(p.integrity),
          ids_of<wire::DhGroup>(p.groups)};
}

// ESP groups (PFS for rekeys) have no place in the engine's config yet: the
// first CHILD SA never has PFS (RFC 7296 §1.2).
EspProposalConfig esp_proposal(const policy::Proposal &p) {
  EspProposalConfig out{encr_of(p), ids_of<wire::IntegId>(p.integrity), ids_of<wire::EsnId>(p.esn)};
  if (out.esn.empty()) out.esn = {wire::EsnId::NoEsn};
  return out;
}

ChildConfig child_of(const policy::Child &ch) {
  ChildConfig out;
  out.name = ch.name;
  out.mode = ch.mode;
  out.local_ts = ch.local_ts;
  out.remote_ts = ch.remote_ts;
  for (const auto &p : ch.esp_proposals) out.proposals.push_back(esp_proposal(p));
  out.reqid = ch.reqid;
  out.replay_window = ch.replay_window;
  return out;
}

}  // namespace

Result<ConnectionConfig> to_engine_config(const policy::Connection &c) {
  const std::string name = "connection \"" + c.name + "\"";
  if (c.version != 2) return fail(name + ": IKE version " + std::to_string(c.version));
  if (c.children.size() != 1)
    return fail(name + " has " + std::to_string(c.children.size()) +
                " children; the IKEv2 engine runs exactly one CHILD SA per connection");
  if (c.proposals.empty()) return fail(name + " has no IKE proposals");
  if (c.children.front().esp_proposals.empty()) return fail(name + " has no ESP proposals");
  if (c.psk.empty()) return fail(name + " has no pre-shared key");
  ConnectionConfig out;
  out.name = c.name;
  out.local = Endpoint{c.local.address, 500};
  out.remote = Endpoint{c.remote.address, 500};
  out.local_id = identity_of(c.local.id);
  out.remote_id = identity_of(c.remote.id);
  out.psk = c.psk;
  for (const auto &p : c.proposals) out.proposals.push_back(ike_proposal(p));
  out.child = child_of(c.children.front());
  out.force_encap = c.encap;
  return out;
}

}  // namespace ipsec::ike::v2
