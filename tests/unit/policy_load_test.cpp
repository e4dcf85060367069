// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/policy: policy files to SaParams/PolicyParams, and every error a user may see.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/static_config.h"

using namespace ipsec;
using namespace ipsec::policy;
using nlohmann::json;

namespace {

const char* kGcmKey = "0x000102030405060708090a0b0c0d0e0f10111213";  // 20 bytes
const char* kCbcKey = "0x000102030405060708090a0b0c0d0e0f";          // 16 bytes
const char* kSha256Key = "0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";

json base_sa() {
  return {{"protocol", "esp"},
          {"spi", "0x1000"},
          {"src", "192.0.2.1"},
          {"dst", "192.0.2.2"},
          {"aead", {{"algorithm", "aes-gcm-16"}, {"key", kGcmKey}}}};
}

json base_policy() {
  return {{"src", "10.0.1.0/24"},
          {"dst", "10.0.2.0/24"},
          {"dir", "out"},
          {"templates", json::array({{{"protocol", "esp"},
                                      {"mode", "tunnel"},
                                      {"src", "192.0.2.1"},
                                      {"dst", "192.0.2.2"}}})}};
}

std::vector<std::string> lines(const std::vector<Diagnostic>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.str());
  return out;
}

LoadResult load(const json& doc) { return load_text(doc.dump(), "t.json", "/nonexistent"); }

// The error lines of a document holding one SA.
std::vector<std::string> sa_errors(const json& sa) {
  return lines(load(json{{"sas", json::array({sa})}}).errors);
}

std::vector<std::string> policy_errors(const json& p) {
  return lines(load(json{{"policies", json::array({p})}}).errors);
}

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("policy: a minimal SA maps to SaParams with defaults") {
  auto r = load(json{{"sas", json::array({base_sa()})}});
  REQUIRE(r.ok());
  CHECK(r.warnings.empty());
  REQUIRE(r.config.sas.size() == 1);
  const auto& sa = r.config.sas[0];
  CHECK(sa.proto == kernel::Proto::Esp);
  CHECK(sa.mode == kernel::Mode::Transport);
  CHECK(sa.spi == 0x1000);
  CHECK(sa.src.str() == "192.0.2.1");
  CHECK(sa.dst.str() == "192.0.2.2");
  CHECK(sa.replay_window == 32);
  CHECK_FALSE(sa.esn);
  CHECK(sa.mark == kernel::Mark{});
  CHECK(sa.sel.empty());
  CHECK_FALSE(sa.enc);
  CHECK_FALSE(sa.auth);
  REQUIRE(sa.aead);
  CHECK(sa.aead->name == "rfc4106(gcm(aes))");
  CHECK(sa.aead->bits == 128);
  CHECK(sa.aead->key.size() == 20);
  CHECK(sa.aead->key.data()[19] == 0x13);
}

TEST_CASE("policy: every SA field maps to the kernel model") {
  json sa = base_sa();
  sa.erase("aead");
  sa.update(
      json{{"mode", "tunnel"},
           {"spi", 4096},
           {"reqid", 7},
           {"replay_window", 64},
           {"esn", true},
           {"if_id", 9},
           {"encryption", {{"algorithm", "aes-cbc"}, {"key", kCbcKey}}},
           {"integrity", {{"algorithm", "hmac-sha256"}, {"key", kSha256Key}}},
           {"lifetime",
            {{"soft", {{"seconds", 3000}, {"use_seconds", 100}, {"bytes", 1000}}},
             {"hard", {{"seconds", 3600}, {"packets", 50}}}}},
           {"encap", {{"type", "espinudp"}, {"sport", 4501}}},
           {"mark", {{"value", "0x10"}}},
           {"selector",
            {{"src", "10.0.1.0/24"}, {"dst", "10.0.2.5"}, {"proto", "tcp"}, {"dport", 443}}}});
  auto r = load(json{{"sas", json::array({sa})}});
  REQUIRE(r.ok());
  const auto& s = r.config.sas.at(0);
  CHECK(s.mode == kernel::Mode::Tunnel);
  CHECK(s.spi == 4096);
  CHECK(s.reqid == 7);
  CHECK(s.replay_window == 64);
  CHECK(s.esn);
  CHECK(s.if_id == 9);
  CHECK(s.enc->name == "cbc(aes)");
  CHECK(s.enc->bits == 0);
  CHECK(s.auth->name == "hmac(sha256)");
  CHECK(s.auth->bits == 128);
  CHECK(s.lifetime.soft_add_seconds == 3000);
  CHECK(s.lifetime.soft_use_seconds == 100);
  CHECK(s.lifetime.soft_bytes == 1000);
  CHECK(s.lifetime.hard_add_seconds == 3600);
  CHECK(s.lifetime.hard_packets == 50);
  CHECK(s.lifetime.hard_bytes == 0);
  REQUIRE(s.encap);
  CHECK(s.encap->type == 2);
  CHECK(s.encap->sport == 4501);
  CHECK(s.encap->dport == 4500);
  CHECK(s.mark == kernel::Mark{0x10, 0xffffffff});
  CHECK(s.sel.src.str() == "10.0.1.0/24");
  CHECK(s.sel.dst.str() == "10.0.2.5/32");
  CHECK(s.sel.proto == 6);
  CHECK(s.sel.dport == 443);
  CHECK(s.sel.dport_mask == 0xffff);
  CHECK(s.sel.sport_mask == 0);
}

TEST_CASE("policy: null encryption has an empty key; AH carries integrity only") {
  json esp = base_sa();
  esp.erase("aead");
  esp["encryption"] = {{"algorithm", "null"}};
  esp["integrity"] = {{"algorithm", "hmac-sha1"}, {"key", "0x" + std::string(40, 'a')}};
  json ah = {{"protocol", "ah"},
             {"spi", 300},
             {"src", "2001:db8::1"},
             {"dst", "2001:db8::2"},
             {"integrity", {{"algorithm", "hmac-sha512"}, {"key", "0x" + std::string(128, 'b')}}}};
  auto r = load(json{{"sas", json::array({esp, ah})}});
  REQUIRE(r.ok());
  CHECK(r.config.sas[0].enc->name == "ecb(cipher_null)");
  CHECK(r.config.sas[0].enc->key.empty());
  CHECK(r.config.sas[0].auth->bits == 96);
  CHECK(r.config.sas[1].proto == kernel::Proto::Ah);
  CHECK(r.config.sas[1].auth->name == "hmac(sha512)");
  CHECK(r.config.sas[1].auth->bits == 256);
  CHECK(r.config.sas[1].dst.family == Family::V6);
}

TEST_CASE("policy: policies map actions, protocols, ports and templates") {
  json protect = base_policy();
  protect.update(json{{"proto", "udp"},
                      {"sport", 500},
                      {"priority", 10},
                      {"mark", {{"value", 1}, {"mask", 255}}},
                      {"if_id", 3}});
  json allow = {{"src", "0.0.0.0/0"},
                {"dst", "0.0.0.0/0"},
                {"dir", "in"},
                {"action", "allow"},
                {"proto", 89}};
  json block = {{"src", "2001:db8::/32"},
                {"dst", "::/0"},
                {"dir", "fwd"},
                {"action", "block"},
                {"proto", "icmpv6"}};
  json transport = {
      {"src", "192.0.2.1"},
      {"dst", "192.0.2.2"},
      {"dir", "out"},
      {"templates", json::array({{{"protocol", "esp"}, {"reqid", 5}, {"spi", "0x1000"}},
                                 {{"protocol", "ah"}, {"optional", true}}})}};
  auto r = load(json{{"policies", json::array({protect, allow, block, transport})}});
  REQUIRE(r.ok());
  const auto& p = r.config.policies;
  REQUIRE(p.size() == 4);
  CHECK(p[0].action == kernel::Action::Allow);
  CHECK(p[0].dir == kernel::Dir::Out);
  CHECK(p[0].sel.proto == 17);
  CHECK(p[0].sel.sport == 500);
  CHECK(p[0].sel.sport_mask == 0xffff);
  CHECK(p[0].priority == 10);
  CHECK(p[0].mark == kernel::Mark{1, 255});
  CHECK(p[0].if_id == 3);
  REQUIRE(p[0].tmpls.size() == 1);
  CHECK(p[0].tmpls[0].mode == kernel::Mode::Tunnel);
  CHECK(p[0].tmpls[0].src.str() == "192.0.2.1");
  CHECK(p[1].action == kernel::Action::Allow);
  CHECK(p[1].tmpls.empty());
  CHECK(p[1].sel.proto == 89);
  CHECK(p[1].dir == kernel::Dir::In);
  CHECK(p[2].action == kernel::Action::Block);
  CHECK(p[2].sel.proto == 58);
  CHECK(p[2].dir == kernel::Dir::Fwd);
  REQUIRE(p[3].tmpls.size() == 2);
  CHECK(p[3].sel.src.str() == "192.0.2.1/32");
  CHECK(p[3].tmpls[0].mode == kernel::Mode::Transport);
  CHECK(p[3].tmpls[0].src.is_unspec());
  CHECK(p[3].tmpls[0].reqid == 5);
  CHECK(p[3].tmpls[0].spi == 0x1000);
  CHECK(p[3].tmpls[1].proto == kernel::Proto::Ah);
  CHECK(p[3].tmpls[1].optional);
}

TEST_CASE("policy: the README example loads") {
  const char* text = R"({
  "sas": [
    {"protocol": "esp", "mode": "transport", "spi": "0x1000",
     "src": "192.0.2.1", "dst": "192.0.2.2",
     "aead": {"algorithm": "aes-gcm-16", "key": "0x000102030405060708090a0b0c0d0e0f10111213"}}
  ],
  "policies": [
    {"src": "192.0.2.1/32", "dst": "192.0.2.2/32", "dir": "out",
     "templates": [{"protocol": "esp", "mode": "transport"}]}
  ]
})";
  auto r = load_text(text, "readme.json", ".");
  CHECK(lines(r.errors) == Lines{});
  CHECK(r.config.sas.size() == 1);
  CHECK(r.config.policies.size() == 1);
  CHECK(load_text("{}", "empty.json", ".").ok());
}

TEST_CASE("policy: Diagnostic::str") {
  CHECK(Diagnostic{"a.json", "sas[0].spi", "bad"}.str() == "a.json: sas[0].spi: bad");
  CHECK(Diagnostic{"a.json", "", "bad"}.str() == "a.json: bad");
}

TEST_CASE("policy: JSON syntax errors give line and column") {
  auto r = load_text("{\n  \"sas\": [\n    {\"spi\" 1}\n  ]\n}\n", "site.json", ".");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].str() ==
        "site.json: line 3, column 12: syntax error while parsing object separator - unexpected "
        "number literal; expected ':'");
  auto cut = load_text("{\"sas\": [", "cut.json", ".");
  REQUIRE(cut.errors.size() == 1);
  CHECK(cut.errors[0].str().starts_with("cut.json: line 1, column 10: syntax error"));
  CHECK_FALSE(cut.ok());
}

TEST_CASE("policy: a syntax error inside a key never echoes the key") {
  auto r = load_text(R"({"sas": [{"aead": {"key": "0xdeadbeef\q"}}]})", "k.json", ".");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].str().find("deadbeef") == std::string::npos);
  CHECK(r.errors[0].str().starts_with("k.json: line 1, column "));
}

TEST_CASE("policy: top level and unknown fields") {
  CHECK(lines(load_text("[]", "t.json", ".").errors) ==
        Lines{"t.json: expected an object, got an array"});
  CHECK(lines(load(json{{"sa", json::array()}, {"sas", 1}}).errors) ==
        Lines{"t.json: sa: unknown field", "t.json: sas: expected an array, got an integer"});
  json sa = base_sa();
  sa["spii"] = 1;
  sa["aead"]["keyy"] = "x";
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].spii: unknown field", "t.json: sas[0].aead.keyy: unknown field"});
  json p = base_policy();
  p["templates"][0]["reqid "] = 1;
  CHECK(policy_errors(p) == Lines{"t.json: policies[0].templates[0].reqid : unknown field"});
}

TEST_CASE("policy: a field given twice is an error") {
  auto r = load_text(R"({"sas": [{"protocol": "esp", "spi": 4096, "spi": 8192,
    "src": "192.0.2.1", "dst": "192.0.2.2",
    "aead": {"algorithm": "aes-gcm-16", "key": "0x000102030405060708090a0b0c0d0e0f10111213"}}],
    "policies": []})",
                     "d.json", ".");
  CHECK(lines(r.errors) == Lines{"d.json: sas[0].spi: field given twice"});
}

TEST_CASE("policy: missing required fields and wrong types") {
  CHECK(sa_errors(json::object()) == Lines{"t.json: sas[0]: missing required field \"protocol\"",
                                           "t.json: sas[0]: missing required field \"spi\"",
                                           "t.json: sas[0]: missing required field \"src\"",
                                           "t.json: sas[0]: missing required field \"dst\""});
  json sa = base_sa();
  sa["spi"] = true;
  sa["esn"] = "yes";
  sa["reqid"] = -1;
  sa["replay_window"] = 1.5;
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].spi: expected an integer or a \"0x...\" string, got a boolean",
              "t.json: sas[0].reqid: -1 is out of range 0..0xffffffff",
              "t.json: sas[0].replay_window: expected an integer, got a fractional number",
              "t.json: sas[0].esn: expected true or false, got a string"});
  CHECK(sa_errors(1) == Lines{"t.json: sas[0]: expected an object, got an integer"});
  CHECK(policy_errors(json{{"templates", 1}}) ==
        Lines{"t.json: policies[0]: missing required field \"src\"",
              "t.json: policies[0]: missing required field \"dst\"",
              "t.json: policies[0]: missing required field \"dir\"",
              "t.json: policies[0].templates: expected an array, got an integer"});
}

TEST_CASE("policy: keywords and SPI ranges") {
  json sa = base_sa();
  sa["protocol"] = "ipcomp";
  sa["mode"] = "beet";
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].protocol: expected \"esp\" or \"ah\", got \"ipcomp\"",
              "t.json: sas[0].mode: expected \"transport\" or \"tunnel\", got \"beet\""});
  sa = base_sa();
  sa["spi"] = 255;
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].spi: 255 is out of range 256..0xffffffff "
                               "(RFC 4303 §2.1: 1-255 are reserved)"});
  sa["spi"] = "0x100000000";
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].spi: \"0x100000000\" is out of range 0..0xffffffff"});
  sa["spi"] = "4096";
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].spi: \"4096\" is not a \"0x...\" hex number"});
  sa["spi"] = 4294967296;
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].spi: 0x100000000 is out of range 0..0xffffffff"});
  sa["spi"] = "0xffffffff";
  CHECK(sa_errors(sa) == Lines{});
}

TEST_CASE("policy: addresses, prefixes and families") {
  json sa = base_sa();
  sa["src"] = "192.0.2.300";
  sa["dst"] = "10.0.0.0/8";
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].src: \"192.0.2.300\" is not an IP address",
                               "t.json: sas[0].dst: \"10.0.0.0/8\" is not an IP address"});
  sa = base_sa();
  sa["dst"] = "2001:db8::2";
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].dst: \"2001:db8::2\" is IPv6 but src is IPv4"});
  json p = base_policy();
  p["src"] = "10.0.0.0/33";
  p["dst"] = "10.0.2.1/24";
  CHECK(
      policy_errors(p) ==
      Lines{
          "t.json: policies[0].src: \"10.0.0.0/33\" is not a prefix: length 33 exceeds 32",
          "t.json: policies[0].dst: \"10.0.2.1/24\" is not a prefix: host bits are set after /24"});
  p = base_policy();
  p["dst"] = "2001:db8::/64";
  CHECK(policy_errors(p) ==
        Lines{"t.json: policies[0].dst: \"2001:db8::/64\" is IPv6 but src is IPv4"});
  sa = base_sa();
  sa["selector"] = {{"src", "10.0.0.0/8"}, {"dst", "::/0"}, {"port", 1}};
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].selector.port: unknown field",
                               "t.json: sas[0].selector.dst: \"::/0\" is IPv6 but src is IPv4"});
}

TEST_CASE("policy: unknown and misplaced algorithms list the known ones") {
  json sa = base_sa();
  sa["aead"]["algorithm"] = "aes-gcm-15";
  CHECK(
      sa_errors(sa) ==
      Lines{"t.json: sas[0].aead.algorithm: unknown aead algorithm \"aes-gcm-15\"; aead algorithms "
            "are aes-gcm-8, aes-gcm-12, aes-gcm-16, chacha20-poly1305"});
  sa = base_sa();
  sa.erase("aead");
  sa["encryption"] = {{"algorithm", "hmac-sha256"}, {"key", kSha256Key}};
  sa["integrity"] = {{"algorithm", "aes-cbc"}, {"key", kCbcKey}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].encryption.algorithm: \"hmac-sha256\" is an integrity algorithm, not "
              "encryption; encryption algorithms are aes-cbc, aes-ctr, null, 3des-cbc",
              "t.json: sas[0].integrity.algorithm: \"aes-cbc\" is an encryption algorithm, not "
              "integrity; integrity algorithms are hmac-sha1, hmac-sha256, hmac-sha384, "
              "hmac-sha512, hmac-md5"});
  sa = base_sa();
  sa["aead"]["algorithm"] = "kernel:rfc4106(gcm(aes))/32";
  CHECK(
      sa_errors(sa) ==
      Lines{"t.json: sas[0].aead.algorithm: \"kernel:rfc4106(gcm(aes))/32\" is a kernel algorithm "
            "this format cannot express; aead algorithms are aes-gcm-8, aes-gcm-12, aes-gcm-16, "
            "chacha20-poly1305"});
}

TEST_CASE("policy: key lengths, hex and key spec shape") {
  json sa = base_sa();
  sa.erase("aead");
  sa["encryption"] = {{"algorithm", "aes-cbc"}, {"key", "0x000102030405060708090a0b0c0d0e"}};
  sa["integrity"] = {{"algorithm", "hmac-sha256"}, {"key", "0x00zz"}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].encryption.key: key of 15 bytes, aes-cbc needs 16, 24 or 32",
              "t.json: sas[0].integrity.key: not a hex key: not a hex digit at offset 4"});
  sa["encryption"] = {{"algorithm", "3des-cbc"}, {"key", "0x0011"}, {"key_file", "k"}};
  sa["integrity"] = {{"algorithm", "hmac-sha256"}};
  sa["allow_insecure"] = true;
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].encryption: give \"key\" or \"key_file\", not both",
                               "t.json: sas[0].integrity: missing \"key\" or \"key_file\""});
  sa = base_sa();
  sa["aead"] = {{"algorithm", "chacha20-poly1305"}, {"key", 1234}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].aead.key: expected a \"0x...\" hex string, got an integer"});
  sa["aead"] = {{"algorithm", "chacha20-poly1305"}, {"key", "0x00112"}};
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].aead.key: not a hex key: odd number of hex digits"});
  sa["aead"] = {{"algorithm", "chacha20-poly1305"}, {"key", kGcmKey}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].aead.key: key of 20 bytes, chacha20-poly1305 needs 36"});
  sa["aead"] = {{"key", kGcmKey}};
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].aead: missing required field \"algorithm\""});
  sa = base_sa();
  sa["aead"]["key"] = "0x00:01:02:03 04050607 08090a0b0c0d0e0f10111213";
  CHECK(sa_errors(sa) == Lines{});
}

TEST_CASE("policy: key material never appears in diagnostics") {
  json sa = base_sa();
  sa["aead"]["key"] = "0xabcdef0123456789abcdef0123456789abcdefXY";
  sa["aead"]["algorithm"] = "nope";
  auto r = load(json{{"sas", json::array({sa})}});
  REQUIRE(r.errors.size() == 2);
  for (const auto& d : r.errors) CHECK(d.str().find("abcdef") == std::string::npos);
}

TEST_CASE("policy: ESP and AH combination rules") {
  json sa = base_sa();
  sa["integrity"] = {{"algorithm", "hmac-sha256"}, {"key", kSha256Key}};
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0]: \"aead\" cannot be combined with \"encryption\" or "
                               "\"integrity\""});
  sa.erase("aead");
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0]: ESP needs \"encryption\" with \"integrity\" (use "
                               "\"null\" for integrity only)"});
  sa.erase("integrity");
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0]: ESP needs \"aead\", or \"encryption\" with \"integrity\""});
  sa["encryption"] = {{"algorithm", "null"}};
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0]: \"null\" encryption requires \"integrity\""});
  sa["allow_insecure"] = true;
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0]: \"null\" encryption requires \"integrity\""});
  json ah = base_sa();
  ah["protocol"] = "ah";
  ah["encap"] = json::object();
  CHECK(sa_errors(ah) == Lines{"t.json: sas[0].aead: not allowed with AH (AH has integrity only)",
                               "t.json: sas[0].encap: UDP encapsulation is for ESP only",
                               "t.json: sas[0]: AH needs \"integrity\""});
}

TEST_CASE("policy: insecure choices are refused unless allow_insecure, then warned") {
  json sa = base_sa();
  sa.erase("aead");
  sa["encryption"] = {{"algorithm", "3des-cbc"}, {"key", "0x" + std::string(48, '1')}};
  sa["integrity"] = {{"algorithm", "hmac-md5"}, {"key", "0x" + std::string(32, '2')}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].encryption.algorithm: \"3des-cbc\" is insecure; refused unless "
              "\"allow_insecure\": true",
              "t.json: sas[0].integrity.algorithm: \"hmac-md5\" is insecure; refused unless "
              "\"allow_insecure\": true"});
  sa["allow_insecure"] = true;
  auto r = load(json{{"sas", json::array({sa})}});
  CHECK(r.ok());
  CHECK(lines(r.warnings) ==
        Lines{"t.json: sas[0].encryption.algorithm: insecure algorithm \"3des-cbc\" accepted "
              "(allow_insecure)",
              "t.json: sas[0].integrity.algorithm: insecure algorithm \"hmac-md5\" accepted "
              "(allow_insecure)"});
  json noauth = base_sa();
  noauth.erase("aead");
  noauth["encryption"] = {{"algorithm", "aes-ctr"}, {"key", kGcmKey}};
  CHECK(sa_errors(noauth) == Lines{"t.json: sas[0]: encryption without integrity is insecure; add "
                                   "\"integrity\" or set \"allow_insecure\": true"});
  noauth["allow_insecure"] = true;
  r = load(json{{"sas", json::array({noauth})}});
  CHECK(r.ok());
  CHECK(lines(r.warnings) ==
        Lines{"t.json: sas[0]: encryption without integrity accepted (allow_insecure)"});
  json secure = base_sa();
  secure["allow_insecure"] = true;
  CHECK(load(json{{"sas", json::array({secure})}}).warnings.empty());
}

TEST_CASE("policy: replay window, esn, lifetimes, encap, mark") {
  json sa = base_sa();
  sa["replay_window"] = 5000;
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].replay_window: 5000 is out of range 0..4096"});
  sa["replay_window"] = 0;
  sa["esn"] = true;
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].esn: esn needs replay_window > 0"});
  sa = base_sa();
  sa["lifetime"] = {{"soft", {{"bytes", 1000}, {"seconds", 0}, {"packets", 10}}},
                    {"hard", {{"bytes", 1000}, {"packets", 5}, {"time", 1}}},
                    {"medium", 1}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].lifetime.medium: unknown field",
              "t.json: sas[0].lifetime.soft.seconds: 0 is out of range 1..0xffffffffffffffff",
              "t.json: sas[0].lifetime.hard.time: unknown field",
              "t.json: sas[0].lifetime.soft.bytes: soft limit 1000 is not below hard limit 1000",
              "t.json: sas[0].lifetime.soft.packets: soft limit 10 is not below hard limit 5"});
  sa = base_sa();
  sa["encap"] = {{"type", "espintcp"}, {"dport", 0}};
  sa["mark"] = {{"mask", "0xff"}};
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].encap.type: expected \"espinudp\", got \"espintcp\"",
                               "t.json: sas[0].encap.dport: 0 is out of range 1..65535",
                               "t.json: sas[0].mark: missing required field \"value\""});
}

TEST_CASE("policy: selectors: protocols and ports") {
  json p = base_policy();
  p["proto"] = "icmp";
  p["sport"] = 8;
  p["dport"] = 70000;
  CHECK(policy_errors(p) == Lines{"t.json: policies[0].sport: ports need proto tcp, udp or sctp",
                                  "t.json: policies[0].dport: 70000 is out of range 0..65535"});
  p = base_policy();
  p["dport"] = 22;
  CHECK(policy_errors(p) == Lines{"t.json: policies[0].dport: ports need proto tcp, udp or sctp"});
  p["proto"] = 132;
  CHECK(policy_errors(p) == Lines{});
  p["proto"] = "ospf";
  CHECK(policy_errors(p) ==
        Lines{"t.json: policies[0].proto: unknown protocol \"ospf\"; use any, tcp, udp, icmp, "
              "icmpv6, sctp, gre, or a number 1..255"});
  p["proto"] = 0;
  CHECK(policy_errors(p) == Lines{"t.json: policies[0].proto: 0 is out of range 1..255"});
}

TEST_CASE("policy: actions and templates") {
  json p = base_policy();
  p.erase("templates");
  CHECK(
      policy_errors(p) ==
      Lines{
          "t.json: policies[0]: action \"protect\" needs at least one template in \"templates\""});
  p["templates"] = json::array();
  CHECK(
      policy_errors(p) ==
      Lines{
          "t.json: policies[0].templates: empty; action \"protect\" needs at least one template"});
  p = base_policy();
  p["action"] = "block";
  CHECK(policy_errors(p) ==
        Lines{"t.json: policies[0].templates: not allowed with action \"block\""});
  p["action"] = "drop";
  CHECK(policy_errors(p) == Lines{"t.json: policies[0].action: expected \"protect\", \"allow\" or "
                                  "\"block\", got \"drop\""});
  p = base_policy();
  p["dir"] = "both";
  CHECK(policy_errors(p) ==
        Lines{"t.json: policies[0].dir: expected \"in\", \"out\" or \"fwd\", got \"both\""});
}

TEST_CASE("policy: template rules") {
  json p = base_policy();
  p["templates"] =
      json::array({{{"protocol", "esp"}, {"mode", "tunnel"}, {"dst", "2001:db8::1"}},
                   {{"protocol", "ah"}, {"src", "192.0.2.1"}, {"dst", "192.0.2.2"}},
                   {{"mode", "tunnel"}, {"src", "192.0.2.1"}, {"dst", "2001:db8::2"}, {"spi", 5}}});
  CHECK(policy_errors(p) ==
        Lines{"t.json: policies[0].templates[0]: missing required field \"src\"",
              "t.json: policies[0].templates[1].src: not allowed in transport mode",
              "t.json: policies[0].templates[1].dst: not allowed in transport mode",
              "t.json: policies[0].templates[2]: missing required field \"protocol\"",
              "t.json: policies[0].templates[2].dst: \"2001:db8::2\" is IPv6 but src is IPv4",
              "t.json: policies[0].templates[2].spi: 5 is reserved; use 0 (any) or "
              "256..0xffffffff (RFC 4303 §2.1)"});
}

TEST_CASE("policy: N problems in a file give N lines, and nothing is applied") {
  json sa1 = base_sa();
  sa1["spi"] = 1;               // 1
  sa1["aead"]["key"] = "0x00";  // 2
  json sa2 = base_sa();
  sa2["spi"] = "0x2000";
  sa2["replay_window"] = -5;  // 3
  json good = base_sa();
  good["spi"] = "0x3000";
  json p = base_policy();
  p["templates"][0].erase("dst");  // 4
  p["color"] = "red";              // 5
  auto r = load(json{{"sas", json::array({sa1, sa2, good})}, {"policies", json::array({p})}});
  CHECK(r.errors.size() == 5);
  CHECK_FALSE(r.ok());
  CHECK(r.config.sas.empty());
  CHECK(r.config.policies.empty());
}

TEST_CASE("policy: duplicates within a file name both places") {
  json sa2 = base_sa();
  sa2["src"] = "192.0.2.9";  // the kernel keys SAs by dst, SPI, protocol, mark
  json p2 = base_policy();
  p2["priority"] = 5;
  auto r = load(
      json{{"sas", json::array({base_sa(), sa2})}, {"policies", json::array({base_policy(), p2})}});
  CHECK(lines(r.errors) ==
        Lines{"t.json: sas[1]: duplicate SA spi 0x1000 192.0.2.9->192.0.2.2 esp, first defined at "
              "t.json: sas[0]",
              "t.json: policies[1]: duplicate policy 10.0.1.0/24->10.0.2.0/24 out, first defined "
              "at t.json: policies[0]"});
  json other_mark = base_sa();
  other_mark["mark"] = {{"value", 1}};
  json other_dir = base_policy();
  other_dir["dir"] = "fwd";
  CHECK(load(json{{"sas", json::array({base_sa(), other_mark})},
                  {"policies", json::array({base_policy(), other_dir})}})
            .ok());
}

TEST_CASE("policy: a NUL inside a string is refused, not cut short") {
  json sa = base_sa();
  sa["dst"] = std::string("192.0.2.2\0junk", 14);
  CHECK(sa_errors(sa) == Lines{"t.json: sas[0].dst: contains a NUL character"});
}

TEST_CASE("policy: a number too large for JSON is a syntax error with its position") {
  // No double holds 1e999999: refused where it starts, like any other syntax error.
  auto r = load_text("{\n  \"sas\": [{\"spi\": 1e999999}]\n}\n", "big.json", ".");
  CHECK(lines(r.errors) == Lines{"big.json: line 2, column 19: number out of range: 1e999999"});
  const std::string digits(400, '9');
  r = load_text("{\"sas\": [{\"spi\": " + digits + "e999}]}", "long.json", ".");
  CHECK(lines(r.errors) == Lines{"long.json: line 1, column 18: number out of range: " +
                                 digits.substr(0, 32) + "..."});
  // An integer beyond 64 bits is read as a double: named as such, with its JSON path.
  json sa = base_sa();
  r = load_text(R"({"sas": [{"protocol": "esp", "spi": 123456789012345678901234567890,
                 "src": "192.0.2.1", "dst": "192.0.2.2", "replay_window": -123456789012345678901234567890,
                 "aead": {"algorithm": "aes-gcm-16", "key": "0x000102030405060708090a0b0c0d0e0f10111213"}}]})",
                "t.json", ".");
  CHECK(lines(r.errors) ==
        Lines{"t.json: sas[0].spi: expected an integer or a \"0x...\" string, got a number too "
              "large (over 64 bits)",
              "t.json: sas[0].replay_window: expected an integer, got a number too large (over 64 "
              "bits)"});
  CHECK(r.config.sas.empty());
}

TEST_CASE("policy: a transport-mode SA with a selector of the other family is refused") {
  json sa = base_sa();  // transport mode (the default), 192.0.2.1 -> 192.0.2.2
  sa["selector"] = {{"src", "2001:db8::/64"}, {"dst", "2001:db8:1::/64"}};
  CHECK(sa_errors(sa) ==
        Lines{"t.json: sas[0].selector: src \"2001:db8::/64\" and dst \"2001:db8:1::/64\" are "
              "IPv6 but the SA's src and dst are IPv4: a transport-mode SA carries the traffic "
              "between them"});
  sa["mode"] = "tunnel";  // IPv6 in IPv4: the kernel does it
  CHECK(sa_errors(sa).empty());
  sa = base_sa();
  sa["selector"] = {{"src", "192.0.2.1/32"}, {"dst", "192.0.2.2/32"}, {"proto", "tcp"}};
  CHECK(sa_errors(sa).empty());
}

TEST_CASE("policy: standard input is read within the size limit (/dev/zero is refused)") {
  const int saved = ::dup(STDIN_FILENO);
  const int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  REQUIRE(saved >= 0);
  REQUIRE(zero >= 0);
  REQUIRE(::dup2(zero, STDIN_FILENO) == STDIN_FILENO);
  auto r = load_files({"-"});
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  ::close(zero);
  CHECK(lines(r.errors) ==
        Lines{"<stdin>: too large for a policy file (more than 16777216 bytes)"});
}
