// SPDX-License-Identifier: Apache-2.0
// Authenticators (RFC 7296 §2.15): each builds our AUTH payload and verifies the peer's for
// one method. IKE_AUTH asks make_authenticator for the one its connection's auth config and
// the peer's method call for, and never touches key material itself. PSK here; signatures
// with certificates (RFC 7427) in sig_auth.cpp; EAP plugs in here.
#pragma once

#include <memory>

#include "common/result.h"
#include "ike/credentials.h"
#include "ike/v2/ike_sa.h"
#include "wire/payloads.h"

namespace ipsec::ike::v2 {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual wire::AuthMethod method() const = 0;
  // Our AUTH: the initiator signs message 1 and Nr, the responder message 2 and Ni (§2.15).
  virtual Result<wire::AuthPayload> build(const IkeSa& sa) const = 0;
  // The peer's AUTH for `peer_id`, with the rest of its message (CERT payloads); the error
  // says why it does not verify.
  virtual Result<void> verify(const IkeSa& sa, const Identity& peer_id,
                              const wire::AuthPayload& auth,
                              const std::vector<wire::Payload>& message) const = 0;
};

// For our side (`ours`: build) or the peer's (verify) of `sa`'s connection; the peer's
// `method` must be the one the connection expects. An error names what is missing.
Result<std::unique_ptr<Authenticator>> make_authenticator(const IkeSa& sa,
                                                          const Credentials& credentials, bool ours,
                                                          uint8_t method = 0);

}  // namespace ipsec::ike::v2
