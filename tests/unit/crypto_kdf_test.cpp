// SPDX-License-Identifier: Apache-2.0
// IKEv2 key derivation: SKEYSEED and key splits (RFC 7296 §2.14, §2.17, §2.18).
#include <doctest/doctest.h>

#include "crypto/kdf.h"
#include "crypto/sk_cipher.h"
#include "crypto_test_util.h"

using namespace ipsec;
using namespace ipsec::crypto;
using namespace crypto_test;

namespace {

Bytes cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string slice(const SecretBytes& s, size_t off, size_t n) {
  return to_hex(s.view().subspan(off, n));
}

const Bytes kNi = repeat(0x11, 32);
const Bytes kNr = repeat(0x22, 32);
const Bytes kSpiI = hex("0102030405060708");
const Bytes kSpiR = hex("1112131415161718");
const SecretBytes kGir(repeat(0x77, 256));

}  // namespace

TEST_SUITE("crypto kdf") {
  TEST_CASE("SKEYSEED = prf(Ni | Nr, g^ir) and the seven keys are prf+ split in order") {
    const auto a = PrfAlgorithm::HmacSha2_256;
    auto seed = skeyseed(a, kNi, kNr, kGir);
    REQUIRE(seed);
    auto direct = prf(a, cat({kNi, kNr}), kGir.view());
    REQUIRE(direct);
    CHECK(*seed == *direct);

    // AES-CBC-256 + HMAC-SHA2-256-128: encr 32, integ 32, prf keys 32.
    const IkeKeyLengths len{32, 32};
    auto keys = derive_ike_sa_keys(a, *seed, {kNi, kNr, kSpiI, kSpiR}, len);
    REQUIRE(keys);
    auto all = prf_plus(a, seed->view(), cat({kNi, kNr, kSpiI, kSpiR}), 7 * 32);
    REQUIRE(all);
    CHECK(hex_of(keys->sk_d) == slice(*all, 0, 32));
    CHECK(hex_of(keys->sk_ai) == slice(*all, 32, 32));
    CHECK(hex_of(keys->sk_ar) == slice(*all, 64, 32));
    CHECK(hex_of(keys->sk_ei) == slice(*all, 96, 32));
    CHECK(hex_of(keys->sk_er) == slice(*all, 128, 32));
    CHECK(hex_of(keys->sk_pi) == slice(*all, 160, 32));
    CHECK(hex_of(keys->sk_pr) == slice(*all, 192, 32));
  }

  TEST_CASE("AEAD: no integrity keys, encryption keys carry the 4-byte salt") {
    const auto a = PrfAlgorithm::HmacSha2_512;
    const SkTransform t{EncrAlgorithm::AesGcm16, 256, IntegAlgorithm::None};
    auto seed = skeyseed(a, kNi, kNr, kGir);
    REQUIRE(seed);
    auto keys = derive_ike_sa_keys(a, *seed, {kNi, kNr, kSpiI, kSpiR},
                                   {sk_encr_key_size(t), sk_integ_key_size(t.integ)});
    REQUIRE(keys);
    CHECK(keys->sk_d.size() == 64);
    CHECK(keys->sk_ai.empty());
    CHECK(keys->sk_ar.empty());
    CHECK(keys->sk_ei.size() == 36);
    CHECK(keys->sk_pr.size() == 64);
    CHECK_FALSE(keys->sk_ei == keys->sk_er);
    CHECK(make_sk_cipher(t, keys->sk_ei, keys->sk_ai));
  }

  TEST_CASE("bad SPI sizes are refused") {
    auto seed = skeyseed(PrfAlgorithm::HmacSha2_256, kNi, kNr, kGir);
    REQUIRE(seed);
    CHECK_FALSE(derive_ike_sa_keys(PrfAlgorithm::HmacSha2_256, *seed, {kNi, kNr, hex("01"), kSpiR},
                                   {16, 16}));
  }

  TEST_CASE("rekey SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 §2.18)") {
    const SecretBytes old_sk_d(repeat(0x99, 48));
    auto seed = rekey_skeyseed(PrfAlgorithm::HmacSha2_384, old_sk_d, kGir, kNi, kNr);
    REQUIRE(seed);
    auto direct = prf(PrfAlgorithm::HmacSha2_384, old_sk_d.view(), cat({kGir.view(), kNi, kNr}));
    REQUIRE(direct);
    CHECK(*seed == *direct);
  }

  TEST_CASE(
      "CHILD SA KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr) split encr-i, integ-i, encr-r, integ-r") {
    const auto a = PrfAlgorithm::HmacSha2_256;
    const SecretBytes sk_d(repeat(0x44, 32));
    const ChildKeyLengths len{16, 32};
    auto keys = derive_child_sa_keys(a, sk_d, nullptr, kNi, kNr, len);
    REQUIRE(keys);
    auto all = prf_plus(a, sk_d.view(), cat({kNi, kNr}), 96);
    REQUIRE(all);
    CHECK(hex_of(keys->encr_i) == slice(*all, 0, 16));
    CHECK(hex_of(keys->integ_i) == slice(*all, 16, 32));
    CHECK(hex_of(keys->encr_r) == slice(*all, 48, 16));
    CHECK(hex_of(keys->integ_r) == slice(*all, 64, 32));

    auto pfs = derive_child_sa_keys(a, sk_d, &kGir, kNi, kNr, len);
    REQUIRE(pfs);
    auto all_pfs = prf_plus(a, sk_d.view(), cat({kGir.view(), kNi, kNr}), 96);
    REQUIRE(all_pfs);
    CHECK(hex_of(pfs->encr_i) == slice(*all_pfs, 0, 16));
    CHECK(hex_of(pfs->integ_r) == slice(*all_pfs, 64, 32));
  }
}
