// SPDX-License-Identifier: Apache-2.0
// IP addresses and prefixes, IPv4 and IPv6, parsed strictly.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ipsec {

enum class Family : uint8_t { Unspec = 0, V4 = 4, V6 = 6 };

// An address. bytes holds 4 (V4) or 16 (V6) significant bytes, the rest zero.
struct IpAddress {
  Family family = Family::Unspec;
  std::array<uint8_t, 16> bytes{};

  static Result<IpAddress> parse(std::string_view text);
  static IpAddress v4(uint32_t host_order);
  std::string str() const;  // "192.0.2.1", "2001:db8::1", "" for Unspec
  int af() const;           // AF_INET, AF_INET6 or AF_UNSPEC
  size_t size() const { return family == Family::V4 ? 4 : family == Family::V6 ? 16 : 0; }
  uint8_t max_prefix() const { return family == Family::V4 ? 32 : family == Family::V6 ? 128 : 0; }
  bool is_unspec() const { return family == Family::Unspec; }
  bool is_any() const;  // 0.0.0.0 or ::
  static IpAddress any(Family f);

  auto operator<=>(const IpAddress&) const = default;
};

// A network prefix with no host bits set ("10.0.0.0/24", "2001:db8::/32").
// A bare address parses as a host prefix (/32 or /128).
struct Prefix {
  IpAddress addr;
  uint8_t len = 0;

  static Result<Prefix> parse(std::string_view text);
  static Prefix host(const IpAddress& a) { return Prefix{a, a.max_prefix()}; }
  std::string str() const;  // always "addr/len"
  Family family() const { return addr.family; }
  bool contains(const IpAddress& a) const;

  auto operator<=>(const Prefix&) const = default;
};

}  // namespace ipsec
