// SPDX-License-Identifier: Apache-2.0
// IP addresses and prefixes, IPv4 and IPv6, parsed strictly.
#include "common/ip.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace ipsec {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  IpAddress a;
  std::string s(text);
  if (s.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1)
      return fail("\"" + s + "\" is not an IPv6 address");
    a.family = Family::V6;
    return a;
  }
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1)
    return fail("\"" + s + "\" is not an IP address");
  a.family = Family::V4;
  return a;
}

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family = Family::V4;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::any(Family f) {
  IpAddress a;
  a.family = f;
  return a;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == Family::V4)
    inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  else if (family == Family::V6)
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

int IpAddress::af() const {
  return family == Family::V4 ? AF_INET : family == Family::V6 ? AF_INET6 : AF_UNSPEC;
}

bool IpAddress::is_any() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

namespace {
bool host_bits_clear(const IpAddress& a, uint8_t len) {
  for (size_t bit = len; bit < a.size() * 8; ++bit)
    if (a.bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  return true;
}
}  // namespace

Result<Prefix> Prefix::parse(std::string_view text) {
  std::string quoted = "\"" + std::string(text) + "\"";
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return fail(quoted + " is not a prefix: " + addr.error().message);
  Prefix p{*addr, addr->max_prefix()};
  if (slash == std::string_view::npos) return p;
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty())
    return fail(quoted + " is not a prefix: bad length");
  if (len > p.addr.max_prefix())
    return fail(quoted + " is not a prefix: length " + std::to_string(len) + " exceeds " +
                std::to_string(p.addr.max_prefix()));
  p.len = static_cast<uint8_t>(len);
  if (!host_bits_clear(p.addr, p.len))
    return fail(quoted + " is not a prefix: host bits are set after /" + std::to_string(len));
  return p;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

bool Prefix::contains(const IpAddress& a) const {
  if (a.family != addr.family) return false;
  for (size_t bit = 0; bit < len; ++bit) {
    uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a.bytes[bit / 8] & m) != (addr.bytes[bit / 8] & m)) return false;
  }
  return true;
}

}  // namespace ipsec
