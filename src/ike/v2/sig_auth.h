// SPDX-License-Identifier: Apache-2.0
// Signature authenticators (sig_auth.cpp), chosen by make_authenticator.
#pragma once

#include "ike/v2/authenticator.h"

namespace ipsec::ike::v2 {

// How a verified AUTH payload signed, for the log: "ecdsa-sha256", "rsa-pss-sha256" (method
// 14's AlgorithmIdentifier), "rsa-pkcs1-sha1" (method 1), ...; "method N" when unknown.
std::string signature_text(const wire::AuthPayload& auth);

Result<std::unique_ptr<Authenticator>> make_signature_authenticator(const IkeSa& sa,
                                                                    const Credentials& credentials,
                                                                    bool ours, uint8_t method);

}  // namespace ipsec::ike::v2
