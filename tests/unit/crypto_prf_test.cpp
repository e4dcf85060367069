// SPDX-License-Identifier: Apache-2.0
// PRF vectors: HMAC-SHA2 (RFC 4231 §4), HMAC-SHA1 (RFC 2202 §3), prf+ (RFC 7296 §2.13).
#include <doctest/doctest.h>

#include "crypto/prf.h"
#include "crypto_test_util.h"

using namespace ipsec;
using namespace ipsec::crypto;
using namespace crypto_test;

namespace {

std::string prf_hex(PrfAlgorithm a, const Bytes& key, const Bytes& data) {
  auto r = prf(a, key, data);
  REQUIRE(r);
  return hex_of(*r);
}

const Bytes kLongKey = repeat(0xaa, 131);  // RFC 4231 test cases 6 and 7
const Bytes kCase4Key = hex("0102030405060708090a0b0c0d0e0f10111213141516171819");
const Bytes kCase6Data = ascii("Test Using Larger Than Block-Size Key - Hash Key First");
const Bytes kCase7Data = ascii(
    "This is a test using a larger than block-size key and a larger than block-size data. The "
    "key needs to be hashed before being used by the HMAC algorithm.");

}  // namespace

TEST_SUITE("crypto prf") {
  TEST_CASE("HMAC-SHA-256 matches RFC 4231 §4.2-4.5, 4.7, 4.8 (cases 1-4, 6, 7)") {
    const auto a = PrfAlgorithm::HmacSha2_256;
    CHECK(prf_hex(a, repeat(0x0b, 20), ascii("Hi There")) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(prf_hex(a, ascii("Jefe"), ascii("what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(prf_hex(a, repeat(0xaa, 20), repeat(0xdd, 50)) ==
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    CHECK(prf_hex(a, kCase4Key, repeat(0xcd, 50)) ==
          "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    CHECK(prf_hex(a, kLongKey, kCase6Data) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    CHECK(prf_hex(a, kLongKey, kCase7Data) ==
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  }

  TEST_CASE("HMAC-SHA-384 matches RFC 4231 (cases 1, 3, 4, 6, 7)") {
    const auto a = PrfAlgorithm::HmacSha2_384;
    CHECK(prf_hex(a, repeat(0x0b, 20), ascii("Hi There")) ==
          "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
          "faea9ea9076ede7f4af152e8b2fa9cb6");
    CHECK(prf_hex(a, repeat(0xaa, 20), repeat(0xdd, 50)) ==
          "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
          "2a5ab39dc13814b94e3ab6e101a34f27");
    CHECK(prf_hex(a, kCase4Key, repeat(0xcd, 50)) ==
          "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
          "6801dd23c4a7d679ccf8a386c674cffb");
    CHECK(prf_hex(a, kLongKey, kCase6Data) ==
          "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
          "0c2ef6ab4030fe8296248df163f44952");
    CHECK(prf_hex(a, kLongKey, kCase7Data) ==
          "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
          "a678cc31e799176d3860e6110c46523e");
  }

  TEST_CASE("HMAC-SHA-512 matches RFC 4231 (cases 1-4, 6, 7)") {
    const auto a = PrfAlgorithm::HmacSha2_512;
    CHECK(prf_hex(a, repeat(0x0b, 20), ascii("Hi There")) ==
          "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
          "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    CHECK(prf_hex(a, ascii("Jefe"), ascii("what do ya want for nothing?")) ==
          "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
          "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    CHECK(prf_hex(a, repeat(0xaa, 20), repeat(0xdd, 50)) ==
          "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
          "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb");
    CHECK(prf_hex(a, kCase4Key, repeat(0xcd, 50)) ==
          "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
          "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd");
    CHECK(prf_hex(a, kLongKey, kCase6Data) ==
          "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
          "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
    CHECK(prf_hex(a, kLongKey, kCase7Data) ==
          "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
          "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58");
  }

  TEST_CASE("HMAC-SHA1 matches RFC 2202 §3 (cases 1-4, 6, 7)") {
    const auto a = PrfAlgorithm::HmacSha1;
    CHECK(prf_hex(a, repeat(0x0b, 20), ascii("Hi There")) ==
          "b617318655057264e28bc0b6fb378c8ef146be00");
    CHECK(prf_hex(a, ascii("Jefe"), ascii("what do ya want for nothing?")) ==
          "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    CHECK(prf_hex(a, repeat(0xaa, 20), repeat(0xdd, 50)) ==
          "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    CHECK(prf_hex(a, kCase4Key, repeat(0xcd, 50)) == "4c9007f4026250c6bc8414f9bf50c86c2d7235da");
    CHECK(prf_hex(a, repeat(0xaa, 80), kCase6Data) == "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    CHECK(prf_hex(a, repeat(0xaa, 80),
                  ascii("Test Using Larger Than Block-Size Key and Larger Than One Block-Size "
                        "Data")) == "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
  }

  TEST_CASE("hmac over parts equals hmac over the concatenation") {
    auto split = hmac(Digest::Sha256, ascii("key"), {ascii("abc"), ascii("def")});
    auto whole = hmac(Digest::Sha256, ascii("key"), {ascii("abcdef")});
    REQUIRE(split);
    REQUIRE(whole);
    CHECK(*split == *whole);
  }

  // prf+ with HMAC is the HKDF-Expand construction: T(n) = HMAC(K, T(n-1) | S | n).
  TEST_CASE("prf+ matches RFC 5869 A.1 (HKDF-SHA256 expand, same construction)") {
    const Bytes prk = hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    auto okm = prf_plus(PrfAlgorithm::HmacSha2_256, prk, hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    REQUIRE(okm);
    CHECK(hex_of(*okm) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    // And the extract step of the same vector is prf(salt, IKM), the SKEYSEED shape.
    CHECK(prf_hex(PrfAlgorithm::HmacSha2_256, hex("000102030405060708090a0b0c"),
                  repeat(0x0b, 22)) == to_hex(prk));
  }

  TEST_CASE("prf+ follows the RFC 7296 §2.13 definition built from plain prf calls") {
    const auto a = PrfAlgorithm::HmacSha2_384;
    const Bytes key = repeat(0x42, 48);
    const Bytes seed = ascii("Ni | Nr | SPIi | SPIr");
    Bytes expected, t;
    for (uint8_t n = 1; n <= 4; ++n) {
      Bytes input = t;
      input.insert(input.end(), seed.begin(), seed.end());
      input.push_back(n);
      auto tn = prf(a, key, input);
      REQUIRE(tn);
      t.assign(tn->data(), tn->data() + tn->size());
      expected.insert(expected.end(), t.begin(), t.end());
    }
    expected.resize(150);
    auto out = prf_plus(a, key, seed, 150);
    REQUIRE(out);
    CHECK(hex_of(*out) == to_hex(expected));
  }

  TEST_CASE("prf+ refuses more than 255 iterations") {
    CHECK(prf_plus(PrfAlgorithm::HmacSha2_256, ascii("k"), ascii("s"), 255 * 32));
    auto r = prf_plus(PrfAlgorithm::HmacSha2_256, ascii("k"), ascii("s"), 255 * 32 + 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("255") != std::string::npos);
  }
}
