// SPDX-License-Identifier: Apache-2.0
// PSK AUTH computation (RFC 7296 §2.15).
#include "ike/v2/psk_auth.h"

#include <algorithm>
#include <string_view>

namespace ipsec::ike::v2 {

Bytes id_payload_rest(const Identity& id) {
  Bytes out(4 + id.data.size(), 0);
  out[0] = static_cast<uint8_t>(id.type);
  std::copy(id.data.begin(), id.data.end(), out.begin() + 4);
  return out;
}

Result<Bytes> signed_octets(crypto::PrfAlgorithm prf, const SignedOctetsInput& in) {
  auto id_mac = crypto::prf(prf, in.sk_p.view(), id_payload_rest(in.id));
  if (!id_mac) return fail(id_mac.error());
  Bytes octets(in.real_message.begin(), in.real_message.end());
  octets.insert(octets.end(), in.peer_nonce.begin(), in.peer_nonce.end());
  octets.insert(octets.end(), id_mac->data(), id_mac->data() + id_mac->size());
  return octets;
}

Result<SecretBytes> psk_auth(crypto::PrfAlgorithm prf, const SecretBytes& psk,
                             const SignedOctetsInput& in) {
  constexpr std::string_view kKeyPad = "Key Pad for IKEv2";  // 17 octets, no NUL (§2.15)
  auto key = crypto::prf(
      prf, psk.view(), ByteView(reinterpret_cast<const uint8_t*>(kKeyPad.data()), kKeyPad.size()));
  if (!key) return fail(key.error());
  auto octets = signed_octets(prf, in);
  if (!octets) return fail(octets.error());
  return crypto::prf(prf, key->view(), *octets);
}

}  // namespace ipsec::ike::v2
