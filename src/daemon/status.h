// The engine's SAs as the control protocol's status (control/protocol.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "control/protocol.h"
#include "ike/v2/engine.h"
#include "wire/payloads.h"

namespace ipsec::daemon {

// "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519"
std::string describe(const wire::Proposal& p);
// "198.51.100.0/24", or "start-end" when not a prefix; protocol and ports when not any.
std::string describe(const wire::TrafficSelector& ts);

// `first_seen`: when the daemon first saw each SA (by local SPI), for its age.
control::Status make_status(const ike::v2::Engine& engine,
                            const std::map<uint64_t, ike::v2::Millis>& first_seen,
                            ike::v2::Millis now);

}  // namespace ipsec::daemon
