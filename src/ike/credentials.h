// SPDX-License-Identifier: Apache-2.0
// The engine's one credential store, by connection name: pre-shared keys, and for
// certificate authentication our private key and certificate chain and the trust store
// the peer's chain is verified against, and the OCSP client (with its cache) that checks
// the peer's chain for revocation. IKE SAs reference it through their connection; no secret
// is copied into an SA, and a key is wiped when its connection goes (SecretBytes).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"
#include "crypto/ocsp.h"
#include "crypto/pki.h"

namespace ipsec::ike {

struct PubkeyCredentials {
  std::optional<crypto::PrivateKey> key;            // ours (local_auth Pubkey)
  std::vector<crypto::Certificate> chain;           // ours: certificate, then intermediates
  std::shared_ptr<const crypto::TrustStore> trust;  // the peer's (remote_auth Pubkey)
};

class Credentials {
 public:
  void set_pubkey(std::string_view connection, PubkeyCredentials c);
  // nullptr when the connection has none.
  const PubkeyCredentials* pubkey(std::string_view connection) const;
  void set_psk(std::string_view connection, SecretBytes psk);
  void remove(std::string_view connection);
  // nullptr when the connection has none.
  const SecretBytes* psk(std::string_view connection) const;
  // The engine's OCSP client (not owned; nullptr: none, every responder is unreachable).
  // Mutable through a const store: asking a responder fills its cache, no credential.
  void set_ocsp(crypto::OcspClient* client) { ocsp_ = client; }
  crypto::OcspClient* ocsp() const { return ocsp_; }

 private:
  crypto::OcspClient* ocsp_ = nullptr;
  std::map<std::string, SecretBytes, std::less<>> psks_;
  std::map<std::string, PubkeyCredentials, std::less<>> pubkeys_;
};

}  // namespace ipsec::ike
