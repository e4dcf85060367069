// SPDX-License-Identifier: Apache-2.0
// Traffic selectors (RFC 7296 §2.9, §3.13): from config prefixes, narrowing,
// back to prefixes.
#pragma once

#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "wire/payloads.h"

namespace ipsec::ike {

// A prefix as an address range, any protocol, all ports.
wire::TrafficSelector to_ts(const Prefix& p);
std::vector<wire::TrafficSelector> to_ts(const std::vector<Prefix>& prefixes);

// Narrowing (§2.9): every selector of the peer intersected with every prefix we
// accept. An intersection that is not a single prefix is narrowed further to
// the largest prefix at its start, and a port range that is neither one port
// nor all ports to its first port, so that each result maps to one kernel
// selector; both are subsets, which §2.9 allows. Empty: nothing acceptable
// (TS_UNACCEPTABLE).
std::vector<wire::TrafficSelector> narrow(const std::vector<wire::TrafficSelector>& theirs,
                                          const std::vector<Prefix>& mine);

// Without the selectors another one of the list covers (a narrowed ACQUIRE's host
// selector inside the configured subnet): one kernel policy per real range.
std::vector<wire::TrafficSelector> drop_covered(std::vector<wire::TrafficSelector> ts);
// One address, any protocol, all ports.
wire::TrafficSelector host_ts(const IpAddress& a);

// The prefix of a selector whose range is exactly one prefix (what narrow()
// returns).
Result<Prefix> ts_prefix(const wire::TrafficSelector& ts);

// "10.0.0.0/24", "192.0.2.1-192.0.2.9 proto 17 port 53-53"
std::string describe(const wire::TrafficSelector& ts);
std::string describe(const std::vector<wire::TrafficSelector>& ts);  // joined by ", "

}  // namespace ipsec::ike
