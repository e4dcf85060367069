// SPDX-License-Identifier: Apache-2.0
// Raw ciphers under the SK payload: AES-GCM and ChaCha20-Poly1305 AEAD, AES-CBC.
#pragma once

#include <cstddef>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto {

enum class AeadCipher { AesGcm, ChaCha20Poly1305 };

// AEAD encryption: returns ciphertext | tag (tag_len bytes: 8, 12 or 16 for AES-GCM,
// 16 for ChaCha20-Poly1305). The key is the cipher key without salt (AES: 16, 24 or 32
// bytes; ChaCha20: 32); the nonce is 12 bytes.
Result<Bytes> aead_encrypt(AeadCipher c, const SecretBytes& key, ByteView nonce, ByteView aad,
                           ByteView plaintext, size_t tag_len);

// The inverse; any change to nonce, AAD, ciphertext or tag is an error.
Result<Bytes> aead_decrypt(AeadCipher c, const SecretBytes& key, ByteView nonce, ByteView aad,
                           ByteView ciphertext_and_tag, size_t tag_len);

// AES-CBC without padding (RFC 3602): data must be a multiple of 16 bytes; key 16/24/32.
Result<Bytes> aes_cbc_encrypt(const SecretBytes& key, ByteView iv, ByteView data);
Result<Bytes> aes_cbc_decrypt(const SecretBytes& key, ByteView iv, ByteView data);

}  // namespace ipsec::crypto
