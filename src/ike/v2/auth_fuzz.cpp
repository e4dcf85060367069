// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the peer's side of certificate authentication (RFC 7296 §2.15,
// §3.6-3.8; RFC 7427): fuzzer bytes become CERT payloads (any encoding), CERTREQ data, an
// IDi and an AUTH payload, and go through what IKE_AUTH does with them (ike_auth.cpp's
// verify_peer): CERTREQ hashes recorded, the certificate's subject against the remote id,
// then the signature authenticator (sig_auth.cpp): chain to a trust store made once at
// startup, the ID against the subject and subjectAltNames, the scheme against the
// connection's signature_schemes, the signature over fixed octets. It must never crash,
// leak or hit UB, whatever the bytes.
//
// Input: one byte choosing the connection (even: any scheme, any id; odd: a
// signature_schemes list and a DN pattern), then records of type (1 byte), length (2,
// big-endian) and body. Besides the literal payloads, records may name the startup's
// certificates and keys ("fixture" records), so that a corpus reaches the verified paths
// although the keys are new on every run; each may spoil one byte of what it yields.
// IPSEC_AUTH_FUZZ_SEEDS=DIR writes a seed corpus to DIR and exits.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "crypto/pki.h"
#include "ike/connections.h"
#include "ike/v2/authenticator.h"
#include "ike/v2/contributors.h"
#include "ike/v2/psk_auth.h"
#include "ike/v2/sig_auth.h"

using namespace ipsec;
using namespace ipsec::ike;
using namespace ipsec::ike::v2;

namespace {

enum Record : uint8_t { kCert, kCertReq, kAuth, kId, kFixtureCert, kFixtureAuth, kRecordTypes };

// --- The startup's PKI, made with OpenSSL's own API (as tests/unit/crypto_pki_fixtures.h):
// a CA (P-256), an intermediate (Ed25519) under it, one leaf per key type.

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "auth_fuzz: %s\n", what);
  std::abort();
}

Pkey generate(crypto::KeyType t) {
  using K = crypto::KeyType;
  EVP_PKEY* k = t == K::Rsa       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                : t == K::EcP256  ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                : t == K::EcP384  ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")
                : t == K::EcP521  ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521")
                : t == K::Ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                  : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
  if (k == nullptr) die("key generation failed");
  return Pkey(k);
}

void add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr || X509_add_ext(x, ext, -1) != 1) die("extension");
  X509_EXTENSION_free(ext);
}

// C=DE, O=Example, CN=`cn`, valid from yesterday for ten years, signed by `issuer` (or
// itself) with SHA-256 (none for EdDSA).
X509Ptr make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                  long serial, const std::string& san) {
  X509Ptr x(X509_new());
  X509_NAME* name = X509_get_subject_name(x.get());
  for (const auto& [f, v] :
       {std::pair<const char*, std::string>{"C", "DE"}, {"O", "Example"}, {"CN", cn}})
    X509_NAME_add_entry_by_txt(name, f, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(v.data()),
                               static_cast<int>(v.size()), -1, 0);
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 86400);
  X509_set_pubkey(x.get(), key);
  X509* signer = issuer ? issuer : x.get();
  if (san.empty()) {
    add_ext(x.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), signer, NID_subject_alt_name, san);
  }
  add_ext(x.get(), signer, NID_subject_key_identifier, "hash");
  EVP_PKEY* sk = issuer_key ? issuer_key : key;
  const bool eddsa =
      EVP_PKEY_get_id(sk) == EVP_PKEY_ED25519 || EVP_PKEY_get_id(sk) == EVP_PKEY_ED448;
  if (X509_sign(x.get(), sk, eddsa ? nullptr : EVP_sha256()) <= 0) die("certificate signing");
  return x;
}

Bytes der_of(X509* x) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(x, &out);
  if (n <= 0) die("certificate encoding");
  Bytes b(out, out + n);
  OPENSSL_free(out);
  return b;
}

crypto::PrivateKey private_key(EVP_PKEY* k) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    die("key encoding");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  auto key =
      crypto::PrivateKey::parse(ByteView(reinterpret_cast<uint8_t*>(data), static_cast<size_t>(n)));
  if (!key) die("key parsing");
  return *key;
}

struct Leaf {
  crypto::KeyType type;
  crypto::PrivateKey key;
  Bytes der;
  Identity id;  // fqdn:leafN.example, in its subjectAltName
  bool via_sub;
};

struct Fixture {
  Bytes ca_der, sub_der;
  std::vector<Leaf> leaves;
  Connections connections;
  Connections::Ptr open, strict;
  // The fixed IKE_SA_INIT request, responder nonce and SK_pi the peer's AUTH signs
  // (§2.15); we are the responder.
  Bytes init_request = Bytes(200, 0x5a), nr = Bytes(32, 0xa5);
  SecretBytes sk_pi = SecretBytes(Bytes(32, 0x3c));
};

ConnectionConfig connection(const char* name, const Bytes& ca_der) {
  ConnectionConfig c;
  c.name = name;
  c.local_auth = c.remote_auth = AuthMethod::Pubkey;
  c.remote_id = IdentityMatch::any();
  auto ca = crypto::Certificate::parse(ca_der);
  if (!ca || ca->size() != 1) die("CA certificate");
  c.cacerts = *ca;
  return c;
}

Fixture* make_fixture() {
  auto* f = new Fixture;  // for the process's life
  using K = crypto::KeyType;
  Pkey ca_key = generate(K::EcP256), sub_key = generate(K::Ed25519);
  X509Ptr ca = make_cert("Fuzz CA", ca_key.get(), nullptr, nullptr, 1, "");
  X509Ptr sub = make_cert("Fuzz Sub CA", sub_key.get(), ca.get(), ca_key.get(), 2, "");
  f->ca_der = der_of(ca.get());
  f->sub_der = der_of(sub.get());
  const K types[] = {K::Rsa, K::EcP256, K::EcP384, K::EcP521, K::Ed25519, K::Ed448};
  for (size_t i = 0; i < std::size(types); ++i) {
    Pkey k = generate(types[i]);
    const std::string n = "leaf" + std::to_string(i);
    const bool via_sub = types[i] == K::EcP384;
    X509Ptr cert = make_cert(n, k.get(), via_sub ? sub.get() : ca.get(),
                             via_sub ? sub_key.get() : ca_key.get(), 100 + static_cast<long>(i),
                             "DNS:" + n + ".example,IP:192.0.2." + std::to_string(10 + i) +
                                 ",email:" + n + "@example.org");
    f->leaves.push_back(Leaf{types[i], private_key(k.get()), der_of(cert.get()),
                             Identity::fqdn(n + ".example"), via_sub});
  }
  f->connections.add(connection("open", f->ca_der));
  ConnectionConfig strict = connection("strict", f->ca_der);
  using S = crypto::SignatureScheme;
  strict.remote_signature_schemes = {S::EcdsaSha384, S::Ed25519, S::RsaPssSha256, S::EcdsaSha256};
  auto pattern = crypto::dn_from_text("C=DE, O=Example, CN=*");
  if (!pattern) die("DN pattern");
  strict.remote_id = IdentityMatch::dn_pattern(*pattern);
  f->connections.add(std::move(strict));
  f->open = f->connections.find("open");
  f->strict = f->connections.find("strict");
  return f;
}

const Fixture& fixture() {
  static const Fixture* f = make_fixture();
  return *f;
}

// --- One input.

struct Input {
  bool strict = false;
  std::vector<wire::Payload> message;  // CERT, CERTREQ and AUTH payloads, in input order
  Identity peer_id = Identity::fqdn("fuzz.example");
  ByteView fixture_auth;  // the last kFixtureAuth body: signed once peer_id is known
  bool has_auth = false;
};

// Flips one byte of `b` when `tamper` holds (offset hi, lo, xor).
void spoil(Bytes& b, ByteView tamper) {
  if (tamper.size() < 3 || b.empty()) return;
  b[(static_cast<size_t>(tamper[0]) << 8 | tamper[1]) % b.size()] ^= tamper[2];
}

void add_record(Input& in, uint8_t type, ByteView body) {
  const Fixture& f = fixture();
  const uint8_t first = body.empty() ? 0 : body[0];
  const ByteView rest = body.empty() ? body : body.subspan(1);
  switch (type % kRecordTypes) {
    case kCert:
      in.message.push_back(wire::CertPayload{first, Bytes(rest.begin(), rest.end())});
      break;
    case kCertReq:
      in.message.push_back(wire::CertReqPayload{first, Bytes(rest.begin(), rest.end())});
      break;
    case kAuth:
      in.message.push_back(wire::AuthPayload{first, Bytes(rest.begin(), rest.end())});
      in.has_auth = true;
      break;
    case kId:
      in.peer_id = Identity{static_cast<wire::IdType>(first), Bytes(rest.begin(), rest.end())};
      break;
    case kFixtureCert: {  // index: leaves, then the intermediate, then the CA
      const size_t i = first % (f.leaves.size() + 2);
      Bytes der = i < f.leaves.size()    ? f.leaves[i].der
                  : i == f.leaves.size() ? f.sub_der
                                         : f.ca_der;
      spoil(der, rest);
      in.message.push_back(
          wire::CertPayload{static_cast<uint8_t>(wire::CertEncoding::X509Signature), der});
      break;
    }
    case kFixtureAuth:
      in.fixture_auth = body;
      in.has_auth = true;
      break;
  }
}

Input parse_input(ByteView data) {
  Input in;
  if (data.empty()) return in;
  in.strict = data[0] & 1;
  size_t at = 1;
  while (at + 3 <= data.size() && in.message.size() < 16) {
    const uint8_t type = data[at];
    const size_t len = std::min<size_t>(static_cast<size_t>(data[at + 1]) << 8 | data[at + 2],
                                        data.size() - at - 3);
    add_record(in, type, data.subspan(at + 3, len));
    at += 3 + len;
  }
  return in;
}

// The AUTH payload of leaf `li` for `peer_id`, unspoiled: with the key's legacy method when
// `legacy`, else method 14 with all_schemes()[scheme]; nullopt when the key does not fit.
std::optional<wire::AuthPayload> sign_auth(size_t li, bool legacy, size_t scheme,
                                           const Identity& peer_id, const IkeSa& sa) {
  const Fixture& f = fixture();
  const Leaf& leaf = f.leaves[li];
  auto octets = signed_octets(sa.algs.prf, {f.init_request, f.nr, f.sk_pi, peer_id});
  if (!octets) return std::nullopt;
  wire::AuthPayload auth;
  if (legacy) {
    const uint8_t methods[] = {1, 9, 10, 11};
    for (uint8_t m : methods)
      if (auto s = crypto::scheme_for_method(m, leaf.type)) {
        auto sig = leaf.key.sign(*s, *octets, true);
        if (!sig) die("legacy signing failed");
        auth = wire::AuthPayload{m, std::move(*sig)};
      }
    if (auth.data.empty()) return std::nullopt;  // EdDSA: no legacy method
    return auth;
  }
  const crypto::SignatureScheme s = crypto::all_schemes()[scheme];
  if (!crypto::scheme_fits(leaf.type, s)) return std::nullopt;
  auto sig = leaf.key.sign(s, *octets);
  if (!sig) die("signing failed");
  const Bytes alg = crypto::algorithm_identifier(s);
  auth.method = static_cast<uint8_t>(wire::AuthMethod::DigitalSignature);
  auth.data = {static_cast<uint8_t>(alg.size())};
  auth.data.insert(auth.data.end(), alg.begin(), alg.end());
  auth.data.insert(auth.data.end(), sig->begin(), sig->end());
  return auth;
}

// kFixtureAuth: [leaf][mode][scheme][tamper: offset hi, lo, xor]. Mode even: method 14
// with all_schemes()[scheme] (when the key fits it); odd: the key's legacy method.
// Signatures are made once per leaf, method, scheme and identity and then reused (they
// stay valid; signing, RSA above all, would otherwise cost more than the checks fuzzed).
std::optional<wire::AuthPayload> fixture_auth(const Input& in, const IkeSa& sa) {
  const ByteView b = in.fixture_auth;
  if (b.size() < 3) return std::nullopt;
  const Fixture& f = fixture();
  const size_t li = b[0] % f.leaves.size();
  const bool legacy = b[1] & 1;
  const size_t scheme = legacy ? 0 : b[2] % crypto::all_schemes().size();
  using Key = std::tuple<size_t, bool, size_t, uint8_t, Bytes>;
  static std::map<Key, std::optional<wire::AuthPayload>> signatures;
  Key key{li, legacy, scheme, static_cast<uint8_t>(in.peer_id.type), in.peer_id.data};
  auto it = signatures.find(key);
  if (it == signatures.end()) {
    if (signatures.size() >= 4096) signatures.clear();  // bounded
    it = signatures.emplace(std::move(key), sign_auth(li, legacy, scheme, in.peer_id, sa)).first;
  }
  if (!it->second) return std::nullopt;
  wire::AuthPayload auth = *it->second;
  spoil(auth.data, b.subspan(3));
  return auth;
}

// What IKE_AUTH's verify_peer does with the payloads (ike_auth.cpp); ok: authenticated.
Result<void> authenticate(const Input& in) {
  const Fixture& f = fixture();
  IkeSa sa;
  sa.config = in.strict ? f.strict : f.open;
  sa.initiator = false;
  sa.init_request = f.init_request;
  sa.nr = f.nr;
  sa.keys.sk_pi = f.sk_pi;
  std::vector<wire::Payload> message = in.message;
  for (const auto& p : message)
    if (const auto* r = std::get_if<wire::CertReqPayload>(&p)) take_certreq_payload(sa, *r);
  if (auto a = fixture_auth(in, sa)) message.push_back(std::move(*a));
  const wire::AuthPayload* auth = nullptr;
  for (const auto& p : message)
    if (const auto* a = std::get_if<wire::AuthPayload>(&p)) auth = a;
  if (auth == nullptr) return fail("no AUTH");
  std::optional<Identity> subject;
  for (const auto& p : message)
    if (const auto* c = std::get_if<wire::CertPayload>(&p)) {
      auto parsed = crypto::Certificate::parse(c->data);
      if (parsed && parsed->size() == 1)
        subject = Identity{wire::IdType::DerAsn1Dn, parsed->front().subject()};
      break;
    }
  if (!sa.config->remote_id.matches(in.peer_id) &&
      !(subject && sa.config->remote_id.matches(*subject)))
    return fail("peer identity " + in.peer_id.str() + " is not " + sa.config->remote_id.str());
  auto a = make_authenticator(sa, f.connections.credentials(), false, auth->method);
  if (!a) return fail(a.error());
  auto r = (*a)->verify(sa, in.peer_id, *auth, message);
  if (!r) return r;
  // What IKE_AUTH then logs and shows in the status.
  (void)signature_text(*auth);
  if (subject) (void)crypto::dn_to_text(subject->data);
  return r;
}

// --- The seed corpus: each leaf signing with its default and legacy method (these must
// verify), the same spoiled, literal payloads, other encodings and identities.

void put(Bytes& out, uint8_t type, ByteView body) {
  out.push_back(type);
  out.push_back(static_cast<uint8_t>(body.size() >> 8));
  out.push_back(static_cast<uint8_t>(body.size() & 0xff));
  out.insert(out.end(), body.begin(), body.end());
}

Bytes id_body(const Identity& id) {
  Bytes b{static_cast<uint8_t>(id.type)};
  b.insert(b.end(), id.data.begin(), id.data.end());
  return b;
}

void write_seed(const std::string& dir, const std::string& name, const Bytes& seed) {
  std::ofstream(dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(seed.data()), static_cast<std::streamsize>(seed.size()));
}

// A seed: connection byte, the leaf's certificate (and the intermediate), its ID, its AUTH.
Bytes leaf_seed(size_t i, bool strict, uint8_t mode, uint8_t scheme, ByteView tamper = {}) {
  const Fixture& f = fixture();
  Bytes s{static_cast<uint8_t>(strict)};
  put(s, kFixtureCert, Bytes{static_cast<uint8_t>(i)});
  if (f.leaves[i].via_sub) put(s, kFixtureCert, Bytes{static_cast<uint8_t>(f.leaves.size())});
  put(s, kId, id_body(f.leaves[i].id));
  Bytes auth{static_cast<uint8_t>(i), mode, scheme};
  auth.insert(auth.end(), tamper.begin(), tamper.end());
  put(s, kFixtureAuth, auth);
  return s;
}

void write_seeds(const std::string& dir) {
  const Fixture& f = fixture();
  const auto all = crypto::all_schemes();
  int n = 0, verified = 0;
  auto seed = [&](const Bytes& s, bool must_verify) {
    write_seed(dir, "seed-" + std::to_string(n++), s);
    auto r = authenticate(parse_input(s));
    if (must_verify && !r) die(("seed does not verify: " + r.error().message).c_str());
    verified += r ? 1 : 0;
  };
  for (size_t i = 0; i < f.leaves.size(); ++i) {
    // The key's preferred scheme (schemes_for), its legacy method, and each scheme it fits.
    const auto preferred = crypto::schemes_for(f.leaves[i].type, {});
    for (size_t k = 0; k < all.size(); ++k) {
      if (!crypto::scheme_fits(f.leaves[i].type, all[k])) continue;
      seed(leaf_seed(i, false, 0, static_cast<uint8_t>(k)), true);
      if (all[k] == preferred.front()) {
        seed(leaf_seed(i, true, 0, static_cast<uint8_t>(k)), false);
        seed(leaf_seed(i, false, 0, static_cast<uint8_t>(k), Bytes{0, 40, 0x01}), false);
      }
    }
    const auto t = f.leaves[i].type;
    if (t != crypto::KeyType::Ed25519 && t != crypto::KeyType::Ed448) {  // methods 1, 9-11
      seed(leaf_seed(i, false, 1, 0), true);
      seed(leaf_seed(i, true, 1, 0), false);
    }
  }
  // Literal payloads: this run's certificates and a CERTREQ of the CA's key hash (a later run
  // has other keys, so these exercise parsing and chain failures), other encodings and IDs.
  Bytes lit{0};
  Bytes cert{static_cast<uint8_t>(wire::CertEncoding::X509Signature)};
  cert.insert(cert.end(), f.leaves[1].der.begin(), f.leaves[1].der.end());
  put(lit, kCert, cert);
  Bytes req{static_cast<uint8_t>(wire::CertEncoding::X509Signature)};
  for (const auto& h : f.connections.credentials().pubkey("open")->trust->anchor_key_hashes())
    req.insert(req.end(), h.begin(), h.end());
  put(lit, kCertReq, req);
  put(lit, kId, id_body(Identity{wire::IdType::Ipv4Addr, Bytes{192, 0, 2, 11}}));
  put(lit, kAuth, Bytes{14,   10,   0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                        0x04, 0x03, 0x02, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01});
  seed(lit, false);
  Bytes other{0};
  put(other, kCert, Bytes{12, 'h', 't', 't', 'p', ':', '/', '/', 'x'});  // hash and URL
  put(other, kFixtureCert, Bytes{2, 0, 7, 0x80});                        // spoiled
  put(other, kId, id_body(Identity::rfc822("leaf2@example.org")));
  put(other, kAuth, Bytes{9, 1, 2, 3});
  seed(other, false);
  auto dn = crypto::Certificate::parse(f.leaves[4].der);
  Bytes by_dn{1};
  put(by_dn, kFixtureCert, Bytes{4});
  put(by_dn, kId, id_body(Identity{wire::IdType::DerAsn1Dn, dn->front().subject()}));
  put(by_dn, kFixtureAuth, Bytes{4, 0, 10});
  seed(by_dn, false);
  std::fprintf(stderr, "auth_fuzz: %d seeds in %s, %d verify\n", n, dir.c_str(), verified);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixture();  // the keys and certificates, once
  if (const char* dir = std::getenv("IPSEC_AUTH_FUZZ_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)authenticate(parse_input(ByteView(data, size)));
  return 0;
}
