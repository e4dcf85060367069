// Endpoint and Identity helpers.
#include "ike/v2/config.h"

namespace ipsec::ike::v2 {

std::string Endpoint::str() const { return addr.str() + "[" + std::to_string(port) + "]"; }

Identity Identity::address(const IpAddress &a) {
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

const ChildConfig *ConnectionConfig::child(std::string_view child_name) const {
  for (const auto &c : children)
    if (c.name == child_name) return &c;
  return nullptr;
}

const ChildConfig *ConnectionConfig::child_by_reqid(uint32_t reqid) const {
  if (reqid == 0) return nullptr;
  for (const auto &c : children)
    if (c.reqid == reqid) return &c;
  return nullptr;
}

}  // namespace ipsec::ike::v2
