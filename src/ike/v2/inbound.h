// SPDX-License-Identifier: Apache-2.0
// What an exchange is handed by the engine's one receive path: the checked outer message
// and, for SK-protected exchanges, the inner payloads already verified, decrypted and
// checked against the exchange's inner payload rules. No exchange decrypts for itself.
#pragma once

#include <vector>

#include "common/bytes.h"
#include "ike/config.h"
#include "wire/message.h"

namespace ipsec::ike::v2 {

struct Inbound {
  const wire::Message& outer;        // strict parse of `datagram`, outer rules checked
  ByteView datagram;                 // as received (IKE_SA_INIT keeps it for AUTH, §2.15)
  Endpoint local, remote;            // where it came in, and from where
  std::vector<wire::Payload> inner;  // the SK payload's content; empty for IKE_SA_INIT

  const wire::Header& header() const { return outer.header; }
  uint32_t message_id() const { return outer.header.message_id; }
};

}  // namespace ipsec::ike::v2
