// SPDX-License-Identifier: Apache-2.0
// Field conversions between the kernel model and linux/xfrm.h structures,
// shared by the XFRM message builder and parser (internal to netlink/).
#pragma once

#include <arpa/inet.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <cstring>

#include "kernel/types.h"

namespace ipsec::netlink::convert {

inline xfrm_address_t to_xfrm(const IpAddress& a) {
  xfrm_address_t out;
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, a.bytes.data(), a.size());
  return out;
}

inline bool all_zero(const xfrm_address_t& a) {
  static const xfrm_address_t kZero{};
  return std::memcmp(&a, &kZero, sizeof a) == 0;
}

inline Family family_of(uint16_t af) {
  return af == AF_INET ? Family::V4 : af == AF_INET6 ? Family::V6 : Family::Unspec;
}

inline uint16_t af_of(Family f) {
  return f == Family::V4 ? AF_INET : f == Family::V6 ? AF_INET6 : AF_UNSPEC;
}

// An address of the given family; unspecified when the family is unknown.
inline IpAddress from_xfrm(const xfrm_address_t& a, uint16_t af) {
  IpAddress out;
  out.family = family_of(af);
  std::memcpy(out.bytes.data(), &a, out.size());
  return out;
}

// Like from_xfrm, but all-zero bytes mean "not given" (transport templates,
// NAT-OA): unspecified rather than 0.0.0.0.
// Unspecified when the family's own bytes are zero (the rest of the union is not looked
// at: an IPv4 0.0.0.0 with garbage after it is still none).
inline IpAddress from_xfrm_optional(const xfrm_address_t& a, uint16_t af) {
  const IpAddress ip = from_xfrm(a, af);
  bool zero = true;
  for (size_t i = 0; i < ip.size(); ++i) zero = zero && ip.bytes[i] == 0;
  return zero ? IpAddress{} : ip;
}

// Byte and packet limits: 0 in the model is XFRM_INF in the kernel. Seconds
// are passed as they are: the kernel's timer treats 0 as "none" and would
// overflow on XFRM_INF (net/xfrm/xfrm_state.c, xfrm_timer_handler).
inline uint64_t limit_to_kernel(uint64_t v) { return v == 0 ? XFRM_INF : v; }
inline uint64_t limit_from_kernel(uint64_t v) { return v == XFRM_INF ? 0 : v; }

inline xfrm_lifetime_cfg to_xfrm(const kernel::Lifetime& l) {
  xfrm_lifetime_cfg c{};
  c.soft_byte_limit = limit_to_kernel(l.soft_bytes);
  c.hard_byte_limit = limit_to_kernel(l.hard_bytes);
  c.soft_packet_limit = limit_to_kernel(l.soft_packets);
  c.hard_packet_limit = limit_to_kernel(l.hard_packets);
  c.soft_add_expires_seconds = l.soft_add_seconds;
  c.hard_add_expires_seconds = l.hard_add_seconds;
  c.soft_use_expires_seconds = l.soft_use_seconds;
  c.hard_use_expires_seconds = l.hard_use_seconds;
  return c;
}

inline kernel::Lifetime from_xfrm(const xfrm_lifetime_cfg& c) {
  kernel::Lifetime l;
  l.soft_bytes = limit_from_kernel(c.soft_byte_limit);
  l.hard_bytes = limit_from_kernel(c.hard_byte_limit);
  l.soft_packets = limit_from_kernel(c.soft_packet_limit);
  l.hard_packets = limit_from_kernel(c.hard_packet_limit);
  l.soft_add_seconds = limit_from_kernel(c.soft_add_expires_seconds);
  l.hard_add_seconds = limit_from_kernel(c.hard_add_expires_seconds);
  l.soft_use_seconds = limit_from_kernel(c.soft_use_expires_seconds);
  l.hard_use_seconds = limit_from_kernel(c.hard_use_expires_seconds);
  return l;
}

// An empty model selector is sent zeroed (family 0): the kernel then matches
// any traffic with the SA.
inline xfrm_selector to_xfrm(const kernel::Selector& s) {
  xfrm_selector x{};
  x.family = af_of(s.family());
  x.saddr = to_xfrm(s.src.addr);
  x.daddr = to_xfrm(s.dst.addr);
  x.prefixlen_s = s.src.len;
  x.prefixlen_d = s.dst.len;
  x.proto = s.proto;
  x.sport = htons(s.sport);
  x.sport_mask = htons(s.sport_mask);
  x.dport = htons(s.dport);
  x.dport_mask = htons(s.dport_mask);
  x.ifindex = s.ifindex;
  x.user = s.user;
  return x;
}

// A selector that matches everything: family 0, or /0 with zero addresses and
// nothing else set.
inline bool matches_everything(const xfrm_selector& x) {
  // The addresses as the family reads them (bytes past an IPv4 address do not count).
  const bool zero_s = from_xfrm_optional(x.saddr, x.family).is_unspec();
  const bool zero_d = from_xfrm_optional(x.daddr, x.family).is_unspec();
  return x.prefixlen_s == 0 && x.prefixlen_d == 0 && zero_s && zero_d &&
         x.proto == 0 && x.sport == 0 && x.sport_mask == 0 && x.dport == 0 && x.dport_mask == 0 &&
         x.ifindex == 0 && x.user == 0;
}

// empty_if_any: SAs read back an everything-selector as the empty Selector{}
// (what the policy loader gives an SA without a selector). Policies keep the
// family: "0.0.0.0/0 -> 0.0.0.0/0" is a real IPv4 policy selector.
inline kernel::Selector from_xfrm(const xfrm_selector& x, bool empty_if_any) {
  kernel::Selector s;
  if (x.family == AF_UNSPEC || (empty_if_any && matches_everything(x))) return s;
  s.src = Prefix{from_xfrm(x.saddr, x.family), x.prefixlen_s};
  s.dst = Prefix{from_xfrm(x.daddr, x.family), x.prefixlen_d};
  s.proto = x.proto;
  s.sport = ntohs(x.sport);
  s.sport_mask = ntohs(x.sport_mask);
  s.dport = ntohs(x.dport);
  s.dport_mask = ntohs(x.dport_mask);
  s.ifindex = x.ifindex;
  s.user = x.user;
  return s;
}

inline kernel::Counters from_xfrm(const xfrm_lifetime_cur& cur) {
  kernel::Counters c;
  c.bytes = cur.bytes;
  c.packets = cur.packets;
  c.add_time = cur.add_time;
  c.use_time = cur.use_time;
  return c;
}

}  // namespace ipsec::netlink::convert
