// SPDX-License-Identifier: Apache-2.0
// Engine pairs that authenticate with certificates: a CA (and an intermediate) made by the
// test (crypto_pki_fixtures.h), both sides' certificates and keys, and the checks of an
// established pair and of a refused one.
#pragma once

#include <ctime>
#include <string>

#include "crypto_pki_fixtures.h"
#include "ike_test_harness.h"

namespace ike_cert_test {

using namespace ike_test;
using crypto::KeyType;
namespace pt = pki_test;
inline const std::time_t kNow = std::time(nullptr);  // the engine checks validity at wall time

inline crypto::PrivateKey parsed(EVP_PKEY* k) {
  auto key = crypto::PrivateKey::parse(pt::encode(k, pt::Form::Pkcs8Pem));
  REQUIRE(key);
  return *key;
}

inline pt::Names names(const std::string& cn) {
  return {{"C", "DE"}, {"O", "Example"}, {"CN", cn}};
}

// A CA (and an intermediate under it) issuing Alice's and Bob's certificates.
struct Pki {
  pt::Pkey ca_key = pt::generate(KeyType::EcP256);
  pt::X509Ptr ca = pt::ca_cert(names("Example CA"), ca_key.get(), nullptr, nullptr, 1, kNow - 86400,
                               kNow + 30 * 86400);
  pt::Pkey sub_key = pt::generate(KeyType::EcP384);
  pt::X509Ptr sub = pt::ca_cert(names("Example Sub CA"), sub_key.get(), ca.get(), ca_key.get(), 2,
                                kNow - 86400, kNow + 30 * 86400);

  // `name`'s certificate ("alice": SAN DNS:alice.example, subject C=DE, O=Example,
  // CN=alice, serial 100 + name length), valid from..until (seconds from now).
  pt::X509Ptr leaf(const std::string& name, EVP_PKEY* k, bool via_sub, long from = -3600,
                   long until = 30L * 86400) {
    return pt::leaf_cert(names(name), k, via_sub ? sub.get() : ca.get(),
                         via_sub ? sub_key.get() : ca_key.get(), "DNS:" + name + ".example",
                         100 + static_cast<long>(name.size()), kNow + from, kNow + until);
  }
};

// Both sides authenticate with certificates issued by `pki`.
inline void use_certs(Pair& p, Pki& pki, KeyType alice_type, KeyType bob_type,
                      bool via_sub = false) {
  for (bool alice : {true, false}) {
    ConnectionConfig& c = alice ? p.alice_config : p.bob_config;
    EVP_PKEY* k = pt::key(alice ? alice_type : bob_type);
    auto cert = pki.leaf(alice ? "alice" : "bob", k, via_sub);
    c.local_auth = c.remote_auth = AuthMethod::Pubkey;
    c.psk = SecretBytes();
    c.certs = {pt::certificate(cert.get())};
    if (via_sub) c.certs.push_back(pt::certificate(pki.sub.get()));
    c.key = parsed(k);
    c.cacerts = {pt::certificate(pki.ca.get())};
  }
}

// Alice's certificate replaced by one valid from..until (seconds from now).
inline void alice_valid(Pair& p, Pki& pki, long from, long until) {
  auto cert = pki.leaf("alice", pt::key(KeyType::EcP256), false, from, until);
  p.alice_config.certs = {pt::certificate(cert.get())};
}

inline void check_up(Pair& p, uint64_t spi) {
  const IkeSa* a = p.alice.find(spi);
  const IkeSa* b = p.bob_sa();
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->state == IkeState::Established);
  CHECK(b->state == IkeState::Established);
  REQUIRE(!a->children.empty());
  CHECK(a->children.front().state == ChildState::Installed);
  CHECK(a->peer_cert_subject == "C=DE, O=Example, CN=bob");
  CHECK(b->peer_cert_subject == "C=DE, O=Example, CN=alice");
}

// Bob refused Alice: her SA failed with AUTHENTICATION_FAILED, his with `reason`.
inline void check_refused(Pair& p, uint64_t spi, const std::string& reason) {
  const ClosedSa* a = p.alice.closed(spi);
  const ClosedSa* b = p.bob_closed();
  REQUIRE((a && b));
  CHECK(a->reason == "authentication failed: peer rejected our AUTH");
  CHECK(b->state == IkeState::Failed);
  CHECK_MESSAGE(b->reason.find(reason) != std::string::npos, b->reason);
  CHECK(p.sas(p.bob_kernel).empty());
  CHECK(p.bob.counters().auth_failed == 1);
}

}  // namespace ike_cert_test
