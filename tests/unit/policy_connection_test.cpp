// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/policy: IKEv2 connections (identities, PSK files, proposal keywords, children).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/ike_algorithms.h"
#include "policy/static_config.h"

using namespace ipsec;
using namespace ipsec::policy;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using Lines = std::vector<std::string>;
const char* kSecret = "correct horse battery staple";

// A private temporary directory holding "site.psk" (0600), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ipsec-conn-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
    write("site.psk", std::string(kSecret) + "\n", 0600);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string dir() const { return path_.string(); }
  std::string write(const std::string& name, const std::string& text, mode_t mode) const {
    fs::path p = path_ / name;
    std::ofstream(p) << text;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    return p.string();
  }

 private:
  fs::path path_;
};

json base_connection() {
  return {{"local", {{"address", "192.0.2.1"}}},
          {"remote", {{"address", "192.0.2.2"}}},
          {"psk_file", "site.psk"},
          {"children", {{"lan", json::object()}}}};
}

Lines lines(const std::vector<Diagnostic>& ds) {
  Lines out;
  for (const auto& d : ds) out.push_back(d.str());
  return out;
}

LoadResult load(const TempDir& t, const json& conn, const std::string& name = "site-b") {
  return load_text(json{{"connections", {{name, conn}}}}.dump(), "c.json", t.dir());
}

Lines errors(const json& conn) {
  TempDir t;
  return lines(load(t, conn).errors);
}

Proposal ike(const char* text, bool insecure = false) {
  std::vector<std::string> w;
  auto p = parse_proposal(text, ProposalKind::Ike, insecure, w);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
  return *p;
}

std::string ike_error(const char* text, ProposalKind kind = ProposalKind::Ike) {
  std::vector<std::string> w;
  auto p = parse_proposal(text, kind, false, w);
  REQUIRE_FALSE(p);
  return p.error().message;
}

}  // namespace

TEST_CASE("connection: a minimal connection gets strongSwan-like defaults") {
  TempDir t;
  auto r = load(t, base_connection());
  REQUIRE_MESSAGE(r.ok(), lines(r.errors).front());
  CHECK(r.warnings.empty());
  REQUIRE(r.config.connections.size() == 1);
  const Connection& c = r.config.connections[0];
  CHECK(c.name == "site-b");
  CHECK(c.version == 2);
  CHECK(describe(c.local.id) == "ipv4:192.0.2.1");
  CHECK(describe(c.remote.id) == "ipv4:192.0.2.2");
  CHECK(c.local.auth == AuthMethod::Psk);
  CHECK(std::string(c.psk.data(), c.psk.data() + c.psk.size()) == kSecret);
  REQUIRE(c.proposals.size() == 2);
  CHECK(c.proposals[0].text == kDefaultIkeProposals[0]);
  CHECK(c.proposals[1].prf == std::vector<uint16_t>{5, 6});  // derived from sha256, sha384
  REQUIRE(c.children.size() == 1);
  const Child& ch = c.children[0];
  CHECK(ch.name == "lan");
  CHECK(ch.mode == kernel::Mode::Tunnel);
  CHECK(ch.local_ts == std::vector<Prefix>{*Prefix::parse("192.0.2.1/32")});
  CHECK(ch.remote_ts == std::vector<Prefix>{*Prefix::parse("192.0.2.2/32")});
  REQUIRE(ch.esp_proposals.size() == 2);
  CHECK(ch.esp_proposals[0].encryption == std::vector<EncrTransform>{{20, 256}, {20, 128}});
  CHECK(ch.esp_proposals[0].esn == std::vector<uint16_t>{0});
  CHECK(ch.start_action == StartAction::None);
  CHECK(ch.reqid == 0);
  CHECK(ch.replay_window == 32);
}

TEST_CASE("connection: the documented example loads field by field") {
  TempDir t;
  json c = json::parse(R"({
   "version": 2,
   "local": {"address": "192.0.2.1", "id": "fqdn:gw-a.example", "auth": "psk"},
   "remote": {"address": "192.0.2.2", "id": "fqdn:gw-b.example", "auth": "psk"},
   "psk_file": "site.psk",
   "proposals": ["aes256gcm16-prfsha256-x25519", "aes256-sha256-modp2048"],
   "children": {"lan": {"mode": "transport", "local_ts": ["198.51.100.0/24", "dynamic"],
                        "remote_ts": ["203.0.113.0/24"], "replay_window": 64,
                        "esp_proposals": ["aes256gcm16-esn", "aes256-sha256"],
                        "start_action": "trap", "reqid": "0x7"}}})");
  auto r = load(t, c);
  REQUIRE_MESSAGE(r.ok(), lines(r.errors).front());
  const Connection& conn = r.config.connections.at(0);
  CHECK(describe(conn.local.id) == "fqdn:gw-a.example");
  CHECK(describe(conn.remote.id) == "fqdn:gw-b.example");
  REQUIRE(conn.proposals.size() == 2);
  CHECK(conn.proposals[0].encryption == std::vector<EncrTransform>{{20, 256}});
  CHECK(conn.proposals[0].prf == std::vector<uint16_t>{5});
  CHECK(conn.proposals[0].integrity.empty());
  CHECK(conn.proposals[0].groups == std::vector<uint16_t>{31});
  CHECK(conn.proposals[1].encryption == std::vector<EncrTransform>{{12, 256}});
  CHECK(conn.proposals[1].integrity == std::vector<uint16_t>{12});
  CHECK(conn.proposals[1].prf == std::vector<uint16_t>{5});
  CHECK(conn.proposals[1].groups == std::vector<uint16_t>{14});
  const Child& ch = conn.children.at(0);
  CHECK(ch.mode == kernel::Mode::Transport);
  CHECK(ch.local_ts ==
        std::vector<Prefix>{*Prefix::parse("198.51.100.0/24"), *Prefix::parse("192.0.2.1/32")});
  CHECK(ch.esp_proposals[0].esn == std::vector<uint16_t>{1});
  CHECK(ch.esp_proposals[1].esn == std::vector<uint16_t>{0});
  CHECK(ch.start_action == StartAction::Trap);
  CHECK(ch.reqid == 7);
  CHECK(ch.replay_window == 64);
}

TEST_CASE("connection: identities, typed and inferred") {
  const std::pair<const char*, const char*> cases[] = {
      {"192.0.2.9", "ipv4:192.0.2.9"},
      {"2001:db8::1", "ipv6:2001:db8::1"},
      {"ipv4:198.51.100.1", "ipv4:198.51.100.1"},
      {"ipv6:2001:db8::2", "ipv6:2001:db8::2"},
      {"gw.example", "fqdn:gw.example"},
      {"fqdn:gw", "fqdn:gw"},
      {"@gw", "fqdn:gw"},
      {"alice@example.org", "email:alice@example.org"},
      {"email:bob@example.org", "email:bob@example.org"},
      {"rfc822:carol@example.org", "email:carol@example.org"},
      {"keyid:0x0a0B", "keyid:0x0a0b"},
  };
  TempDir t;
  for (const auto& [text, expected] : cases) {
    INFO(text);
    json c = base_connection();
    c["remote"]["id"] = text;
    auto r = load(t, c);
    REQUIRE_MESSAGE(r.ok(), lines(r.errors).front());
    CHECK(describe(r.config.connections.at(0).remote.id) == expected);
  }
  auto c = ipsec::policy::Identity{IdKind::Ipv4, Bytes{192, 0, 2, 9}};
  CHECK(describe(c) == "ipv4:192.0.2.9");
}

TEST_CASE("connection: identity errors") {
  const std::pair<const char*, const char*> cases[] = {
      {"gateway",
       "cannot tell the type of identity \"gateway\": write \"fqdn:gateway\", \"keyid:0x...\" or "
       "an address"},
      {"ipv4:2001:db8::1", "\"2001:db8::1\" is not an IPv4 address"},
      {"ipv6:gw.example", "\"gw.example\" is not an IPv6 address"},
      {"x500:CN=gw",
       "unknown identity type \"x500\"; expected \"ipv4:\", \"ipv6:\", \"fqdn:\", "
       "\"email:\", \"dn:\" or \"keyid:\""},
      {"dn:CN", "not a distinguished name: DN \"CN\": expected type=value at offset 0"},
      {"keyid:abc", "a keyid is written \"keyid:0x...\" (hex), got \"abc\""},
      {"keyid:0xabc", "\"0xabc\" is not hex: odd number of hex digits"},
      {"fqdn:", "identity \"fqdn\" has no value"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    json c = base_connection();
    c["local"]["id"] = text;
    CHECK(errors(c) == Lines{std::string("c.json: connections.site-b.local.id: ") + message});
  }
}

TEST_CASE("connection: children keep the file's order (the first rides IKE_AUTH)") {
  TempDir t;
  auto r = load_text(R"({"connections": {"site-b": {
      "local": {"address": "192.0.2.1"}, "remote": {"address": "192.0.2.2"},
      "psk_file": "site.psk",
      "children": {"zeta": {"local_ts": ["10.1.0.0/16"]}, "alpha": {"local_ts": ["10.2.0.0/16"]},
                   "mid": {"local_ts": ["10.3.0.0/16"]}}}}})",
                     "c.json", t.dir());
  REQUIRE_MESSAGE(r.ok(), lines(r.errors).front());
  const auto& children = r.config.connections.at(0).children;
  REQUIRE(children.size() == 3);
  CHECK(children[0].name == "zeta");
  CHECK(children[1].name == "alpha");
  CHECK(children[2].name == "mid");
}

TEST_CASE("connection: remote id patterns (any, *.domain, address prefix); never a local id") {
  const std::pair<const char*, const char*> cases[] = {
      {"any", "any"},
      {"%any", "any"},
      {"*.example.org", "fqdn:*.example.org"},
      {"fqdn:*.example.org", "fqdn:*.example.org"},
      {"192.0.2.0/24", "ipv4:192.0.2.0/24"},
      {"ipv6:2001:db8::/32", "ipv6:2001:db8::/32"},
  };
  TempDir t;
  for (const auto& [text, expected] : cases) {
    INFO(text);
    json c = base_connection();
    c["remote"]["id"] = text;
    auto r = load(t, c);
    REQUIRE_MESSAGE(r.ok(), lines(r.errors).front());
    CHECK(describe(r.config.connections.at(0).remote.id) == expected);
    c = base_connection();
    c["local"]["id"] = text;
    CHECK(errors(c) == Lines{std::string("c.json: connections.site-b.local.id: \"") + text +
                             "\" is a pattern; a local identity is one identity"});
  }
  const std::pair<const char*, const char*> bad[] = {
      {"*.", "\"*.\": a domain pattern is \"*.\" and a domain name"},
      {"gw.*.example.org",
       "\"gw.*.example.org\": '*' may only open a domain pattern (\"*.example.org\")"},
      {"ipv4:2001:db8::/32", "\"ipv4:2001:db8::/32\" is not an address prefix"},
  };
  for (const auto& [text, message] : bad) {
    INFO(text);
    json c = base_connection();
    c["remote"]["id"] = text;
    CHECK(errors(c) == Lines{std::string("c.json: connections.site-b.remote.id: ") + message});
  }
}

TEST_CASE("connection: psk_file modes, contents and errors") {
  TempDir t;
  SUBCASE("0600 text, trailing newline stripped") {
    auto r = load(t, base_connection());
    REQUIRE(r.ok());
    CHECK(r.config.connections[0].psk.size() == std::string(kSecret).size());
  }
  SUBCASE("0x hex") {
    t.write("hex.psk", "0x00:01 02ff\n", 0600);
    json c = base_connection();
    c["psk_file"] = "hex.psk";
    auto r = load(t, c);
    REQUIRE(r.ok());
    CHECK(r.config.connections[0].psk == SecretBytes(Bytes{0x00, 0x01, 0x02, 0xff}));
  }
  SUBCASE("0644 refused, 0602 refused") {
    std::string p = t.write("site.psk", kSecret, 0644);
    CHECK(lines(load(t, base_connection()).errors) ==
          Lines{"c.json: connections.site-b.psk_file: \"" + p +
                "\" is readable by others (mode 0644); run \"chmod 600 " + p + "\""});
    t.write("site.psk", kSecret, 0602);
    CHECK(lines(load(t, base_connection()).errors) ==
          Lines{"c.json: connections.site-b.psk_file: \"" + p +
                "\" is writable by others (mode 0602); run \"chmod 600 " + p + "\""});
  }
  SUBCASE("missing, empty, bad hex") {
    json c = base_connection();
    c["psk_file"] = "nope.psk";
    CHECK(lines(load(t, c).errors) == Lines{"c.json: connections.site-b.psk_file: cannot open \"" +
                                            t.dir() + "/nope.psk\": No such file or directory"});
    std::string e = t.write("empty.psk", "\n", 0600);
    c["psk_file"] = "empty.psk";
    CHECK(lines(load(t, c).errors) ==
          Lines{"c.json: connections.site-b.psk_file: \"" + e + "\" is empty"});
    std::string b = t.write("bad.psk", "0xzz-secret", 0600);
    c["psk_file"] = "bad.psk";
    CHECK(lines(load(t, c).errors) ==
          Lines{"c.json: connections.site-b.psk_file: \"" + b +
                "\" holds \"0x\" but no hex key: not a hex digit at offset 2"});
    c.erase("psk_file");
    CHECK(lines(load(t, c).errors) ==
          Lines{"c.json: connections.site-b: missing required field \"psk_file\""});
  }
}

TEST_CASE("connection: the secret never appears in a diagnostic") {
  TempDir t;
  json c = base_connection();
  for (const char* text : {"0x12horse battery", "0x1 horse", "0xhorse"}) {
    t.write("site.psk", text, 0600);
    auto r = load(t, c);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].str().find("horse") == std::string::npos);
  }
  t.write("site.psk", kSecret, 0644);
  auto r = load(t, c);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].str().find("horse") == std::string::npos);
}

TEST_CASE("proposal keywords: PRF derivation, groups, ESN") {
  Proposal p = ike("aes256-aes128ctr-sha384-sha256-ecp384-x448");
  CHECK(p.encryption == std::vector<EncrTransform>{{12, 256}, {13, 128}});
  CHECK(p.integrity == std::vector<uint16_t>{13, 12});
  CHECK(p.prf == std::vector<uint16_t>{6, 5});
  CHECK(p.groups == std::vector<uint16_t>{20, 32});
  CHECK(p.esn.empty());
  CHECK(ike("aes128gcm12-prfsha512-curve25519-modp4096").prf == std::vector<uint16_t>{7});
  CHECK(ike("chacha20poly1305-prfsha384-x25519").encryption == std::vector<EncrTransform>{{28, 0}});
  CHECK(ike("aes192-sha512-prfsha256-ecp521").prf == std::vector<uint16_t>{5});  // explicit wins
  std::vector<std::string> w;
  auto esp = parse_proposal("aes128gcm8-modp3072-noesn-esn", ProposalKind::Esp, false, w);
  REQUIRE(esp);
  CHECK(esp->groups == std::vector<uint16_t>{15});
  CHECK(esp->esn == std::vector<uint16_t>{0, 1});
  CHECK(w.empty());
}

TEST_CASE("proposal keywords: legacy sha1 warns, insecure groups need the opt-in") {
  std::vector<std::string> w;
  auto p = parse_proposal("aes128-sha1-modp2048", ProposalKind::Ike, false, w);
  REQUIRE(p);
  CHECK(p->prf == std::vector<uint16_t>{2});
  CHECK(w == Lines{"\"aes128-sha1-modp2048\": sha1 is legacy; prefer a SHA-2 algorithm"});
  CHECK(ike_error("aes128-sha256-modp1024") ==
        "\"modp1024\" in \"aes128-sha256-modp1024\" is insecure; set \"allow_insecure\": true "
        "on the connection to accept it");
  w.clear();
  p = parse_proposal("aes128-sha256-modp768", ProposalKind::Ike, true, w);
  REQUIRE(p);
  CHECK(p->groups == std::vector<uint16_t>{1});
  CHECK(w == Lines{"\"aes128-sha256-modp768\": insecure modp768 accepted"});

  TempDir t;
  json c = base_connection();
  c["proposals"] = {"aes256-sha256-modp1024"};
  CHECK(lines(load(t, c).errors) ==
        Lines{"c.json: connections.site-b.proposals[0]: \"modp1024\" in "
              "\"aes256-sha256-modp1024\" is insecure; set \"allow_insecure\": true on the "
              "connection to accept it"});
  c["allow_insecure"] = true;
  auto r = load(t, c);
  CHECK(r.ok());
  CHECK(lines(r.warnings) == Lines{"c.json: connections.site-b.proposals[0]: "
                                   "\"aes256-sha256-modp1024\": insecure modp1024 accepted"});
}

TEST_CASE("proposal keywords: every rule's error") {
  CHECK(ike_error("aes257-sha256-modp2048") ==
        "\"aes257\" in \"aes257-sha256-modp2048\" is not a keyword of IKE proposals; accepted: "
        "encryption aes128, aes192, aes256, aes128ctr, aes192ctr, aes256ctr, aes128gcm8, "
        "aes192gcm8, aes256gcm8, aes128gcm12, aes192gcm12, aes256gcm12, aes128gcm16, "
        "aes192gcm16, aes256gcm16, chacha20poly1305; integrity sha1, sha256, sha384, sha512; "
        "PRF prfsha1, prfsha256, prfsha384, prfsha512; groups modp768, modp1024, modp2048, "
        "modp3072, modp4096, ecp256, ecp384, ecp521, x25519, curve25519, x448, curve448");
  CHECK(ike_error("aes256-sha256-prfsha256", ProposalKind::Esp)
            .starts_with("\"prfsha256\" in \"aes256-sha256-prfsha256\" is not a keyword of ESP "
                         "proposals; accepted: encryption aes128, "));
  CHECK(ike_error("aes256-sha256-prfsha256", ProposalKind::Esp).ends_with("; ESN esn, noesn"));
  CHECK(
      ike_error("aes256gcm16-prfsha256-x25519-esn")
          .starts_with("\"esn\" in \"aes256gcm16-prfsha256-x25519-esn\" is not a keyword of IKE"));
  CHECK(ike_error("aes256gcm16-sha256-prfsha256-x25519") ==
        "\"aes256gcm16-sha256-prfsha256-x25519\": AEAD \"aes256gcm16\" takes no integrity "
        "algorithm, got \"sha256\"");
  CHECK(ike_error("aes256-sha256") ==
        "\"aes256-sha256\": an IKE proposal needs a key exchange group (x25519, ecp256, "
        "modp2048, ...)");
  CHECK(ike_error("aes256gcm16-x25519") ==
        "\"aes256gcm16-x25519\": an AEAD IKE proposal needs a PRF (prfsha256, prfsha384, "
        "prfsha512)");
  CHECK(ike_error("sha256-prfsha256-x25519") ==
        "\"sha256-prfsha256-x25519\": no encryption algorithm");
  CHECK(
      ike_error("aes256-x25519") ==
      "\"aes256-x25519\": \"aes256\" needs an integrity algorithm (sha256, sha384, sha512, sha1)");
  CHECK(ike_error("aes256-aes256gcm16-sha256-x25519") ==
        "\"aes256-aes256gcm16-sha256-x25519\": mixes AEAD \"aes256gcm16\" and non-AEAD "
        "\"aes256\" encryption; use two proposals");
  CHECK(ike_error("aes256-sha256-x25519-curve25519") ==
        "\"curve25519\" in \"aes256-sha256-x25519-curve25519\" repeats \"x25519\"");
  CHECK(ike_error("aes256--sha256") ==
        "\"aes256--sha256\": empty keyword (two '-' in a row, or at an end)");
  CHECK(ike_error("") == "\"\": empty keyword (two '-' in a row, or at an end)");
}

TEST_CASE("proposal keywords: the table is a single consistent source") {
  for (const auto& k : algorithm_keywords()) {
    INFO(k.name);
    CHECK(find_algorithm(k.name) == &k);
    CHECK((k.type >= kTransformEncr && k.type <= kTransformEsn));
    if (k.type == kTransformInteg) CHECK(k.prf != 0);
    if (k.aead) CHECK(k.type == kTransformEncr);
  }
  std::vector<std::string> w;
  for (auto text : kDefaultIkeProposals) CHECK(parse_proposal(text, ProposalKind::Ike, false, w));
  for (auto text : kDefaultEspProposals) CHECK(parse_proposal(text, ProposalKind::Esp, false, w));
  CHECK(w.empty());
}

TEST_CASE("connection: structural errors, each with file and JSON path") {
  json c = base_connection();
  c["versions"] = 2;
  c["local"]["port"] = 500;
  c["children"]["lan"]["lifetime"] = 1;
  CHECK(errors(c) == Lines{"c.json: connections.site-b.versions: unknown field",
                           "c.json: connections.site-b.local.port: unknown field",
                           "c.json: connections.site-b.children.lan.lifetime: unknown field"});
  c = base_connection();
  c["version"] = 1;
  c["remote"]["address"] = "2001:db8::2";
  c["proposals"] = json::array({"aes256gcm16-prfsha256-x25519", 7});
  CHECK(errors(c) ==
        Lines{"c.json: connections.site-b.version: IKE version 1 is not supported; expected 2",
              "c.json: connections.site-b.remote.address: not the address family of local.address",
              "c.json: connections.site-b.proposals[1]: expected a string, got an integer"});
  c = base_connection();
  c["local"]["auth"] = "rsasig";
  c["remote"]["address"] = "192.0.2.256";
  CHECK(errors(c) ==
        Lines{"c.json: connections.site-b.local.auth: expected \"psk\" or \"pubkey\", got "
              "\"rsasig\"",
              "c.json: connections.site-b.remote.address: \"192.0.2.256\" is not an IP address"});
  c = base_connection();
  c["children"]["lan"] = {{"mode", "beet"},
                          {"local_ts", {"10.0.0.0/24", "10.0.0.0/33"}},
                          {"remote_ts", json::array()},
                          {"esp_proposals", {"aes256gcm16-sha256"}},
                          {"start_action", "route"},
                          {"reqid", -1},
                          {"replay_window", 5000}};
  const std::string lan = "c.json: connections.site-b.children.lan.";
  CHECK(errors(c) ==
        Lines{lan + "mode: expected \"tunnel\" or \"transport\", got \"beet\"",
              lan + "local_ts[1]: \"10.0.0.0/33\" is not a prefix: length 33 exceeds 32",
              lan + "remote_ts: empty list; leave the field out for the peer's address",
              lan + "esp_proposals[0]: \"aes256gcm16-sha256\": AEAD \"aes256gcm16\" takes no "
                    "integrity algorithm, got \"sha256\"",
              lan + "start_action: expected \"none\", \"start\", \"trap\" or \"on-demand\", got "
                    "\"route\"",
              lan + "reqid: -1 is out of range 0..0xffffffff",
              lan + "replay_window: 5000 is out of range 0..4096"});
}

TEST_CASE("connection: missing parts, bad names, wrong types") {
  json c = base_connection();
  c.erase("local");
  c["remote"].erase("address");
  c["proposals"] = json::array();
  c["children"] = json::array();
  CHECK(errors(c) == Lines{"c.json: connections.site-b: missing required field \"local\"",
                           "c.json: connections.site-b.remote: missing required field \"address\"",
                           "c.json: connections.site-b.proposals: empty list; leave the field "
                           "out for the default proposals"});
  TempDir t;
  c = base_connection();
  c["children"] = json::array();
  CHECK(lines(load(t, c).errors) ==
        Lines{"c.json: connections.site-b.children: expected an object, got an array"});
  c = base_connection();
  c["children"] = {{"l a n", json::object()}};
  CHECK(lines(load(t, c, "a/b").errors) ==
        Lines{"c.json: connections.a/b: connection name \"a/b\" is not 1..64 letters, digits, "
              "'-', '_' or '.'",
              "c.json: connections.a/b.children.l a n: child name \"l a n\" is not 1..64 "
              "letters, digits, '-', '_' or '.'"});
  CHECK(lines(load_text(R"({"connections": []})", "c.json", t.dir()).errors) ==
        Lines{"c.json: connections: expected an object, got an array"});
  CHECK(lines(load_text(R"({"connections": {"x": 1}})", "c.json", t.dir()).errors) ==
        Lines{"c.json: connections.x: expected an object, got an integer"});
}

TEST_CASE("connection: duplicate names across files; all or nothing") {
  TempDir t;
  std::string doc = json{{"connections", {{"site-b", base_connection()}}}}.dump();
  std::string a = t.write("a.json", doc, 0600);
  std::string b = t.write("b.json", doc, 0600);
  auto r = load_files({a, b});
  CHECK(lines(r.errors) == Lines{b +
                                 ": connections.site-b: duplicate connection \"site-b\", "
                                 "first defined at " +
                                 a + ": connections.site-b"});
  CHECK(r.config.connections.empty());
  // A good SA beside a bad connection: nothing is kept.
  json bad = base_connection();
  bad["version"] = 3;
  json mixed = {
      {"connections", {{"x", bad}}},
      {"sas", json::array({{{"protocol", "esp"},
                            {"spi", "0x1000"},
                            {"src", "192.0.2.1"},
                            {"dst", "192.0.2.2"},
                            {"aead",
                             {{"algorithm", "aes-gcm-16"},
                              {"key", "0x000102030405060708090a0b0c0d0e0f10111213"}}}}})}};
  r = load_text(mixed.dump(), "m.json", t.dir());
  CHECK(r.errors.size() == 1);
  CHECK(r.config.sas.empty());
  CHECK(r.config.connections.empty());
  // Two connections in one file: both kept, in name order.
  r = load_text(json{{"connections", {{"z", base_connection()}, {"a", base_connection()}}}}.dump(),
                "two.json", t.dir());
  REQUIRE(r.ok());
  REQUIRE(r.config.connections.size() == 2);
  CHECK(r.config.connections[0].name == "a");
}

TEST_CASE("connection: control characters are escaped in every error, refused in identities") {
  TempDir t;
  // The user's report: a name that colours the terminal and forges an "error:" line.
  auto r = load_text("{\"connections\":{\"a\\u001b[31mX\\nerror: y\":{}}}", "f.json", t.dir());
  const std::string shown = "connections.a\\x1b[31mX\\x0aerror: y";
  CHECK(lines(r.errors) == Lines{"f.json: " + shown +
                                     ": connection name \"a\\x1b[31mX\\x0aerror: y\" is not 1..64 "
                                     "letters, digits, '-', '_' or '.'",
                                 "f.json: " + shown + ": missing required field \"local\"",
                                 "f.json: " + shown + ": missing required field \"remote\""});
  // Unknown field names and keyword values; and the file's own name.
  json c = base_connection();
  c["children"]["lan"]["mode\r"] = "tunnel";
  c["children"]["lan"]["start_action"] = "st\x07\nok: art";
  r = load_text(json{{"connections", {{"site-b", c}}}}.dump(), "f\x1b.json", t.dir());
  CHECK(lines(r.errors) ==
        Lines{"f\\x1b.json: connections.site-b.children.lan.mode\\x0d: unknown field",
              "f\\x1b.json: connections.site-b.children.lan.start_action: expected \"none\", "
              "\"start\", \"trap\" or \"on-demand\", got \"st\\x07\\x0aok: art\""});
  // Identities: refused, with the JSON path, whatever their type.
  const std::pair<std::string, std::string> ids[] = {
      {"fqdn:gw\x1b[2J.example", "\\x1b at offset 7"},
      {"gw.example\n", "\\x0a at offset 10"},
      {"email:a\x7f@example.org", "\\x7f at offset 7"},
      {"*.exa\tmple.org", "\\x09 at offset 5"},
      {"fqdn:csi\xc2\x9b"
       "31m",
       "\\xc2\\x9b at offset 8"},
  };
  for (const auto& [id, where] : ids) {
    INFO(id);
    c = base_connection();
    c["remote"]["id"] = id;
    CHECK(errors(c) ==
          Lines{"c.json: connections.site-b.remote.id: contains a control character (" + where +
                ")"});
  }
  c = base_connection();
  c["local"]["id"] = "fqdn:gw\r";
  CHECK(errors(c) == Lines{"c.json: connections.site-b.local.id: contains a control character "
                           "(\\x0d at offset 7)"});
  c["local"]["id"] = "fqdn:Müller.example";  // UTF-8 is fine
  CHECK(errors(c).empty());
}

TEST_CASE("connection: selectors that can never match for their address family are refused") {
  const std::string lan = "c.json: connections.site-b.children.lan.";
  // IPv4 local and IPv6 remote selectors (and the reverse): no pair of one family.
  json c = base_connection();
  c["children"]["lan"] = {
      {"mode", "tunnel"}, {"local_ts", {"10.1.0.0/16"}}, {"remote_ts", {"2001:db8:2::/48"}}};
  CHECK(errors(c) ==
        Lines{lan + "local_ts[0]: \"10.1.0.0/16\" is IPv4 but remote_ts has no IPv4 selector: a "
                    "local and a remote selector pair only within one family",
              lan + "remote_ts[0]: \"2001:db8:2::/48\" is IPv6 but local_ts has no IPv6 "
                    "selector: a local and a remote selector pair only within one family"});
  c["children"]["lan"]["local_ts"] = {"2001:db8:1::/48"};
  c["children"]["lan"]["remote_ts"] = {"10.2.0.0/16"};
  CHECK(errors(c).size() == 2);
  // A default (the address) against a selector of the other family: the given one is named.
  c["children"]["lan"].erase("local_ts");
  c["children"]["lan"]["remote_ts"] = {"2001:db8:2::/48"};
  CHECK(errors(c) == Lines{lan + "remote_ts[0]: \"2001:db8:2::/48\" is IPv6 but local_ts has no "
                                 "IPv6 selector: a local and a remote selector pair only within "
                                 "one family"});
  // Both families on both sides, and IPv6 inside an IPv4 tunnel: fine.
  c["children"]["lan"]["local_ts"] = {"10.1.0.0/16", "2001:db8:1::/48"};
  c["children"]["lan"]["remote_ts"] = {"2001:db8:2::/48", "10.2.0.0/16"};
  CHECK(errors(c).empty());
  c["children"]["lan"]["local_ts"] = {"2001:db8:1::/48"};
  c["children"]["lan"]["remote_ts"] = {"2001:db8:2::/48"};
  CHECK(errors(c).empty());
  // Transport mode: the selectors are the addresses' traffic, so of their family.
  c["children"]["lan"]["mode"] = "transport";
  CHECK(errors(c) ==
        Lines{lan + "local_ts[0]: \"2001:db8:1::/48\" is IPv6 but the connection's addresses are "
                    "IPv4: a transport-mode child protects the traffic between them",
              lan + "remote_ts[0]: \"2001:db8:2::/48\" is IPv6 but the connection's addresses "
                    "are IPv4: a transport-mode child protects the traffic between them"});
  c["children"]["lan"]["local_ts"] = {"dynamic"};
  c["children"]["lan"]["remote_ts"] = {"192.0.2.2/32"};
  CHECK(errors(c).empty());
}
