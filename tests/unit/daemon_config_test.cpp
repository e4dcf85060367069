// SPDX-License-Identifier: Apache-2.0
// ipsecd's connections from files: loading, reqid allocation across loads, and the
// difference a load makes (added, removed, changed, unchanged).
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "daemon/config.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// A private copy of the example with its shared.psk 0600 (git keeps no modes: a fresh clone
// has it 0644, which the loader rightly refuses), removed at exit.
std::string example_copy() {
  namespace fs = std::filesystem;
  static const std::string dir = [] {
    fs::path d = fs::temp_directory_path() / ("ipsecd-example-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::copy(fs::path(IPSEC_SOURCE_DIR) / "policies/examples/ikev2-psk-tunnel", d);
    fs::permissions(d / "shared.psk", fs::perms::owner_read | fs::perms::owner_write);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("ipsecd-example-" + std::to_string(::getpid())),
                     ec);
    });
    return d.string() + "/";
  }();
  return dir;
}
const std::string kExample = example_copy();

daemon::DaemonConnection conn(const char* name, uint32_t file_reqid = 0) {
  daemon::DaemonConnection c{connection(true), {file_reqid}};
  c.config.children[0].start_action = ike::StartAction::Start;
  c.config.name = name;
  c.config.children[0].reqid = file_reqid;
  return c;
}

}  // namespace

TEST_CASE("load_connections: the example, on the daemon's port; errors name file and path") {
  auto r = daemon::load_connections({kExample + "left.json"}, 4500, true);
  REQUIRE(r.ok());
  REQUIRE(r.connections.size() == 1);
  CHECK(r.connections[0].config.name == "to-right");
  CHECK(r.connections[0].config.local.port == 4500);
  CHECK(r.connections[0].starts());
  CHECK(!r.connections[0].traps());
  CHECK(r.connections[0].config.children[0].start_action == ike::StartAction::Start);
  CHECK(r.connections[0].file_reqids == std::vector<uint32_t>{7});

  auto rel = daemon::load_connections({"left.json"}, 500, true);
  CHECK(!rel.ok());
  CHECK(rel.errors.at(0) == "left.json: not an absolute path");
  auto missing = daemon::load_connections({kExample + "nope.json"}, 500, true);
  CHECK(!missing.ok());
  CHECK(missing.errors.at(0).find("nope.json") != std::string::npos);
  CHECK(missing.connections.empty());
}

TEST_CASE("assign_reqids: the file's, then what the running set had, then the lowest free") {
  std::vector<daemon::DaemonConnection> running{conn("a"), conn("b")};
  daemon::assign_reqids(running);
  CHECK(running[0].config.children[0].reqid == 1);
  CHECK(running[1].config.children[0].reqid == 2);

  // b keeps 2; a new c takes 1? No: a still exists and keeps 1, c takes 3.
  std::vector<daemon::DaemonConnection> next{conn("c"), conn("b"), conn("a")};
  daemon::assign_reqids(next, running);
  CHECK(next[0].config.children[0].reqid == 3);
  CHECK(next[1].config.children[0].reqid == 2);
  CHECK(next[2].config.children[0].reqid == 1);

  // A file now claims 2: b gives it up and gets the lowest free.
  std::vector<daemon::DaemonConnection> claim{conn("d", 2), conn("b")};
  daemon::assign_reqids(claim, running);
  CHECK(claim[0].config.children[0].reqid == 2);
  CHECK(claim[1].config.children[0].reqid == 1);
}

TEST_CASE("diff: by name, sorted; any difference in what the engine uses is a change") {
  std::vector<daemon::DaemonConnection> running{conn("keep"), conn("drop"), conn("alter"),
                                                conn("psk"), conn("start")};
  daemon::assign_reqids(running);
  std::vector<daemon::DaemonConnection> next{conn("start"), conn("psk"), conn("alter"),
                                             conn("keep"), conn("new")};
  next[2].config.children[0].local_ts = {prefix("10.9.0.0/16")};
  const char* other = "another secret of reasonable length";
  next[1].config.psk =
      SecretBytes(ByteView(reinterpret_cast<const uint8_t*>(other), strlen(other)));
  next[0].config.children[0].start_action = ike::StartAction::None;
  daemon::assign_reqids(next, running);
  daemon::ConfigDiff d = daemon::diff(running, next);
  CHECK(d.added == std::vector<std::string>{"new"});
  CHECK(d.removed == std::vector<std::string>{"drop"});
  CHECK(d.changed == std::vector<std::string>{"alter", "psk", "start"});
  CHECK(d.unchanged == std::vector<std::string>{"keep"});
  // An allocated reqid is not part of the comparison; the file's is.
  daemon::DaemonConnection x = conn("x"), y = conn("x");
  x.config.children[0].reqid = 4;
  y.config.children[0].reqid = 9;
  CHECK(daemon::same_connection(x, y));
  CHECK(!daemon::same_connection(conn("x", 4), conn("x", 9)));
  // Every field counts, including ones added after the comparison was written.
  daemon::DaemonConnection e = conn("x");
  e.config.force_encap = true;
  CHECK(!daemon::same_connection(conn("x"), e));
}

TEST_CASE("diff: new CRLs alone keep a connection unchanged, listed in new_crls") {
  std::vector<daemon::DaemonConnection> running{conn("crl"), conn("both")};
  daemon::assign_reqids(running);
  std::vector<daemon::DaemonConnection> next = running;
  next[0].config.crls = {Bytes{1, 2, 3}};
  next[1].config.crls = {Bytes{1, 2, 3}};
  next[1].config.force_encap = true;
  daemon::ConfigDiff d = daemon::diff(running, next);
  CHECK(d.unchanged == std::vector<std::string>{"crl"});
  CHECK(d.new_crls == std::vector<std::string>{"crl"});
  CHECK(d.changed == std::vector<std::string>{"both"});
  CHECK(daemon::same_but_crls(running[0], next[0]));
  CHECK_FALSE(daemon::same_connection(running[0], next[0]));
}

TEST_CASE("changed_by_reqids: an unchanged connection whose reqid moved is changed") {
  std::vector<daemon::DaemonConnection> running{conn("a"), conn("b"), conn("c")};
  daemon::assign_reqids(running);  // a 1, b 2, c 3
  // A new file claims 2: b gets the lowest free one (4), so b is changed though its file
  // is not; c is changed by its file, a keeps its reqid and stays unchanged.
  std::vector<daemon::DaemonConnection> next{conn("d", 2), conn("c"), conn("b"), conn("a")};
  next[1].config.children[0].local_ts = {prefix("10.9.0.0/16")};
  daemon::assign_reqids(next, running);
  REQUIRE(next[2].config.children[0].reqid == 4);
  daemon::ConfigDiff d = daemon::diff(running, next);
  CHECK(d.changed == std::vector<std::string>{"c"});
  CHECK(d.unchanged == std::vector<std::string>{"a", "b"});
  daemon::changed_by_reqids(d, running, next);
  CHECK(d.added == std::vector<std::string>{"d"});
  CHECK(d.changed == std::vector<std::string>{"b", "c"});
  CHECK(d.unchanged == std::vector<std::string>{"a"});
  CHECK(d.removed.empty());
  // Nothing moved: nothing to do.
  daemon::ConfigDiff same = daemon::diff(running, running);
  daemon::changed_by_reqids(same, running, running);
  CHECK(same.unchanged == std::vector<std::string>{"a", "b", "c"});
  CHECK(same.changed.empty());
}

TEST_CASE("load_connections: the on-demand example; both start actions agree") {
  // git keeps no modes: a copy with its shared.psk 0600.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ipsecd-ondemand-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(fs::path(IPSEC_SOURCE_DIR) / "policies/examples/ikev2-psk-ondemand", dir);
  fs::permissions(dir / "shared.psk", fs::perms::owner_read | fs::perms::owner_write);
  auto left = daemon::load_connections({(dir / "left.json").string()}, 500, true);
  auto right = daemon::load_connections({(dir / "right.json").string()}, 500, true);
  fs::remove_all(dir);
  REQUIRE(left.ok());
  REQUIRE(right.ok());
  CHECK(left.connections.at(0).traps());
  CHECK(!left.connections.at(0).starts());
  CHECK(left.connections.at(0).config.children[0].start_action == ike::StartAction::Trap);
  CHECK(left.connections.at(0).config.dpd_delay == std::chrono::seconds(30));
  CHECK(!right.connections.at(0).traps());
  CHECK(!right.connections.at(0).starts());
  CHECK(right.connections.at(0).config.children[0].start_action == ike::StartAction::None);
}

TEST_CASE("diff: a change of a lifetime, DPD or action field is a change") {
  using std::chrono::seconds;
  std::vector<std::function<void(ike::ConnectionConfig&)>> edits = {
      [](auto& c) { c.ike_lifetime.rekey_time = seconds(7200); },
      [](auto& c) { c.ike_lifetime.reauth_time = seconds(3600); },
      [](auto& c) { c.ike_lifetime.over_time = seconds(1); },
      [](auto& c) { c.ike_lifetime.rand_time = seconds(1); },
      [](auto& c) { c.dpd_delay = seconds(30); },
      [](auto& c) { c.dpd_timeout = seconds(31); },
      [](auto& c) { c.children[0].lifetime.rekey_time = seconds(1800); },
      [](auto& c) { c.children[0].lifetime.life_time = seconds(4000); },
      [](auto& c) { c.children[0].lifetime.rand_time = seconds(1); },
      [](auto& c) { c.children[0].lifetime.rekey_bytes = 1; },
      [](auto& c) { c.children[0].lifetime.life_bytes = 1; },
      [](auto& c) { c.children[0].lifetime.rekey_packets = 1; },
      [](auto& c) { c.children[0].lifetime.life_packets = 1; },
      [](auto& c) { c.children[0].dpd_action = ike::PeerGoneAction::Trap; },
      [](auto& c) { c.children[0].close_action = ike::PeerGoneAction::Restart; },
      [](auto& c) { c.children[0].inactivity = seconds(60); },
      [](auto& c) { c.children[0].proposals[0].dh = {wire::DhGroup::Curve25519}; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    INFO("edit " << i);
    std::vector<daemon::DaemonConnection> running{conn("a")}, next{conn("a")};
    daemon::assign_reqids(running);
    edits[i](next[0].config);
    daemon::assign_reqids(next, running);
    daemon::ConfigDiff d = daemon::diff(running, next);
    CHECK(d.changed == std::vector<std::string>{"a"});
    CHECK(d.unchanged.empty());
  }
  // From the file: the same connection loaded twice is unchanged; a life_time edit is a change.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ipsecd-diff-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(fs::path(IPSEC_SOURCE_DIR) / "policies/examples/ikev2-psk-ondemand", dir);
  fs::permissions(dir / "shared.psk", fs::perms::owner_read | fs::perms::owner_write);
  auto before = daemon::load_connections({(dir / "left.json").string()}, 500, true);
  auto again = daemon::load_connections({(dir / "left.json").string()}, 500, true);
  {
    std::ifstream in(dir / "left.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto at = text.find("\"66m\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, 5, "\"70m\"");
    std::ofstream(dir / "left.json") << text;
  }
  auto after = daemon::load_connections({(dir / "left.json").string()}, 500, true);
  fs::remove_all(dir);
  REQUIRE(before.ok());
  REQUIRE(again.ok());
  REQUIRE(after.ok());
  daemon::assign_reqids(before.connections);
  daemon::assign_reqids(again.connections, before.connections);
  daemon::assign_reqids(after.connections, before.connections);
  CHECK(daemon::diff(before.connections, again.connections).unchanged ==
        std::vector<std::string>{"to-right"});
  CHECK(after.connections[0].config.children[0].lifetime.life_time == std::chrono::seconds(4200));
  CHECK(daemon::diff(before.connections, after.connections).changed ==
        std::vector<std::string>{"to-right"});
}
