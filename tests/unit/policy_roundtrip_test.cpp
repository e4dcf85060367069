// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/policy: to_json, the load -> to_json -> load round trip, and every example
// file.
#include <doctest/doctest.h>

#include <unistd.h>
#include <cstdlib>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "policy/static_config.h"

using namespace ipsec;
using namespace ipsec::policy;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string joined(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.str() + "\n";
  return out;
}

// Loads to_json(config) again and checks it yields the same configuration, in order.
void check_round_trip(const StaticConfig& config, const std::string& name) {
  INFO("round trip of " << name);
  json j = to_json(config);
  auto again = load_text(j.dump(), name + " (to_json)", ".");
  REQUIRE_MESSAGE(again.ok(), joined(again.errors));
  REQUIRE(again.config.sas.size() == config.sas.size());
  REQUIRE(again.config.policies.size() == config.policies.size());
  for (size_t i = 0; i < config.sas.size(); ++i)
    CHECK_MESSAGE(again.config.sas[i].same_config(config.sas[i]), "sas[" << i << "]");
  for (size_t i = 0; i < config.policies.size(); ++i)
    CHECK_MESSAGE(again.config.policies[i].same_config(config.policies[i]),
                  "policies[" << i << "]");
  // And the text is stable: the second to_json equals the first.
  CHECK(to_json(again.config) == j);
}

const char* kFull = R"({
  "sas": [
    {"protocol": "esp", "mode": "tunnel", "spi": 4096, "src": "192.0.2.1", "dst": "192.0.2.2",
     "reqid": 3, "replay_window": 0, "if_id": 7, "allow_insecure": true,
     "encryption": {"algorithm": "3des-cbc", "key": "0x000102030405060708090a0b0c0d0e0f1011121314151617"},
     "integrity": {"algorithm": "hmac-md5", "key": "0x000102030405060708090a0b0c0d0e0f"},
     "lifetime": {"soft": {"seconds": 100, "bytes": 10}, "hard": {"seconds": 200, "use_seconds": 5,
                  "packets": 9}},
     "encap": {"type": "espinudp", "sport": 4500, "dport": 14500},
     "mark": {"value": "0x5", "mask": "0xff"},
     "selector": {"src": "10.0.0.0/8", "dst": "10.1.0.0/16"}},
    {"protocol": "esp", "spi": "0x2000", "src": "2001:db8::1", "dst": "2001:db8::2", "esn": true,
     "replay_window": 128, "encryption": {"algorithm": "null"},
     "integrity": {"algorithm": "hmac-sha384", "key": "0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"},
     "mark": {"value": 0}, "selector": {"src": "2001:db8::1", "dst": "2001:db8::/64", "proto": "udp", "sport": 53}},
    {"protocol": "esp", "spi": "0x2001", "src": "192.0.2.1", "dst": "192.0.2.3", "allow_insecure": true,
     "encryption": {"algorithm": "aes-ctr", "key": "0x000102030405060708090a0b0c0d0e0f10111213"}},
    {"protocol": "ah", "spi": "0xffffffff", "src": "192.0.2.1", "dst": "192.0.2.2",
     "integrity": {"algorithm": "hmac-sha1", "key": "0x000102030405060708090a0b0c0d0e0f10111213"}},
    {"protocol": "esp", "spi": "0x2002", "src": "192.0.2.1", "dst": "192.0.2.2",
     "aead": {"algorithm": "aes-gcm-8", "key": "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b"}}
  ],
  "policies": [
    {"src": "10.0.1.0/24", "dst": "10.0.2.0/24", "dir": "fwd", "priority": 100, "proto": "sctp",
     "dport": 9, "mark": {"value": 1}, "if_id": 2,
     "templates": [{"protocol": "esp", "mode": "tunnel", "src": "192.0.2.1", "dst": "192.0.2.2",
                    "reqid": 3, "spi": "0x1000", "optional": true},
                   {"protocol": "ah", "mode": "transport"}]},
    {"src": "0.0.0.0/0", "dst": "0.0.0.0/0", "dir": "in", "action": "allow", "proto": 200},
    {"src": "::/0", "dst": "::/0", "dir": "out", "action": "block", "proto": "gre"}
  ]
})";

}  // namespace

TEST_CASE("policy to_json: a file using every field round-trips") {
  auto r = load_text(kFull, "full.json", ".");
  REQUIRE_MESSAGE(r.ok(), joined(r.errors));
  CHECK(r.warnings.size() == 3);
  check_round_trip(r.config, "full.json");
}

TEST_CASE("policy to_json: tidy output with keywords and hex") {
  auto r = load_text(kFull, "full.json", ".");
  REQUIRE(r.ok());
  json j = to_json(r.config);
  const json& sa = j["sas"][4];
  CHECK(sa == json{{"protocol", "esp"},
                   {"spi", "0x2002"},
                   {"src", "192.0.2.1"},
                   {"dst", "192.0.2.2"},
                   {"aead",
                    {{"algorithm", "aes-gcm-8"},
                     {"key", "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b"}}}});
  CHECK(j["sas"][1]["encryption"] == json{{"algorithm", "null"}});
  CHECK(j["sas"][1]["mark"] == json{{"value", "0x0"}});
  CHECK(j["sas"][0]["allow_insecure"] == true);
  CHECK(j["sas"][0]["mark"] == json{{"value", "0x5"}, {"mask", "0xff"}});
  CHECK(j["policies"][0]["templates"][1] == json{{"protocol", "ah"}});
  CHECK_FALSE(j["policies"][0].contains("action"));
  CHECK(j["policies"][1]["action"] == "allow");
  CHECK(j["policies"][1]["proto"] == 200);
  CHECK(j["policies"][2]["action"] == "block");
  CHECK(j["policies"][0]["src"] == "10.0.1.0/24");
}

TEST_CASE("policy to_json: what the format cannot express fails clearly on load") {
  kernel::SaParams sa;
  sa.src = *IpAddress::parse("192.0.2.1");
  sa.dst = *IpAddress::parse("192.0.2.2");
  sa.spi = 0x1234;
  sa.replay_window = 32;
  sa.aead = kernel::Algorithm{"rfc4106(gcm(aes))", SecretBytes(Bytes(20, 0x11)), 32};
  sa.encap = kernel::Encap{};
  sa.encap->type = 7;
  StaticConfig c;
  c.sas.push_back(sa);
  json j = to_json(c);
  CHECK(j["sas"][0]["aead"]["algorithm"] == "kernel:rfc4106(gcm(aes))/32");
  CHECK(j["sas"][0]["encap"]["type"] == "kernel:encap-type-7");
  auto r = load_text(j.dump(), "show.json", ".");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].str().starts_with(
      "show.json: sas[0].aead.algorithm: \"kernel:rfc4106(gcm(aes))/32\" is a kernel algorithm "
      "this format cannot express"));
  CHECK(r.errors[1].str() ==
        "show.json: sas[0].encap.type: expected \"espinudp\", got \"kernel:encap-type-7\"");
}

TEST_CASE("policy to_json: hidden keys are marked, and the loader refuses the marks") {
  auto r = load_text(kFull, "full.json", ".");
  REQUIRE(r.ok());
  json j = to_json(r.config, KeyOutput::Hide);
  CHECK(j["sas"][4]["aead"] == json{{"algorithm", "aes-gcm-8"}, {"key", "hidden"}});
  CHECK(j["sas"][1]["encryption"] == json{{"algorithm", "null"}});  // no key: nothing to hide
  CHECK(j.dump().find("0x0001020304") == std::string::npos);
  auto again = load_text(j.dump(), "show.json", ".");
  REQUIRE_FALSE(again.ok());
  CHECK(again.config.sas.empty());
  size_t hidden = 0;  // one error per hidden key, and nothing else
  for (const auto& sa : j["sas"])
    for (const char* slot : {"encryption", "integrity", "aead"})
      hidden += sa.contains(slot) && sa[slot].value("key", "") == "hidden";
  CHECK(again.errors.size() == hidden);
  for (const auto& e : again.errors) CHECK(e.message.ends_with("writes keys only with --keys"));
  CHECK(std::any_of(again.errors.begin(), again.errors.end(), [](const Diagnostic& e) {
    return e.str() ==
           "show.json: sas[4].aead.key: the key is hidden: 'ipsecctl show --json' writes keys "
           "only with --keys";
  }));
  CHECK(to_json(r.config, KeyOutput::Include) == to_json(r.config));
}

TEST_CASE("policy to_json: transport templates with zero addresses, as the kernel reports them") {
  kernel::PolicyParams p;
  p.sel.src = *Prefix::parse("10.0.0.0/8");
  p.sel.dst = *Prefix::parse("10.1.0.0/16");
  kernel::Template t;
  t.src = IpAddress::any(Family::V4);
  t.dst = IpAddress::any(Family::V4);
  p.tmpls.push_back(t);
  StaticConfig c;
  c.policies.push_back(p);
  json j = to_json(c);
  CHECK(j["policies"][0]["templates"][0] == json{{"protocol", "esp"}});
  CHECK(j["policies"][0]["dir"] == "out");
  CHECK(load_text(j.dump(), "show.json", ".").ok());
  CHECK(to_json(StaticConfig{}) == json::object());
}

TEST_CASE("policy examples: every file loads without errors and round-trips") {
  fs::path src = fs::path(IPSEC_SOURCE_DIR) / "policies" / "examples";
  if (!fs::exists(src)) return;  // no examples yet; the lead makes sure they exist
  // git keeps no file modes (a clone's *.psk is 0644, which the loader refuses): load a copy.
  fs::path dir = fs::temp_directory_path() / ("ipsecctl-examples-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(src, dir, fs::copy_options::recursive);
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".psk")
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
  // A certificate example makes its CA, certificates and keys with its own script.
  std::vector<fs::path> skipped;
  for (const auto& e : fs::directory_iterator(dir)) {
    const fs::path script = e.path() / "make-certs.sh";
    if (!fs::exists(script)) continue;
    const std::string cmd =
        "sh '" + script.string() + "' '" + e.path().string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      MESSAGE("SKIPPED " << e.path().filename().string() << ": make-certs.sh failed (openssl?)");
      skipped.push_back(e.path());
    }
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json" &&
        std::find(skipped.begin(), skipped.end(), e.path().parent_path()) == skipped.end())
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE_MESSAGE(!files.empty(), "no *.json under " << dir.string());
  for (const auto& f : files) {
    INFO("example " << f.string());
    auto r = load_files({f.string()});
    CHECK_MESSAGE(r.ok(), joined(r.errors));
    if (r.ok()) check_round_trip(r.config, f.filename().string());
  }
  fs::remove_all(dir);
}

TEST_CASE("policy loader: truncated, mutated and deeply nested input never throws") {
  std::string text = kFull;
  for (size_t n = 0; n < text.size(); n += 7) {
    auto r = load_text(text.substr(0, n), "cut.json", ".");
    CHECK_FALSE(r.ok());
  }
  const char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '0', 'x', '-', ' ', '\0'};
  for (size_t i = 0; i < text.size(); i += 3) {
    std::string m = text;
    m[i] = replacements[i % sizeof replacements];
    auto r = load_text(m, "mutated.json", ".");
    CHECK((r.ok() || !r.errors.empty()));
  }
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(load_text("{\"sas\": " + deep + "}", "deep.json", ".").errors.size() >= 1);
}
