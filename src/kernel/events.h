// SPDX-License-Identifier: Apache-2.0
// Events the kernel announces on its XFRM multicast groups, parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "kernel/types.h"

namespace ipsec::kernel {

// Bit set of groups to subscribe to.
enum EventGroup : uint32_t {
  kGroupAcquire = 1u << 0,
  kGroupExpire = 1u << 1,
  kGroupPolExpire = 1u << 2,
  kGroupSa = 1u << 3,       // new/update/delete/flush of SAs
  kGroupPolicy = 1u << 4,   // new/update/delete/flush of policies
  kGroupMapping = 1u << 5,  // NAT mapping changes of UDP-encapsulated SAs
  kGroupAll = 0x3f,
};

// The kernel needs an SA for traffic matching a policy (trap).
struct AcquireEvent {
  IpAddress src, dst;  // SA endpoints from the template
  Selector sel;        // the packet that triggered it
  Template tmpl;
  PolicyParams policy;  // the policy whose template has no SA
  uint32_t seq = 0;
};

// An SA reached a soft (rekey) or hard (deleted) limit. The kernel's EXPIRE
// carries the SA's identity, addresses, lifetimes, counters, mark and if_id,
// but no algorithms, keys, encapsulation or ESN state: look the SA up (or
// use what the engine holds) for those.
struct ExpireEvent {
  SaParams sa;
  bool hard = false;
};

struct PolExpireEvent {
  PolicyParams policy;
  bool hard = false;
};

enum class ChangeKind : uint8_t { New, Update, Delete, Flush };

struct SaChangeEvent {
  ChangeKind kind = ChangeKind::New;
  std::optional<SaParams> sa;  // empty for Flush (and for Delete when only the id is known)
  std::optional<SaId> id;      // set for Delete
  uint8_t flush_proto = 0;     // for Flush: 0 = all
};

struct PolicyChangeEvent {
  ChangeKind kind = ChangeKind::New;
  std::optional<PolicyParams> policy;  // empty for Flush
  std::optional<PolicyId> id;          // set for Delete when only the id is known
};

// A NAT in front of a UDP-encapsulated SA changed the peer's address/port.
struct MappingEvent {
  SaId id;
  IpAddress old_addr, new_addr;
  uint16_t old_port = 0, new_port = 0;
};

using Event = std::variant<AcquireEvent, ExpireEvent, PolExpireEvent, SaChangeEvent,
                           PolicyChangeEvent, MappingEvent>;

}  // namespace ipsec::kernel
