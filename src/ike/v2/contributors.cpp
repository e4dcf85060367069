// SPDX-License-Identifier: Apache-2.0
// The table of payload contributors (contributors.h), in the order their payloads go out.
#include "ike/v2/contributors.h"

#include <algorithm>

#include "ike/v2/create_child_util.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;
using wire::NotifyType;

struct Contributor {
  const char* name;
  ExchangeType exchange;
  Result<void> (*add)(Context& ctx, const IkeSa& sa, bool response,
                      std::vector<wire::Payload>& out);
  void (*take)(Context& ctx, IkeSa& sa, const Inbound& in);
};

// §2.23: N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP). In our request when
// NAT-T is on (SPIr zero in the hashes); in our response when the peer's request had them.
Result<void> add_natd(Context& ctx, const IkeSa& sa, bool response,
                      std::vector<wire::Payload>& out) {
  if (ctx.nat.port == 0 || (response && !sa.nat.detection)) return ok();
  auto natd = natd_payloads(sa, response ? sa.spi_r : 0);
  if (!natd) return fail(natd.error());
  out.insert(out.end(), natd->begin(), natd->end());
  return ok();
}

// The initiator moves to the NAT-T port when a NAT is in the way (§2.23).
void take_natd(Context& ctx, IkeSa& sa, const Inbound& in) {
  apply_natd(ctx, sa, check_natd(ctx, in.outer, in.local, in.remote));
  if (in.header().response) float_to_natt_port(ctx, sa);
}

// §2.4: we have no other IKE SA with this peer, so it may drop what it holds of ours.
Result<void> add_initial_contact(Context&, const IkeSa& sa, bool response,
                                 std::vector<wire::Payload>& out) {
  if (!response && sa.initial_contact) out.push_back(make_notify(NotifyType::InitialContact));
  return ok();
}

void take_initial_contact(Context& ctx, IkeSa& sa, const Inbound& in) {
  if (in.header().response || !has_notify(in.inner, NotifyType::InitialContact)) return;
  sa.initial_contact = true;
  if (ctx.engine) ctx.engine->initial_contact(sa);
}

// RFC 7383 §2.3: IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT, in our response only when
// the request had it; fragmentation is on for the SA when both sides sent it.
Result<void> add_fragmentation(Context&, const IkeSa& sa, bool response,
                               std::vector<wire::Payload>& out) {
  if (sa.config->fragmentation && (!response || sa.fragmentation))
    out.push_back(make_notify(NotifyType::Ikev2FragmentationSupported));
  return ok();
}

void take_fragmentation(Context&, IkeSa& sa, const Inbound& in) {
  sa.fragmentation = sa.config->fragmentation &&
                     has_notify(in.outer.payloads, NotifyType::Ikev2FragmentationSupported);
}

bool pubkey(const IkeSa& sa) {
  return sa.config->local_auth == AuthMethod::Pubkey ||
         sa.config->remote_auth == AuthMethod::Pubkey;
}

// RFC 7427 §4: the hashes we verify (SHA2-256/384/512, Identity for EdDSA); with a remote
// signature_schemes list, only its hashes, so that the peer picks a scheme we accept (SHA-1
// never: RFC 8247 §3.2; a list of rsa-pkcs1-sha1 alone announces nothing and so asks for
// method 1).
Bytes sig_hashes(const ConnectionConfig& c) {
  std::vector<uint16_t> hashes{2, 3, 4, 5};
  if (c.remote_auth == AuthMethod::Pubkey && !c.remote_signature_schemes.empty()) {
    hashes.clear();
    for (auto s : c.remote_signature_schemes) {
      const uint16_t h = crypto::signature_hash(s);
      if (h != 1 && std::find(hashes.begin(), hashes.end(), h) == hashes.end()) hashes.push_back(h);
    }
    std::sort(hashes.begin(), hashes.end());
  }
  Bytes out;
  for (uint16_t h : hashes)
    out.insert(out.end(), {static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h & 0xff)});
  return out;
}

// Announced when either side uses certificates; in a response only when the request had it.
Result<void> add_sig_hashes(Context&, const IkeSa& sa, bool response,
                            std::vector<wire::Payload>& out) {
  if (!pubkey(sa) || !sa.config->announce_signature_hashes ||
      (response && sa.peer_sig_hashes.empty()))
    return ok();
  Bytes hashes = sig_hashes(*sa.config);
  if (hashes.empty()) return ok();
  out.push_back(make_notify(NotifyType::SignatureHashAlgorithms, wire::ProtocolId::None, {},
                            std::move(hashes)));
  return ok();
}

void take_sig_hashes(Context&, IkeSa& sa, const Inbound& in) {
  const auto* n = find_notify(in.outer.payloads, NotifyType::SignatureHashAlgorithms);
  if (n == nullptr) return;
  sa.peer_sig_hashes.clear();
  for (size_t i = 0; i + 1 < n->data.size() && sa.peer_sig_hashes.size() < 16; i += 2)
    sa.peer_sig_hashes.push_back(static_cast<uint16_t>(n->data[i] << 8 | n->data[i + 1]));
}

// §3.7: SHA-1 hashes of the SubjectPublicKeyInfo of every CA we trust for the peer.
Result<void> add_certreq(Context& ctx, const IkeSa& sa, std::vector<wire::Payload>& out) {
  if (sa.config->remote_auth != AuthMethod::Pubkey) return ok();
  const PubkeyCredentials* pk = ctx.connections->credentials().pubkey(sa.config->name);
  if (pk == nullptr || !pk->trust) return ok();
  wire::CertReqPayload req;
  for (const Bytes& h : pk->trust->anchor_key_hashes())
    req.data.insert(req.data.end(), h.begin(), h.end());
  out.push_back(std::move(req));
  return ok();
}

// The responder asks in IKE_SA_INIT, the initiator in IKE_AUTH (§1.2).
Result<void> add_certreq_init(Context& ctx, const IkeSa& sa, bool response,
                              std::vector<wire::Payload>& out) {
  return response ? add_certreq(ctx, sa, out) : ok();
}
Result<void> add_certreq_auth(Context& ctx, const IkeSa& sa, bool response,
                              std::vector<wire::Payload>& out) {
  return response ? ok() : add_certreq(ctx, sa, out);
}

void take_certreq(Context&, IkeSa& sa, const Inbound& in) {
  const auto& payloads =
      in.header().exchange == ExchangeType::IkeSaInit ? in.outer.payloads : in.inner;
  for (const auto& p : payloads)
    if (const auto* r = std::get_if<wire::CertReqPayload>(&p)) take_certreq_payload(sa, *r);
}

// Our certificate, then its intermediates: always, never, or when the peer sent a CERTREQ.
Result<void> add_cert(Context& ctx, const IkeSa& sa, bool, std::vector<wire::Payload>& out) {
  if (sa.config->local_auth != AuthMethod::Pubkey || sa.config->send_cert == SendCert::Never ||
      (sa.config->send_cert == SendCert::IfAsked && !sa.peer_certreq))
    return ok();
  const PubkeyCredentials* pk = ctx.connections->credentials().pubkey(sa.config->name);
  if (pk == nullptr || pk->chain.empty()) return fail("no certificate to send");
  for (const auto& c : pk->chain)
    out.push_back(
        wire::CertPayload{static_cast<uint8_t>(wire::CertEncoding::X509Signature), c.der()});
  return ok();
}

void take_nothing(Context&, IkeSa&, const Inbound&) {}  // CERT: read by the authenticator

const Contributor kContributors[] = {
    {"NAT detection", ExchangeType::IkeSaInit, add_natd, take_natd},
    {"IKEV2_FRAGMENTATION_SUPPORTED", ExchangeType::IkeSaInit, add_fragmentation,
     take_fragmentation},
    {"SIGNATURE_HASH_ALGORITHMS", ExchangeType::IkeSaInit, add_sig_hashes, take_sig_hashes},
    {"CERTREQ", ExchangeType::IkeSaInit, add_certreq_init, take_certreq},
    {"CERT", ExchangeType::IkeAuth, add_cert, take_nothing},
    {"CERTREQ", ExchangeType::IkeAuth, add_certreq_auth, take_certreq},
    {"INITIAL_CONTACT", ExchangeType::IkeAuth, add_initial_contact, take_initial_contact},
};

}  // namespace

void take_certreq_payload(IkeSa& sa, const wire::CertReqPayload& req) {
  sa.peer_certreq = true;
  for (size_t i = 0; i + 20 <= req.data.size() && sa.peer_certreq_cas.size() < 64; i += 20)
    sa.peer_certreq_cas.emplace_back(req.data.begin() + static_cast<long>(i),
                                     req.data.begin() + static_cast<long>(i + 20));
}

Result<void> contribute(Context& ctx, const IkeSa& sa, ExchangeType exchange, bool response,
                        std::vector<wire::Payload>& payloads) {
  for (const auto& c : kContributors) {
    if (c.exchange != exchange) continue;
    if (auto r = c.add(ctx, sa, response, payloads); !r)
      return fail(std::string(c.name) + ": " + r.error().message);
  }
  return ok();
}

void take_contributions(Context& ctx, IkeSa& sa, const Inbound& in) {
  for (const auto& c : kContributors)
    if (c.exchange == in.header().exchange) c.take(ctx, sa, in);
}

}  // namespace ipsec::ike::v2
