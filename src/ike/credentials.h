// SPDX-License-Identifier: Apache-2.0
// The engine's one credential store: pre-shared keys today (private keys and certificates
// next), by connection name. IKE SAs reference it through their connection; no secret is
// copied into an SA, and a key is wiped when its connection goes (SecretBytes).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/secret.h"

namespace ipsec::ike {

class Credentials {
 public:
  void set_psk(std::string_view connection, SecretBytes psk);
  void remove(std::string_view connection);
  // nullptr when the connection has none.
  const SecretBytes* psk(std::string_view connection) const;

 private:
  std::map<std::string, SecretBytes, std::less<>> psks_;
};

}  // namespace ipsec::ike
