// SPDX-License-Identifier: Apache-2.0
// Traffic selector arithmetic (ike/traffic_selectors.h) against a bit-by-bit reference, over
// many random IPv4 and IPv6 prefixes and ranges: prefixes round-trip through selectors,
// ranges that are not prefixes are named so, and narrowing starts at the range's first
// address with the largest prefix that fits in it.
#include <doctest/doctest.h>

#include <random>

#include "ike/traffic_selectors.h"

using namespace ipsec;
using namespace ipsec::ike;

namespace {

IpAddress random_address(std::mt19937_64& rng, bool v6) {
  IpAddress a;
  a.family = v6 ? Family::V6 : Family::V4;
  for (size_t i = 0; i < a.size(); ++i) a.bytes[i] = static_cast<uint8_t>(rng());
  return a;
}

// Reference: the host bits of /len set or cleared, one bit at a time.
IpAddress host_bits(IpAddress a, unsigned len, bool set) {
  for (unsigned bit = len; bit < a.max_prefix(); ++bit) {
    const auto mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if (set)
      a.bytes[bit / 8] |= mask;
    else
      a.bytes[bit / 8] &= static_cast<uint8_t>(~mask);
  }
  return a;
}

}  // namespace

TEST_CASE(
    "traffic selectors: prefixes round-trip, ranges narrow to the largest prefix at their start") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 4000; ++i) {
    const bool v6 = i % 2 == 1;
    const IpAddress a = random_address(rng, v6);
    const unsigned len = static_cast<unsigned>(rng() % (a.max_prefix() + 1));
    const Prefix p{host_bits(a, len, false), static_cast<uint8_t>(len)};
    const wire::TrafficSelector ts = to_ts(p);
    CHECK(ts.end == host_bits(p.addr, len, true));
    auto back = ts_prefix(ts);
    REQUIRE(back);
    CHECK(*back == p);
    CHECK(describe(ts) == p.str());
    // A range from a random address to another: narrowing against everything gives the
    // largest prefix that starts at lo and ends within hi.
    IpAddress lo = random_address(rng, v6), hi = random_address(rng, v6);
    if (hi < lo) std::swap(lo, hi);
    const Prefix all{IpAddress{}, 0};
    Prefix any_family = all;
    any_family.addr.family = lo.family;
    auto n = narrow({wire::TrafficSelector{0, 0, 65535, lo, hi}}, {any_family});
    REQUIRE(n.size() == 1);
    CHECK(n[0].start == lo);
    CHECK(n[0].end <= hi);
    auto np = ts_prefix(n[0]);
    REQUIRE(np);
    CHECK(np->addr == lo);
    // Maximal: one bit shorter is either not aligned at lo or runs past hi.
    if (np->len > 0) {
      const unsigned shorter = np->len - 1u;
      CHECK((host_bits(lo, shorter, false) != lo || hi < host_bits(lo, shorter, true)));
    }
    // A range that is not a prefix says so.
    if (np->len < lo.max_prefix() && n[0].end != hi && lo != hi) {
      auto r = ts_prefix(wire::TrafficSelector{0, 0, 65535, lo, hi});
      if (!r) CHECK(r.error().message.find("is not a prefix") != std::string::npos);
    }
  }
}
