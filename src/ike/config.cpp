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
  // From a packet: printed only with its control characters escaped.
  const std::string text =
      printable(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
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
    case wire::IdType::DerAsn1Dn:
      return "dn:" + crypto::dn_to_text(data);
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

IdentityMatch IdentityMatch::dn_pattern(Bytes der) {
  IdentityMatch m;
  m.kind = Kind::DnPattern;
  m.id = Identity{wire::IdType::DerAsn1Dn, std::move(der)};
  return m;
}

namespace {

// The RDNs of a DN's text form ("C=DE, O=Example, CN=gw"), split at unescaped ", ".
std::vector<std::string> rdns(const std::string& text) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.back() += text.substr(i, 2);
      ++i;
    } else if (text.compare(i, 2, ", ") == 0) {
      out.emplace_back();
      ++i;
    } else {
      out.back() += text[i];
    }
  }
  return out;
}

// RDN by RDN, order significant (RFC 5280 §7.1 name matching, on OpenSSL's canonical text);
// with `pattern`, a value "*" matches any value of that attribute.
bool dn_matches(const Bytes& want, const Bytes& peer, bool pattern) {
  const auto a = rdns(crypto::dn_to_text(want)), b = rdns(crypto::dn_to_text(peer));
  if (a.size() != b.size() || a.front().empty()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    const auto eq = a[i].find('=');
    if (!pattern || eq == std::string::npos || a[i].substr(eq + 1) != "*" ||
        b[i].compare(0, eq + 1, a[i], 0, eq + 1) != 0)
      return false;
  }
  return true;
}

// "gw.example.org" is under "example.org"; "example.org" itself is not (it is not "*.").
bool under_domain(std::string_view name, std::string_view domain) {
  return name.size() > domain.size() + 1 && name.ends_with(domain) &&
         name[name.size() - domain.size() - 1] == '.';
}

}  // namespace

bool IdentityMatch::matches(const Identity& peer) const {
  switch (kind) {
    case Kind::Exact:
      if (peer.type == wire::IdType::DerAsn1Dn && id.type == wire::IdType::DerAsn1Dn)
        return peer == id || dn_matches(id.data, peer.data, false);
      return peer == id;
    case Kind::Any:
      return true;
    case Kind::DnPattern:
      return peer.type == wire::IdType::DerAsn1Dn && dn_matches(id.data, peer.data, true);
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
    case Kind::DnPattern:
      return id.str();
  }
  return "?";
}

}  // namespace ipsec::ike
