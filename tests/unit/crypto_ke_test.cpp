// SPDX-License-Identifier: Apache-2.0
// Key exchange vectors: ECP (RFC 5903 §8), X25519/X448 (RFC 7748 §6.1/§6.2, RFC 8031
// Appendix A), MODP round trips and public value checks (RFC 7296 §5, RFC 8247).
#include <doctest/doctest.h>

#include <openssl/bn.h>

#include "crypto/key_exchange.h"
#include "crypto_test_util.h"

using namespace ipsec;
using namespace ipsec::crypto;
using namespace crypto_test;

namespace {

struct KeVector {
  KeGroup group;
  const char* priv_i;
  const char* pub_i;
  const char* priv_r;
  const char* pub_r;
  const char* shared;
};

void check_vector(const KeVector& v) {
  auto i = make_key_exchange_with_private_key(v.group, secret_hex(v.priv_i));
  auto r = make_key_exchange_with_private_key(v.group, secret_hex(v.priv_r));
  REQUIRE(i);
  REQUIRE(r);
  CHECK(to_hex((*i)->public_value()) == v.pub_i);
  CHECK(to_hex((*r)->public_value()) == v.pub_r);
  auto s_i = (*i)->shared_secret(hex(v.pub_r));
  auto s_r = (*r)->shared_secret(hex(v.pub_i));
  REQUIRE(s_i);
  REQUIRE(s_r);
  CHECK(hex_of(*s_i) == v.shared);
  CHECK(hex_of(*s_r) == v.shared);
}

std::unique_ptr<KeyExchange> fresh(KeGroup g) {
  auto ke = make_key_exchange(g);
  REQUIRE(ke);
  return std::move(*ke);
}

// p of RFC 3526 §3 as a padded big-endian byte string (from OpenSSL's built-in copy).
Bytes modp2048_prime() {
  BIGNUM* p = BN_get_rfc3526_prime_2048(nullptr);
  REQUIRE(p != nullptr);
  Bytes out(256);
  BN_bn2binpad(p, out.data(), 256);
  BN_free(p);
  return out;
}

}  // namespace

TEST_SUITE("crypto key exchange") {
  // RFC 5903 §8.1: 256-bit random ECP group.
  TEST_CASE("ecp256 matches RFC 5903 §8.1") {
    check_vector({KeGroup::Ecp256,
                  "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
                  "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
                  "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
                  "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
                  "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
                  "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
                  "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"});
  }

  // RFC 5903 §8.2: 384-bit random ECP group.
  TEST_CASE("ecp384 matches RFC 5903 §8.2") {
    check_vector(
        {KeGroup::Ecp384,
         "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896"
         "783ab194",
         "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732ae"
         "e95f41aa"
         "9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c63"
         "4573a81c",
         "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd5"
         "5a7448fc",
         "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0"
         "774a3571"
         "dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96d"
         "b9e6386c",
         "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a2"
         "70f59746"});
  }

  // RFC 5903 §8.3: 521-bit random ECP group (coordinates are 66 bytes).
  TEST_CASE("ecp521 matches RFC 5903 §8.3") {
    check_vector(
        {KeGroup::Ecp521,
         "0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a095aa85a30fe1c2952c6771d9"
         "37ba9777f5957b2639bab072462f68c27a57382d4a52",
         "0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbee1e3bf42e00b8e380aeae57c"
         "2d107564941885942af5a7f4601723c4195d176ced3e"
         "017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10ad8a788015ac405d7799dc75e"
         "7b7d5b6cf2261a6a7f1507438bf01beb6ca3926f9582",
         "0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e9c677d600b343757a3bdbf2a"
         "3163e4c2f869cca7458aa4a4effc311f5cb151685eb9",
         "00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a219b97c356436adc6e95bb0352"
         "f6be64a6c2912d4ef2d0433ced2b6171640012d9460f"
         "015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87220b6536c5c408a1d2aebb8e"
         "86d678ae49cb57091f4732296579ab44fcd17f0fc56a",
         "01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04d1427e73ca4baa240a347868"
         "59810c06b3c715a3a8cc3151f2bee417996d19f3ddea"});
  }

  TEST_CASE("x25519 matches RFC 7748 §6.1 and RFC 8031 Appendix A") {
    check_vector({KeGroup::Curve25519,
                  "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
                  "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
                  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
                  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"});
    check_vector({KeGroup::Curve25519,
                  "751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94",
                  "48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766",
                  "0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688",
                  "0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25",
                  "c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950"});
  }

  TEST_CASE("x448 matches RFC 7748 §6.2") {
    check_vector({KeGroup::Curve448,
                  "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a94197448973"
                  "91006382a6f127ab1d9ac2d8c0a598726b",
                  "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953"
                  "d40c5b12da88120d53177f80e532c41fa0",
                  "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e"
                  "21374c9c921b09d1b0366f10b65173992d",
                  "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a1"
                  "3ca706dcb57aec3dae07bdc1c67bf33609",
                  "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c3355439"
                  "36521c24403085d59a449a5037514a879d"});
  }

  TEST_CASE("MODP groups: two instances agree on a secret as long as the modulus") {
    for (KeGroup g : {KeGroup::Modp2048, KeGroup::Modp3072, KeGroup::Modp4096}) {
      auto a = fresh(g);
      auto b = fresh(g);
      CHECK(a->public_value().size() == ke_public_value_size(g));
      auto s_a = a->shared_secret(b->public_value());
      auto s_b = b->shared_secret(a->public_value());
      REQUIRE(s_a);
      REQUIRE(s_b);
      CHECK(s_a->size() == ke_shared_secret_size(g));
      CHECK(*s_a == *s_b);
    }
  }

  TEST_CASE("MODP with a given private key reproduces its public value") {
    auto a = make_key_exchange_with_private_key(KeGroup::Modp2048, secret_hex("02"));
    REQUIRE(a);
    Bytes four(256, 0);
    four[255] = 4;  // 2^2 mod p
    CHECK(to_hex((*a)->public_value()) == to_hex(four));
  }

  TEST_CASE("MODP rejects 0, 1, p-1, p and wrong lengths (RFC 7296 §5)") {
    auto a = fresh(KeGroup::Modp2048);
    Bytes p = modp2048_prime();
    Bytes p_minus_1 = p;
    p_minus_1.back() -= 1;  // p is odd: no borrow
    Bytes zero(256, 0), one(256, 0);
    one.back() = 1;
    for (const Bytes& bad : {zero, one, p_minus_1, p}) {
      auto r = a->shared_secret(bad);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("out of range") != std::string::npos);
    }
    auto short_value = a->shared_secret(Bytes(255, 7));
    REQUIRE_FALSE(short_value);
    CHECK(short_value.error().message.find("expected 256") != std::string::npos);
    Bytes two(256, 0);
    two.back() = 2;
    CHECK(a->shared_secret(two));
  }

  TEST_CASE("ECP rejects points off the curve and wrong lengths") {
    auto a = fresh(KeGroup::Ecp256);
    Bytes off = Bytes(a->public_value().begin(), a->public_value().end());
    off.back() ^= 1;  // y changed: (x, y') is not on the curve
    auto r = a->shared_secret(off);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("not a point on the curve") != std::string::npos);
    CHECK_FALSE(a->shared_secret(Bytes(64, 0)));
    auto with_prefix = Bytes{0x04};
    with_prefix.insert(with_prefix.end(), a->public_value().begin(), a->public_value().end());
    auto r2 = a->shared_secret(with_prefix);  // RFC 5903 §7: no 0x04 octet on the wire
    REQUIRE_FALSE(r2);
    CHECK(r2.error().message.find("expected 64") != std::string::npos);
  }

  TEST_CASE("X25519/X448 reject wrong lengths and an all-zero shared secret (RFC 7748 §6)") {
    for (KeGroup g : {KeGroup::Curve25519, KeGroup::Curve448}) {
      auto a = fresh(g);
      const size_t n = ke_public_value_size(g);
      CHECK_FALSE(a->shared_secret(Bytes(n - 1, 9)));
      auto r = a->shared_secret(Bytes(n, 0));  // u = 0: low order, result all zero
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("all-zero") != std::string::npos);
      auto b = fresh(g);
      auto s = a->shared_secret(b->public_value());
      auto s2 = b->shared_secret(a->public_value());
      REQUIRE(s);
      REQUIRE(s2);
      CHECK(*s == *s2);
    }
  }

  TEST_CASE("group table") {
    CHECK(ke_group_from_id(19).value() == KeGroup::Ecp256);
    CHECK_FALSE(ke_group_from_id(2));  // MODP-1024 is not offered
    CHECK(ke_public_value_size(KeGroup::Ecp521) == 132);
    CHECK(ke_group_name(KeGroup::Curve25519) == "x25519");
  }
}
