// SPDX-License-Identifier: Apache-2.0
// The PSK authenticator (RFC 7296 §2.15) and the choice of authenticator.
#include "ike/v2/authenticator.h"

#include "ike/v2/psk_auth.h"
#include "ike/v2/sig_auth.h"

namespace ipsec::ike::v2 {
namespace {

class PskAuthenticator final : public Authenticator {
 public:
  explicit PskAuthenticator(const SecretBytes& psk) : psk_(psk) {}
  wire::AuthMethod method() const override { return wire::AuthMethod::SharedKeyMic; }

  Result<wire::AuthPayload> build(const IkeSa& sa) const override {
    auto auth =
        psk_auth(sa.algs.prf, psk_,
                 {sa.initiator ? sa.init_request : sa.init_response, sa.initiator ? sa.nr : sa.ni,
                  sa.initiator ? sa.keys.sk_pi : sa.keys.sk_pr, sa.config->local_id});
    if (!auth) return fail(auth.error());
    return wire::AuthPayload{static_cast<uint8_t>(method()),
                             Bytes(auth->data(), auth->data() + auth->size())};
  }

  Result<void> verify(const IkeSa& sa, const Identity& peer_id, const wire::AuthPayload& auth,
                      const std::vector<wire::Payload>&) const override {
    auto expected =
        psk_auth(sa.algs.prf, psk_,
                 {sa.initiator ? sa.init_response : sa.init_request, sa.initiator ? sa.ni : sa.nr,
                  sa.initiator ? sa.keys.sk_pr : sa.keys.sk_pi, peer_id});
    if (!expected) return fail(expected.error());
    if (!SecretBytes::constant_time_equal(expected->view(), auth.data))
      return fail("peer's AUTH did not verify");
    return ok();
  }

 private:
  const SecretBytes& psk_;  // in the engine's credential store
};

}  // namespace

Result<std::unique_ptr<Authenticator>> make_authenticator(const IkeSa& sa,
                                                          const Credentials& credentials, bool ours,
                                                          uint8_t method) {
  const AuthMethod want = ours ? sa.config->local_auth : sa.config->remote_auth;
  switch (want) {
    case AuthMethod::Psk: {
      if (!ours && method != static_cast<uint8_t>(wire::AuthMethod::SharedKeyMic))
        return fail("peer used auth method " + std::to_string(method) + ", we expect a shared key");
      const SecretBytes* psk = credentials.psk(sa.config->name);
      if (psk == nullptr) return fail("connection " + sa.config->name + " has no pre-shared key");
      return std::unique_ptr<Authenticator>(new PskAuthenticator(*psk));
    }
    case AuthMethod::Pubkey:
      return make_signature_authenticator(sa, credentials, ours, method);
  }
  return fail("unsupported authentication method");
}

}  // namespace ipsec::ike::v2
