// SPDX-License-Identifier: Apache-2.0
// pki.h, keys and signatures: every private key encoding, signing and verifying with every
// scheme a key allows (raw and DER ECDSA, RFC 4754), RFC 7427 AlgorithmIdentifiers against
// OpenSSL's own encoding, scheme choice by the peer's hashes, distinguished names.
#include <doctest/doctest.h>

#include <openssl/x509.h>

#include <string>

#include "crypto/pki.h"
#include "crypto_pki_fixtures.h"
#include "crypto_test_util.h"

using namespace ipsec;
using namespace ipsec::crypto;
using namespace pki_test;

namespace {

using S = SignatureScheme;
constexpr S kAllSchemes[] = {S::RsaPkcs1Sha1,   S::RsaPkcs1Sha256, S::RsaPkcs1Sha384,
                             S::RsaPkcs1Sha512, S::RsaPssSha256,   S::RsaPssSha384,
                             S::RsaPssSha512,   S::EcdsaSha256,    S::EcdsaSha384,
                             S::EcdsaSha512,    S::Ed25519,        S::Ed448};

bool is_ec(KeyType t) {
  return t == KeyType::EcP256 || t == KeyType::EcP384 || t == KeyType::EcP521;
}
bool is_ecdsa(S s) { return s == S::EcdsaSha256 || s == S::EcdsaSha384 || s == S::EcdsaSha512; }

// What the test expects a key type to sign with, independently of the implementation.
bool allowed(KeyType t, S s) {
  switch (t) {
    case KeyType::Rsa:
      return s <= S::RsaPssSha512;
    case KeyType::Ed25519:
      return s == S::Ed25519;
    case KeyType::Ed448:
      return s == S::Ed448;
    default:
      return is_ecdsa(s);
  }
}

size_t ec_half(KeyType t) { return t == KeyType::EcP256 ? 32 : t == KeyType::EcP384 ? 48 : 66; }

PrivateKey parsed(KeyType t) {
  auto k = PrivateKey::parse(encode(key(t), Form::Pkcs8Pem));
  REQUIRE(k);
  return *k;
}

SecretBytes secret(std::string_view s) { return SecretBytes(crypto_test::ascii(s)); }

// The key and signing parameters OpenSSL needs to make a certificate signed with `s`.
std::pair<KeyType, Signing> openssl_signing(S s) {
  switch (s) {
    case S::RsaPkcs1Sha1:
      return {KeyType::Rsa, {"SHA1", false}};
    case S::RsaPkcs1Sha256:
      return {KeyType::Rsa, {"SHA256", false}};
    case S::RsaPkcs1Sha384:
      return {KeyType::Rsa, {"SHA384", false}};
    case S::RsaPkcs1Sha512:
      return {KeyType::Rsa, {"SHA512", false}};
    case S::RsaPssSha256:
      return {KeyType::Rsa, {"SHA256", true}};
    case S::RsaPssSha384:
      return {KeyType::Rsa, {"SHA384", true}};
    case S::RsaPssSha512:
      return {KeyType::Rsa, {"SHA512", true}};
    case S::EcdsaSha256:
      return {KeyType::EcP256, {"SHA256", false}};
    case S::EcdsaSha384:
      return {KeyType::EcP384, {"SHA384", false}};
    case S::EcdsaSha512:
      return {KeyType::EcP521, {"SHA512", false}};
    case S::Ed25519:
      return {KeyType::Ed25519, {nullptr, false}};
    case S::Ed448:
      return {KeyType::Ed448, {nullptr, false}};
  }
  return {KeyType::Rsa, {}};
}

}  // namespace

TEST_SUITE("crypto pki") {
  TEST_CASE("every key type parses from PKCS#8 PEM and DER, and RSA/EC from traditional forms") {
    for (KeyType t : kAllKeyTypes) {
      CAPTURE(key_type_name(t));
      std::vector<Form> forms{Form::Pkcs8Pem, Form::Pkcs8Der};
      if (t == KeyType::Rsa || is_ec(t)) {
        forms.push_back(Form::TraditionalPem);
        forms.push_back(Form::TraditionalDer);
      }
      for (Form f : forms) {
        CAPTURE(static_cast<int>(f));
        Bytes encoded = encode(key(t), f);
        auto k = PrivateKey::parse(encoded);
        REQUIRE(k);
        CHECK(k->type() == t);
        CHECK(k->public_key().type() == t);
        CHECK(k->public_key().spki() == spki_of(key(t)));
        CHECK(k->bits() == static_cast<size_t>(EVP_PKEY_get_bits(key(t))));
      }
    }
    // The traditional forms really are the traditional ones.
    std::string rsa = [] {
      Bytes b = encode(key(KeyType::Rsa), Form::TraditionalPem);
      return std::string(b.begin(), b.end());
    }();
    Bytes ec = encode(key(KeyType::EcP256), Form::TraditionalPem);
    CHECK(rsa.find("BEGIN RSA PRIVATE KEY") != std::string::npos);
    CHECK(std::string(ec.begin(), ec.end()).find("BEGIN EC PRIVATE KEY") != std::string::npos);
    CHECK(encode(key(KeyType::Rsa), Form::TraditionalDer) !=
          encode(key(KeyType::Rsa), Form::Pkcs8Der));
  }

  TEST_CASE("encrypted keys: the right passphrase opens them, a wrong or missing one is named") {
    const SecretBytes right = secret(kPassphrase);
    const SecretBytes wrong = secret("incorrect horse");
    for (KeyType t : kAllKeyTypes) {
      std::vector<Form> forms{Form::EncryptedPkcs8Pem, Form::EncryptedPkcs8Der};
      if (t == KeyType::Rsa || is_ec(t)) forms.push_back(Form::EncryptedLegacyPem);
      for (Form f : forms) {
        CAPTURE(key_type_name(t));
        CAPTURE(static_cast<int>(f));
        Bytes encoded = encode(key(t), f);
        auto k = PrivateKey::parse(encoded, &right);
        REQUIRE(k);
        CHECK(k->type() == t);
        CHECK(k->public_key().spki() == spki_of(key(t)));
        auto bad = PrivateKey::parse(encoded, &wrong);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message.find("wrong passphrase") != std::string::npos);
        auto none = PrivateKey::parse(encoded);
        REQUIRE_FALSE(none);
        CHECK(none.error().message == "private key is encrypted and no passphrase was given");
      }
    }
    Bytes legacy = encode(key(KeyType::Rsa), Form::EncryptedLegacyPem);
    CHECK(std::string(legacy.begin(), legacy.end()).find("DEK-Info:") != std::string::npos);
  }

  TEST_CASE("what is not a private key is refused without quoting it") {
    Bytes cert = cert_der(self_signed({{"CN", "x"}}, key(KeyType::EcP256)).get());
    Bytes spki = spki_of(key(KeyType::EcP256));
    for (const Bytes& input : {crypto_test::ascii("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
                               crypto_test::ascii("hello"), cert, spki, Bytes{}}) {
      auto k = PrivateKey::parse(input);
      REQUIRE_FALSE(k);
      CHECK(k.error().message.find("private key") != std::string::npos);
      CHECK(k.error().message.find("AAAA") == std::string::npos);
    }
    // A damaged unencrypted key (one byte of the PKCS#8 DER changed).
    Bytes der = encode(key(KeyType::EcP256), Form::Pkcs8Der);
    der[der.size() / 2] ^= 0xff;
    CHECK_FALSE(PrivateKey::parse(der));
  }

  TEST_CASE("unsupported key types and curves are named; an unencrypted key ignores a passphrase") {
    Pkey brainpool(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "brainpoolP256r1"));
    Pkey x25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    REQUIRE(brainpool);
    REQUIRE(x25519);
    auto bp = PrivateKey::parse(encode(brainpool.get(), Form::Pkcs8Pem));
    REQUIRE_FALSE(bp);
    CHECK(bp.error().message.find("unsupported curve brainpoolP256r1") != std::string::npos);
    auto xk = PrivateKey::parse(encode(x25519.get(), Form::Pkcs8Der));
    REQUIRE_FALSE(xk);
    CHECK(xk.error().message.find("unsupported key type X25519") != std::string::npos);
    auto cert = Certificate::parse(cert_der(self_signed({{"CN", "bp"}}, brainpool.get()).get()));
    REQUIRE_FALSE(cert);
    CHECK(cert.error().message.find("unsupported curve") != std::string::npos);
    const SecretBytes pass = secret("not needed");
    CHECK(PrivateKey::parse(encode(key(KeyType::Ed25519), Form::Pkcs8Pem), &pass));
  }

  TEST_CASE("public keys from a SubjectPublicKeyInfo") {
    for (KeyType t : kAllKeyTypes) {
      CAPTURE(key_type_name(t));
      auto pub = PublicKey::from_spki(spki_of(key(t)));
      REQUIRE(pub);
      CHECK(pub->type() == t);
      CHECK(pub->spki() == spki_of(key(t)));
      CHECK(pub->spki_sha1().size() == 20);
    }
    CHECK(PublicKey::from_spki(spki_of(key(KeyType::Ed448)))->bits() == 456);
    Bytes trailing = spki_of(key(KeyType::EcP256));
    trailing.push_back(0);
    auto t = PublicKey::from_spki(trailing);
    REQUIRE_FALSE(t);
    CHECK(t.error().message == "public key: 1 bytes after the SubjectPublicKeyInfo");
    CHECK_FALSE(PublicKey::from_spki(crypto_test::ascii("garbage")));
    CHECK_FALSE(PublicKey::from_spki(Bytes{}));
  }

  TEST_CASE("sign and verify every scheme a key allows; a flipped bit or a wrong key fails") {
    const Bytes data = crypto_test::ascii("IKE_SA_INIT | Nr | prf(SK_pi, IDi')");
    for (KeyType t : kAllKeyTypes) {
      PrivateKey priv = parsed(t);
      PublicKey pub = priv.public_key();
      for (S s : kAllSchemes) {
        CAPTURE(key_type_name(t));
        CAPTURE(scheme_name(s));
        auto sig = priv.sign(s, data);
        if (!allowed(t, s)) {
          REQUIRE_FALSE(sig);
          CHECK(sig.error().message == std::string(scheme_name(s)) + ": not a scheme for an " +
                                           std::string(key_type_name(t)) + " key");
          auto v = pub.verify(s, data, Bytes(64, 1));
          REQUIRE_FALSE(v);
          CHECK(v.error().message.find("not a scheme for") != std::string::npos);
          continue;
        }
        REQUIRE(sig);
        CHECK(pub.verify(s, data, *sig));
        Bytes flipped = *sig;
        flipped[flipped.size() / 2] ^= 0x01;
        auto v = pub.verify(s, data, flipped);
        REQUIRE_FALSE(v);
        CHECK(v.error().message == std::string(scheme_name(s)) + ": the signature does not verify");
        Bytes other = data;
        other.back() ^= 0x80;
        CHECK_FALSE(pub.verify(s, other, *sig));
      }
    }
    // Another key of the same type does not verify it.
    PrivateKey mine = parsed(KeyType::EcP256);
    auto other = PrivateKey::parse(encode(generate(KeyType::EcP256).get(), Form::Pkcs8Pem));
    REQUIRE(other);
    auto sig = mine.sign(S::EcdsaSha256, data);
    REQUIRE(sig);
    CHECK_FALSE(other->public_key().verify(S::EcdsaSha256, data, *sig));
  }

  TEST_CASE("ECDSA as r|s (RFC 4754): fixed size, round trip, and distinct from DER") {
    const Bytes data = crypto_test::ascii("signed octets");
    for (KeyType t : {KeyType::EcP256, KeyType::EcP384, KeyType::EcP521}) {
      CAPTURE(key_type_name(t));
      PrivateKey priv = parsed(t);
      PublicKey pub = priv.public_key();
      for (S s : {S::EcdsaSha256, S::EcdsaSha384, S::EcdsaSha512}) {
        auto raw = priv.sign(s, data, true);
        REQUIRE(raw);
        CHECK(raw->size() == 2 * ec_half(t));
        CHECK(pub.verify(s, data, *raw, true));
        CHECK_FALSE(pub.verify(s, data, *raw, false));  // r|s is not DER
        Bytes flipped = *raw;
        flipped[3] ^= 0x10;
        CHECK_FALSE(pub.verify(s, data, flipped, true));
        auto der = priv.sign(s, data);
        REQUIRE(der);
        CHECK((*der)[0] == 0x30);
        CHECK(pub.verify(s, data, *der));
        auto wrong_size = pub.verify(s, data, *der, true);
        REQUIRE_FALSE(wrong_size);
        CHECK(wrong_size.error().message.find("r|s") != std::string::npos);
      }
    }
  }

  TEST_CASE("RSASSA-PSS: OpenSSL's signatures verify only with the salt as long as the hash") {
    const Bytes data = crypto_test::ascii("AUTH octets");
    auto openssl_pss = [&](int salt) {
      std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
      EVP_PKEY_CTX* pctx = nullptr;
      REQUIRE(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, key(KeyType::Rsa),
                                    nullptr) == 1);
      REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
      REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1);
      size_t len = 0;
      REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) == 1);
      Bytes sig(len);
      REQUIRE(EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) == 1);
      sig.resize(len);
      return sig;
    };
    PublicKey pub = parsed(KeyType::Rsa).public_key();
    CHECK(pub.verify(S::RsaPssSha256, data, openssl_pss(32)));
    CHECK_FALSE(pub.verify(S::RsaPssSha256, data, openssl_pss(20)));
    CHECK_FALSE(pub.verify(S::RsaPkcs1Sha256, data, openssl_pss(32)));
  }

  TEST_CASE("the schemes of AUTH methods 1, 9, 10, 11") {
    CHECK(scheme_for_method(1, KeyType::Rsa) == S::RsaPkcs1Sha1);
    CHECK(scheme_for_method(9, KeyType::EcP256) == S::EcdsaSha256);
    CHECK(scheme_for_method(10, KeyType::EcP384) == S::EcdsaSha384);
    CHECK(scheme_for_method(11, KeyType::EcP521) == S::EcdsaSha512);
    CHECK_FALSE(scheme_for_method(9, KeyType::EcP384));
    CHECK_FALSE(scheme_for_method(1, KeyType::EcP256));
    CHECK_FALSE(scheme_for_method(14, KeyType::Rsa));
    CHECK_FALSE(scheme_for_method(11, KeyType::Ed25519));
  }

  TEST_CASE("AlgorithmIdentifiers round trip; unknown ones are not guessed") {
    for (S s : kAllSchemes) {
      CAPTURE(scheme_name(s));
      CHECK(scheme_from_algorithm_identifier(algorithm_identifier(s)) == s);
    }
    // RFC 7427 Appendix A / RFC 8420 §2.
    CHECK(to_hex(algorithm_identifier(S::EcdsaSha256)) == "300a06082a8648ce3d040302");
    CHECK(to_hex(algorithm_identifier(S::RsaPkcs1Sha256)) == "300d06092a864886f70d01010b0500");
    CHECK(to_hex(algorithm_identifier(S::Ed25519)) == "300506032b6570");
    // Equivalent encodings: PKCS#1 without NULL, PSS hash parameters absent.
    CHECK(scheme_from_algorithm_identifier(crypto_test::hex("300b06092a864886f70d01010b")) ==
          S::RsaPkcs1Sha256);
    CHECK(scheme_from_algorithm_identifier(crypto_test::hex(
              "303d06092a864886f70d01010a3030a00d300b0609608648016503040202a11a301806092a8648"
              "86f70d010108300b0609608648016503040202a203020130")) == S::RsaPssSha384);
    // md5WithRSAEncryption, PSS with a salt that is not the hash length, PSS with MGF1-SHA1,
    // trailing bytes, garbage, nothing.
    CHECK_FALSE(
        scheme_from_algorithm_identifier(crypto_test::hex("300d06092a864886f70d0101040500")));
    Bytes pss = algorithm_identifier(S::RsaPssSha256);
    pss.back() = 20;
    CHECK_FALSE(scheme_from_algorithm_identifier(pss));
    CHECK_FALSE(scheme_from_algorithm_identifier(crypto_test::hex(
        "303b06092a864886f70d01010a302ea00d300b0609608648016503040201a118301606092a8648"
        "86f70d010108300906052b0e03021a0500a203020120")));
    Bytes trailing = algorithm_identifier(S::EcdsaSha384);
    trailing.push_back(0);
    CHECK_FALSE(scheme_from_algorithm_identifier(trailing));
    CHECK_FALSE(scheme_from_algorithm_identifier(crypto_test::ascii("garbage")));
    CHECK_FALSE(scheme_from_algorithm_identifier(Bytes{}));
  }

  TEST_CASE("AlgorithmIdentifiers are what OpenSSL encodes, and OpenSSL's signatures verify") {
    for (S s : kAllSchemes) {
      CAPTURE(scheme_name(s));
      auto [type, signing] = openssl_signing(s);
      X509Ptr cert = self_signed({{"CN", "algorithm test"}}, key(type), signing);
      const ASN1_BIT_STRING* sig = nullptr;
      const X509_ALGOR* alg = nullptr;
      X509_get0_signature(&sig, &alg, cert.get());
      unsigned char* der = nullptr;
      int len = i2d_X509_ALGOR(alg, &der);
      REQUIRE(len > 0);
      Bytes openssl_alg(der, der + len);
      OPENSSL_free(der);
      CHECK(to_hex(algorithm_identifier(s)) == to_hex(openssl_alg));
      CHECK(scheme_from_algorithm_identifier(openssl_alg) == s);
      // Our verify accepts OpenSSL's signature of the TBSCertificate.
      unsigned char* tbs = nullptr;
      int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs);
      REQUIRE(tbs_len > 0);
      Bytes tbs_bytes(tbs, tbs + tbs_len);
      OPENSSL_free(tbs);
      Bytes sig_bytes(ASN1_STRING_get0_data(sig),
                      ASN1_STRING_get0_data(sig) + ASN1_STRING_length(sig));
      CHECK(certificate(cert.get()).public_key().verify(s, tbs_bytes, sig_bytes));
    }
  }

  TEST_CASE("schemes_for: best first, filtered by the peer's SIGNATURE_HASH_ALGORITHMS") {
    using V = std::vector<S>;
    CHECK(schemes_for(KeyType::Rsa, {}) == V{S::RsaPssSha256, S::RsaPssSha384, S::RsaPssSha512,
                                             S::RsaPkcs1Sha256, S::RsaPkcs1Sha384,
                                             S::RsaPkcs1Sha512});
    CHECK(schemes_for(KeyType::Rsa, {}, false).front() == S::RsaPkcs1Sha256);
    const uint16_t sha256[] = {2};
    const uint16_t sha384_512[] = {3, 4};
    const uint16_t identity[] = {5};
    CHECK(schemes_for(KeyType::Rsa, sha256) == V{S::RsaPssSha256, S::RsaPkcs1Sha256});
    CHECK(schemes_for(KeyType::Rsa, sha256, false) == V{S::RsaPkcs1Sha256, S::RsaPssSha256});
    CHECK(schemes_for(KeyType::EcP256, {}) == V{S::EcdsaSha256, S::EcdsaSha384, S::EcdsaSha512});
    CHECK(schemes_for(KeyType::EcP384, {}).front() == S::EcdsaSha384);
    CHECK(schemes_for(KeyType::EcP521, {}).front() == S::EcdsaSha512);
    CHECK(schemes_for(KeyType::EcP256, sha384_512) == V{S::EcdsaSha384, S::EcdsaSha512});
    CHECK(schemes_for(KeyType::Ed25519, identity) == V{S::Ed25519});
    CHECK(schemes_for(KeyType::Ed448, {}) == V{S::Ed448});
    CHECK(schemes_for(KeyType::Ed25519, sha256).empty());
    CHECK(schemes_for(KeyType::EcP256, identity).empty());
    CHECK(signature_hash(S::RsaPkcs1Sha1) == 1);
    CHECK(signature_hash(S::RsaPssSha256) == 2);
    CHECK(signature_hash(S::EcdsaSha384) == 3);
    CHECK(signature_hash(S::RsaPkcs1Sha512) == 4);
    CHECK(signature_hash(S::Ed448) == 5);
    CHECK(scheme_name(S::RsaPssSha256) == "rsa-pss-sha256");
    CHECK(key_type_name(KeyType::EcP384) == "ecdsa-p384");
  }
}
