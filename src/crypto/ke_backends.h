// SPDX-License-Identifier: Apache-2.0
// Private: the three key exchange backends behind make_key_exchange.
#pragma once

#include <memory>

#include "crypto/key_exchange.h"
#include "crypto/openssl_util.h"

namespace ipsec::crypto::detail {

// What every backend shares: its group, its key pair and public value, and the
// check that a peer's public value has the length the group fixes.
class KeyExchangeBase : public KeyExchange {
 public:
  KeyExchangeBase(KeGroup g, ossl::PkeyPtr key, Bytes pub)
      : group_(g), key_(std::move(key)), public_(std::move(pub)) {}
  KeGroup group() const override { return group_; }
  ByteView public_value() const override { return public_; }

 protected:
  // `reference` names the rule, e.g. " (RFC 8031 §2)"; may be empty.
  Result<void> check_peer_size(ByteView peer, const std::string& what, const char* reference) const;

  KeGroup group_;
  ossl::PkeyPtr key_;
  Bytes public_;
};

// `private_key` null: generate a random one.
Result<std::unique_ptr<KeyExchange>> make_modp(KeGroup g, const SecretBytes* private_key);
Result<std::unique_ptr<KeyExchange>> make_ecp(KeGroup g, const SecretBytes* private_key);
Result<std::unique_ptr<KeyExchange>> make_ecx(KeGroup g, const SecretBytes* private_key);

}  // namespace ipsec::crypto::detail
