// SPDX-License-Identifier: Apache-2.0
// The engine's connections and the credentials they name: looked up by name (initiate,
// ACQUIRE), by address at IKE_SA_INIT (the candidates) and by the peer's identity at
// IKE_AUTH (the one that serves it, RFC 7296 §2.15). Each connection is immutable and
// shared with the IKE SAs made from it.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "ike/config.h"
#include "ike/credentials.h"

namespace ipsec::ike {

class Connections {
 public:
  using Ptr = std::shared_ptr<const ConnectionConfig>;

  // Its PSK goes into the credential store; the shared connection holds none.
  void add(ConnectionConfig config);
  void remove(std::string_view name);
  // New CRLs for a connection's trust store (a reload that changed nothing else): the next
  // authentication checks against them; IKE SAs up already stay.
  void replace_crls(std::string_view name, const std::vector<Bytes>& crls);
  Ptr find(std::string_view name) const;
  const std::vector<Ptr>& all() const { return all_; }
  const Credentials& credentials() const { return credentials_; }
  void set_ocsp(crypto::OcspClient* client) { credentials_.set_ocsp(client); }

  // IKE_SA_INIT: the first connection whose addresses fit (an unspecified one fits any).
  Ptr by_address(const Endpoint& local, const Endpoint& remote) const;
  // IKE_AUTH: among the connections whose addresses fit, the one whose remote id matches
  // the peer's IDi best (an exact id over a domain or prefix over any; on a tie the first).
  // `wanted_local`: the IDr the peer asked for, if any (§3.5); it must be ours.
  // `cert_subject`: the subject DN of the certificate the peer sent, if any: a connection
  // authenticating its peer by certificate may match it instead of the IDi (as strongSwan
  // matches a remote id against the certificate); the authenticator then verifies it.
  Ptr by_identity(const Endpoint& local, const Endpoint& remote, const Identity& peer,
                  const Identity* wanted_local = nullptr,
                  const Identity* cert_subject = nullptr) const;

 private:
  std::vector<Ptr> all_;
  Credentials credentials_;
};

}  // namespace ipsec::ike
