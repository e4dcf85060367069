// SPDX-License-Identifier: Apache-2.0
// pki.h, names and certificates: distinguished names in both directions, certificates from
// PEM bundles and DER, and the trust store (chains, expiry, CRLs, CERTREQ key hashes).
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

std::string dn_round_trip(std::string_view text) {
  auto der = dn_from_text(text);
  REQUIRE(der);
  return dn_to_text(*der);
}

// The short names of a DER Name's entries, in order.
std::vector<std::string> entry_names(const Bytes& der) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509_NAME, Free<X509_NAME_free>> name(
      d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(name != nullptr);
  std::vector<std::string> out;
  for (int i = 0; i < X509_NAME_entry_count(name.get()); ++i) {
    const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name.get(), i));
    out.emplace_back(OBJ_nid2sn(OBJ_obj2nid(obj)));
  }
  return out;
}

// Root CA -> intermediate CA -> leaf, EC P-256 keys of their own, the leaf with serial 7.
struct Chain {
  Pkey root_key = generate(KeyType::EcP256);
  Pkey inter_key = generate(KeyType::EcP256);
  X509Ptr root = ca_cert({{"C", "DE"}, {"O", "Example"}, {"CN", "Example Root CA"}}, root_key.get(),
                         nullptr, nullptr, 1);
  X509Ptr inter = ca_cert({{"C", "DE"}, {"O", "Example"}, {"CN", "Example Issuing CA"}},
                          inter_key.get(), root.get(), root_key.get(), 2);
  X509Ptr leaf =
      leaf_cert({{"C", "DE"}, {"O", "Example"}, {"CN", "gw-b"}}, key(KeyType::EcP256), inter.get(),
                inter_key.get(), "DNS:gw-b.example.org", 7, kT0 - kDay, kT0 + 365 * kDay);
  TrustStore store;
  Chain() { store.add_anchor(certificate(root.get())); }
  std::vector<Certificate> intermediates() const { return {certificate(inter.get())}; }
};

constexpr std::time_t kNow = kT0 + 30 * kDay;

std::string verify_error(const Chain& c, std::time_t at = kNow) {
  auto r = c.store.verify(certificate(c.leaf.get()), c.intermediates(), at);
  REQUIRE_FALSE(r);
  return r.error().message;
}

}  // namespace

TEST_SUITE("crypto pki") {
  TEST_CASE("distinguished names: text round trip in the written order") {
    for (std::string_view dn :
         {"C=DE, O=Example, CN=gw-b", "CN=gw-b, O=Example, C=DE",
          "C=US, ST=California, L=San Francisco, O=Example\\, Inc., OU=VPN, CN=gw.example.com",
          "DC=org, DC=example, UID=jdoe, CN=John Doe",
          "CN=gw-b, emailAddress=admin@example.org, serialNumber=1234",
          "O=M\xc3\xbcller GmbH, CN=\\ padded\\ ", "CN=b + OU=a, O=c",
          "CN=a\\+b\\;c\\<d\\>e\\\"f\\\\g", "CN=\\#hash", ""}) {
      CAPTURE(dn);
      CHECK(dn_round_trip(dn) == dn);
    }
    // The order is the sequence's order: the first written RDN is the first in DER.
    auto der = dn_from_text("C=DE, O=Example, CN=gw-b");
    auto reversed = dn_from_text("CN=gw-b, O=Example, C=DE");
    REQUIRE(der);
    REQUIRE(reversed);
    CHECK(entry_names(*der) == std::vector<std::string>{"C", "O", "CN"});
    CHECK(entry_names(*reversed) == std::vector<std::string>{"CN", "O", "C"});
    // Spelling variants map onto the same name.
    CHECK(dn_round_trip("c=DE,o=Example,  cn = gw-b ") == "C=DE, O=Example, CN=gw-b");
    CHECK(dn_round_trip("E=a@example.org") == "emailAddress=a@example.org");
    // A multi-valued RDN is a SET: DER sorts its values.
    CHECK(dn_round_trip("OU=a + CN=b, O=c") == "CN=b + OU=a, O=c");
    CHECK(dn_round_trip("CN=caf\\C3\\A9") == "CN=caf\xc3\xa9");
  }

  TEST_CASE("distinguished names: malformed text is refused with the reason") {
    auto check_error = [](std::string_view text, std::string_view reason) {
      auto r = dn_from_text(text);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find(reason) != std::string::npos);
    };
    check_error("XX=1, CN=a", "unknown attribute type \"XX\"");
    check_error("CN", "expected type=value");
    check_error("CN=a,", "expected type=value");
    check_error("=a", "empty attribute type");
    check_error("CN=a\\", "dangling");
    check_error("CN=a\\q", "bad escape");
    check_error("CN=#0403616263", "hex-encoded");
    check_error("C=DEU", "value of C refused");
    CHECK(dn_to_text(crypto_test::ascii("not DER")).empty());
  }

  TEST_CASE("certificates from DER and from a PEM bundle: names, SAN, CA flag, validity, key") {
    Chain c;
    X509Ptr leaf = leaf_cert({{"C", "DE"}, {"O", "Example"}, {"CN", "gw-b"}}, key(KeyType::Rsa),
                             c.inter.get(), c.inter_key.get(),
                             "DNS:gw-b.example.org,DNS:vpn.example.org,IP:192.0.2.2,"
                             "IP:2001:db8::2,email:gw-b@example.org",
                             9, kT0, kT0 + 90 * kDay);
    auto der = Certificate::parse(cert_der(leaf.get()));
    REQUIRE(der);
    REQUIRE(der->size() == 1);
    const Certificate& cert = der->front();
    CHECK(cert.der() == cert_der(leaf.get()));
    CHECK(cert.subject() == *dn_from_text("C=DE, O=Example, CN=gw-b"));
    CHECK(cert.issuer() == *dn_from_text("C=DE, O=Example, CN=Example Issuing CA"));
    CHECK(cert.subject_text() == "C=DE, O=Example, CN=gw-b");
    CHECK(cert.dns_names() == std::vector<std::string>{"gw-b.example.org", "vpn.example.org"});
    CHECK(cert.ip_addresses() ==
          std::vector<IpAddress>{*IpAddress::parse("192.0.2.2"), *IpAddress::parse("2001:db8::2")});
    CHECK(cert.emails() == std::vector<std::string>{"gw-b@example.org"});
    CHECK_FALSE(cert.is_ca());
    CHECK(cert.not_before() == kT0);
    CHECK(cert.not_after() == kT0 + 90 * kDay);
    CHECK(cert.public_key().type() == KeyType::Rsa);
    CHECK(cert.public_key().spki() == spki_of(key(KeyType::Rsa)));

    // A bundle: leaf, a private key block (skipped), intermediate, root; order kept.
    Bytes key_pem = encode(key(KeyType::EcP256), Form::Pkcs8Pem);
    std::string bundle = "0: the leaf (text before a PEM block, starting like DER)\n" +
                         cert_pem(leaf.get()) + std::string(key_pem.begin(), key_pem.end()) +
                         cert_pem(c.inter.get()) + cert_pem(c.root.get());
    auto certs = Certificate::parse(crypto_test::ascii(bundle));
    REQUIRE(certs);
    REQUIRE(certs->size() == 3);
    CHECK((*certs)[0].der() == cert_der(leaf.get()));
    CHECK((*certs)[1].subject_text() == "C=DE, O=Example, CN=Example Issuing CA");
    CHECK((*certs)[1].is_ca());
    CHECK((*certs)[2].is_ca());
    CHECK((*certs)[2].issuer() == (*certs)[2].subject());
    CHECK((*certs)[2].dns_names().empty());
  }

  TEST_CASE("what is not a certificate is refused") {
    Chain c;
    Bytes der = cert_der(c.leaf.get());
    Bytes trailing = der;
    trailing.push_back(0);
    Bytes truncated(der.begin(), der.end() - 10);
    Bytes key_pem = encode(key(KeyType::EcP256), Form::Pkcs8Pem);
    std::string damaged = cert_pem(c.leaf.get());
    damaged.erase(28 + 65, 65);  // one base64 line out of the middle: the DER lengths break
    for (const Bytes& input :
         {trailing, truncated, key_pem, crypto_test::ascii(damaged), Bytes{}}) {
      auto r = Certificate::parse(input);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("certificate") != std::string::npos);
    }
  }

  TEST_CASE("trust store: a chain through an intermediate verifies, leaf first, anchor last") {
    Chain c;
    auto chain = c.store.verify(certificate(c.leaf.get()), c.intermediates(), kNow);
    REQUIRE(chain);
    REQUIRE(chain->size() == 3);
    CHECK((*chain)[0].subject_text() == "C=DE, O=Example, CN=gw-b");
    CHECK((*chain)[1].subject_text() == "C=DE, O=Example, CN=Example Issuing CA");
    CHECK((*chain)[2].der() == cert_der(c.root.get()));
    CHECK(c.store.anchors().size() == 1);
  }

  TEST_CASE("trust store: an intermediate CA as anchor ends the chain (partial chain)") {
    Chain c;
    TrustStore store;
    store.add_anchor(certificate(c.inter.get()));
    auto chain = store.verify(certificate(c.leaf.get()), {}, kNow);
    REQUIRE(chain);
    REQUIRE(chain->size() == 2);
    CHECK((*chain)[1].subject_text() == "C=DE, O=Example, CN=Example Issuing CA");
  }

  TEST_CASE("trust store: a missing intermediate, expiry and an unknown root are named") {
    Chain c;
    auto missing = c.store.verify(certificate(c.leaf.get()), {}, kNow);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message ==
          "no trusted CA for issuer C=DE, O=Example, CN=Example Issuing CA (certificate "
          "C=DE, O=Example, CN=gw-b: unable to get local issuer certificate)");
    // kT0 is 2023-11-14 22:13:20 UTC; the leaf is valid from a day before for 365 days.
    CHECK(verify_error(c, kT0 + 400 * kDay) ==
          "certificate C=DE, O=Example, CN=gw-b expired on 2024-11-13");
    CHECK(verify_error(c, kT0 - 2 * kDay) ==
          "certificate C=DE, O=Example, CN=Example Root CA is not valid before 2023-11-13");
    Chain other;
    auto foreign = other.store.verify(certificate(c.leaf.get()), c.intermediates(), kNow);
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().message.find("Example Issuing CA") != std::string::npos);
  }

  TEST_CASE("trust store: CRLs revoke the leaf or the intermediate; the leaf needs its CRL") {
    Chain c;
    // The intermediate's CRL (passed in at verify time) revokes serial 7, the leaf. The root
    // published no CRL: the intermediate's status is not required (CRL_CHECK_ALL leniency).
    REQUIRE(c.store.add_crl(make_crl(c.inter.get(), c.inter_key.get(), {7})));
    CHECK(verify_error(c) ==
          "certificate C=DE, O=Example, CN=gw-b revoked on 2023-11-14, by CRL of C=DE, O=Example, "
          "CN=Example Issuing CA");

    Chain reason;  // the CRL entry says why
    REQUIRE(reason.store.add_crl(make_crl(reason.inter.get(), reason.inter_key.get(), {7}, true,
                                          kT0 + kDay, kT0 + 90 * kDay, 1)));
    CHECK(verify_error(reason) ==
          "certificate C=DE, O=Example, CN=gw-b revoked on 2023-11-15 (keyCompromise), by CRL of "
          "C=DE, O=Example, CN=Example Issuing CA");

    Chain stale;  // a CRL past its nextUpdate
    REQUIRE(stale.store.add_crl(
        make_crl(stale.inter.get(), stale.inter_key.get(), {}, true, kT0, kT0 + 10 * kDay)));
    CHECK(verify_error(stale) ==
          "CRL of C=DE, O=Example, CN=Example Issuing CA expired on 2023-11-24 (checking C=DE, "
          "O=Example, CN=gw-b)");

    Chain fine;  // same shape, the CRL (DER this time) revokes another serial
    REQUIRE(fine.store.add_crl(make_crl(fine.inter.get(), fine.inter_key.get(), {8}, false)));
    CHECK(fine.store.verify(certificate(fine.leaf.get()), fine.intermediates(), kNow));

    Chain inter;  // the root's CRL revokes the intermediate (serial 2)
    REQUIRE(inter.store.add_crl(make_crl(inter.root.get(), inter.root_key.get(), {2})));
    REQUIRE(inter.store.add_crl(make_crl(inter.inter.get(), inter.inter_key.get(), {})));
    CHECK(verify_error(inter) ==
          "certificate C=DE, O=Example, CN=Example Issuing CA revoked on 2023-11-14, by CRL of "
          "C=DE, O=Example, CN=Example Root CA");

    Chain strict;  // CRLs are held, but none from the leaf's issuer
    REQUIRE(strict.store.add_crl(make_crl(strict.root.get(), strict.root_key.get(), {})));
    CHECK(verify_error(strict) ==
          "unable to get certificate CRL (C=DE, O=Example, CN=gw-b, depth 0)");
  }

  TEST_CASE("a CRL describes itself: issuer, updates, entries") {
    Chain c;
    auto info = describe_crl(
        make_crl(c.inter.get(), c.inter_key.get(), {7, 8}, false, kT0, kT0 + 10 * kDay));
    REQUIRE(info);
    CHECK(info->issuer == "C=DE, O=Example, CN=Example Issuing CA");
    CHECK(info->last_update == kT0);
    CHECK(info->next_update == kT0 + 10 * kDay);
    CHECK(info->revoked == 2);
    CHECK_FALSE(describe_crl(Bytes{1, 2, 3}));
  }

  TEST_CASE("trust store: a CRL not signed by its anchor, or not a CRL, is refused") {
    Chain c;
    Pkey impostor = generate(KeyType::EcP256);
    auto forged = c.store.add_crl(make_crl(c.root.get(), impostor.get(), {2}));
    REQUIRE_FALSE(forged);
    CHECK(forged.error().message ==
          "CRL of C=DE, O=Example, CN=Example Root CA: not signed by that trust anchor");
    CHECK_FALSE(c.store.add_crl(crypto_test::ascii("-----BEGIN X509 CRL-----\n")));
    CHECK_FALSE(c.store.add_crl(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}));
    // A forged CRL of the intermediate is checked at verify time.
    REQUIRE(c.store.add_crl(make_crl(c.inter.get(), impostor.get(), {})));
    CHECK(verify_error(c).find("CRL signature failure") == 0);
  }

  TEST_CASE("trust store: anchor key hashes are SHA-1 of each anchor's SubjectPublicKeyInfo") {
    Chain c;
    Chain second;
    c.store.add_anchor(certificate(second.root.get()));
    std::vector<Bytes> expected;
    for (EVP_PKEY* k : {c.root_key.get(), second.root_key.get()}) {
      Bytes spki = spki_of(k);
      Bytes sha1(20);
      unsigned int len = 0;
      REQUIRE(EVP_Digest(spki.data(), spki.size(), sha1.data(), &len, EVP_sha1(), nullptr) == 1);
      expected.push_back(sha1);
    }
    CHECK(c.store.anchor_key_hashes() == expected);
    CHECK(certificate(c.root.get()).public_key().spki_sha1() == expected[0]);
    TrustStore empty;
    CHECK(empty.anchor_key_hashes().empty());
  }
}
