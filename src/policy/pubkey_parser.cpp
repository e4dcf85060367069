// SPDX-License-Identifier: Apache-2.0
// Certificate authentication in policy files: a side's "auth": "pubkey" with its fields
// (local: cert, key, key_passphrase_file, send_cert; remote: cacerts, crls, ocsp, ocsp_uri;
// both: signature_schemes), and
// distinguished-name identities ("dn:C=DE, O=Example, CN=gw-b", as remote pattern with "*"
// values). Files are read bounded and refused unless regular; a private key also unless
// private to its owner. Everything is parsed here, so that `ipsecctl validate` refuses what
// ipsecd would.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "crypto/cert_identity.h"
#include "policy/keys.h"
#include "policy/pubkey.h"

namespace ipsec::policy::detail {
namespace {

constexpr size_t kMaxCertFileBytes = 1024 * 1024;
constexpr size_t kMaxCaFolderFiles = 256;

std::optional<std::vector<crypto::Certificate>> read_certs(Reader& r, const std::string& file,
                                                           const std::string& path) {
  auto raw = read_public_file(file, kMaxCertFileBytes);
  if (!raw) {
    r.error(path, raw.error().message);
    return std::nullopt;
  }
  auto certs = crypto::Certificate::parse(*raw);
  if (!certs || certs->empty()) {
    r.error(path, quote(file) + " holds no certificate" +
                      (certs ? std::string() : ": " + certs.error().message));
    return std::nullopt;
  }
  return std::move(*certs);
}

// A file, or every regular file of a folder (in name order).
std::vector<std::string> files_of(Reader& r, const std::string& file, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(file, ec)) return {file};
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(file, ec))
    if (e.is_regular_file(ec)) out.push_back(e.path().string());
  if (ec) r.error(path, "cannot list " + quote(file) + ": " + ec.message());
  std::sort(out.begin(), out.end());
  if (out.size() > kMaxCaFolderFiles) {
    r.error(path, quote(file) + " holds more than " + std::to_string(kMaxCaFolderFiles) + " files");
    out.clear();
  }
  return out;
}

std::vector<std::string> file_list(Reader& r, const Json& j, const std::string& path) {
  std::vector<std::string> out;
  auto one = [&](const Json& v, const std::string& p) {
    if (const std::string* s = r.string(v, p)) {
      if (s->empty())
        r.error(p, "empty path");
      else
        out.push_back(resolve_path(r.base_dir(), *s));
    }
  };
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) one(j[i], join(path, i));
  } else {
    one(j, path);
  }
  return out;
}

void parse_local(Reader& r, const Json& j, const std::string& path, Peer& p) {
  if (const Json* c = r.required(j, path, "cert"))
    if (const std::string* s = r.string(*c, join(path, "cert"))) {
      if (auto certs = read_certs(r, resolve_path(r.base_dir(), *s), join(path, "cert")))
        p.certs = std::move(*certs);
    }
  std::optional<SecretBytes> passphrase;
  if (const Json* f = Reader::field(j, "key_passphrase_file"))
    if (const std::string* s = r.string(*f, join(path, "key_passphrase_file"))) {
      auto raw = read_private_file(resolve_path(r.base_dir(), *s), false);
      if (!raw) r.error(join(path, "key_passphrase_file"), raw.error().message);
      size_t n = raw ? raw->size() : 0;
      while (n > 0 && (raw->data()[n - 1] == '\n' || raw->data()[n - 1] == '\r')) --n;
      if (raw) passphrase = SecretBytes(raw->view().first(n));
    }
  if (const Json* k = r.required(j, path, "key"))
    if (const std::string* s = r.string(*k, join(path, "key"))) {
      const std::string file = resolve_path(r.base_dir(), *s);
      auto raw = read_private_file(file, false);
      auto key = raw ? crypto::PrivateKey::parse(raw->view(), passphrase ? &*passphrase : nullptr)
                     : Result<crypto::PrivateKey>(fail(raw.error()));
      if (!key)
        r.error(join(path, "key"),
                raw ? quote(file) + ": " + key.error().message : key.error().message);
      else
        p.key = std::move(*key);
    }
  if (p.key && !p.certs.empty() &&
      p.key->public_key().spki() != p.certs.front().public_key().spki())
    r.error(join(path, "key"), "the key does not belong to the certificate " +
                                   quote(p.certs.front().subject_text()) + " (cert)");
  if (const Json* s = Reader::field(j, "send_cert"))
    if (auto v = r.keyword<SendCert>(*s, join(path, "send_cert"),
                                     {{"ifasked", SendCert::IfAsked},
                                      {"always", SendCert::Always},
                                      {"never", SendCert::Never}}))
      p.send_cert = *v;
}

// "ocsp": when the peer's chain is checked by OCSP; "ocsp_uri": the responder for its
// certificate, http only (answers are signed; OpenSSL's client here has no TLS).
void parse_ocsp(Reader& r, const Json& j, const std::string& path, Peer& p) {
  if (const Json* o = Reader::field(j, "ocsp"))
    if (auto v = r.keyword<crypto::OcspPolicy>(*o, join(path, "ocsp"),
                                               {{"ifuri", crypto::OcspPolicy::IfUri},
                                                {"strict", crypto::OcspPolicy::Strict},
                                                {"never", crypto::OcspPolicy::Never}}))
      p.ocsp = *v;
  const Json* u = Reader::field(j, "ocsp_uri");
  if (u == nullptr) return;
  const std::string u_path = join(path, "ocsp_uri");
  if (const std::string* s = r.string(*u, u_path)) {
    if (auto valid = crypto::check_ocsp_uri(*s); !valid)
      r.error(u_path, valid.error().message);
    else if (p.ocsp == crypto::OcspPolicy::Never)
      r.error(u_path, "a responder with \"ocsp\": \"never\"");
    else
      p.ocsp_uri = *s;
  }
}

void parse_remote(Reader& r, const Json& j, const std::string& path, Peer& p) {
  parse_ocsp(r, j, path, p);
  const Json* ca = r.required(j, path, "cacerts");
  const std::string ca_path = join(path, "cacerts");
  if (ca != nullptr)
    for (const std::string& f : file_list(r, *ca, ca_path))
      for (const std::string& file : files_of(r, f, ca_path))
        if (auto certs = read_certs(r, file, ca_path))
          for (auto& c : *certs) {
            if (!c.is_ca())
              r.error(ca_path, quote(file) + ": " + quote(c.subject_text()) + " is not a CA");
            p.cacerts.push_back(std::move(c));
          }
  if (ca != nullptr && p.cacerts.empty() && r.error_count() == 0)
    r.error(ca_path, "no CA certificate found");
  const Json* crls = Reader::field(j, "crls");
  if (crls == nullptr) return;
  crypto::TrustStore check;
  for (const auto& c : p.cacerts) check.add_anchor(c);
  for (const std::string& file : file_list(r, *crls, join(path, "crls"))) {
    auto raw = read_public_file(file, kMaxCertFileBytes);
    if (!raw) {
      r.error(join(path, "crls"), raw.error().message);
      continue;
    }
    if (auto added = check.add_crl(*raw); !added)
      r.error(join(path, "crls"), quote(file) + ": " + added.error().message);
    else
      p.crls.push_back(std::move(*raw));
  }
}

std::string scheme_list(std::span<const crypto::SignatureScheme> schemes) {
  std::string out;
  for (auto s : schemes) out += (out.empty() ? "" : ", ") + std::string(crypto::scheme_name(s));
  return out;
}

// "signature_schemes": scheme names, each once (local: in preference order). RSA PKCS#1 with
// SHA-1 (AUTH method 1) is legacy, accepted with a warning as prfsha1 is.
void parse_signature_schemes(Reader& r, const Json& j, const std::string& path, Peer& p) {
  const Json* list = Reader::field(j, "signature_schemes");
  if (list == nullptr) return;
  const std::string lpath = join(path, "signature_schemes");
  if (!r.array(*list, lpath)) return;
  if (list->empty()) r.error(lpath, "empty list; leave the field out to allow every scheme");
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string* name = r.string((*list)[i], join(lpath, i));
    if (name == nullptr) continue;
    auto s = crypto::scheme_from_name(*name);
    if (!s) {
      r.error(join(lpath, i), quote(*name) + " is not a signature scheme; accepted: " +
                                  scheme_list(crypto::all_schemes()));
    } else if (std::find(p.signature_schemes.begin(), p.signature_schemes.end(), *s) !=
               p.signature_schemes.end()) {
      r.error(join(lpath, i), quote(*name) + " is listed twice");
    } else {
      if (*s == crypto::SignatureScheme::RsaPkcs1Sha1)
        r.warn(join(lpath, i), "rsa-pkcs1-sha1 is legacy (SHA-1); prefer a SHA-2 scheme");
      p.signature_schemes.push_back(*s);
    }
  }
}

// Our list must leave our key something to sign with.
void check_local_schemes(Reader& r, const std::string& path, const Peer& p) {
  if (!p.key || p.signature_schemes.empty()) return;
  for (auto s : p.signature_schemes)
    if (crypto::scheme_fits(p.key->type(), s)) return;
  r.error(join(path, "signature_schemes"),
          "none of [" + scheme_list(p.signature_schemes) + "] can sign with the " +
              std::string(crypto::key_type_name(p.key->type())) + " key (key)");
}

}  // namespace

Result<Identity> parse_dn_identity(std::string_view text, bool pattern_ok) {
  auto der = crypto::dn_from_text(text);
  if (!der) return fail("not a distinguished name: " + der.error().message);
  const bool pattern = text.find('*') != std::string_view::npos;
  if (pattern && !pattern_ok)
    return fail("\"dn:" + std::string(text) + "\" is a pattern; a local identity is one identity");
  return Identity{pattern ? IdKind::DnPattern : IdKind::Dn, std::move(*der)};
}

const std::initializer_list<std::string_view> kPubkeyLocalFields = {
    "cert", "key", "key_passphrase_file", "send_cert"};
const std::initializer_list<std::string_view> kPubkeyRemoteFields = {"cacerts", "crls", "ocsp",
                                                                     "ocsp_uri"};

void parse_peer_pubkey(Reader& r, const Json& j, const std::string& path, std::string_view side,
                       Peer& p) {
  const bool local = side == "local";
  for (std::string_view f : kPubkeyLocalFields)
    if (Reader::field(j, f) && (!local || p.auth != AuthMethod::Pubkey))
      r.error(join(path, std::string(f)),
              local ? "only with \"auth\": \"pubkey\"" : "belongs to the local side");
  for (std::string_view f : kPubkeyRemoteFields)
    if (Reader::field(j, f) && (local || p.auth != AuthMethod::Pubkey))
      r.error(join(path, std::string(f)),
              local ? "belongs to the remote side" : "only with \"auth\": \"pubkey\"");
  if (Reader::field(j, "signature_schemes") && p.auth != AuthMethod::Pubkey)
    r.error(join(path, "signature_schemes"), "only with \"auth\": \"pubkey\"");
  if (p.auth != AuthMethod::Pubkey) return;
  parse_signature_schemes(r, j, path, p);
  if (local) {
    parse_local(r, j, path, p);
    check_local_schemes(r, path, p);
  } else {
    parse_remote(r, j, path, p);
  }
}

void check_local_id(Reader& r, const std::string& path, bool id_given, Peer& p) {
  if (p.auth != AuthMethod::Pubkey || p.certs.empty()) return;
  const crypto::Certificate& cert = p.certs.front();
  if (!id_given) {
    p.id = Identity{IdKind::Dn, cert.subject()};
    return;
  }
  if (crypto::certificate_names(cert, static_cast<uint8_t>(p.id.kind), p.id.data)) return;
  r.error(join(path, "id"), quote(describe(p.id)) + " is neither the subject " +
                                quote(cert.subject_text()) + " of the certificate nor one of its " +
                                "subjectAltNames [" + crypto::subject_alt_names(cert) + "]");
}

}  // namespace ipsec::policy::detail
