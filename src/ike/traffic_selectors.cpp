// SPDX-License-Identifier: Apache-2.0
// Traffic selector arithmetic on address ranges.
#include "ike/traffic_selectors.h"

#include <algorithm>

namespace ipsec::ike {
namespace {

// The address with the host bits of a /len prefix set (set = true) or cleared.
IpAddress with_host_bits(IpAddress a, unsigned len, bool set) {
  for (unsigned i = len / 8; i < a.size(); ++i) {
    const unsigned first = i * 8;  // the byte's most significant bit
    const auto mask = static_cast<uint8_t>(first >= len ? 0xffu : 0xffu >> (len - first));
    if (set)
      a.bytes[i] |= mask;
    else
      a.bytes[i] &= static_cast<uint8_t>(~mask);
  }
  return a;
}

// Bits of `a` that are zero from the right (all of them for the zero address).
unsigned trailing_zero_bits(const IpAddress& a) {
  unsigned n = 0;
  for (size_t i = a.size(); i-- > 0;) {
    const uint8_t b = a.bytes[i];
    if (b != 0) return n + static_cast<unsigned>(__builtin_ctz(b));
    n += 8;
  }
  return n;
}

// The shortest prefix starting at lo that ends at or before hi: no shorter than lo's
// trailing zero bits allow, then the first length whose last address is within hi.
Prefix first_prefix(const IpAddress& lo, const IpAddress& hi) {
  const unsigned max = lo.max_prefix();
  for (unsigned len = max - std::min(max, trailing_zero_bits(lo)); len < max; ++len)
    if (with_host_bits(lo, len, true) <= hi) return Prefix{lo, static_cast<uint8_t>(len)};
  return Prefix::host(lo);
}

std::optional<wire::TrafficSelector> intersect(const wire::TrafficSelector& t, const Prefix& p) {
  if (t.start.family != p.family() || t.end.family != p.family()) return std::nullopt;
  const IpAddress lo = std::max(t.start, p.addr);
  const IpAddress hi = std::min(t.end, with_host_bits(p.addr, p.len, true));
  if (hi < lo || t.end_port < t.start_port) return std::nullopt;
  const Prefix narrowed = first_prefix(lo, hi);
  wire::TrafficSelector out = t;
  out.start = narrowed.addr;
  out.end = with_host_bits(narrowed.addr, narrowed.len, true);
  if (!(t.start_port == 0 && t.end_port == 65535)) out.end_port = out.start_port;
  return out;
}

}  // namespace

wire::TrafficSelector to_ts(const Prefix& p) {
  return wire::TrafficSelector{0, 0, 65535, p.addr, with_host_bits(p.addr, p.len, true)};
}

std::vector<wire::TrafficSelector> to_ts(const std::vector<Prefix>& prefixes) {
  std::vector<wire::TrafficSelector> out;
  for (const auto& p : prefixes) out.push_back(to_ts(p));
  return out;
}

std::vector<wire::TrafficSelector> narrow(const std::vector<wire::TrafficSelector>& theirs,
                                          const std::vector<Prefix>& mine) {
  std::vector<wire::TrafficSelector> out;
  for (const auto& t : theirs)
    for (const auto& p : mine)
      if (auto n = intersect(t, p); n && std::find(out.begin(), out.end(), *n) == out.end())
        out.push_back(*n);
  return out;
}

Result<Prefix> ts_prefix(const wire::TrafficSelector& ts) {
  const Prefix p = first_prefix(ts.start, ts.end);
  if (ts.start.family != ts.end.family || with_host_bits(p.addr, p.len, true) != ts.end)
    return fail("traffic selector " + ts.start.str() + "-" + ts.end.str() + " is not a prefix");
  return p;
}

std::string describe(const wire::TrafficSelector& ts) {
  auto p = ts_prefix(ts);
  std::string out = p ? p->str() : ts.start.str() + "-" + ts.end.str();
  if (ts.ip_protocol != 0) out += " proto " + std::to_string(ts.ip_protocol);
  if (ts.start_port != 0 || ts.end_port != 65535)
    out += " port " + std::to_string(ts.start_port) + "-" + std::to_string(ts.end_port);
  return out;
}

std::string describe(const std::vector<wire::TrafficSelector>& ts) {
  std::string out;
  for (const auto& t : ts) out += (out.empty() ? "" : ", ") + describe(t);
  return out.empty() ? "(none)" : out;
}

}  // namespace ipsec::ike

namespace ipsec::ike {

namespace {
bool covers(const wire::TrafficSelector& a, const wire::TrafficSelector& b) {
  return a.start.family == b.start.family &&
         (a.ip_protocol == 0 || a.ip_protocol == b.ip_protocol) && a.start_port <= b.start_port &&
         b.end_port <= a.end_port && !(b.start < a.start) && !(a.end < b.end);
}
}  // namespace

std::vector<wire::TrafficSelector> drop_covered(std::vector<wire::TrafficSelector> ts) {
  std::vector<wire::TrafficSelector> out;
  for (size_t i = 0; i < ts.size(); ++i) {
    bool covered = false;
    for (size_t j = 0; j < ts.size() && !covered; ++j)
      covered = j != i && covers(ts[j], ts[i]) && (!(ts[j] == ts[i]) || j < i);
    if (!covered) out.push_back(ts[i]);
  }
  return out;
}

wire::TrafficSelector host_ts(const IpAddress& a) {
  wire::TrafficSelector t;
  t.start = a;
  t.end = a;
  return t;
}

}  // namespace ipsec::ike
