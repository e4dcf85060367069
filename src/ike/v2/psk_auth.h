// SPDX-License-Identifier: Apache-2.0
// AUTH with a pre-shared key (RFC 7296 §2.15).
#pragma once

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"
#include "crypto/prf.h"
#include "ike/config.h"

namespace ipsec::ike::v2 {

// RestOfIDPayload: ID Type | 3 reserved octets | identification data (§2.15).
Bytes id_payload_rest(const Identity& id);

struct SignedOctetsInput {
  ByteView real_message;    // the signer's IKE_SA_INIT message as sent
  ByteView peer_nonce;      // the other side's nonce data
  const SecretBytes& sk_p;  // SK_pi for the initiator, SK_pr for the responder
  const Identity& id;       // the signer's identity
};

// SignedOctets = RealMessage | NonceData | prf(SK_p, RestOfIDPayload): what a signature
// signs and what the PSK MAC covers.
Result<Bytes> signed_octets(crypto::PrfAlgorithm prf, const SignedOctetsInput& in);

// AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
Result<SecretBytes> psk_auth(crypto::PrfAlgorithm prf, const SecretBytes& psk,
                             const SignedOctetsInput& in);

}  // namespace ipsec::ike::v2
