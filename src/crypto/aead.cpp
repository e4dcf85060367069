// SPDX-License-Identifier: Apache-2.0
// AES-GCM, ChaCha20-Poly1305 and AES-CBC through EVP_CIPHER.
#include "crypto/aead.h"

#include <openssl/crypto.h>

#include <climits>
#include <string>

#include "crypto/openssl_util.h"

namespace ipsec::crypto {

namespace {

constexpr size_t kNonceSize = 12;

Result<const EVP_CIPHER*> aead_cipher(AeadCipher c, size_t key_size, size_t tag_len) {
  if (c == AeadCipher::ChaCha20Poly1305) {
    if (key_size != 32) return fail("ChaCha20-Poly1305: key must be 32 bytes");
    if (tag_len != 16) return fail("ChaCha20-Poly1305: tag must be 16 bytes");
    return EVP_chacha20_poly1305();
  }
  if (tag_len != 8 && tag_len != 12 && tag_len != 16) {
    return fail("AES-GCM: ICV must be 8, 12 or 16 bytes (RFC 5282 §7.1)");
  }
  switch (key_size) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return fail("AES-GCM: key must be 16, 24 or 32 bytes");
  }
}

Result<const EVP_CIPHER*> cbc_cipher(size_t key_size) {
  switch (key_size) {
    case 16:
      return EVP_aes_128_cbc();
    case 24:
      return EVP_aes_192_cbc();
    case 32:
      return EVP_aes_256_cbc();
    default:
      return fail("AES-CBC: key must be 16, 24 or 32 bytes");
  }
}

// Runs one cipher pass (init done by the caller) over `in` into `out` and finalises.
Result<void> run(EVP_CIPHER_CTX* ctx, ByteView aad, ByteView in, Bytes& out, const char* what) {
  int len = 0;
  if (in.size() > static_cast<size_t>(INT_MAX) || aad.size() > static_cast<size_t>(INT_MAX)) {
    return fail(std::string(what) + ": input too large");
  }
  if (!aad.empty() &&
      EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return ossl::fail_openssl(std::string(what) + ": AAD rejected");
  }
  out.resize(in.size() + 16);
  int total = 0;
  if (!in.empty() &&
      EVP_CipherUpdate(ctx, out.data(), &total, in.data(), static_cast<int>(in.size())) != 1) {
    return ossl::fail_openssl(std::string(what) + ": update failed");
  }
  if (EVP_CipherFinal_ex(ctx, out.data() + total, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return ossl::fail_openssl(std::string(what) + ": authentication failed");
  }
  out.resize(static_cast<size_t>(total + len));
  return ok();
}

Result<ossl::CipherCtxPtr> start(const EVP_CIPHER* cipher, const SecretBytes& key, ByteView iv,
                                 bool encrypt, const char* what) {
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), iv.data(), encrypt ? 1 : 0, nullptr) != 1) {
    return ossl::fail_openssl(std::string(what) + ": init failed");
  }
  return ctx;
}

Result<Bytes> aes_cbc(const SecretBytes& key, ByteView iv, ByteView data, bool encrypt) {
  auto cipher = cbc_cipher(key.size());
  if (!cipher) return fail(cipher.error());
  if (iv.size() != 16) return fail("AES-CBC: IV must be 16 bytes");
  if (data.size() % 16 != 0) return fail("AES-CBC: data is not a multiple of the block size");
  auto ctx = start(*cipher, key, iv, encrypt, "AES-CBC");
  if (!ctx) return fail(ctx.error());
  EVP_CIPHER_CTX_set_padding(ctx->get(), 0);  // IKEv2 pads itself (RFC 7296 §3.14)
  Bytes out;
  auto r = run(ctx->get(), {}, data, out, "AES-CBC");
  if (!r) return fail(r.error());
  return out;
}

const char* aead_name(AeadCipher c) {
  return c == AeadCipher::AesGcm ? "AES-GCM" : "ChaCha20-Poly1305";
}

}  // namespace

Result<Bytes> aead_encrypt(AeadCipher c, const SecretBytes& key, ByteView nonce, ByteView aad,
                           ByteView plaintext, size_t tag_len) {
  auto cipher = aead_cipher(c, key.size(), tag_len);
  if (!cipher) return fail(cipher.error());
  if (nonce.size() != kNonceSize)
    return fail(std::string(aead_name(c)) + ": nonce must be 12 bytes");
  auto ctx = start(*cipher, key, nonce, true, aead_name(c));
  if (!ctx) return fail(ctx.error());
  Bytes out;
  auto r = run(ctx->get(), aad, plaintext, out, aead_name(c));
  if (!r) return fail(r.error());
  const size_t ct_len = out.size();
  out.resize(ct_len + tag_len);
  if (EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_len),
                          out.data() + ct_len) != 1) {
    return ossl::fail_openssl(std::string(aead_name(c)) + ": cannot read tag");
  }
  return out;
}

Result<Bytes> aead_decrypt(AeadCipher c, const SecretBytes& key, ByteView nonce, ByteView aad,
                           ByteView ciphertext_and_tag, size_t tag_len) {
  auto cipher = aead_cipher(c, key.size(), tag_len);
  if (!cipher) return fail(cipher.error());
  if (nonce.size() != kNonceSize)
    return fail(std::string(aead_name(c)) + ": nonce must be 12 bytes");
  if (ciphertext_and_tag.size() < tag_len) return fail(std::string(aead_name(c)) + ": too short");
  auto ctx = start(*cipher, key, nonce, false, aead_name(c));
  if (!ctx) return fail(ctx.error());
  const size_t ct_len = ciphertext_and_tag.size() - tag_len;
  Bytes tag(ciphertext_and_tag.begin() + static_cast<std::ptrdiff_t>(ct_len),
            ciphertext_and_tag.end());
  if (EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_len),
                          tag.data()) != 1) {
    return ossl::fail_openssl(std::string(aead_name(c)) + ": cannot set tag");
  }
  Bytes out;
  auto r = run(ctx->get(), aad, ciphertext_and_tag.first(ct_len), out, aead_name(c));
  if (!r) return fail(r.error());
  return out;
}

Result<Bytes> aes_cbc_encrypt(const SecretBytes& key, ByteView iv, ByteView data) {
  return aes_cbc(key, iv, data, true);
}

Result<Bytes> aes_cbc_decrypt(const SecretBytes& key, ByteView iv, ByteView data) {
  return aes_cbc(key, iv, data, false);
}

}  // namespace ipsec::crypto
