// SPDX-License-Identifier: Apache-2.0
#include "crypto/cert_identity.h"

#include <algorithm>
#include <string_view>

namespace ipsec::crypto {

bool certificate_names(const Certificate& c, uint8_t id_type, ByteView id_data) {
  const std::string text(id_data.begin(), id_data.end());
  auto has = [&text](const std::vector<std::string>& names) {
    return std::find(names.begin(), names.end(), text) != names.end();
  };
  switch (id_type) {
    case 9:
      return dn_to_text(id_data) == c.subject_text();
    case 2:
      return has(c.dns_names());
    case 3:
      return has(c.emails());
    case 1:
    case 5:
      for (const IpAddress& a : c.ip_addresses())
        if (a.size() == id_data.size() &&
            std::equal(id_data.begin(), id_data.end(), a.bytes.begin()))
          return true;
      return false;
    default:
      return false;
  }
}

std::string subject_alt_names(const Certificate& c) {
  std::string out;
  auto add = [&out](std::string_view s) {  // from a file or a packet: printable
    if (!out.empty()) out += ", ";
    out += printable(s);
  };
  for (const auto& n : c.dns_names()) add(n);
  for (const auto& n : c.emails()) add(n);
  for (const auto& a : c.ip_addresses()) add(a.str());
  return out;
}

}  // namespace ipsec::crypto
