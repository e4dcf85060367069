// SPDX-License-Identifier: Apache-2.0
// Key exchange group table and the factory that picks a backend.
#include "crypto/key_exchange.h"

#include <string>

#include "crypto/ke_backends.h"

namespace ipsec::crypto {

namespace {

struct GroupInfo {
  KeGroup group;
  std::string_view name;  // proposal keyword
  size_t public_size;
  size_t secret_size;
};

constexpr GroupInfo kGroups[] = {
    {KeGroup::Modp2048, "modp2048", 256, 256}, {KeGroup::Modp3072, "modp3072", 384, 384},
    {KeGroup::Modp4096, "modp4096", 512, 512}, {KeGroup::Ecp256, "ecp256", 64, 32},
    {KeGroup::Ecp384, "ecp384", 96, 48},       {KeGroup::Ecp521, "ecp521", 132, 66},
    {KeGroup::Curve25519, "x25519", 32, 32},   {KeGroup::Curve448, "x448", 56, 56},
};

const GroupInfo* find(KeGroup g) {
  for (const auto& info : kGroups) {
    if (info.group == g) return &info;
  }
  return nullptr;
}

Result<std::unique_ptr<KeyExchange>> make(KeGroup g, const SecretBytes* key) {
  switch (g) {
    case KeGroup::Modp2048:
    case KeGroup::Modp3072:
    case KeGroup::Modp4096:
      return detail::make_modp(g, key);
    case KeGroup::Ecp256:
    case KeGroup::Ecp384:
    case KeGroup::Ecp521:
      return detail::make_ecp(g, key);
    case KeGroup::Curve25519:
    case KeGroup::Curve448:
      return detail::make_ecx(g, key);
  }
  return fail("key exchange: unsupported group " + std::to_string(static_cast<int>(g)));
}

}  // namespace

std::string_view ke_group_name(KeGroup g) {
  const GroupInfo* info = find(g);
  return info ? info->name : "unknown";
}

size_t ke_public_value_size(KeGroup g) {
  const GroupInfo* info = find(g);
  return info ? info->public_size : 0;
}

size_t ke_shared_secret_size(KeGroup g) {
  const GroupInfo* info = find(g);
  return info ? info->secret_size : 0;
}

Result<KeGroup> ke_group_from_id(uint16_t id) {
  for (const auto& info : kGroups) {
    if (static_cast<uint16_t>(info.group) == id) return info.group;
  }
  return fail("key exchange: unsupported group " + std::to_string(id));
}

Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup g) { return make(g, nullptr); }

Result<std::unique_ptr<KeyExchange>> make_key_exchange_with_private_key(KeGroup g,
                                                                        const SecretBytes& key) {
  return make(g, &key);
}

namespace detail {

Result<void> KeyExchangeBase::check_peer_size(ByteView peer, const std::string& what,
                                              const char* reference) const {
  if (peer.size() == public_.size()) return ok();
  return fail(what + ": peer public value is " + std::to_string(peer.size()) + " bytes, expected " +
              std::to_string(public_.size()) + reference);
}

}  // namespace detail

}  // namespace ipsec::crypto
