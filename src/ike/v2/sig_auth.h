// SPDX-License-Identifier: Apache-2.0
// Signature authenticators (sig_auth.cpp), chosen by make_authenticator.
#pragma once

#include "ike/v2/authenticator.h"

namespace ipsec::ike::v2 {

Result<std::unique_ptr<Authenticator>> make_signature_authenticator(const IkeSa& sa,
                                                                    const Credentials& credentials,
                                                                    bool ours, uint8_t method);

}  // namespace ipsec::ike::v2
