// SPDX-License-Identifier: Apache-2.0
// IKEv2 PRFs (HMAC-SHA2, legacy HMAC-SHA1) and prf+ (RFC 7296 §2.13).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto {

// IANA IKEv2 Transform Type 2 (PRF) identifiers.
enum class PrfAlgorithm : uint16_t {
  HmacSha1 = 2,      // RFC 2104; legacy
  HmacSha2_256 = 5,  // RFC 4868
  HmacSha2_384 = 6,
  HmacSha2_512 = 7,
};

// Hash algorithms behind HMAC, for PRFs and integrity transforms.
enum class Digest { Sha1, Sha256, Sha384, Sha512 };

size_t digest_size(Digest d);
Digest prf_digest(PrfAlgorithm prf);
std::string_view prf_name(PrfAlgorithm prf);
// Output size of the PRF.
size_t prf_output_size(PrfAlgorithm prf);
// RFC 7296 §2.14 / RFC 4868 §2.1.2: the PRF key length (e.g. SK_d, SK_pi) is its output size.
size_t prf_key_size(PrfAlgorithm prf);

// A plain hash over the concatenation of `parts` (e.g. SHA-1 for NAT detection, RFC 7296
// §2.23).
Result<Bytes> digest(Digest d, std::initializer_list<ByteView> parts);

// HMAC over the concatenation of `parts` (avoids copying message pieces together).
Result<SecretBytes> hmac(Digest d, ByteView key, std::initializer_list<ByteView> parts);

// prf(K, S) of RFC 7296 §2.13.
Result<SecretBytes> prf(PrfAlgorithm alg, ByteView key, ByteView data);

// prf+(K, S) of RFC 7296 §2.13: T1 | T2 | ... truncated to `length`, where
// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n). At most 255 iterations:
// a longer request is an error.
Result<SecretBytes> prf_plus(PrfAlgorithm alg, ByteView key, ByteView seed, size_t length);

}  // namespace ipsec::crypto
