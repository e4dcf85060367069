// Private: the three key exchange backends behind make_key_exchange.
#pragma once

#include <memory>

#include "crypto/key_exchange.h"

namespace ipsec::crypto::detail {

// `private_key` null: generate a random one.
Result<std::unique_ptr<KeyExchange>> make_modp(KeGroup g, const SecretBytes* private_key);
Result<std::unique_ptr<KeyExchange>> make_ecp(KeGroup g, const SecretBytes* private_key);
Result<std::unique_ptr<KeyExchange>> make_ecx(KeGroup g, const SecretBytes* private_key);

}  // namespace ipsec::crypto::detail
