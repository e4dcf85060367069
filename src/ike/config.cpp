// SPDX-License-Identifier: Apache-2.0
// Endpoint and Identity helpers.
#include "ike/config.h"

namespace ipsec::ike {

std::string Endpoint::str() const { return addr.str() + "[" + std::to_string(port) + "]"; }

Identity Identity::address(const IpAddress& a) {
  Identity id;
  id.type = a.family == Family::V6 ? wire::IdType::Ipv6Addr : wire::IdType::Ipv4Addr;
  id.data.assign(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()));
  return id;
}

Identity Identity::fqdn(std::string_view name) {
  return Identity{wire::IdType::Fqdn, Bytes(name.begin(), name.end())};
}

Identity Identity::rfc822(std::string_view mailbox) {
  return Identity{wire::IdType::Rfc822Addr, Bytes(mailbox.begin(), mailbox.end())};
}

Identity Identity::key_id(ByteView id) {
  return Identity{wire::IdType::KeyId, Bytes(id.begin(), id.end())};
}

std::string Identity::str() const {
  const std::string text(data.begin(), data.end());
  IpAddress a;
  switch (type) {
    case wire::IdType::Fqdn:
      return "fqdn:" + text;
    case wire::IdType::Rfc822Addr:
      return "rfc822:" + text;
    case wire::IdType::Ipv4Addr:
    case wire::IdType::Ipv6Addr:
      a.family = type == wire::IdType::Ipv4Addr ? Family::V4 : Family::V6;
      if (data.size() != a.size()) return "address:" + to_hex(data);
      std::copy(data.begin(), data.end(), a.bytes.begin());
      return (a.family == Family::V4 ? "ipv4:" : "ipv6:") + a.str();
    default:
      return "keyid:" + to_hex(data);
  }
}

const ChildConfig* ConnectionConfig::child(std::string_view child_name) const {
  for (const auto& c : children)
    if (c.name == child_name) return &c;
  return nullptr;
}

const ChildConfig* ConnectionConfig::child_by_reqid(uint32_t reqid) const {
  if (reqid == 0) return nullptr;
  for (const auto& c : children)
    if (c.reqid == reqid) return &c;
  return nullptr;
}

IdentityMatch IdentityMatch::any() {
  IdentityMatch m;
  m.kind = Kind::Any;
  return m;
}

IdentityMatch IdentityMatch::domain_suffix(std::string_view domain) {
  IdentityMatch m;
  m.kind = Kind::DomainSuffix;
  m.domain = std::string(domain);
  return m;
}

IdentityMatch IdentityMatch::address_prefix(const Prefix& p) {
  IdentityMatch m;
  m.kind = Kind::AddressPrefix;
  m.prefix = p;
  return m;
}

namespace {

// "gw.example.org" is under "example.org"; "example.org" itself is not (it is not "*.").
bool under_domain(std::string_view name, std::string_view domain) {
  return name.size() > domain.size() + 1 && name.ends_with(domain) &&
         name[name.size() - domain.size() - 1] == '.';
}

}  // namespace

bool IdentityMatch::matches(const Identity& peer) const {
  switch (kind) {
    case Kind::Exact:
      return peer == id;
    case Kind::Any:
      return true;
    case Kind::DomainSuffix: {
      const std::string_view text(reinterpret_cast<const char*>(peer.data.data()),
                                  peer.data.size());
      if (peer.type == wire::IdType::Fqdn) return under_domain(text, domain);
      if (peer.type != wire::IdType::Rfc822Addr) return false;
      const auto at = text.rfind('@');
      return at != std::string_view::npos &&
             (text.substr(at + 1) == domain || under_domain(text.substr(at + 1), domain));
    }
    case Kind::AddressPrefix: {
      IpAddress a;
      a.family = peer.type == wire::IdType::Ipv6Addr ? Family::V6 : Family::V4;
      if ((peer.type != wire::IdType::Ipv4Addr && peer.type != wire::IdType::Ipv6Addr) ||
          peer.data.size() != a.size() || a.family != prefix.family())
        return false;
      std::copy(peer.data.begin(), peer.data.end(), a.bytes.begin());
      return prefix.contains(a);
    }
  }
  return false;
}

int IdentityMatch::specificity() const {
  switch (kind) {
    case Kind::Exact:
      return 3;
    case Kind::Any:
      return 1;
    default:
      return 2;
  }
}

std::string IdentityMatch::str() const {
  switch (kind) {
    case Kind::Exact:
      return id.str();
    case Kind::Any:
      return "any";
    case Kind::DomainSuffix:
      return "fqdn:*." + domain;
    case Kind::AddressPrefix:
      return (prefix.family() == Family::V6 ? "ipv6:" : "ipv4:") + prefix.str();
  }
  return "?";
}

}  // namespace ipsec::ike
