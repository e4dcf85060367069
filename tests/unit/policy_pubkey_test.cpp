// SPDX-License-Identifier: Apache-2.0
// Certificate authentication in policy files: "auth": "pubkey" with cert, key,
// key_passphrase_file, send_cert, cacerts, crls, ocsp, ocsp_uri; DN identities; every refusal names
// the file and JSON path. Keys and certificates are made by the test (crypto_pki_fixtures.h).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto_pki_fixtures.h"
#include "ike/from_policy.h"
#include "policy/static_config.h"

using namespace ipsec;
using namespace ipsec::policy;
using nlohmann::json;
namespace fs = std::filesystem;
using crypto::KeyType;

namespace {

// A private folder with a CA, gw-a's certificate and key, another key, and a CRL.
class CertDir {
 public:
  CertDir() {
    std::string tmpl = (fs::temp_directory_path() / "ipsec-pubkey-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
    namespace pt = pki_test;
    const std::time_t now = std::time(nullptr);
    EVP_PKEY* ca_key = pt::key(KeyType::EcP256);
    auto ca = pt::ca_cert({{"C", "DE"}, {"O", "Example"}, {"CN", "Example CA"}}, ca_key, nullptr,
                          nullptr, 1, now - 86400, now + 86400);
    EVP_PKEY* key = pt::key(KeyType::EcP384);
    auto cert = pt::leaf_cert({{"C", "DE"}, {"O", "Example"}, {"CN", "gw-a"}}, key, ca.get(),
                              ca_key, "DNS:gw-a.example,IP:192.0.2.1", 7, now - 60, now + 86400);
    auto other = pt::generate(KeyType::EcP384);
    auto text = [](const Bytes& b) { return std::string(b.begin(), b.end()); };
    write("ca.pem", pt::cert_pem(ca.get()), 0644);
    write("gw-a.pem", pt::cert_pem(cert.get()), 0644);
    write("gw-a.key", text(pt::encode(key, pt::Form::Pkcs8Pem)), 0600);
    write("other.key", text(pt::encode(other.get(), pt::Form::Pkcs8Pem)), 0600);
    write("ca.crl", text(pt::make_crl(ca.get(), ca_key, {9}, true, now - 60, now + 86400)), 0644);
    fs::create_directory(path_ / "cas");
    write("cas/ca.pem", pt::cert_pem(ca.get()), 0644);
  }
  ~CertDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string dir() const { return path_.string(); }
  void write(const std::string& name, const std::string& text, mode_t mode) const {
    fs::path p = path_ / name;
    std::ofstream(p) << text;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
  }
  LoadResult load(const json& conn) const {
    return load_text(json{{"connections", {{"site-b", conn}}}}.dump(), "c.json", dir());
  }

 private:
  fs::path path_;
};

json pubkey_connection() {
  return {
      {"local",
       {{"address", "192.0.2.1"}, {"auth", "pubkey"}, {"cert", "gw-a.pem"}, {"key", "gw-a.key"}}},
      {"remote",
       {{"address", "192.0.2.2"},
        {"id", "dn:C=DE, O=Example, CN=*"},
        {"auth", "pubkey"},
        {"cacerts", "ca.pem"}}},
      {"children", {{"lan", json::object()}}}};
}

std::vector<std::string> errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.errors) out.push_back(d.str());
  return out;
}

}  // namespace

TEST_SUITE("policy pubkey") {
  TEST_CASE("a certificate connection loads: no psk_file, the id defaults to the subject") {
    CertDir d;
    auto r = d.load(pubkey_connection());
    REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
    const Connection& c = r.config.connections.front();
    CHECK(c.local.auth == AuthMethod::Pubkey);
    CHECK(describe(c.local.id) == "dn:C=DE, O=Example, CN=gw-a");
    CHECK(describe(c.remote.id) == "dn:C=DE, O=Example, CN=*");
    CHECK(c.remote.id.kind == IdKind::DnPattern);
    REQUIRE(c.local.certs.size() == 1);
    CHECK(c.local.key.has_value());
    CHECK(c.remote.cacerts.size() == 1);
    CHECK(c.local.send_cert == SendCert::IfAsked);
  }

  TEST_CASE("ids named by the certificate, a CA folder, CRLs and send_cert") {
    CertDir d;
    json c = pubkey_connection();
    c["local"]["id"] = "fqdn:gw-a.example";
    c["local"]["send_cert"] = "always";
    c["remote"]["cacerts"] = json::array({"cas"});
    c["remote"]["crls"] = json::array({"ca.crl"});
    auto r = d.load(c);
    REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
    CHECK(r.config.connections.front().remote.crls.size() == 1);
    CHECK(r.config.connections.front().local.send_cert == SendCert::Always);
    c["local"]["id"] = "192.0.2.1";
    CHECK(d.load(c).ok());
  }

  TEST_CASE("refusals name the path and say why") {
    CertDir d;
    auto refused = [&](json c) { return errors(d.load(c)); };
    json c = pubkey_connection();
    c["local"]["id"] = "fqdn:gw-b.example";
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.local.id: \"fqdn:gw-b.example\" is neither "
                            "the subject \"C=DE, O=Example, CN=gw-a\" of the certificate nor one "
                            "of its subjectAltNames [gw-a.example, 192.0.2.1]"});
    c = pubkey_connection();
    c["local"]["key"] = "other.key";
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.local.key: the key does not belong to the "
                            "certificate \"C=DE, O=Example, CN=gw-a\" (cert)"});
    d.write("open.key", "x", 0640);
    c = pubkey_connection();
    c["local"]["key"] = "open.key";
    auto e = refused(c);
    REQUIRE(e.size() == 1);
    CHECK(e[0].find("connections.site-b.local.key: ") != std::string::npos);
    CHECK(e[0].find("readable or writable by its group (mode 0640)") != std::string::npos);
    c = pubkey_connection();
    c["remote"]["cacerts"] = "gw-a.pem";
    e = refused(c);
    REQUIRE(e.size() == 1);
    CHECK(e[0].find("\"C=DE, O=Example, CN=gw-a\" is not a CA") != std::string::npos);
    c = pubkey_connection();
    c["local"]["cacerts"] = "ca.pem";
    CHECK(refused(c) ==
          std::vector<std::string>{
              "c.json: connections.site-b.local.cacerts: belongs to the remote side"});
    c = pubkey_connection();
    c["remote"]["auth"] = "psk";
    e = refused(c);
    CHECK(std::find(e.begin(), e.end(),
                    "c.json: connections.site-b.remote.cacerts: only with \"auth\": \"pubkey\"") !=
          e.end());
    c = pubkey_connection();
    c["local"]["id"] = "dn:C=DE, CN=*";
    e = refused(c);
    REQUIRE(!e.empty());
    CHECK(e[0].find("a local identity is one identity") != std::string::npos);
  }

  TEST_CASE("signature_schemes: names, order kept, each refusal names its path") {
    CertDir d;
    json c = pubkey_connection();
    c["local"]["signature_schemes"] = json::array({"ecdsa-sha384", "ecdsa-sha256"});
    c["remote"]["signature_schemes"] =
        json::array({"rsa-pss-sha256", "ed25519", "ecdsa-sha512", "rsa-pkcs1-sha1"});
    auto r = d.load(c);
    REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
    using S = crypto::SignatureScheme;
    const Connection& conn = r.config.connections.front();
    CHECK(conn.local.signature_schemes == std::vector<S>{S::EcdsaSha384, S::EcdsaSha256});
    CHECK(conn.remote.signature_schemes ==
          std::vector<S>{S::RsaPssSha256, S::Ed25519, S::EcdsaSha512, S::RsaPkcs1Sha1});
    auto engine = ike::to_engine_config(conn);  // what ipsecd's engine gets
    REQUIRE(engine);
    CHECK(engine->local_signature_schemes == conn.local.signature_schemes);
    CHECK(engine->remote_signature_schemes == conn.remote.signature_schemes);
    REQUIRE(r.warnings.size() == 1);  // SHA-1, as prfsha1
    CHECK(r.warnings[0].str() ==
          "c.json: connections.site-b.remote.signature_schemes[3]: rsa-pkcs1-sha1 is legacy "
          "(SHA-1); prefer a SHA-2 scheme");
    auto refused = [&](json x) { return errors(d.load(x)); };
    c = pubkey_connection();
    c["remote"]["signature_schemes"] = json::array({"ecdsa-sha256", "ecdsa", "ecdsa-sha256"});
    CHECK(refused(c) ==
          std::vector<std::string>{
              "c.json: connections.site-b.remote.signature_schemes[1]: \"ecdsa\" is not a "
              "signature scheme; accepted: rsa-pkcs1-sha1, rsa-pkcs1-sha256, rsa-pkcs1-sha384, "
              "rsa-pkcs1-sha512, rsa-pss-sha256, rsa-pss-sha384, rsa-pss-sha512, ecdsa-sha256, "
              "ecdsa-sha384, ecdsa-sha512, ed25519, ed448",
              "c.json: connections.site-b.remote.signature_schemes[2]: \"ecdsa-sha256\" is "
              "listed twice"});
    c = pubkey_connection();
    c["local"]["signature_schemes"] = json::array({"rsa-pss-sha256", "ed25519"});  // P-384 key
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.local.signature_schemes: none of "
                            "[rsa-pss-sha256, ed25519] can sign with the ecdsa-p384 key (key)"});
    c = pubkey_connection();
    c["local"]["signature_schemes"] = json::array();
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.local.signature_schemes: empty list; "
                            "leave the field out to allow every scheme"});
    c = pubkey_connection();
    c["remote"]["signature_schemes"] = "ed25519";
    CHECK(refused(c) ==
          std::vector<std::string>{"c.json: connections.site-b.remote.signature_schemes: "
                                   "expected an array, got a string"});
    c = pubkey_connection();
    c["remote"]["auth"] = "psk";
    c["remote"].erase("cacerts");
    c["remote"]["signature_schemes"] = json::array({"ed25519"});
    auto e = refused(c);
    CHECK(std::find(e.begin(), e.end(),
                    "c.json: connections.site-b.remote.signature_schemes: only with \"auth\": "
                    "\"pubkey\"") != e.end());
  }

  TEST_CASE("ocsp: ifuri by default, strict or never; ocsp_uri an http URI") {
    CertDir d;
    json c = pubkey_connection();
    auto r = d.load(c);
    REQUIRE(r.ok());
    CHECK(r.config.connections.front().remote.ocsp == crypto::OcspPolicy::IfUri);
    CHECK(r.config.connections.front().remote.ocsp_uri.empty());
    c["remote"]["ocsp"] = "strict";
    c["remote"]["ocsp_uri"] = "http://192.0.2.9:8080/ocsp";
    r = d.load(c);
    REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
    CHECK(r.config.connections.front().remote.ocsp == crypto::OcspPolicy::Strict);
    CHECK(r.config.connections.front().remote.ocsp_uri == "http://192.0.2.9:8080/ocsp");
    c = pubkey_connection();
    c["remote"]["ocsp"] = "never";
    r = d.load(c);
    REQUIRE(r.ok());
    CHECK(r.config.connections.front().remote.ocsp == crypto::OcspPolicy::Never);
  }

  TEST_CASE("ocsp refusals: unknown value, bad or https URI, a URI with never, wrong side") {
    CertDir d;
    auto refused = [&](json c) { return errors(d.load(c)); };
    json c = pubkey_connection();
    c["remote"]["ocsp"] = "always";
    auto e = refused(c);
    REQUIRE(e.size() == 1);
    CHECK(e[0].starts_with("c.json: connections.site-b.remote.ocsp: "));
    CHECK(e[0].find("\"always\"") != std::string::npos);
    CHECK(e[0].find("ifuri") != std::string::npos);
    c = pubkey_connection();
    c["remote"]["ocsp_uri"] = "ocsp.example.org";
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.remote.ocsp_uri: \"ocsp.example.org\" is "
                            "not an http://host[:port]/path URI"});
    c["remote"]["ocsp_uri"] = "https://ocsp.example.org/";
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.remote.ocsp_uri: "
                            "\"https://ocsp.example.org/\": https is not supported (OCSP answers "
                            "are signed: use http)"});
    c["remote"]["ocsp_uri"] = "http://ocsp.example.org/";
    c["remote"]["ocsp"] = "never";
    CHECK(refused(c) ==
          std::vector<std::string>{"c.json: connections.site-b.remote.ocsp_uri: a responder with "
                                   "\"ocsp\": \"never\""});
    c = pubkey_connection();
    c["local"]["ocsp"] = "strict";
    CHECK(refused(c) == std::vector<std::string>{
                            "c.json: connections.site-b.local.ocsp: belongs to the remote side"});
    c = pubkey_connection();
    c["remote"]["auth"] = "psk";
    c["remote"]["ocsp_uri"] = "http://ocsp.example.org/";
    e = refused(c);
    CHECK(std::find(e.begin(), e.end(),
                    "c.json: connections.site-b.remote.ocsp_uri: only with \"auth\": \"pubkey\"") !=
          e.end());
  }

  TEST_CASE("a FIFO given as a certificate is refused, not waited on") {
    CertDir d;
    REQUIRE(::mkfifo((d.dir() + "/fifo.pem").c_str(), 0644) == 0);
    json c = pubkey_connection();
    c["local"]["cert"] = "fifo.pem";
    auto e = errors(d.load(c));
    REQUIRE(e.size() == 1);
    CHECK(e[0].find("is not a regular file") != std::string::npos);
  }
}
