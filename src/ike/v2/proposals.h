// SPDX-License-Identifier: Apache-2.0
// Proposals: config to wire, the responder's selection rule, and the chosen
// IKE/ESP algorithms in crypto and kernel terms.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/key_exchange.h"
#include "crypto/prf.h"
#include "crypto/sk_cipher.h"
#include "ike/child_kernel.h"
#include "ike/config.h"
#include "ike/traffic_selectors.h"
#include "kernel/types.h"
#include "wire/payloads.h"

namespace ipsec::ike::v2 {

using ike::describe;  // traffic selectors (ike/traffic_selectors.h) beside proposals

// Proposals numbered from 1 in config order (RFC 7296 §3.3.1).
std::vector<wire::Proposal> to_wire(const std::vector<IkeProposalConfig>& proposals);
// `with_dh`: the PFS groups too (CREATE_CHILD_SA); never in IKE_AUTH (§1.2).
std::vector<wire::Proposal> to_wire(const std::vector<EspProposalConfig>& proposals, ByteView spi,
                                    bool with_dh = false);

// The responder's rule (RFC 7296 §2.7): walk OUR proposals in our preference
// order; the first one that some proposal of the peer matches wins (a match
// needs the same protocol, the same set of transform types, and a common
// transform of every type; INTEG "none" is the same as no INTEG). Within a type
// our order decides, except that for DH the group of the peer's KE payload
// (`ke_group`) is taken when it is acceptable, to spare an INVALID_KE_PAYLOAD
// round trip. The result has one transform per type and carries the peer's
// proposal number and SPI.
std::optional<wire::Proposal> select_proposal(std::span<const wire::Proposal> mine,
                                              std::span<const wire::Proposal> theirs,
                                              std::optional<uint16_t> ke_group = {});

// The same transforms, in any order: §3.3 does not order the transforms of a
// proposal, and peers differ (strongSwan sends ENCR, INTEG, PRF, DH).
bool same_transforms(const wire::Proposal& a, const wire::Proposal& b);

// The transform of a type in a selected proposal.
std::optional<wire::Transform> transform_of(const wire::Proposal& p, wire::TransformType t);

// "ENCR_AES_GCM_16/256 PRF_HMAC_SHA2_256 CURVE25519"; proposals are joined with
// ", ".
std::string describe(const wire::Proposal& p);
std::string describe(std::span<const wire::Proposal> proposals);

struct IkeAlgorithms {
  crypto::SkTransform sk;
  crypto::PrfAlgorithm prf = crypto::PrfAlgorithm::HmacSha2_256;
  crypto::KeGroup group = crypto::KeGroup::Curve25519;
};
// A selected IKE proposal in crypto terms; an error names an unsupported
// transform.
Result<IkeAlgorithms> ike_algorithms(const wire::Proposal& p);

// A selected ESP proposal in kernel terms (ike/child_kernel.h), with the KEYMAT lengths
// (§2.17).
Result<EspAlgorithms> esp_algorithms(const wire::Proposal& p);

}  // namespace ipsec::ike::v2
