// SPDX-License-Identifier: Apache-2.0
// Internal to src/wire: payload body codecs and the error helpers they share.
#pragma once

#include <cstddef>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "wire/payloads.h"
#include "wire/reader.h"
#include "wire/writer.h"

namespace ipsec::wire::detail {

// Where a payload sits, for error messages ("Nonce payload at offset 28: ...").
struct Where {
  PayloadType type = PayloadType::None;
  size_t offset = 0;  // of the generic payload header
  std::string str() const;
};

// An INVALID_SYNTAX wire error (see WireFault in message.h).
Unexpected<Error> syntax_error(std::string message);
Unexpected<Error> syntax_error(const Where& w, const std::string& what);
// "length 3 is below the minimum 4", for payloads and substructures.
std::string below_minimum(size_t length, size_t minimum);
Unexpected<Error> fault(NotifyType notify, PayloadType payload, std::string message);

bool is_known(PayloadType t);

// Parse the body (after the 4-byte generic header) of a known payload type. `next` is the
// generic header's Next Payload field, which SK and SKF keep as their inner first type.
Result<Payload> parse_body(const Where& w, PayloadType next, Reader body);
void encode_body(const Payload& p, Writer& w);

Result<SaPayload> parse_sa(const Where& w, Reader body);
void encode_sa(const SaPayload& sa, Writer& w);

}  // namespace ipsec::wire::detail
