// SPDX-License-Identifier: Apache-2.0
// policy::Connection to ike::ConnectionConfig: field mapping, errors, and the example pair
// brought up end to end in the engine-pair harness.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ike/from_policy.h"
#include "ike_test_harness.h"
#include "policy/static_config.h"

using namespace ike_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A private copy of an example folder (policies/examples/ikev2-psk-tunnel by default) with its
// *.psk made 0600 (git keeps no modes), removed afterwards.
class ExampleCopy {
 public:
  explicit ExampleCopy(const char* example = "ikev2-psk-tunnel") {
    std::string tmpl = (fs::temp_directory_path() / "ipsec-ikev2-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    fs::copy(fs::path(IPSEC_SOURCE_DIR) / "policies/examples" / example, dir_,
             fs::copy_options::recursive);
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().extension() == ".psk") REQUIRE(::chmod(e.path().c_str(), 0600) == 0);
  }
  ~ExampleCopy() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

  // The only connection of one file, mapped to the engine.
  ConnectionConfig config(const char* file) const {
    auto r = policy::load_files({(dir_ / file).string()});
    REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
    REQUIRE(r.config.connections.size() == 1);
    auto c = to_engine_config(r.config.connections.front());
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
    return *c;
  }

 private:
  fs::path dir_;
};

void check_child_up(Pair& p, uint64_t spi) {
  const IkeSa* a = p.alice.find(spi);
  const IkeSa* b = p.bob_sa();
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  INFO("left: " << a->failure << " / right: " << b->failure);
  REQUIRE(a->state == IkeState::Established);
  REQUIRE(b->state == IkeState::Established);
  REQUIRE(a->children.size() == 1);
  REQUIRE(b->children.size() == 1);
  const ChildSa &ac = a->children.front(), &bc = b->children.front();
  REQUIRE(ac.state == ChildState::Installed);
  REQUIRE(bc.state == ChildState::Installed);
  CHECK(ac.spi_out == bc.spi_in);
  CHECK(ac.spi_in == bc.spi_out);
  auto as = p.sas(p.alice_kernel), bs = p.sas(p.bob_kernel);
  REQUIRE(as.size() == 2);
  REQUIRE(bs.size() == 2);
  for (const auto& s : as) CHECK(s.reqid == 7);
  auto ap = p.policies(p.alice_kernel);
  REQUIRE_FALSE(ap.empty());
  CHECK(ap[0].sel.src == prefix("198.51.100.0/24"));
  CHECK(ap[0].sel.dst == prefix("203.0.113.0/24"));
}

}  // namespace

TEST_CASE("from_policy: the example maps field by field") {
  ExampleCopy ex;
  ConnectionConfig c = ex.config("left.json");
  CHECK(c.name == "to-right");
  CHECK(c.version == IkeVersion::V2);
  CHECK(c.local == Endpoint{ip("192.0.2.1"), 500});
  CHECK(c.remote == Endpoint{ip("192.0.2.2"), 500});
  CHECK(c.local_id == Identity::fqdn("left.example"));
  CHECK(c.remote_id == Identity::fqdn("right.example"));
  CHECK(c.psk.size() == std::strlen("an example secret, never use it: 7d1c9e0b5a"));
  REQUIRE(c.proposals.size() == 2);
  CHECK(c.proposals[0].encr.size() == 1);
  CHECK(c.proposals[0].encr[0].id == wire::EncrId::AesGcm16);
  CHECK(c.proposals[0].encr[0].key_bits == 256);
  CHECK(c.proposals[0].prf == std::vector<wire::PrfId>{wire::PrfId::HmacSha2_256});
  CHECK(c.proposals[0].integ.empty());
  CHECK(c.proposals[0].dh == std::vector<wire::DhGroup>{wire::DhGroup::Curve25519});
  CHECK(c.proposals[1].encr[0].id == wire::EncrId::AesCbc);
  CHECK(c.proposals[1].integ == std::vector<wire::IntegId>{wire::IntegId::HmacSha2_256_128});
  CHECK(c.proposals[1].prf == std::vector<wire::PrfId>{wire::PrfId::HmacSha2_256});
  CHECK(c.proposals[1].dh == std::vector<wire::DhGroup>{wire::DhGroup::Modp2048});
  CHECK(c.children[0].name == "lan");
  CHECK(c.children[0].mode == kernel::Mode::Tunnel);
  CHECK(c.children[0].local_ts == std::vector<Prefix>{prefix("198.51.100.0/24")});
  CHECK(c.children[0].remote_ts == std::vector<Prefix>{prefix("203.0.113.0/24")});
  REQUIRE(c.children[0].proposals.size() == 2);
  CHECK(c.children[0].proposals[0].encr[0].id == wire::EncrId::AesGcm16);
  CHECK(c.children[0].proposals[0].esn == std::vector<wire::EsnId>{wire::EsnId::NoEsn});
  CHECK(c.children[0].proposals[1].integ ==
        std::vector<wire::IntegId>{wire::IntegId::HmacSha2_256_128});
  CHECK(c.children[0].reqid == 7);
  CHECK(c.children[0].replay_window == 32);
}

TEST_CASE("from_policy: the example pair brings up a CHILD SA in the engine pair") {
  ExampleCopy ex;
  Pair p;
  p.alice_config = ex.config("left.json");
  p.bob_config = ex.config("right.json");
  uint64_t spi = p.start();
  p.run();
  check_child_up(p, spi);
}

TEST_CASE("from_policy: CBC/SHA-256 and MODP-2048 only, email and keyid identities") {
  ExampleCopy ex;
  auto side = [&](bool left) {
    json conn = {{"local",
                  {{"address", left ? "192.0.2.1" : "192.0.2.2"},
                   {"id", left ? "alice@example.org" : "keyid:0x0102"}}},
                 {"remote",
                  {{"address", left ? "192.0.2.2" : "192.0.2.1"},
                   {"id", left ? "keyid:0x0102" : "alice@example.org"}}},
                 {"psk_file", "shared.psk"},
                 {"proposals", {"aes128-sha256-modp2048"}},
                 {"children",
                  {{"lan",
                    {{"local_ts", {left ? "198.51.100.0/24" : "203.0.113.0/24"}},
                     {"remote_ts", {left ? "203.0.113.0/24" : "198.51.100.0/24"}},
                     {"esp_proposals", {"aes128-sha256-esn"}},
                     {"reqid", 7}}}}}};
    auto r = policy::load_text(json{{"connections", {{left ? "l" : "r", conn}}}}.dump(), "x.json",
                               ex.dir().string());
    REQUIRE(r.ok());
    auto c = to_engine_config(r.config.connections.at(0));
    REQUIRE(c);
    return *c;
  };
  Pair p;
  p.alice_config = side(true);
  p.bob_config = side(false);
  CHECK(p.alice_config.local_id == Identity::rfc822("alice@example.org"));
  CHECK(p.alice_config.remote_id == Identity::key_id(Bytes{1, 2}));
  uint64_t spi = p.start();
  p.run();
  check_child_up(p, spi);
  auto sas = p.sas(p.alice_kernel);
  CHECK(sas[0].esn);
  CHECK(sas[0].enc);
  CHECK(sas[0].auth);
}

TEST_CASE("from_policy: a connection the engine cannot run is an error naming it") {
  policy::Connection c;
  c.name = "site-b";
  c.psk = SecretBytes(Bytes{1});
  c.proposals.resize(1);
  auto r = to_engine_config(c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "connection \"site-b\" has no children");
  c.children.resize(2);
  c.children[0].name = "lan";
  c.children[1].name = "voice";
  c.children[0].esp_proposals.resize(1);
  r = to_engine_config(c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "connection \"site-b\" child \"voice\" has no ESP proposals");
}

namespace {

// One connection from JSON (in ExampleCopy's folder, for its shared.psk), mapped to the engine.
ConnectionConfig engine_config(const ExampleCopy& ex, const json& conn) {
  auto r =
      policy::load_text(json{{"connections", {{"c", conn}}}}.dump(), "x.json", ex.dir().string());
  REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
  auto c = to_engine_config(r.config.connections.at(0));
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  return *c;
}

json minimal_connection(const json& child) {
  return {{"local", {{"address", "192.0.2.1"}}},
          {"remote", {{"address", "192.0.2.2"}}},
          {"psk_file", "shared.psk"},
          {"children", {{"lan", child}}}};
}

}  // namespace

TEST_CASE("from_policy: lifetimes, DPD, actions and inactivity reach the engine") {
  ExampleCopy ex;
  json conn = minimal_connection(
      {{"esp_proposals", {"aes256gcm16-x25519-ecp256", "aes256-sha256-modp2048", "aes128gcm16"}},
       {"start_action", "on-demand"},
       {"rekey_time", "20m"},
       {"life_time", "25m"},
       {"rand_time", "2m"},
       {"rekey_bytes", 1000000},
       {"life_bytes", 1500000},
       {"rekey_packets", 1000},
       {"dpd_action", "restart"},
       {"close_action", "trap"},
       {"inactivity", "45m"}});
  conn["reauth_time"] = "3h";
  conn["over_time"] = "15m";
  conn["rand_time"] = "10m";
  conn["dpd_delay"] = "1m";
  conn["dpd_timeout"] = 150;
  ConnectionConfig c = engine_config(ex, conn);
  CHECK(c.ike_lifetime.rekey_time == std::chrono::seconds(0));
  CHECK(c.ike_lifetime.reauth_time == std::chrono::seconds(10800));
  CHECK(c.ike_lifetime.over_time == std::chrono::seconds(900));
  CHECK(c.ike_lifetime.rand_time == std::chrono::seconds(600));
  CHECK(c.dpd_delay == std::chrono::seconds(60));
  CHECK(c.dpd_timeout == std::chrono::seconds(150));
  const ChildLifetime& l = c.children[0].lifetime;
  CHECK(l.rekey_time == std::chrono::seconds(1200));
  CHECK(l.life_time == std::chrono::seconds(1500));
  CHECK(l.rand_time == std::chrono::seconds(120));
  CHECK(l.rekey_bytes == 1000000);
  CHECK(l.life_bytes == 1500000);
  CHECK(l.rekey_packets == 1000);
  CHECK(l.life_packets == 1100);
  CHECK(c.children[0].start_action == StartAction::Trap);
  CHECK(c.children[0].dpd_action == PeerGoneAction::Restart);
  CHECK(c.children[0].close_action == PeerGoneAction::Trap);
  CHECK(c.children[0].inactivity == std::chrono::seconds(2700));
  // ESP key exchange groups: PFS for CREATE_CHILD_SA, in the proposal's order.
  REQUIRE(c.children[0].proposals.size() == 3);
  CHECK(c.children[0].proposals[0].dh ==
        std::vector<wire::DhGroup>{wire::DhGroup::Curve25519, wire::DhGroup::Ecp256});
  CHECK(c.children[0].proposals[0].encr[0].id == wire::EncrId::AesGcm16);
  CHECK(c.children[0].proposals[0].integ.empty());
  CHECK(c.children[0].proposals[1].dh == std::vector<wire::DhGroup>{wire::DhGroup::Modp2048});
  CHECK(c.children[0].proposals[1].integ ==
        std::vector<wire::IntegId>{wire::IntegId::HmacSha2_256_128});
  CHECK(c.children[0].proposals[2].dh.empty());
}

TEST_CASE("from_policy: the loader's defaults are the engine's") {
  ExampleCopy ex;
  ConnectionConfig c = engine_config(ex, minimal_connection(json::object()));
  CHECK(c.ike_lifetime == IkeLifetime{});
  CHECK(c.children[0].lifetime == ChildLifetime{});
  CHECK(c.dpd_delay == ConnectionConfig{}.dpd_delay);
  CHECK(c.dpd_timeout == ConnectionConfig{}.dpd_timeout);
  CHECK(c.children[0].start_action == StartAction::None);
  CHECK(c.children[0].dpd_action == PeerGoneAction::None);
  CHECK(c.children[0].close_action == PeerGoneAction::None);
  CHECK(c.children[0].inactivity == std::chrono::seconds(0));
  for (const auto& p : c.children[0].proposals) CHECK(p.dh.empty());
  for (const char* word : {"none", "start", "trap"}) {
    INFO(word);
    auto mapped = engine_config(ex, minimal_connection({{"start_action", word}}));
    CHECK(mapped.children[0].start_action == (std::string(word) == "none"    ? StartAction::None
                                              : std::string(word) == "start" ? StartAction::Start
                                                                             : StartAction::Trap));
  }
  auto clear =
      engine_config(ex, minimal_connection({{"dpd_action", "clear"}, {"close_action", "restart"}}));
  CHECK(clear.children[0].dpd_action == PeerGoneAction::None);
  CHECK(clear.children[0].close_action == PeerGoneAction::Restart);
}

TEST_CASE("from_policy: the on-demand example maps both sides") {
  ExampleCopy ex("ikev2-psk-ondemand");
  ConnectionConfig left = ex.config("left.json"), right = ex.config("right.json");
  CHECK(left.children[0].start_action == StartAction::Trap);
  CHECK(left.children[0].dpd_action == PeerGoneAction::Trap);
  CHECK(left.children[0].close_action == PeerGoneAction::Trap);
  CHECK(right.children[0].start_action == StartAction::None);
  CHECK(right.children[0].dpd_action == PeerGoneAction::None);
  CHECK(right.children[0].close_action == PeerGoneAction::None);
  for (const ConnectionConfig* c : {&left, &right}) {
    CHECK(c->dpd_delay == std::chrono::seconds(30));
    CHECK(c->dpd_timeout == std::chrono::seconds(90));
    CHECK(c->ike_lifetime == IkeLifetime{});  // "4h" spelled out: the defaults
    CHECK(c->children[0].lifetime == ChildLifetime{});
    CHECK(c->children[0].reqid == 9);
    CHECK(c->children[0].local_ts.size() == 1);
  }
  CHECK(left.children[0].local_ts == right.children[0].remote_ts);
  CHECK(left.children[0].remote_ts == right.children[0].local_ts);
}
