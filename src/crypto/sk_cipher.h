// SPDX-License-Identifier: Apache-2.0
// SK payload protection (RFC 7296 §3.14): AEAD (RFC 5282, RFC 7634) or AES-CBC + HMAC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto {

// IANA IKEv2 Transform Type 1 (Encryption Algorithm) identifiers.
enum class EncrAlgorithm : uint16_t {
  AesCbc = 12,            // RFC 3602
  AesGcm8 = 18,           // RFC 5282: 8-byte ICV
  AesGcm12 = 19,          //           12-byte ICV
  AesGcm16 = 20,          //           16-byte ICV
  ChaCha20Poly1305 = 28,  // RFC 7634
};

// IANA IKEv2 Transform Type 3 (Integrity Algorithm) identifiers.
enum class IntegAlgorithm : uint16_t {
  None = 0,
  HmacSha1_96 = 2,        // RFC 2404; legacy
  HmacSha2_256_128 = 12,  // RFC 4868
  HmacSha2_384_192 = 13,
  HmacSha2_512_256 = 14,
};

struct SkTransform {
  EncrAlgorithm encr = EncrAlgorithm::AesGcm16;
  uint16_t key_bits = 256;  // Key Length attribute; 256 for ChaCha20-Poly1305
  IntegAlgorithm integ = IntegAlgorithm::None;
};

bool is_aead(EncrAlgorithm e);
// Keying material for SK_ei/SK_er: the cipher key plus, for AEAD, the 4-byte salt at its
// end (RFC 5282 §7.1, RFC 7634 §2).
size_t sk_encr_key_size(const SkTransform& t);
// Keying material for SK_ai/SK_ar (RFC 4868 §2.1.1: the HMAC output size); 0 for None.
size_t sk_integ_key_size(IntegAlgorithm i);
// Checks the combination: AEAD with integrity None, CBC with an integrity algorithm, sizes.
Result<void> validate(const SkTransform& t);

// Protects and checks the Encrypted payload body IV | ciphertext | ICV for one direction.
// `aad` is the message from the first byte of the IKE header to the last byte of the SK
// payload's generic header, with the final lengths already filled in. It is the AEAD
// associated data (RFC 5282 §5.1); for CBC the ICV covers aad | IV | ciphertext, i.e.
// the whole message up to the ICV (RFC 7296 §3.14).
class SkCipher {
 public:
  virtual ~SkCipher() = default;
  virtual size_t iv_size() const = 0;
  virtual size_t icv_size() const = 0;
  // The ciphertext is a multiple of this (1 for AEAD).
  virtual size_t block_size() const = 0;

  // Size of IV | ciphertext | ICV that seal() produces for `plaintext_size` bytes, using
  // the minimal padding; lets the caller write the lengths into `aad` before sealing.
  size_t sealed_size(size_t plaintext_size) const;

  // Pads (RFC 7296 §3.14: padding then a Pad Length octet), encrypts, adds the ICV.
  // The IV is fresh: random for CBC, a per-key counter with a random start for AEAD.
  virtual Result<Bytes> seal(ByteView aad, ByteView plaintext) = 0;
  // The same with a caller-chosen IV (tests, known-answer checks).
  virtual Result<Bytes> seal_with_iv(ByteView aad, ByteView iv, ByteView plaintext) const = 0;
  // Checks the ICV (constant time), decrypts, removes the padding. Any modification of
  // aad, IV, ciphertext or ICV is an error.
  virtual Result<Bytes> open(ByteView aad, ByteView sealed) const = 0;
};

// encr_key: SK_ei or SK_er (with salt); integ_key: SK_ai or SK_ar (empty for AEAD).
Result<std::unique_ptr<SkCipher>> make_sk_cipher(const SkTransform& t, const SecretBytes& encr_key,
                                                 const SecretBytes& integ_key);

}  // namespace ipsec::crypto
