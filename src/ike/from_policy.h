// SPDX-License-Identifier: Apache-2.0
// Policy-file connections (policy::Connection) to the IKEv2 engine's runtime configuration.
#pragma once

#include "common/result.h"
#include "ike/config.h"
#include "policy/connection.h"

namespace ipsec::ike {

// Translates the IANA numbers of the policy model into the engine's transform
// types. The engine runs one CHILD SA per connection: a connection with no
// child, or more than one, is an error naming it. A reqid of 0 ("allocate") is
// kept: whoever installs the connection assigns one. IKE and CHILD lifetimes, DPD,
// start, dpd, close and inactivity settings are copied as the loader derived them (it
// checked the rules between them); ESP key exchange groups become EspProposalConfig::dh
// (PFS in CREATE_CHILD_SA). The daemon keeps the policy's start_action beside the config.
Result<ConnectionConfig> to_engine_config(const policy::Connection& c);

}  // namespace ipsec::ike
