// SPDX-License-Identifier: Apache-2.0
// Policy-file connections to the IKEv2 engine's ConnectionConfig: a field-by-field translation.
#include "ike/from_policy.h"

namespace ipsec::ike {

namespace {

// RFC 7296 §3.5: the policy's IdKind values are the IANA ID types.
Identity identity_of(const policy::Identity& id) {
  return Identity{static_cast<wire::IdType>(id.kind), id.data};
}

// The patterns a remote id may be; anything else is one identity.
IdentityMatch identity_match_of(const policy::Identity& id) {
  const std::string text(id.data.begin(), id.data.end());
  switch (id.kind) {
    case policy::IdKind::Any:
      return IdentityMatch::any();
    case policy::IdKind::DomainSuffix:
      return IdentityMatch::domain_suffix(text);
    case policy::IdKind::AddressPrefix:
      if (auto p = Prefix::parse(text)) return IdentityMatch::address_prefix(*p);
      return IdentityMatch(Identity{wire::IdType::KeyId, {}});  // never: the loader parsed it
    case policy::IdKind::DnPattern:
      return IdentityMatch::dn_pattern(id.data);
    default:
      return identity_of(id);
  }
}

std::vector<EncrSpec> encr_of(const policy::Proposal& p) {
  std::vector<EncrSpec> out;
  for (const auto& e : p.encryption) out.push_back({static_cast<wire::EncrId>(e.id), e.key_bits});
  return out;
}

template <class Id>
std::vector<Id> ids_of(const std::vector<uint16_t>& ids) {
  std::vector<Id> out;
  for (uint16_t id : ids) out.push_back(static_cast<Id>(id));
  return out;
}

IkeProposalConfig ike_proposal(const policy::Proposal& p) {
  return {encr_of(p), ids_of<wire::PrfId>(p.prf), ids_of<wire::IntegId>(p.integrity),
          ids_of<wire::DhGroup>(p.groups)};
}

// ESP groups are PFS for CREATE_CHILD_SA (§1.3.1); the engine leaves them out of IKE_AUTH,
// whose CHILD SA takes its keys from the IKE SA's key exchange (§1.2).
EspProposalConfig esp_proposal(const policy::Proposal& p) {
  EspProposalConfig out{encr_of(p), ids_of<wire::IntegId>(p.integrity), ids_of<wire::EsnId>(p.esn),
                        ids_of<wire::DhGroup>(p.groups)};
  if (out.esn.empty()) out.esn = {wire::EsnId::NoEsn};
  return out;
}

StartAction start_action_of(policy::StartAction a) {
  switch (a) {
    case policy::StartAction::Start:
      return StartAction::Start;
    case policy::StartAction::Trap:
      return StartAction::Trap;
    case policy::StartAction::None:
      break;
  }
  return StartAction::None;
}

PeerGoneAction peer_gone_action_of(policy::PeerGoneAction a) {
  switch (a) {
    case policy::PeerGoneAction::Restart:
      return PeerGoneAction::Restart;
    case policy::PeerGoneAction::Trap:
      return PeerGoneAction::Trap;
    case policy::PeerGoneAction::None:
      break;
  }
  return PeerGoneAction::None;
}

ChildLifetime child_lifetime_of(const policy::ChildLifetime& l) {
  ChildLifetime out;
  out.rekey_time = l.rekey_time;
  out.life_time = l.life_time;
  out.rand_time = l.rand_time;
  out.rekey_bytes = l.rekey_bytes;
  out.life_bytes = l.life_bytes;
  out.rekey_packets = l.rekey_packets;
  out.life_packets = l.life_packets;
  return out;
}

IkeLifetime ike_lifetime_of(const policy::IkeLifetime& l) {
  IkeLifetime out;
  out.rekey_time = l.rekey_time;
  out.reauth_time = l.reauth_time;
  out.over_time = l.over_time;
  out.rand_time = l.rand_time;
  return out;
}

ChildConfig child_of(const policy::Child& ch) {
  ChildConfig out;
  out.name = ch.name;
  out.mode = ch.mode;
  out.local_ts = ch.local_ts;
  out.remote_ts = ch.remote_ts;
  for (const auto& p : ch.esp_proposals) out.proposals.push_back(esp_proposal(p));
  out.reqid = ch.reqid;
  out.replay_window = ch.replay_window;
  out.lifetime = child_lifetime_of(ch.lifetime);
  out.start_action = start_action_of(ch.start_action);
  out.dpd_action = peer_gone_action_of(ch.dpd_action);
  out.close_action = peer_gone_action_of(ch.close_action);
  out.inactivity = ch.inactivity;
  return out;
}

}  // namespace

Result<ConnectionConfig> to_engine_config(const policy::Connection& c) {
  const std::string name = "connection \"" + c.name + "\"";
  if (c.version != 2) return fail(name + ": IKE version " + std::to_string(c.version));
  if (c.children.empty()) return fail(name + " has no children");
  if (c.proposals.empty()) return fail(name + " has no IKE proposals");
  for (const auto& ch : c.children)
    if (ch.esp_proposals.empty())
      return fail(name + " child \"" + ch.name + "\" has no ESP proposals");
  const bool psk =
      c.local.auth == policy::AuthMethod::Psk || c.remote.auth == policy::AuthMethod::Psk;
  if (psk && c.psk.empty()) return fail(name + " has no pre-shared key");
  if (c.local.auth == policy::AuthMethod::Pubkey && (!c.local.key || c.local.certs.empty()))
    return fail(name + " authenticates with a certificate but has no certificate or key");
  if (c.remote.auth == policy::AuthMethod::Pubkey && c.remote.cacerts.empty())
    return fail(name + " expects a certificate from its peer but trusts no CA");
  ConnectionConfig out;
  out.name = c.name;
  out.local = Endpoint{c.local.address, 500};
  out.remote = Endpoint{c.remote.address, 500};
  out.local_id = identity_of(c.local.id);
  out.remote_id = identity_match_of(c.remote.id);
  out.psk = c.psk;
  auto auth = [](policy::AuthMethod m) {
    return m == policy::AuthMethod::Pubkey ? AuthMethod::Pubkey : AuthMethod::Psk;
  };
  out.local_auth = auth(c.local.auth);
  out.remote_auth = auth(c.remote.auth);
  out.certs = c.local.certs;
  out.key = c.local.key;
  out.send_cert = c.local.send_cert == policy::SendCert::Always  ? SendCert::Always
                  : c.local.send_cert == policy::SendCert::Never ? SendCert::Never
                                                                 : SendCert::IfAsked;
  out.cacerts = c.remote.cacerts;
  out.crls = c.remote.crls;
  out.local_signature_schemes = c.local.signature_schemes;
  out.remote_signature_schemes = c.remote.signature_schemes;
  out.ocsp = c.remote.ocsp;
  out.ocsp_uri = c.remote.ocsp_uri;
  for (const auto& p : c.proposals) out.proposals.push_back(ike_proposal(p));
  for (const auto& ch : c.children) out.children.push_back(child_of(ch));
  out.force_encap = c.encap;
  out.fragmentation = c.fragmentation;
  out.fragment_size = c.fragment_size;
  out.version = c.version == 1 ? IkeVersion::V1 : IkeVersion::V2;
  out.ike_lifetime = ike_lifetime_of(c.lifetime);
  out.dpd_delay = c.dpd_delay;
  out.dpd_timeout = c.dpd_timeout;
  return out;
}

}  // namespace ipsec::ike
