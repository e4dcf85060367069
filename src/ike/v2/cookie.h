// SPDX-License-Identifier: Apache-2.0
// Stateless COOKIEs of the responder (RFC 7296 §2.6): made and checked without
// keeping anything per request, from a secret that rotates on the clock.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/ip.h"
#include "common/result.h"
#include "common/secret.h"
#include "ike/io.h"

namespace ipsec::ike::v2 {

// Cookie = <VersionIDofSecret> | HMAC-SHA2-256(<secret>, Ni | IPi | SPIi), 33 bytes.
class CookieJar {
 public:
  explicit CookieJar(Millis lifetime) : lifetime_(lifetime) {}

  Result<Bytes> make(ByteView ni, const IpAddress& ip_i, uint64_t spi_i, Millis now);
  // True for a cookie of the current secret or of the one before it (a
  // cookie handed out just before a rotation stays good for one lifetime).
  bool verify(ByteView cookie, ByteView ni, const IpAddress& ip_i, uint64_t spi_i, Millis now);

  static constexpr size_t kSize = 33;

 private:
  Result<void> rotate(Millis now);
  Result<Bytes> compute(uint8_t version, const SecretBytes& secret, ByteView ni,
                        const IpAddress& ip_i, uint64_t spi_i) const;

  Millis lifetime_;
  Millis born_{0};
  uint8_t version_ = 0;
  SecretBytes current_, previous_;
};

}  // namespace ipsec::ike::v2
