// SPDX-License-Identifier: Apache-2.0
// IKEv2 key exchange: MODP (RFC 3526), ECP (RFC 5903), Curve25519/448 (RFC 8031).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto {

// IANA IKEv2 Transform Type 4 (Key Exchange Method) identifiers.
enum class KeGroup : uint16_t {
  Modp2048 = 14,
  Modp3072 = 15,
  Modp4096 = 16,
  Ecp256 = 19,
  Ecp384 = 20,
  Ecp521 = 21,
  Curve25519 = 31,
  Curve448 = 32,
};

std::string_view ke_group_name(KeGroup g);
// Size of the KE payload's key exchange data (RFC 7296 §3.4): the modulus length for
// MODP, x|y for ECP (RFC 5903 §7), the u-coordinate for Curve25519/448 (RFC 8031 §2).
size_t ke_public_value_size(KeGroup g);
// Size of the shared secret g^ir.
size_t ke_shared_secret_size(KeGroup g);
// Maps a wire identifier to a supported group; an error names the unsupported value.
Result<KeGroup> ke_group_from_id(uint16_t id);

// One side of one key exchange: an ephemeral private key and its public value.
class KeyExchange {
 public:
  virtual ~KeyExchange() = default;
  virtual KeGroup group() const = 0;
  // Our public value as it goes into the KE payload.
  virtual ByteView public_value() const = 0;
  // g^ir from the peer's KE payload data. The value is checked first (length, range or
  // curve membership; an all-zero X25519/X448 result is refused) and rejected with an
  // error naming the group and the check.
  virtual Result<SecretBytes> shared_secret(ByteView peer_public) const = 0;
};

// A fresh random private key.
Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup g);

// A given private key, for deterministic tests: big-endian exponent/scalar for MODP and
// ECP (ECP: exactly the field size), the raw RFC 7748 scalar for Curve25519/448.
Result<std::unique_ptr<KeyExchange>> make_key_exchange_with_private_key(KeGroup g,
                                                                        const SecretBytes& key);

}  // namespace ipsec::crypto
