// SPDX-License-Identifier: Apache-2.0
// The credential store.
#include "ike/credentials.h"

namespace ipsec::ike {

void Credentials::set_psk(std::string_view connection, SecretBytes psk) {
  auto it = psks_.find(connection);
  if (it != psks_.end())
    it->second = std::move(psk);
  else
    psks_.emplace(std::string(connection), std::move(psk));
}

void Credentials::remove(std::string_view connection) {
  if (auto it = psks_.find(connection); it != psks_.end()) psks_.erase(it);
  if (auto it = pubkeys_.find(connection); it != pubkeys_.end()) pubkeys_.erase(it);
}

void Credentials::set_pubkey(std::string_view connection, PubkeyCredentials c) {
  pubkeys_.insert_or_assign(std::string(connection), std::move(c));
}

const PubkeyCredentials* Credentials::pubkey(std::string_view connection) const {
  auto it = pubkeys_.find(connection);
  return it == pubkeys_.end() ? nullptr : &it->second;
}

const SecretBytes* Credentials::psk(std::string_view connection) const {
  auto it = psks_.find(connection);
  return it == psks_.end() || it->second.empty() ? nullptr : &it->second;
}

}  // namespace ipsec::ike
