// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the crypto unit tests: hex literals to bytes and secrets.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/secret.h"

namespace crypto_test {

// No doctest assertion here: also used for namespace-scope constants. A malformed
// literal yields an empty buffer, which makes the vector comparison fail.
inline ipsec::Bytes hex(std::string_view h) {
  auto b = ipsec::from_hex(h);
  return b ? *b : ipsec::Bytes{};
}
inline ipsec::SecretBytes secret_hex(std::string_view h) { return ipsec::SecretBytes(hex(h)); }
inline ipsec::Bytes ascii(std::string_view s) { return ipsec::Bytes(s.begin(), s.end()); }
inline ipsec::Bytes repeat(uint8_t b, size_t n) { return ipsec::Bytes(n, b); }
inline std::string hex_of(const ipsec::SecretBytes& s) { return ipsec::to_hex(s.view()); }

}  // namespace crypto_test
