// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/policy: lifecycle settings of connections and children (lifetimes with
// their derived defaults, durations, DPD, start/dpd/close actions, inactivity) and their errors.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/static_config.h"

using namespace ipsec;
using namespace ipsec::policy;
using nlohmann::json;
using std::chrono::seconds;
namespace fs = std::filesystem;

namespace {

using Lines = std::vector<std::string>;

// A private temporary directory holding "site.psk" (0600), removed with everything in it.
class PskDir {
 public:
  PskDir() {
    std::string tmpl = (fs::temp_directory_path() / "ipsec-life-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
    fs::path psk = path_ / "site.psk";
    std::ofstream(psk) << "a secret for the lifecycle tests\n";
    REQUIRE(::chmod(psk.c_str(), 0600) == 0);
  }
  ~PskDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string dir() const { return path_.string(); }

 private:
  fs::path path_;
};

json base_connection(const json& child = json::object()) {
  return {{"local", {{"address", "192.0.2.1"}}},
          {"remote", {{"address", "192.0.2.2"}}},
          {"psk_file", "site.psk"},
          {"children", {{"lan", child}}}};
}

Lines lines(const std::vector<Diagnostic>& ds) {
  Lines out;
  for (const auto& d : ds) out.push_back(d.str());
  return out;
}

LoadResult load(const json& conn) {
  PskDir t;
  return load_text(json{{"connections", {{"to-right", conn}}}}.dump(), "c.json", t.dir());
}

Connection loaded(const json& conn) {
  auto r = load(conn);
  REQUIRE_MESSAGE(r.ok(), (r.errors.empty() ? "" : r.errors.front().str()));
  REQUIRE(r.config.connections.size() == 1);
  return r.config.connections.front();
}

ChildLifetime child_lifetime(const json& child) {
  return loaded(base_connection(child)).children.at(0).lifetime;
}

// The errors of a connection; every such load is refused as a whole.
Lines errors(const json& conn) {
  auto r = load(conn);
  CHECK(r.config.connections.empty());
  CHECK(r.config.sas.empty());
  return lines(r.errors);
}

Lines child_errors(const json& child) { return errors(base_connection(child)); }

const std::string kConn = "c.json: connections.to-right.";
const std::string kLan = "c.json: connections.to-right.children.lan.";

}  // namespace

TEST_CASE("lifecycle: defaults are swanctl's") {
  Connection c = loaded(base_connection());
  CHECK(c.lifetime.rekey_time == seconds(14400));
  CHECK(c.lifetime.reauth_time == seconds(0));
  CHECK(c.lifetime.over_time == seconds(1440));
  CHECK(c.lifetime.rand_time == seconds(1440));
  CHECK(c.dpd_delay == seconds(0));
  CHECK(c.dpd_timeout == seconds(30));
  const Child& ch = c.children.at(0);
  CHECK(ch.lifetime.rekey_time == seconds(3600));
  CHECK(ch.lifetime.life_time == seconds(3960));
  CHECK(ch.lifetime.rand_time == seconds(360));
  CHECK(ch.lifetime.rekey_bytes == 0);
  CHECK(ch.lifetime.life_bytes == 0);
  CHECK(ch.lifetime.rekey_packets == 0);
  CHECK(ch.lifetime.life_packets == 0);
  CHECK(ch.start_action == StartAction::None);
  CHECK(ch.dpd_action == PeerGoneAction::None);
  CHECK(ch.close_action == PeerGoneAction::None);
  CHECK(ch.inactivity == seconds(0));
  // The model's own defaults are the loader's.
  CHECK(ch.lifetime == ChildLifetime{});
  CHECK(c.lifetime == IkeLifetime{});
}

TEST_CASE("lifecycle: every field, as integers and as duration strings") {
  json conn = base_connection({{"rekey_time", "30m"},
                               {"life_time", 2400},
                               {"rand_time", "90s"},
                               {"rekey_bytes", 1000000},
                               {"life_bytes", 2000000},
                               {"rekey_packets", 5000},
                               {"life_packets", 6000},
                               {"start_action", "on-demand"},
                               {"dpd_action", "restart"},
                               {"close_action", "trap"},
                               {"inactivity", "1d"}});
  conn["rekey_time"] = 0;
  conn["reauth_time"] = "4h";
  conn["over_time"] = "10m";
  conn["rand_time"] = 300;
  conn["dpd_delay"] = "30s";
  conn["dpd_timeout"] = "2m";
  Connection c = loaded(conn);
  CHECK(c.lifetime.rekey_time == seconds(0));
  CHECK(c.lifetime.reauth_time == seconds(4 * 3600));
  CHECK(c.lifetime.over_time == seconds(600));
  CHECK(c.lifetime.rand_time == seconds(300));
  CHECK(c.dpd_delay == seconds(30));
  CHECK(c.dpd_timeout == seconds(120));
  const Child& ch = c.children.at(0);
  CHECK(ch.lifetime.rekey_time == seconds(1800));
  CHECK(ch.lifetime.life_time == seconds(2400));
  CHECK(ch.lifetime.rand_time == seconds(90));
  CHECK(ch.lifetime.rekey_bytes == 1000000);
  CHECK(ch.lifetime.life_bytes == 2000000);
  CHECK(ch.lifetime.rekey_packets == 5000);
  CHECK(ch.lifetime.life_packets == 6000);
  CHECK(ch.start_action == StartAction::Trap);
  CHECK(ch.dpd_action == PeerGoneAction::Restart);
  CHECK(ch.close_action == PeerGoneAction::Trap);
  CHECK(ch.inactivity == seconds(86400));
}

TEST_CASE("lifecycle: duration strings, one unit each") {
  const std::pair<json, long> cases[] = {
      {0, 0},
      {"0s", 0},
      {"90s", 90},
      {"30m", 1800},
      {"4h", 14400},
      {"1d", 86400},
      {"007m", 420},
      {4294967295u, 4294967295},
      {"49710d", 4294944000},
  };
  for (const auto& [value, expected] : cases) {
    INFO(value.dump());
    CHECK(loaded(base_connection({{"inactivity", value}})).children.at(0).inactivity ==
          seconds(expected));
  }
}

TEST_CASE("lifecycle: start_action on-demand and trap are the same, both accepted") {
  for (const char* word : {"trap", "on-demand"}) {
    INFO(word);
    CHECK(loaded(base_connection({{"start_action", word}})).children.at(0).start_action ==
          StartAction::Trap);
  }
  CHECK(loaded(base_connection({{"start_action", "start"}})).children.at(0).start_action ==
        StartAction::Start);
  CHECK(loaded(base_connection({{"start_action", "none"}})).children.at(0).start_action ==
        StartAction::None);
  CHECK(loaded(base_connection({{"dpd_action", "clear"}, {"close_action", "none"}}))
            .children.at(0)
            .dpd_action == PeerGoneAction::None);
  CHECK(loaded(base_connection({{"dpd_action", "trap"}, {"close_action", "restart"}}))
            .children.at(0)
            .close_action == PeerGoneAction::Restart);
}

TEST_CASE("lifecycle: CHILD SA defaults derived from what is given") {
  SUBCASE("life_time is rekey_time * 1.1, rand_time the difference") {
    ChildLifetime l = child_lifetime({{"rekey_time", "30m"}});
    CHECK(l.life_time == seconds(1980));
    CHECK(l.rand_time == seconds(180));
    l = child_lifetime({{"rekey_time", 25}});  // 27.5 rounds up: still above rekey_time
    CHECK(l.life_time == seconds(28));
    CHECK(l.rand_time == seconds(3));
    l = child_lifetime({{"rekey_time", 1}});
    CHECK(l.life_time == seconds(2));
    CHECK(l.rand_time == seconds(1));
  }
  SUBCASE("rand_time defaults to life_time - rekey_time, at most rekey_time") {
    ChildLifetime l = child_lifetime({{"rekey_time", "1h"}, {"life_time", "90m"}});
    CHECK(l.rand_time == seconds(1800));
    l = child_lifetime({{"rekey_time", "1h"}, {"life_time", "3h"}});
    CHECK(l.rand_time == seconds(3600));
  }
  SUBCASE("rekey_time 0: no soft limit, no hard one unless given, no jitter") {
    ChildLifetime l = child_lifetime({{"rekey_time", 0}});
    CHECK(l.life_time == seconds(0));
    CHECK(l.rand_time == seconds(0));
    l = child_lifetime({{"rekey_time", 0}, {"life_time", "2h"}});
    CHECK(l.life_time == seconds(7200));
    CHECK(l.rand_time == seconds(0));
    l = child_lifetime({{"life_time", 0}});  // no hard limit: nothing to jitter towards
    CHECK(l.rekey_time == seconds(3600));
    CHECK(l.life_time == seconds(0));
    CHECK(l.rand_time == seconds(0));
  }
  SUBCASE("bytes and packets: life is rekey * 1.1 when only rekey is given") {
    ChildLifetime l = child_lifetime({{"rekey_bytes", 1000000000}, {"rekey_packets", 7}});
    CHECK(l.life_bytes == 1100000000);
    CHECK(l.life_packets == 8);  // 7.7 rounds up
    l = child_lifetime({{"life_bytes", 5000}, {"life_packets", 10}});
    CHECK(l.rekey_bytes == 0);
    CHECK(l.life_bytes == 5000);
    CHECK(l.rekey_packets == 0);
    CHECK(l.life_packets == 10);
    l = child_lifetime({{"rekey_bytes", 5000}, {"life_bytes", 0}});
    CHECK(l.rekey_bytes == 5000);
    CHECK(l.life_bytes == 0);
  }
}

TEST_CASE("lifecycle: IKE SA defaults derived from what is given") {
  auto ike = [](const json& fields) {
    json conn = base_connection();
    conn.update(fields);
    return loaded(conn).lifetime;
  };
  IkeLifetime l = ike({{"rekey_time", 1000}});
  CHECK(l.over_time == seconds(100));
  CHECK(l.rand_time == seconds(100));
  l = ike({{"rekey_time", 25}});  // 2.5 rounds up
  CHECK(l.over_time == seconds(3));
  CHECK(l.rand_time == seconds(3));
  // reauth_time alone replaces the default rekey; over_time is 10 % of it.
  l = ike({{"reauth_time", "2h"}});
  CHECK(l.rekey_time == seconds(0));
  CHECK(l.reauth_time == seconds(7200));
  CHECK(l.over_time == seconds(720));
  CHECK(l.rand_time == seconds(720));
  l = ike({{"reauth_time", "2h"}, {"rekey_time", 0}});
  CHECK(l.rekey_time == seconds(0));
  CHECK(l.over_time == seconds(720));
  // rand_time follows an explicit over_time, but stays below the time it jitters.
  l = ike({{"over_time", "5m"}});
  CHECK(l.rand_time == seconds(300));
  l = ike({{"rekey_time", "1h"}, {"over_time", "2h"}});
  CHECK(l.over_time == seconds(7200));
  CHECK(l.rand_time == seconds(3599));
  // Never rekeyed nor reauthenticated: nothing to jitter or to close.
  l = ike({{"rekey_time", 0}});
  CHECK(l.over_time == seconds(0));
  CHECK(l.rand_time == seconds(0));
  l = ike({{"reauth_time", 0}});
  CHECK(l.rekey_time == seconds(14400));
  // dpd_timeout keeps its default with DPD on.
  json conn = base_connection();
  conn["dpd_delay"] = 10;
  CHECK(loaded(conn).dpd_timeout == seconds(30));
}

TEST_CASE("lifecycle: duration errors name file and path") {
  const std::pair<json, std::string> cases[] = {
      {"90",
       "\"90\" is not a duration: write seconds as an integer, or a number with one unit "
       "s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {"1.5h",
       "\"1.5h\" is not a duration: write seconds as an integer, or a number with one "
       "unit s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {"h",
       "\"h\" is not a duration: write seconds as an integer, or a number with one unit "
       "s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {"2w",
       "\"2w\" is not a duration: write seconds as an integer, or a number with one unit "
       "s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {"1h30m",
       "\"1h30m\" is not a duration: write seconds as an integer, or a number with one "
       "unit s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {" 5s",
       "\" 5s\" is not a duration: write seconds as an integer, or a number with one unit "
       "s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {"-5s",
       "\"-5s\" is not a duration: write seconds as an integer, or a number with one unit "
       "s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"},
      {-1, "-1 is out of range 0..4294967295 seconds"},
      {4294967296u, "4294967296 is out of range 0..4294967295 seconds"},
      {"49711d", "\"49711d\" is out of range 0..4294967295 seconds"},
      {"99999999999999999999999s",
       "\"99999999999999999999999s\" is out of range 0..4294967295 "
       "seconds"},
      {1.5,
       "expected a duration (seconds as an integer, or a string such as \"90s\", \"30m\", "
       "\"4h\", \"1d\"), got a fractional number"},
      {true,
       "expected a duration (seconds as an integer, or a string such as \"90s\", \"30m\", "
       "\"4h\", \"1d\"), got a boolean"},
  };
  for (const auto& [value, message] : cases) {
    INFO(value.dump());
    CHECK(child_errors({{"inactivity", value}}) == Lines{kLan + "inactivity: " + message});
  }
  // Every duration field is read as one.
  json conn = base_connection({{"rekey_time", "x"}, {"life_time", "x"}, {"rand_time", "x"}});
  for (const char* f :
       {"rekey_time", "reauth_time", "over_time", "rand_time", "dpd_delay", "dpd_timeout"})
    conn[f] = false;
  Lines got = errors(conn);
  REQUIRE(got.size() == 9);
  const char* fields[] = {"rekey_time",
                          "reauth_time",
                          "over_time",
                          "rand_time",
                          "dpd_delay",
                          "dpd_timeout",
                          "children.lan.rekey_time",
                          "children.lan.life_time",
                          "children.lan.rand_time"};
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].starts_with(kConn + fields[i] + ": "));
}

TEST_CASE("lifecycle: CHILD SA rules, each error at its path") {
  CHECK(child_errors({{"life_time", "30m"}}) ==
        Lines{kLan + "life_time: must be greater than rekey_time (3600)"});
  CHECK(child_errors({{"rekey_time", "2h"}, {"life_time", "2h"}}) ==
        Lines{kLan + "life_time: must be greater than rekey_time (7200)"});
  CHECK(child_errors({{"rekey_time", 100}, {"rand_time", 101}}) ==
        Lines{kLan + "rand_time: must not be greater than rekey_time (100)"});
  CHECK(child_errors({{"rekey_time", 0}, {"rand_time", 10}}) ==
        Lines{kLan + "rand_time: must not be greater than rekey_time (0)"});
  CHECK(child_errors({{"rekey_bytes", 1000}, {"life_bytes", 1000}}) ==
        Lines{kLan + "life_bytes: must be greater than rekey_bytes (1000)"});
  CHECK(child_errors({{"rekey_packets", 50}, {"life_packets", 10}}) ==
        Lines{kLan + "life_packets: must be greater than rekey_packets (50)"});
  CHECK(child_errors({{"rekey_bytes", 18446744073709551615u}}) ==
        Lines{kLan + "rekey_bytes: too large to derive life_bytes (rekey_bytes * 1.1); give "
                     "life_bytes"});
  CHECK(child_errors({{"rekey_bytes", -1}, {"life_packets", "10"}}) ==
        Lines{kLan + "rekey_bytes: -1 is out of range 0..0xffffffffffffffff",
              kLan + "life_packets: expected an integer, got a string"});
  CHECK(child_errors({{"start_action", "route"},
                      {"dpd_action", "none"},
                      {"close_action", "clear"},
                      {"inactivity", "soon"}}) ==
        Lines{kLan + "start_action: expected \"none\", \"start\", \"trap\" or \"on-demand\", got "
                     "\"route\"",
              kLan + "dpd_action: expected \"clear\", \"restart\" or \"trap\", got \"none\"",
              kLan + "close_action: expected \"none\", \"restart\" or \"trap\", got \"clear\"",
              kLan + "inactivity: \"soon\" is not a duration: write seconds as an integer, or a "
                     "number with one unit s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")"});
  CHECK(child_errors({{"lifetime", "1h"}, {"rekey", 5}}) ==
        Lines{kLan + "lifetime: unknown field", kLan + "rekey: unknown field"});
}

TEST_CASE("lifecycle: IKE SA and DPD rules, each error at its path") {
  auto conn_errors = [](const json& fields) {
    json conn = base_connection();
    conn.update(fields);
    return errors(conn);
  };
  CHECK(conn_errors({{"rekey_time", "4h"}, {"reauth_time", "8h"}}) ==
        Lines{kConn + "reauth_time: cannot be combined with rekey_time (14400): "
                      "reauthentication replaces rekeying; set rekey_time to 0 or leave it out"});
  CHECK(conn_errors({{"rekey_time", "1h"}, {"rand_time", "1h"}}) ==
        Lines{kConn + "rand_time: must be less than rekey_time (3600)"});
  CHECK(conn_errors({{"reauth_time", "1h"}, {"rand_time", "2h"}}) ==
        Lines{kConn + "rand_time: must be less than reauth_time (3600)"});
  CHECK(conn_errors({{"rand_time", 14400}}) ==
        Lines{kConn + "rand_time: must be less than rekey_time (14400)"});
  CHECK(conn_errors({{"dpd_delay", "30s"}, {"dpd_timeout", 0}}) ==
        Lines{kConn + "dpd_timeout: must be greater than 0 when dpd_delay is set (30)"});
  CHECK(conn_errors({{"dpd_interval", 30}}) == Lines{kConn + "dpd_interval: unknown field"});
  // Accepted: what the rules allow at their edges.
  json ok = base_connection();
  ok.update({{"rekey_time", 0}, {"rand_time", 99999}, {"dpd_timeout", 0}});
  CHECK(load(ok).ok());
  ok = base_connection({{"rekey_time", 100}, {"rand_time", 100}, {"life_time", 101}});
  CHECK(load(ok).ok());
}

TEST_CASE("lifecycle: one bad value refuses the whole load, with every problem listed") {
  PskDir t;
  json good = base_connection({{"rekey_time", "1h"}});
  json bad = base_connection({{"rekey_time", "1h"}, {"life_time", "1h"}});
  bad["dpd_delay"] = "1w";
  json doc = {{"connections", {{"a-good", good}, {"to-right", bad}}}};
  auto r = load_text(doc.dump(), "c.json", t.dir());
  CHECK(lines(r.errors) ==
        Lines{kConn + "dpd_delay: \"1w\" is not a duration: write seconds as an integer, or a "
                      "number with one unit s, m, h or d (\"90s\", \"30m\", \"4h\", \"1d\")",
              kLan + "life_time: must be greater than rekey_time (3600)"});
  CHECK(r.config.connections.empty());
}

TEST_CASE("lifecycle: ESP proposals may carry key exchange groups (PFS)") {
  Connection c = loaded(base_connection(
      {{"esp_proposals", {"aes256gcm16-x25519", "aes256-sha256-modp2048-ecp256"}}}));
  const auto& p = c.children.at(0).esp_proposals;
  REQUIRE(p.size() == 2);
  CHECK(p[0].groups == std::vector<uint16_t>{31});
  CHECK(p[1].groups == std::vector<uint16_t>{14, 19});
  CHECK(p[1].integrity == std::vector<uint16_t>{12});
  CHECK(errors(base_connection({{"esp_proposals", {"aes256gcm16-modp1024"}}})) ==
        Lines{kLan + "esp_proposals[0]: \"modp1024\" in \"aes256gcm16-modp1024\" is insecure; "
                     "set \"allow_insecure\": true on the connection to accept it"});
}

TEST_CASE("fragmentation: on at 1280 bytes by default; off, or another size, per connection") {
  Connection c = loaded(base_connection());
  CHECK(c.fragmentation);
  CHECK(c.fragment_size == 1280);
  json conn = base_connection();
  conn.update({{"fragmentation", false}, {"fragment_size", 1400}});
  c = loaded(conn);
  CHECK_FALSE(c.fragmentation);
  CHECK(c.fragment_size == 1400);
  conn = base_connection();
  conn.update({{"fragment_size", 500}, {"fragmentation", "yes"}});
  auto e = errors(conn);
  REQUIRE(e.size() == 2);
  CHECK(e[0].find(kConn + "fragmentation: ") == 0);
  CHECK(e[1].find(kConn + "fragment_size: ") == 0);
  CHECK(e[1].find("576") != std::string::npos);
}
