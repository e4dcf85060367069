// SPDX-License-Identifier: Apache-2.0
// Parsers of the objects of a policy file: SAs, policies and their parts.
#pragma once

#include <optional>
#include <string>

#include "kernel/types.h"
#include "policy/connection.h"
#include "policy/reader.h"

namespace ipsec::policy::detail {

// Each returns nullopt when the object had any problem (all of them reported).
std::optional<kernel::SaParams> parse_sa(Reader& r, const Json& j, const std::string& path);
std::optional<kernel::PolicyParams> parse_policy(Reader& r, const Json& j, const std::string& path);
// `name` is the connection's key in "connections".
std::optional<Connection> parse_connection(Reader& r, const Json& j, const std::string& path,
                                           const std::string& name);

// Lifecycle fields (lifetimes, DPD, actions) with their defaults derived; problems reported.
// parse_ike_lifecycle also reads dpd_delay and dpd_timeout.
void parse_ike_lifecycle(Reader& r, const Json& j, const std::string& path, Connection& c);
void parse_child_lifecycle(Reader& r, const Json& j, const std::string& path, Child& ch);

// Shared parts. parse_selector_fields reads src, dst, proto, sport, dport of
// `obj` (the caller checks for unknown fields).
kernel::Selector parse_selector_fields(Reader& r, const Json& obj, const std::string& path);
std::optional<kernel::Mark> parse_mark(Reader& r, const Json& j, const std::string& path);

// Protocol keywords of selectors, shared with to_json.
struct ProtoName {
  std::string_view name;
  uint8_t number;
};
inline constexpr ProtoName kProtoNames[] = {{"any", 0},     {"tcp", 6},    {"udp", 17}, {"icmp", 1},
                                            {"icmpv6", 58}, {"sctp", 132}, {"gre", 47}};
inline constexpr uint32_t kDefaultReplayWindow = 32;
inline constexpr uint32_t kDefaultMarkMask = 0xffffffff;
inline constexpr uint16_t kEncapEspInUdp = 2;
inline constexpr uint16_t kDefaultEncapPort = 4500;
inline constexpr std::string_view kKernelMarker = "kernel:";
// What to_json(config, KeyOutput::Hide) writes in place of a key; refused on load.
inline constexpr std::string_view kHiddenKey = "hidden";

}  // namespace ipsec::policy::detail
