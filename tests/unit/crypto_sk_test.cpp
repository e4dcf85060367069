// SPDX-License-Identifier: Apache-2.0
// Cipher vectors (McGrew-Viega GCM, RFC 8439 §2.8.2, RFC 7634 App. B, RFC 3602 §4) and
// SK payload seal/open round trips with tampering detection.
#include <doctest/doctest.h>

#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/sk_cipher.h"
#include "crypto_test_util.h"

using namespace ipsec;
using namespace ipsec::crypto;
using namespace crypto_test;

namespace {

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 4 and 16:
// 12-byte IV cafebabefacedbaddecaf888 = RFC 4106-style salt cafebabe | IV facedbaddecaf888.
const char* kGcmKey = "feffe9928665731c6d6a8f9467308308";
const char* kGcmNonce = "cafebabefacedbaddecaf888";
const char* kGcmAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const char* kGcmPlain =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b5"
    "25"
    "b16aedf5aa0de657ba637b39";

std::unique_ptr<SkCipher> sk(const SkTransform& t) {
  SecretBytes encr(Bytes(sk_encr_key_size(t), 0x5a));
  SecretBytes integ(Bytes(sk_integ_key_size(t.integ), 0xa5));
  auto c = make_sk_cipher(t, encr, integ);
  REQUIRE(c);
  return std::move(*c);
}

}  // namespace

TEST_SUITE("crypto sk") {
  TEST_CASE("AES-128-GCM matches McGrew-Viega test case 4, ICV 16/12/8 (truncated tag)") {
    auto ct = aead_encrypt(AeadCipher::AesGcm, secret_hex(kGcmKey), hex(kGcmNonce), hex(kGcmAad),
                           hex(kGcmPlain), 16);
    REQUIRE(ct);
    const std::string body =
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac"
        "84"
        "aa051ba30b396a0aac973d58e091";
    CHECK(to_hex(*ct) == body + "5bc94fbc3221a5db94fae95ae7121a47");
    auto ct12 = aead_encrypt(AeadCipher::AesGcm, secret_hex(kGcmKey), hex(kGcmNonce), hex(kGcmAad),
                             hex(kGcmPlain), 12);
    REQUIRE(ct12);
    CHECK(to_hex(*ct12) == body + "5bc94fbc3221a5db94fae95a");
    auto pt = aead_decrypt(AeadCipher::AesGcm, secret_hex(kGcmKey), hex(kGcmNonce), hex(kGcmAad),
                           hex(body + "5bc94fbc3221a5db"), 8);
    REQUIRE(pt);
    CHECK(to_hex(*pt) == kGcmPlain);
  }

  TEST_CASE("AES-256-GCM matches McGrew-Viega test case 16") {
    auto ct = aead_encrypt(AeadCipher::AesGcm, secret_hex(std::string(kGcmKey) + kGcmKey),
                           hex(kGcmNonce), hex(kGcmAad), hex(kGcmPlain), 16);
    REQUIRE(ct);
    CHECK(
        to_hex(*ct) ==
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
        "828838c5f61e6393ba7a0abcc9f662"
        "76fc6ece0f4e1768cddf8853bb2d551b");
  }

  TEST_CASE("ChaCha20-Poly1305 matches RFC 8439 §2.8.2") {
    const Bytes plain = ascii(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
        "future, sunscreen would be it.");
    const auto key = secret_hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const Bytes nonce = hex("070000004041424344454647");
    const Bytes aad = hex("50515253c0c1c2c3c4c5c6c7");
    auto ct = aead_encrypt(AeadCipher::ChaCha20Poly1305, key, nonce, aad, plain, 16);
    REQUIRE(ct);
    CHECK(
        to_hex(*ct) ==
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da"
        "92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6759455"
        "85808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
        "1ae10b594f09e26a7e902ecbd0600691");
    auto back = aead_decrypt(AeadCipher::ChaCha20Poly1305, key, nonce, aad, *ct, 16);
    REQUIRE(back);
    CHECK(*back == plain);
  }

  // RFC 7634 Appendix B: an IKEv2 INFORMATIONAL message; the AAD is the IKE header and
  // the SK payload header, the plaintext ends with Pad Length 0.
  TEST_CASE("SK open of the RFC 7634 Appendix B IKEv2 example") {
    SkTransform t{EncrAlgorithm::ChaCha20Poly1305, 256, IntegAlgorithm::None};
    auto c = make_sk_cipher(
        t, secret_hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3"),
        {});
    REQUIRE(c);
    const Bytes aad = hex("c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d72e202500000000090000004529000029");
    const Bytes sealed =
        hex("1011121314151617"
            "610394701f8d017f7c129248896b71bfe25236efd7cdc67066906315b2");
    auto pt = (*c)->open(aad, sealed);
    REQUIRE(pt);
    CHECK(to_hex(*pt) == "0000000c000040010000000a");  // Notify payload, Pad Length 0 removed
  }

  TEST_CASE("AES-CBC matches RFC 3602 §4 cases 1 and 2") {
    auto c1 = aes_cbc_encrypt(secret_hex("06a9214036b8a15b512e03d534120006"),
                              hex("3dafba429d9eb430b422da802c9fac41"), ascii("Single block msg"));
    REQUIRE(c1);
    CHECK(to_hex(*c1) == "e353779c1079aeb82708942dbe77181a");
    const Bytes plain2 = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const auto key2 = secret_hex("c286696d887c9aa0611bbb3e2025a45a");
    const Bytes iv2 = hex("562e17996d093d28ddb3ba695a2e6f58");
    auto c2 = aes_cbc_encrypt(key2, iv2, plain2);
    REQUIRE(c2);
    CHECK(to_hex(*c2) == "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1");
    auto p2 = aes_cbc_decrypt(key2, iv2, *c2);
    REQUIRE(p2);
    CHECK(*p2 == plain2);
  }

  TEST_CASE("SK seal/open round trip, sizes and tampering for every transform") {
    const SkTransform transforms[] = {
        {EncrAlgorithm::AesGcm16, 128, IntegAlgorithm::None},
        {EncrAlgorithm::AesGcm16, 256, IntegAlgorithm::None},
        {EncrAlgorithm::AesGcm12, 256, IntegAlgorithm::None},
        {EncrAlgorithm::AesGcm8, 128, IntegAlgorithm::None},
        {EncrAlgorithm::ChaCha20Poly1305, 256, IntegAlgorithm::None},
        {EncrAlgorithm::AesCbc, 128, IntegAlgorithm::HmacSha2_256_128},
        {EncrAlgorithm::AesCbc, 256, IntegAlgorithm::HmacSha2_384_192},
        {EncrAlgorithm::AesCbc, 256, IntegAlgorithm::HmacSha2_512_256},
        {EncrAlgorithm::AesCbc, 128, IntegAlgorithm::HmacSha1_96},
    };
    const Bytes aad = hex("000102030405060708090a0b0c0d0e0f2e202508000000010000005029000034");
    for (const auto& t : transforms) {
      CAPTURE(static_cast<int>(t.encr));
      CAPTURE(static_cast<int>(t.integ));
      auto c = sk(t);
      for (size_t n : {0u, 1u, 15u, 16u, 17u, 100u}) {
        const Bytes plain(n, 0x33);
        auto sealed = c->seal(aad, plain);
        REQUIRE(sealed);
        CHECK(sealed->size() == c->sealed_size(n));
        CHECK((sealed->size() - c->iv_size() - c->icv_size()) % c->block_size() == 0);
        auto back = c->open(aad, *sealed);
        REQUIRE(back);
        CHECK(*back == plain);
      }
      auto sealed = c->seal(aad, ascii("payloads"));
      REQUIRE(sealed);
      Bytes bad_ct = *sealed;
      bad_ct[c->iv_size()] ^= 0x01;
      CHECK_FALSE(c->open(aad, bad_ct));
      Bytes bad_icv = *sealed;
      bad_icv.back() ^= 0x80;
      auto r = c->open(aad, bad_icv);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("integrity check failed") != std::string::npos);
      Bytes bad_iv = *sealed;
      bad_iv[0] ^= 0x01;
      CHECK_FALSE(c->open(aad, bad_iv));
      Bytes bad_aad = aad;
      bad_aad[3] ^= 0x01;
      CHECK_FALSE(c->open(bad_aad, *sealed));
      CHECK_FALSE(c->open(aad, ByteView(*sealed).first(sealed->size() - 1)));
    }
  }

  TEST_CASE("AEAD seal uses a fresh IV each time") {
    auto c = sk({EncrAlgorithm::AesGcm16, 256, IntegAlgorithm::None});
    auto a = c->seal({}, ascii("x"));
    auto b = c->seal({}, ascii("x"));
    REQUIRE(a);
    REQUIRE(b);
    CHECK(Bytes(a->begin(), a->begin() + 8) != Bytes(b->begin(), b->begin() + 8));
  }

  TEST_CASE("SK transform validation") {
    CHECK_FALSE(validate({EncrAlgorithm::AesGcm16, 256, IntegAlgorithm::HmacSha2_256_128}));
    CHECK_FALSE(validate({EncrAlgorithm::AesCbc, 256, IntegAlgorithm::None}));
    CHECK_FALSE(validate({EncrAlgorithm::AesCbc, 100, IntegAlgorithm::HmacSha2_256_128}));
    CHECK_FALSE(validate({EncrAlgorithm::ChaCha20Poly1305, 128, IntegAlgorithm::None}));
    CHECK(sk_encr_key_size({EncrAlgorithm::AesGcm16, 256, IntegAlgorithm::None}) == 36);
    CHECK(sk_integ_key_size(IntegAlgorithm::HmacSha2_384_192) == 48);
    SecretBytes short_key(Bytes(20, 1));
    CHECK_FALSE(
        make_sk_cipher({EncrAlgorithm::AesGcm16, 256, IntegAlgorithm::None}, short_key, {}));
  }
}
