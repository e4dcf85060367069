// SPDX-License-Identifier: Apache-2.0
// Connection lookup by name, address and identity.
#include "ike/connections.h"

#include <algorithm>

#include "common/log.h"

namespace ipsec::ike {
namespace {

// An address that is unspecified, 0.0.0.0 or :: (as a policy file writes "any") fits any
// address of its family (an unspecified one any address at all).
bool address_fits(const IpAddress& mine, const IpAddress& seen) {
  if (mine.is_unspec()) return true;
  if (mine.is_any()) return mine.family == seen.family;
  return mine == seen;
}

bool addresses_fit(const ConnectionConfig& c, const Endpoint& local, const Endpoint& remote) {
  return address_fits(c.local.addr, local.addr) && address_fits(c.remote.addr, remote.addr);
}

}  // namespace

namespace {

std::shared_ptr<const crypto::TrustStore> trust_store(const std::string& connection,
                                                      const std::vector<crypto::Certificate>& cas,
                                                      const std::vector<Bytes>& crls) {
  auto trust = std::make_shared<crypto::TrustStore>();
  for (const auto& ca : cas) trust->add_anchor(ca);
  for (const auto& crl : crls)
    if (auto r = trust->add_crl(crl); !r)  // the policy loader checked them
      log::warn("connection " + connection + ": CRL ignored: " + r.error().message);
  return trust;
}

}  // namespace

void Connections::add(ConnectionConfig config) {
  credentials_.set_psk(config.name, std::move(config.psk));
  config.psk = SecretBytes();
  if (config.key || !config.certs.empty() || !config.cacerts.empty()) {
    PubkeyCredentials pk{std::move(config.key), std::move(config.certs), nullptr};
    if (!config.cacerts.empty()) pk.trust = trust_store(config.name, config.cacerts, config.crls);
    credentials_.set_pubkey(config.name, std::move(pk));
    config.key.reset();
    config.certs.clear();
  }
  all_.push_back(std::make_shared<const ConnectionConfig>(std::move(config)));
}

void Connections::replace_crls(std::string_view name, const std::vector<Bytes>& crls) {
  const PubkeyCredentials* old = credentials_.pubkey(name);
  if (old == nullptr || !old->trust) return;
  PubkeyCredentials pk = *old;
  pk.trust = trust_store(std::string(name), old->trust->anchors(), crls);
  credentials_.set_pubkey(name, std::move(pk));
}

void Connections::remove(std::string_view name) {
  credentials_.remove(name);
  std::erase_if(all_, [&](const Ptr& c) { return c->name == name; });
}

Connections::Ptr Connections::find(std::string_view name) const {
  for (const auto& c : all_)
    if (c->name == name) return c;
  return nullptr;
}

Connections::Ptr Connections::by_address(const Endpoint& local, const Endpoint& remote) const {
  for (const auto& c : all_)
    if (addresses_fit(*c, local, remote)) return c;
  return nullptr;
}

Connections::Ptr Connections::by_identity(const Endpoint& local, const Endpoint& remote,
                                          const Identity& peer, const Identity* wanted_local,
                                          const Identity* cert_subject) const {
  Ptr best;
  for (const auto& c : all_) {
    const bool by_cert = cert_subject != nullptr && c->remote_auth == AuthMethod::Pubkey &&
                         c->remote_id.matches(*cert_subject);
    if (!addresses_fit(*c, local, remote) || !(c->remote_id.matches(peer) || by_cert)) continue;
    if (wanted_local != nullptr && !(*wanted_local == c->local_id)) continue;
    if (best == nullptr || c->remote_id.specificity() > best->remote_id.specificity()) best = c;
  }
  return best;
}

}  // namespace ipsec::ike
