// SPDX-License-Identifier: Apache-2.0
// Signature authenticators (RFC 7296 §2.15, §3.8; RFC 7427): ours signs the signed octets
// with the connection's private key, the peer's verifies its certificate chain against the
// connection's CAs (and CRLs), that the certificate names the peer's ID, the signature, and
// last the chain's revocation by OCSP under the connection's policy.
#include "ike/v2/sig_auth.h"

#include <algorithm>
#include <ctime>

#include "crypto/cert_identity.h"
#include "ike/v2/psk_auth.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {
namespace {

using crypto::SignatureScheme;
constexpr uint8_t kDigitalSignature = static_cast<uint8_t>(wire::AuthMethod::DigitalSignature);

// AUTH methods 1 and 9/10/11 for a peer that announced no hash algorithms (RFC 7427 §4).
std::optional<uint8_t> legacy_method(crypto::KeyType t) {
  switch (t) {
    case crypto::KeyType::Rsa:
      return 1;
    case crypto::KeyType::EcP256:
      return 9;
    case crypto::KeyType::EcP384:
      return 10;
    case crypto::KeyType::EcP521:
      return 11;
    default:
      return std::nullopt;  // EdDSA exists only in method 14
  }
}

Result<Bytes> octets(const IkeSa& sa, bool ours, const Identity& id) {
  const bool mine_first = sa.initiator == ours;  // the initiator's message and Nr, or ...
  return signed_octets(sa.algs.prf,
                       {mine_first ? sa.init_request : sa.init_response, mine_first ? sa.nr : sa.ni,
                        mine_first ? sa.keys.sk_pi : sa.keys.sk_pr, id});
}

bool listed(std::span<const SignatureScheme> list, SignatureScheme s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// "[ecdsa-sha256, ed25519]"
std::string scheme_list(std::span<const SignatureScheme> list) {
  std::string out;
  for (auto s : list) out += (out.empty() ? "" : ", ") + std::string(crypto::scheme_name(s));
  return "[" + out + "]";
}

// RFC 7427 §4 hash numbers by name: "[sha256, sha384, identity]".
std::string hash_list(std::span<const uint16_t> hashes) {
  constexpr const char* kNames[] = {"sha1", "sha256", "sha384", "sha512", "identity"};
  std::string out;
  for (auto h : hashes)
    out += (out.empty() ? "" : ", ") +
           (h >= 1 && h <= 5 ? std::string(kNames[h - 1]) : std::to_string(h));
  return "[" + out + "]";
}

// The RFC 7427 schemes our key may sign with, best first: the key's own preference (RSA-PSS
// first, the ECDSA hash of the curve's size) filtered by the peer's hashes, or, with a
// local signature_schemes list, that list's order kept to what the key and peer allow.
std::vector<SignatureScheme> own_schemes(const IkeSa& sa, crypto::KeyType type) {
  auto schemes = crypto::schemes_for(type, sa.peer_sig_hashes);
  const auto& allowed = sa.config->local_signature_schemes;
  if (allowed.empty()) return schemes;
  std::vector<SignatureScheme> out;
  for (auto s : allowed)
    if (listed(schemes, s)) out.push_back(s);
  return out;
}

class OwnSignature final : public Authenticator {
 public:
  explicit OwnSignature(const crypto::PrivateKey& key) : key_(key) {}
  wire::AuthMethod method() const override { return wire::AuthMethod::DigitalSignature; }

  Result<wire::AuthPayload> build(const IkeSa& sa) const override {
    auto data = octets(sa, true, sa.config->local_id);
    if (!data) return fail(data.error());
    // RFC 7427 §4: a peer that announced no hashes may not know method 14.
    const auto legacy = legacy_method(key_.type());
    const auto& allowed = sa.config->local_signature_schemes;
    if (sa.peer_sig_hashes.empty() && legacy) {
      auto scheme = crypto::scheme_for_method(*legacy, key_.type());
      if (allowed.empty() || listed(allowed, *scheme)) {
        auto sig = key_.sign(*scheme, *data, true);
        if (!sig) return fail(sig.error());
        return wire::AuthPayload{*legacy, std::move(*sig)};
      }
    }
    const auto schemes = own_schemes(sa, key_.type());
    if (schemes.empty()) return fail(nothing_to_sign_with(sa));
    auto sig = key_.sign(schemes.front(), *data);
    if (!sig) return fail(sig.error());
    const Bytes alg = crypto::algorithm_identifier(schemes.front());
    Bytes out{static_cast<uint8_t>(alg.size())};
    out.insert(out.end(), alg.begin(), alg.end());
    out.insert(out.end(), sig->begin(), sig->end());
    return wire::AuthPayload{kDigitalSignature, std::move(out)};
  }

  Result<void> verify(const IkeSa&, const Identity&, const wire::AuthPayload&,
                      const std::vector<wire::Payload>&) const override {
    return fail("not the peer's authenticator");
  }

 private:
  std::string nothing_to_sign_with(const IkeSa& sa) const {
    const std::string key = std::string(crypto::key_type_name(key_.type())) + " key";
    const auto& allowed = sa.config->local_signature_schemes;
    if (allowed.empty())
      return "the peer's SIGNATURE_HASH_ALGORITHMS has no hash our " + key + " can sign with";
    return "signature_schemes " + scheme_list(allowed) + " leaves our " + key +
           " no scheme the peer's SIGNATURE_HASH_ALGORITHMS " + hash_list(sa.peer_sig_hashes) +
           " allows";
  }
  const crypto::PrivateKey& key_;
};

// The peer's certificate (first CERT) and intermediates (the others), X.509 only.
Result<std::vector<crypto::Certificate>> peer_certificates(const std::vector<wire::Payload>& in) {
  std::vector<crypto::Certificate> out;
  for (const auto& p : in) {
    const auto* c = std::get_if<wire::CertPayload>(&p);
    if (c == nullptr) continue;
    if (c->encoding != static_cast<uint8_t>(wire::CertEncoding::X509Signature))
      return fail("CERT encoding " + std::to_string(c->encoding) + " is not supported");
    auto parsed = crypto::Certificate::parse(c->data);
    if (!parsed || parsed->size() != 1)
      return fail("a CERT payload does not hold one X.509 certificate" +
                  (parsed ? std::string() : ": " + parsed.error().message));
    out.push_back(std::move(parsed->front()));
  }
  if (out.empty()) return fail("no certificate from the peer (no CERT payload)");
  return out;
}

// Method 14: AlgorithmIdentifier length, AlgorithmIdentifier, signature (RFC 7427 §3).
Result<std::pair<SignatureScheme, ByteView>> split_digital_signature(ByteView data) {
  if (data.empty() || data.size() < 1u + data[0])
    return fail("AUTH data too short for its AlgorithmIdentifier");
  auto scheme = crypto::scheme_from_algorithm_identifier(data.subspan(1, data[0]));
  if (!scheme) return fail("AUTH names a signature algorithm we do not know");
  return std::make_pair(*scheme, data.subspan(1u + data[0]));
}

class PeerSignature final : public Authenticator {
 public:
  PeerSignature(const crypto::TrustStore& trust, crypto::OcspClient* ocsp)
      : trust_(trust), ocsp_(ocsp) {}
  wire::AuthMethod method() const override { return wire::AuthMethod::DigitalSignature; }
  Result<wire::AuthPayload> build(const IkeSa&) const override {
    return fail("not our authenticator");
  }

  Result<void> verify(const IkeSa& sa, const Identity& peer_id, const wire::AuthPayload& auth,
                      const std::vector<wire::Payload>& message) const override {
    auto certs = peer_certificates(message);
    if (!certs) return fail(certs.error());
    const crypto::Certificate& leaf = certs->front();
    auto chain = trust_.verify(leaf, std::span(*certs).subspan(1), std::time(nullptr));
    if (!chain) return fail(chain.error());
    if (!crypto::certificate_names(leaf, static_cast<uint8_t>(peer_id.type), peer_id.data))
      return fail("peer ID " + peer_id.str() + " is neither the subject \"" + leaf.subject_text() +
                  "\" of its certificate nor one of its subjectAltNames [" +
                  crypto::subject_alt_names(leaf) + "]");
    auto data = octets(sa, false, peer_id);
    if (!data) return fail(data.error());
    if (auto r = signature(sa, auth, *data, leaf); !r) return r;
    // Last: only a peer that proved it holds the certificate's key makes this worker wait
    // on a responder (anyone can replay a certificate, it is public).
    return crypto::check_revocation(ocsp_, trust_, *chain, sa.config->ocsp, sa.config->ocsp_uri);
  }

 private:
  static Result<void> signature(const IkeSa& sa, const wire::AuthPayload& auth, ByteView data,
                                const crypto::Certificate& leaf) {
    const crypto::PublicKey key = leaf.public_key();
    if (auth.method == kDigitalSignature) {
      auto split = split_digital_signature(auth.data);
      if (!split) return fail(split.error());
      if (auto r = scheme_allowed(sa, split->first); !r) return r;
      return signature_checked(key.verify(split->first, data, split->second), leaf);
    }
    auto scheme = crypto::scheme_for_method(auth.method, key.type());
    if (!scheme)
      return fail("AUTH method " + std::to_string(auth.method) + " does not fit the " +
                  std::string(crypto::key_type_name(key.type())) + " key of \"" +
                  leaf.subject_text() + "\"");
    if (auto r = scheme_allowed(sa, *scheme); !r) return r;
    return signature_checked(key.verify(*scheme, data, auth.data, true), leaf);
  }
  static Result<void> scheme_allowed(const IkeSa& sa, SignatureScheme s) {
    const auto& allowed = sa.config->remote_signature_schemes;
    if (allowed.empty() || listed(allowed, s)) return ok();
    return fail("peer signed with " + std::string(crypto::scheme_name(s)) +
                ", not allowed by signature_schemes " + scheme_list(allowed));
  }
  static Result<void> signature_checked(Result<void> r, const crypto::Certificate& leaf) {
    if (!r)
      return fail("signature of \"" + leaf.subject_text() +
                  "\" did not verify: " + r.error().message);
    return ok();
  }
  const crypto::TrustStore& trust_;
  crypto::OcspClient* ocsp_;
};

}  // namespace

std::string signature_text(const wire::AuthPayload& auth) {
  if (auth.method == kDigitalSignature) {
    if (auto split = split_digital_signature(auth.data))
      return std::string(crypto::scheme_name(split->first));
  } else if (auth.method == 1) {
    return std::string(crypto::scheme_name(SignatureScheme::RsaPkcs1Sha1));
  } else if (auth.method >= 9 && auth.method <= 11) {
    const SignatureScheme s[] = {SignatureScheme::EcdsaSha256, SignatureScheme::EcdsaSha384,
                                 SignatureScheme::EcdsaSha512};
    return std::string(crypto::scheme_name(s[auth.method - 9])) + " (r|s)";
  }
  return "method " + std::to_string(auth.method);
}

namespace {

bool signature_method(uint8_t m) { return m == 1 || m == 9 || m == 10 || m == 11 || m == 14; }

}  // namespace

Result<std::unique_ptr<Authenticator>> make_signature_authenticator(const IkeSa& sa,
                                                                    const Credentials& credentials,
                                                                    bool ours, uint8_t method) {
  const PubkeyCredentials* pk = credentials.pubkey(sa.config->name);
  if (ours) {
    if (pk == nullptr || !pk->key) return fail("connection " + sa.config->name + " has no key");
    return std::unique_ptr<Authenticator>(new OwnSignature(*pk->key));
  }
  if (!signature_method(method))
    return fail("peer used auth method " + std::to_string(method) + ", we expect a signature");
  if (pk == nullptr || !pk->trust) return fail("connection " + sa.config->name + " trusts no CA");
  return std::unique_ptr<Authenticator>(new PeerSignature(*pk->trust, credentials.ocsp()));
}

}  // namespace ipsec::ike::v2
