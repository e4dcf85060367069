// SPDX-License-Identifier: Apache-2.0
// Concerns that add payloads to an exchange without being the exchange: NAT detection
// (§2.23) in IKE_SA_INIT, INITIAL_CONTACT (§2.4) in IKE_AUTH; later SIGNATURE_HASH_
// ALGORITHMS, IKEV2_FRAGMENTATION_SUPPORTED, CERTREQ, CERT, CP, PPK. An ordered table
// (contributors.cpp): each row adds to our messages of one exchange after the exchange's
// own payloads, in table order, and reads what the peer's messages carried for it. A new
// concern is a row there, not an edit inside each exchange.
#pragma once

#include <vector>

#include "ike/v2/ike_sa.h"
#include "ike/v2/inbound.h"

namespace ipsec::ike::v2 {

// Adds the contributions to our request or response of `exchange` (after take_... of the
// peer's request when responding). A contributor that cannot build its payloads fails the
// message.
Result<void> contribute(Context& ctx, const IkeSa& sa, wire::ExchangeType exchange, bool response,
                        std::vector<wire::Payload>& payloads);

// What the peer's message (request or response, already opened) carried for each
// contributor of its exchange: recorded in the SA.
void take_contributions(Context& ctx, IkeSa& sa, const Inbound& in);

// §3.7: the peer sent a CERTREQ; its data is a list of SHA-1 hashes of CA public keys (20
// octets each, a partial one ignored), recorded up to a bound.
void take_certreq_payload(IkeSa& sa, const wire::CertReqPayload& req);

}  // namespace ipsec::ike::v2
