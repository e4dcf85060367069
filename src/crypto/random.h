// SPDX-License-Identifier: Apache-2.0
// Random bytes and IKE nonces from the OpenSSL DRBG.
#pragma once

#include <cstddef>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto {

// RFC 7296 §2.10: nonces are random, >= 128 bits and >= half the PRF key size;
// 32 bytes satisfies that for every PRF we support (largest key: 64 bytes).
inline constexpr size_t kNonceSize = 32;

Result<Bytes> random_bytes(size_t n);
// For random key material (private keys, test keys).
Result<SecretBytes> random_secret(size_t n);
// A fresh IKE nonce of kNonceSize bytes.
Result<Bytes> make_nonce();

}  // namespace ipsec::crypto
