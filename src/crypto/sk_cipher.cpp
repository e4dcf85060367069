// SPDX-License-Identifier: Apache-2.0
// SK payload protection: AEAD (RFC 5282, RFC 7634) and AES-CBC + HMAC (RFC 7296 §3.14).
#include "crypto/sk_cipher.h"

#include <openssl/crypto.h>

#include <string>

#include "crypto/aead.h"
#include "crypto/prf.h"
#include "crypto/random.h"

namespace ipsec::crypto {

namespace {

constexpr size_t kSaltSize = 4;
constexpr size_t kAeadIvSize = 8;
constexpr size_t kCbcBlock = 16;

size_t icv_size_of(const SkTransform& t) {
  switch (t.encr) {
    case EncrAlgorithm::AesGcm8:
      return 8;
    case EncrAlgorithm::AesGcm12:
      return 12;
    case EncrAlgorithm::AesGcm16:
    case EncrAlgorithm::ChaCha20Poly1305:
      return 16;
    case EncrAlgorithm::AesCbc:
      break;
  }
  switch (t.integ) {
    case IntegAlgorithm::HmacSha1_96:
      return 12;
    case IntegAlgorithm::HmacSha2_256_128:
      return 16;
    case IntegAlgorithm::HmacSha2_384_192:
      return 24;
    case IntegAlgorithm::HmacSha2_512_256:
      return 32;
    case IntegAlgorithm::None:
      break;
  }
  return 0;
}

Digest integ_digest(IntegAlgorithm i) {
  switch (i) {
    case IntegAlgorithm::HmacSha1_96:
      return Digest::Sha1;
    case IntegAlgorithm::HmacSha2_384_192:
      return Digest::Sha384;
    case IntegAlgorithm::HmacSha2_512_256:
      return Digest::Sha512;
    default:
      return Digest::Sha256;
  }
}

// Plaintext | zero padding | Pad Length, a multiple of `block` (RFC 7296 §3.14).
Bytes pad(ByteView plaintext, size_t block) {
  const size_t padded = (plaintext.size() + 1 + block - 1) / block * block;
  Bytes out(plaintext.begin(), plaintext.end());
  out.resize(padded, 0);
  out.back() = static_cast<uint8_t>(padded - plaintext.size() - 1);
  return out;
}

// Removes padding; receivers accept any padding content (RFC 7296 §3.14).
Result<Bytes> unpad(Bytes padded) {
  if (padded.empty()) return fail("SK payload: empty plaintext, no Pad Length");
  const size_t pad_len = padded.back();
  if (pad_len + 1 > padded.size()) {
    secure_wipe(padded.data(), padded.size());
    return fail("SK payload: Pad Length " + std::to_string(pad_len) + " exceeds the plaintext");
  }
  secure_wipe(padded.data() + padded.size() - pad_len - 1, pad_len + 1);
  padded.resize(padded.size() - pad_len - 1);
  return padded;
}

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// RFC 5282 / RFC 7634: nonce = salt (last 4 bytes of the key material) | 8-byte IV.
class AeadSkCipher final : public SkCipher {
 public:
  AeadSkCipher(AeadCipher c, const SecretBytes& keymat, size_t icv, uint64_t first_iv)
      : cipher_(c),
        key_(keymat.view().first(keymat.size() - kSaltSize)),
        salt_(keymat.view().last(kSaltSize)),
        icv_(icv),
        next_iv_(first_iv) {}

  size_t iv_size() const override { return kAeadIvSize; }
  size_t icv_size() const override { return icv_; }
  size_t block_size() const override { return 1; }

  Result<Bytes> seal(ByteView aad, ByteView plaintext) override {
    uint8_t iv[kAeadIvSize];
    const uint64_t counter = next_iv_++;  // never repeats under one key
    for (size_t i = 0; i < kAeadIvSize; ++i) iv[i] = static_cast<uint8_t>(counter >> (56 - 8 * i));
    return seal_with_iv(aad, ByteView(iv, kAeadIvSize), plaintext);
  }

  Result<Bytes> seal_with_iv(ByteView aad, ByteView iv, ByteView plaintext) const override {
    if (iv.size() != kAeadIvSize) return fail("SK: AEAD IV must be 8 bytes");
    Bytes padded = pad(plaintext, 1);
    auto ct = aead_encrypt(cipher_, key_, nonce(iv), aad, padded, icv_);
    secure_wipe(padded.data(), padded.size());
    if (!ct) return fail(ct.error());
    return concat(iv, *ct);
  }

  Result<Bytes> open(ByteView aad, ByteView sealed) const override {
    if (sealed.size() < kAeadIvSize + 1 + icv_) {
      return fail("SK payload: " + std::to_string(sealed.size()) +
                  " bytes, too short for IV, "
                  "Pad Length and ICV");
    }
    auto pt = aead_decrypt(cipher_, key_, nonce(sealed.first(kAeadIvSize)), aad,
                           sealed.subspan(kAeadIvSize), icv_);
    if (!pt) return fail("SK payload: integrity check failed (" + pt.error().message + ")");
    return unpad(std::move(*pt));
  }

 private:
  Bytes nonce(ByteView iv) const { return concat(salt_.view(), iv); }

  AeadCipher cipher_;
  SecretBytes key_;
  SecretBytes salt_;
  size_t icv_;
  uint64_t next_iv_;
};

// RFC 7296 §3.14 encrypt-then-MAC: random IV, ICV = truncated HMAC(aad | IV | ciphertext).
class CbcHmacSkCipher final : public SkCipher {
 public:
  CbcHmacSkCipher(const SecretBytes& encr_key, const SecretBytes& integ_key, Digest d, size_t icv)
      : encr_key_(encr_key), integ_key_(integ_key), digest_(d), icv_(icv) {}

  size_t iv_size() const override { return kCbcBlock; }
  size_t icv_size() const override { return icv_; }
  size_t block_size() const override { return kCbcBlock; }

  Result<Bytes> seal(ByteView aad, ByteView plaintext) override {
    auto iv = random_bytes(kCbcBlock);  // RFC 7296 §3.14: unpredictable IV
    if (!iv) return fail(iv.error());
    return seal_with_iv(aad, *iv, plaintext);
  }

  Result<Bytes> seal_with_iv(ByteView aad, ByteView iv, ByteView plaintext) const override {
    if (iv.size() != kCbcBlock) return fail("SK: AES-CBC IV must be 16 bytes");
    Bytes padded = pad(plaintext, kCbcBlock);
    auto ct = aes_cbc_encrypt(encr_key_, iv, padded);
    secure_wipe(padded.data(), padded.size());
    if (!ct) return fail(ct.error());
    Bytes out = concat(iv, *ct);
    auto mac = hmac(digest_, integ_key_.view(), {aad, out});
    if (!mac) return fail(mac.error());
    out.insert(out.end(), mac->data(), mac->data() + icv_);
    return out;
  }

  Result<Bytes> open(ByteView aad, ByteView sealed) const override {
    if (sealed.size() < kCbcBlock + kCbcBlock + icv_ ||
        (sealed.size() - kCbcBlock - icv_) % kCbcBlock != 0) {
      return fail("SK payload: " + std::to_string(sealed.size()) +
                  " bytes is not IV | whole cipher blocks | ICV");
    }
    const ByteView body = sealed.first(sealed.size() - icv_);
    auto mac = hmac(digest_, integ_key_.view(), {aad, body});
    if (!mac) return fail(mac.error());
    if (CRYPTO_memcmp(mac->data(), sealed.data() + body.size(), icv_) != 0) {
      return fail("SK payload: integrity check failed (ICV mismatch)");
    }
    auto pt = aes_cbc_decrypt(encr_key_, body.first(kCbcBlock), body.subspan(kCbcBlock));
    if (!pt) return fail(pt.error());
    return unpad(std::move(*pt));
  }

 private:
  SecretBytes encr_key_;
  SecretBytes integ_key_;
  Digest digest_;
  size_t icv_;
};

Result<uint64_t> random_counter_start() {
  auto r = random_bytes(8);
  if (!r) return fail(r.error());
  uint64_t v = 0;
  for (uint8_t b : *r) v = (v << 8) | b;
  return v;
}

}  // namespace

bool is_aead(EncrAlgorithm e) { return e != EncrAlgorithm::AesCbc; }

size_t sk_encr_key_size(const SkTransform& t) {
  return t.key_bits / 8 + (is_aead(t.encr) ? kSaltSize : 0);
}

size_t sk_integ_key_size(IntegAlgorithm i) {
  return i == IntegAlgorithm::None ? 0 : digest_size(integ_digest(i));
}

Result<void> validate(const SkTransform& t) {
  const bool aes_bits = t.key_bits == 128 || t.key_bits == 192 || t.key_bits == 256;
  if (t.encr == EncrAlgorithm::ChaCha20Poly1305 && t.key_bits != 256) {
    return fail("SK: ChaCha20-Poly1305 takes a 256-bit key (RFC 7634 §2)");
  }
  if (t.encr != EncrAlgorithm::ChaCha20Poly1305 && !aes_bits) {
    return fail("SK: AES key length must be 128, 192 or 256 bits, not " +
                std::to_string(t.key_bits));
  }
  if (is_aead(t.encr) && t.integ != IntegAlgorithm::None) {
    return fail("SK: an AEAD cipher takes no integrity algorithm (RFC 5282 §8)");
  }
  if (!is_aead(t.encr) && t.integ == IntegAlgorithm::None) {
    return fail("SK: AES-CBC needs an integrity algorithm (RFC 7296 §3.14)");
  }
  return ok();
}

size_t SkCipher::sealed_size(size_t plaintext_size) const {
  const size_t block = block_size();
  return iv_size() + (plaintext_size + 1 + block - 1) / block * block + icv_size();
}

Result<std::unique_ptr<SkCipher>> make_sk_cipher(const SkTransform& t, const SecretBytes& encr_key,
                                                 const SecretBytes& integ_key) {
  auto valid = validate(t);
  if (!valid) return fail(valid.error());
  if (encr_key.size() != sk_encr_key_size(t)) {
    return fail("SK: encryption key material is " + std::to_string(encr_key.size()) +
                " bytes, expected " + std::to_string(sk_encr_key_size(t)));
  }
  if (integ_key.size() != sk_integ_key_size(t.integ)) {
    return fail("SK: integrity key is " + std::to_string(integ_key.size()) + " bytes, expected " +
                std::to_string(sk_integ_key_size(t.integ)));
  }
  if (!is_aead(t.encr)) {
    return std::unique_ptr<SkCipher>(
        new CbcHmacSkCipher(encr_key, integ_key, integ_digest(t.integ), icv_size_of(t)));
  }
  auto start = random_counter_start();
  if (!start) return fail(start.error());
  const AeadCipher c =
      t.encr == EncrAlgorithm::ChaCha20Poly1305 ? AeadCipher::ChaCha20Poly1305 : AeadCipher::AesGcm;
  return std::unique_ptr<SkCipher>(new AeadSkCipher(c, encr_key, icv_size_of(t), *start));
}

}  // namespace ipsec::crypto
