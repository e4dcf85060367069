// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/control: every request and response kind round-trips, and
// strict decoding turns every bad message into an error value naming the path.
#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "control/protocol.h"

using namespace ipsec;
using namespace ipsec::control;
using nlohmann::json;

namespace {

Request round_trip(const Request& r) {
  auto back = parse_request(encode(r));
  REQUIRE(back);
  return *back;
}

Response round_trip(const Response& r) {
  auto back = parse_response(encode(r));
  REQUIRE(back);
  return *back;
}

// Every field set, none at its default, both "none" (-1) and real times.
Status full_status() {
  Status s;
  IkeStatus a;
  a.connection = "to-right";
  a.state = "established";
  a.initiator = true;
  a.spi_i = 0x0123456789abcdefULL;
  a.spi_r = 0xfedcba9876543210ULL;
  a.local = "192.0.2.1[500]";
  a.remote = "192.0.2.2[500]";
  a.algorithms = "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519";
  a.age_seconds = 3725;
  a.rekey_in_seconds = 10620;
  a.expire_in_seconds = 12060;
  a.last_rekey_seconds_ago = 600;
  a.worker = 3;
  ChildStatus c;
  c.name = "net";
  c.state = "installed";
  c.spi_in = 0xc1a2b3c4;
  c.spi_out = 0x00000001;
  c.mode = "tunnel";
  c.local_ts = {"10.1.0.0/24", "10.3.0.0/24 proto 6 port 443-443"};
  c.remote_ts = {"10.2.0.0/24"};
  c.algorithms = "ENCR_AES_GCM_16_256";
  c.bytes_in = 12595;
  c.bytes_out = std::numeric_limits<uint64_t>::max();
  c.packets_in = 123;
  c.packets_out = 4567;
  c.age_seconds = 303;
  c.rekey_in_seconds = 3130;
  c.expire_in_seconds = 3480;
  c.last_rekey_seconds_ago = 303;
  c.replaces = 0xc1a2b3c0;
  a.children.push_back(c);
  ChildStatus old = c;  // the one it replaced, waiting for its Delete
  old.state = "rekeyed";
  old.spi_in = 0xc1a2b3c0;
  old.spi_out = 0xfffffffe;
  old.rekey_in_seconds = -1;
  old.expire_in_seconds = 57;
  old.last_rekey_seconds_ago = -1;
  old.replaces = 0;
  a.children.push_back(old);
  s.ike_sas.push_back(a);

  IkeStatus b;
  b.connection = "from-left";
  b.state = "failed";
  b.spi_i = 1;
  b.local = "2001:db8::1[4500]";
  b.remote = "2001:db8::2[4500]";
  b.rekey_in_seconds = -1;
  b.failure = "AUTHENTICATION_FAILED: peer's PSK does not match";
  ChildStatus f;
  f.name = "lan";
  f.state = "failed";
  f.failure = "TS_UNACCEPTABLE";
  b.children.push_back(f);
  s.ike_sas.push_back(b);

  s.closed.push_back({"to-right 0x0000000000000007", "failed", "peer not responding", ""});
  s.closed.push_back({"x", "closed", "deleted by peer", "child gone"});
  s.counters = json{{"retransmits", 3}, {"auth_failed", 1}};
  return s;
}

// The error of decoding `j` as a status, after replacing one field.
std::string status_error(const json& j) {
  auto s = status_from_json(j);
  REQUIRE_FALSE(s);
  return s.error().message;
}

}  // namespace

TEST_CASE("every request kind round-trips") {
  CHECK(encode(Request{"status", "", {}}) == R"({"command":"status"})");
  CHECK(round_trip(Request{"status", "", {}}).command == "status");
  CHECK(round_trip(Request{"list-conns", "", {}}).command == "list-conns");
  Request up = round_trip(Request{"up", "to-right", {}});
  CHECK(up.command == "up");
  CHECK(up.name == "to-right");
  Request down = round_trip(Request{"down", "to-right", {}});
  CHECK(down.command == "down");
  CHECK(down.name == "to-right");
  Request load =
      round_trip(Request{"load", "", {"/etc/ipsecctl/a.json", "/etc/ipsecctl/b c.json"}});
  CHECK(load.command == "load");
  CHECK(load.name.empty());
  CHECK(load.files == std::vector<std::string>{"/etc/ipsecctl/a.json", "/etc/ipsecctl/b c.json"});
  CHECK(encode(load) ==
        R"({"command":"load","files":["/etc/ipsecctl/a.json","/etc/ipsecctl/b c.json"]})");

  Request all{"down", "", {}};
  all.all = true;
  CHECK(encode(all) == R"({"all":true,"command":"down"})");
  Request all_back = round_trip(all);
  CHECK(all_back.command == "down");
  CHECK(all_back.all);
  CHECK(all_back.name.empty());
  CHECK_FALSE(round_trip(Request{"down", "to-right", {}}).all);
  CHECK(encode(Request{"down", "to-right", {}}).find("all") == std::string::npos);

  Request restart = round_trip(Request{"restart", "to-right", {}});
  CHECK(restart.command == "restart");
  CHECK(restart.name == "to-right");
  CHECK(encode(Request{"monitor", "", {}}) == R"({"command":"monitor"})");
  CHECK(round_trip(Request{"monitor", "", {}}).command == "monitor");
}

TEST_CASE("every response kind round-trips") {
  Response good;
  good.data = json{{"connection", "to-right"}, {"spi_i", "0x0000000000000001"}};
  Response back = round_trip(good);
  CHECK(back.ok);
  CHECK(back.data == good.data);
  CHECK(back.error.empty());

  Response bad = Response::failure("no connection \"x\"");
  back = round_trip(bad);
  CHECK_FALSE(back.ok);
  CHECK(back.error == "no connection \"x\"");
  CHECK(back.details.empty());
  CHECK(encode(bad) == R"({"error":"no connection \"x\"","ok":false})");

  Response refused = Response::failure("load refused: 2 problem(s)");
  refused.details = {
      "/etc/ipsecctl/a.json: connections.x.remote.address: \"192.0.2.300\" is "
      "not an IP address",
      "/etc/ipsecctl/b.json: connections[1].psk_file: mode 0644, must be 0600"};
  back = round_trip(refused);
  CHECK_FALSE(back.ok);
  CHECK(back.error == "load refused: 2 problem(s)");
  CHECK(back.details == refused.details);

  // A success may carry details (problems that did not fail it: a trap policy a load
  // could not install); none: no field. An answer without data has an empty object.
  CHECK(encode(Response{}).find("details") == std::string::npos);
  good.details = {"cannot install the trap policies of od: File exists"};
  back = round_trip(good);
  CHECK(back.ok);
  CHECK(back.details == good.details);
  auto bare = parse_response(R"({"ok":true})");
  REQUIRE(bare);
  CHECK(bare->data == json::object());
}

TEST_CASE("a load summary round-trips; a missing list is empty") {
  LoadSummary s{{"a", "b"}, {"c"}, {"e"}, {"d"}};
  auto back = load_summary_from_json(to_json(s));
  REQUIRE(back);
  CHECK(back->added == s.added);
  CHECK(back->changed == s.changed);
  CHECK(back->unchanged == s.unchanged);
  CHECK(back->removed == s.removed);

  auto partial = load_summary_from_json(json{{"added", {"a"}}});
  REQUIRE(partial);
  CHECK(partial->added == std::vector<std::string>{"a"});
  CHECK(partial->removed.empty());

  auto bad = load_summary_from_json(json{{"added", {"a", 3}}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message ==
        "bad load summary from ipsecd: added[1]: expected a string, got number");
  CHECK(load_summary_from_json(json{{"removed", "d"}}).error().message ==
        "bad load summary from ipsecd: removed: expected an array of strings, got string");
  CHECK(load_summary_from_json(json::array()).error().message ==
        "bad load summary from ipsecd: the message: expected an object, got array");
}

TEST_CASE("status round-trips with every field") {
  Status s = full_status();
  json j = to_json(s);
  // through the wire as the daemon sends it
  Response r;
  r.data = j;
  Response wire = round_trip(r);
  auto back = status_from_json(wire.data);
  REQUIRE(back);
  CHECK(to_json(*back) == j);

  REQUIRE(back->ike_sas.size() == 2);
  const IkeStatus& a = back->ike_sas[0];
  CHECK(a.spi_i == 0x0123456789abcdefULL);
  CHECK(a.spi_r == 0xfedcba9876543210ULL);
  CHECK(a.initiator);
  CHECK(a.age_seconds == 3725);
  CHECK(a.rekey_in_seconds == 10620);
  CHECK(a.expire_in_seconds == 12060);
  CHECK(a.last_rekey_seconds_ago == 600);
  CHECK(a.worker == 3);
  REQUIRE(a.children.size() == 2);
  const ChildStatus& c = a.children[0];
  CHECK(c.name == "net");
  CHECK(c.spi_in == 0xc1a2b3c4u);
  CHECK(c.spi_out == 1u);
  CHECK(c.local_ts.size() == 2);
  CHECK(c.bytes_in == 12595);
  CHECK(c.bytes_out == std::numeric_limits<uint64_t>::max());
  CHECK(c.packets_in == 123);
  CHECK(c.packets_out == 4567);
  CHECK(c.age_seconds == 303);
  CHECK(c.rekey_in_seconds == 3130);
  CHECK(c.expire_in_seconds == 3480);
  CHECK(c.last_rekey_seconds_ago == 303);
  CHECK(c.replaces == 0xc1a2b3c0u);
  CHECK(a.children[1].state == "rekeyed");
  CHECK(a.children[1].spi_out == 0xfffffffeu);
  CHECK(a.children[1].replaces == 0);
  CHECK(a.children[1].last_rekey_seconds_ago == -1);
  const IkeStatus& b = back->ike_sas[1];
  CHECK(b.rekey_in_seconds == -1);
  CHECK(b.expire_in_seconds == -1);
  CHECK(b.last_rekey_seconds_ago == -1);
  REQUIRE(b.children.size() == 1);
  CHECK(b.children[0].rekey_in_seconds == -1);
  CHECK(b.children[0].expire_in_seconds == -1);
  CHECK(b.children[0].last_rekey_seconds_ago == -1);
  CHECK(b.failure == "AUTHENTICATION_FAILED: peer's PSK does not match");
  REQUIRE(back->closed.size() == 2);
  CHECK(back->closed[1].child_failure == "child gone");
  CHECK(back->counters["retransmits"] == 3);

  // SPIs travel as fixed-width hex strings, 8 digits for ESP and 16 for IKE
  CHECK(j["ike_sas"][0]["spi_i"] == "0x0123456789abcdef");
  CHECK(j["ike_sas"][0]["children"][0]["spi_out"] == "0x00000001");
  CHECK(j["ike_sas"][0]["children"][1]["replaces"] == "0x00000000");
}

TEST_CASE("status: an IKE SA without CHILD SAs has an empty list") {
  Status s = full_status();
  s.ike_sas[1].children.clear();
  json j = to_json(s);
  CHECK(j["ike_sas"][1]["children"] == json::array());
  auto back = status_from_json(j);
  REQUIRE(back);
  CHECK(back->ike_sas[1].children.empty());
}

TEST_CASE("status decoding ignores unknown fields") {
  json j = to_json(full_status());
  j["ike_sas"][0]["some_future_field"] = 3;
  j["ike_sas"][0]["children"][1]["some_future_field"] = "x";
  j["version"] = 2;
  auto s = status_from_json(j);
  CHECK_MESSAGE(s, (s ? "" : s.error().message));
}

TEST_CASE("status: worker is optional, and 32 bits when present") {
  json j = to_json(full_status());
  j["ike_sas"][0].erase("worker");
  auto s = status_from_json(j);
  REQUIRE(s);
  CHECK(s->ike_sas[0].worker == 0);
  j["ike_sas"][0]["worker"] = 4294967296ULL;
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].worker: 4294967296 does not fit in 32 bits");
}

TEST_CASE("status decoding is strict and names the path") {
  const json good = to_json(full_status());
  json j = good;
  j["ike_sas"][0]["children"][0].erase("bytes_in");
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].children[0].bytes_in: missing");

  j = good;
  j["ike_sas"][1]["age_seconds"] = "12";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[1].age_seconds: expected an unsigned integer, got string");

  j = good;
  j["ike_sas"][0]["children"][0]["packets_out"] = -5;
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children[0].packets_out: -5 is negative, "
        "expected an unsigned integer");

  j = good;
  j["ike_sas"][0]["children"][0]["bytes_out"] = 1.5;
  CHECK(status_error(j).find("ike_sas[0].children[0].bytes_out: expected an unsigned integer") !=
        std::string::npos);

  j = good;
  j["ike_sas"][0]["rekey_in_seconds"] = std::numeric_limits<uint64_t>::max();
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].rekey_in_seconds: 18446744073709551615 is out of "
        "range");

  j = good;
  j["ike_sas"][0]["children"][0]["expire_in_seconds"] = "never";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children[0].expire_in_seconds: expected "
        "an integer, got string");

  j = good;
  j["ike_sas"][0]["initiator"] = 1;
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].initiator: expected true or false, got number");

  j = good;
  j["ike_sas"][0]["children"][0]["spi_in"] = "0xzz";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children[0].spi_in: \"0xzz\" is not an "
        "SPI (0x and up to 8 hex digits)");
  j["ike_sas"][0]["children"][0]["spi_in"] = "0x100000000";  // 33 bits
  CHECK(status_error(j).find("is not an SPI") != std::string::npos);
  j["ike_sas"][0]["children"][0]["spi_in"] = "1234";
  CHECK(status_error(j).find("is not an SPI") != std::string::npos);
  j["ike_sas"][0]["children"][0]["spi_in"] = 1234;
  CHECK(status_error(j).find("spi_in: expected a string, got number") != std::string::npos);

  j = good;
  j["ike_sas"][0]["children"][0]["local_ts"] = {"10.0.0.0/8", nullptr};
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children[0].local_ts[1]: expected a string, got null");

  j = good;
  j["ike_sas"][0]["children"][1] = "installed";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children[1]: expected an object, got string");

  j = good;
  j["ike_sas"][0]["children"] = json::object();
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children: expected an array, got object");

  j = good;
  j["ike_sas"][0].erase("children");
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].children: missing");

  j = good;
  j["ike_sas"][0]["child"] = j["ike_sas"][0]["children"][0];  // the old single child
  j["ike_sas"][0].erase("children");
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].children: missing");

  for (const char* key : {"expire_in_seconds", "last_rekey_seconds_ago"}) {
    j = good;
    j["ike_sas"][1].erase(key);
    CHECK(status_error(j) ==
          std::string("bad status from ipsecd: ike_sas[1].") + key + ": missing");
    j = good;
    j["ike_sas"][0]["children"][1][key] = true;
    CHECK(status_error(j) == std::string("bad status from ipsecd: ike_sas[0].children[1].") + key +
                                 ": expected an integer, got boolean");
  }

  j = good;
  j["ike_sas"][0]["children"][1].erase("name");
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].children[1].name: missing");

  j = good;
  j["ike_sas"][0]["children"][0]["replaces"] = "0x1234567890";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].children[0].replaces: "
        "\"0x1234567890\" is not an SPI (0x and up to 8 hex digits)");
  j["ike_sas"][0]["children"][0].erase("replaces");
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].children[0].replaces: missing");

  j = good;
  j["closed"][1].erase("reason");
  CHECK(status_error(j) == "bad status from ipsecd: closed[1].reason: missing");

  j = good;
  j["ike_sas"] = json::object();
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas: expected an array, got object");

  j = good;
  j["counters"] = json::array();
  CHECK(status_error(j) == "bad status from ipsecd: counters: expected an object, got array");

  CHECK(status_error(json("status")) ==
        "bad status from ipsecd: the message: expected an object, got string");
}

TEST_CASE("request decoding is strict") {
  auto err = [](std::string_view line) {
    auto r = parse_request(line);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(err("status") == "bad request: not valid JSON");
  CHECK(err("") == "bad request: not valid JSON");
  CHECK(err(R"({"command":"up","name":"a"} trailing)") == "bad request: not valid JSON");
  CHECK(err(R"({"command":"status","all":1e999999})") ==
        "bad request: not valid JSON: a number is out of range");
  CHECK(err(R"({"command":123456789012345678901234567890})") ==
        "bad request: command: expected a string, got number");
  CHECK(err("{}") == "bad request: command: missing");
  CHECK(err("[]") == "bad request: the message: expected an object, got array");
  CHECK(err(R"({"command":7})") == "bad request: command: expected a string, got number");
  CHECK(err(R"({"command":"up","name":["a"]})") ==
        "bad request: name: expected a string, got array");
  CHECK(err(R"({"command":"load","files":"/a.json"})") ==
        "bad request: files: expected an array of strings, got string");
  CHECK(err(R"({"command":"load","files":["/a.json",1]})") ==
        "bad request: files[1]: expected a string, got number");
  CHECK(err(R"({"command":"load","files":["/a.json","b.json"]})") ==
        "bad request: files[1]: \"b.json\" is not an absolute path");
  CHECK(err(R"({"command":"load","files":[""]})") ==
        "bad request: files[0]: \"\" is not an absolute path");
  CHECK(err(R"({"command":"down","all":1})") ==
        "bad request: all: expected true or false, got number");
  CHECK(err(R"({"command":"down","all":"yes"})") ==
        "bad request: all: expected true or false, got string");

  // oversized: refused before parsing
  std::string big = R"({"command":"load","files":[")" + std::string(kMaxLine, 'a') + R"("]})";
  CHECK(err(big) == "bad request: longer than " + std::to_string(kMaxLine) + " bytes");

  // deep nesting within the size limit is an error value, not a crash
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  CHECK(err(deep) == "bad request: the message: expected an object, got array");

  // unknown fields are ignored (a newer ipsecctl may send more)
  auto r = parse_request(R"({"command":"status","verbose":true})");
  REQUIRE(r);
  CHECK(r->command == "status");
}

TEST_CASE("response decoding is strict") {
  auto err = [](std::string_view line) {
    auto r = parse_response(line);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(err("{") == "bad response from ipsecd: not valid JSON");
  CHECK(err(R"({"data":{}})") == "bad response from ipsecd: ok: missing");
  CHECK(err(R"({"ok":"yes"})") ==
        "bad response from ipsecd: ok: expected true or false, got string");
  CHECK(err(R"({"ok":false})") == "bad response from ipsecd: error: missing");
  CHECK(err(R"({"ok":false,"error":"x","details":"one"})") ==
        "bad response from ipsecd: details: expected an array of strings, got string");
  CHECK(err(R"({"ok":false,"error":"x","details":["a",{}]})") ==
        "bad response from ipsecd: details[1]: expected a string, got object");
  CHECK(err(R"({"ok":true,"data":{},"details":"one"})") ==
        "bad response from ipsecd: details: expected an array of strings, got string");
  CHECK(err(R"({"ok":true,"data":{"n":1e999999}})") ==
        "bad response from ipsecd: not valid JSON: a number is out of range");
  // An answer may be longer than a request (kMaxAnswer, 256 MiB; not allocated here).
  std::string big = R"({"ok":true,"data":{"x":")" + std::string(kMaxLine, 'a') + R"("}})";
  auto r = parse_response(big);
  REQUIRE(r);
  CHECK(r->data["x"].get<std::string>().size() == kMaxLine);
  CHECK(kMaxAnswer >= 256 * kMaxLine);
}

TEST_CASE("connection lists round-trip and decode strictly") {
  ConnInfo c{"to-right",          "192.0.2.1", "192.0.2.2", "left@example.org",
             "right@example.org", "net",       "trap"};
  c.trapped = true;
  c.child_rekey_seconds = 3600;
  c.child_life_seconds = 3960;
  c.ike_rekey_seconds = 14400;
  c.ike_reauth_seconds = 0;
  c.dpd_delay_seconds = 30;
  c.dpd_timeout_seconds = 120;
  c.dpd_action = "restart";
  c.close_action = "trap";
  std::vector<ConnInfo> conns{c};
  auto back = conns_from_json(to_json(conns));
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  const ConnInfo& b = (*back)[0];
  CHECK(b.name == "to-right");
  CHECK(b.remote_id == "right@example.org");
  CHECK(b.start_action == "trap");
  CHECK(b.trapped);
  CHECK(b.child_rekey_seconds == 3600);
  CHECK(b.child_life_seconds == 3960);
  CHECK(b.ike_rekey_seconds == 14400);
  CHECK(b.ike_reauth_seconds == 0);
  CHECK(b.dpd_delay_seconds == 30);
  CHECK(b.dpd_timeout_seconds == 120);
  CHECK(b.dpd_action == "restart");
  CHECK(b.close_action == "trap");

  json j = to_json(conns);
  j["connections"][0].erase("child");
  auto bad = conns_from_json(j);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "bad connection list from ipsecd: connections[0].child: missing");
  j = to_json(conns);
  j["connections"][0]["trapped"] = "yes";
  CHECK(conns_from_json(j).error().message ==
        "bad connection list from ipsecd: connections[0].trapped: expected true or false, got "
        "string");
  j = to_json(conns);
  j["connections"][0]["dpd_delay_seconds"] = -1;
  CHECK(conns_from_json(j).error().message ==
        "bad connection list from ipsecd: connections[0].dpd_delay_seconds: -1 is negative, "
        "expected an unsigned integer");
  j = to_json(conns);
  j["connections"][0].erase("close_action");
  CHECK(conns_from_json(j).error().message ==
        "bad connection list from ipsecd: connections[0].close_action: missing");
}

TEST_CASE("monitor events: fields by kind, round trip, strict decoding") {
  Event e;
  e.event = "child-rekeyed";
  e.time = "2026-11-23T10:00:00Z";
  e.connection = "to-right";
  e.child = "lan";
  e.ike_spi = 0x0123456789abcdefULL;
  e.spi_in = 0xc0000002;
  e.spi_out = 0xc1000002;
  e.old_spi_in = 0xc0000001;
  std::string line = encode(e);
  CHECK(line == R"({"child":"lan","connection":"to-right","event":"child-rekeyed",)"
                R"("ike_spi":"0x0123456789abcdef","old_spi_in":"0xc0000001","spi_in":"0xc0000002",)"
                R"("spi_out":"0xc1000002","time":"2026-11-23T10:00:00Z"})");
  auto back = parse_event(line);
  REQUIRE(back);
  CHECK(back->event == "child-rekeyed");
  CHECK(back->time == e.time);
  CHECK(back->child == "lan");
  CHECK(back->ike_spi == e.ike_spi);
  CHECK(back->spi_in == e.spi_in);
  CHECK(back->spi_out == e.spi_out);
  CHECK(back->old_spi_in == e.old_spi_in);
  CHECK(back->old_ike_spi == 0);
  CHECK(back->reason.empty());

  // Unset fields are left out: an ike-down has no CHILD SPIs, an acquire no SPI at all.
  Event down{"ike-down", "2026-11-23T10:00:01Z", "to-right", "", 7, 0, 0, 0,
             0,          "deleted by peer",      ""};
  CHECK(encode(down) == R"({"connection":"to-right","event":"ike-down",)"
                        R"("ike_spi":"0x0000000000000007","reason":"deleted by peer",)"
                        R"("time":"2026-11-23T10:00:01Z"})");
  Event rekeyed{"ike-rekeyed", "t", "c", "", 9, 7, 0, 0, 0, "", ""};
  auto r = parse_event(encode(rekeyed));
  REQUIRE(r);
  CHECK(r->ike_spi == 9);
  CHECK(r->old_ike_spi == 7);
  Event acquire{"acquire", "t", "od", "lan", 0, 0, 0, 0, 0, "", "10.1.0.5 -> 10.2.0.7 proto 1"};
  CHECK(encode(acquire).find("spi") == std::string::npos);
  CHECK(parse_event(encode(acquire))->detail == "10.1.0.5 -> 10.2.0.7 proto 1");

  auto err = [](std::string_view l) {
    auto ev = parse_event(l);
    REQUIRE_FALSE(ev);
    return ev.error().message;
  };
  CHECK(err("{") == "bad event from ipsecd: not valid JSON");
  CHECK(err(R"({"time":"t","connection":"c"})") == "bad event from ipsecd: event: missing");
  CHECK(err(R"({"event":"ike-up","connection":"c"})") == "bad event from ipsecd: time: missing");
  CHECK(err(R"({"event":"ike-up","time":"t"})") == "bad event from ipsecd: connection: missing");
  CHECK(err(R"({"event":"ike-up","time":"t","connection":"c","ike_spi":7})") ==
        "bad event from ipsecd: ike_spi: expected a string, got number");
  CHECK(err(R"({"event":"child-up","time":"t","connection":"c","spi_in":"0x123456789"})") ==
        "bad event from ipsecd: spi_in: \"0x123456789\" is not an SPI (0x and up to 8 hex "
        "digits)");
  CHECK(err(R"({"event":"ike-down","time":"t","connection":"c","reason":["x"]})") ==
        "bad event from ipsecd: reason: expected a string, got array");
  // a newer daemon's fields are ignored
  CHECK(parse_event(R"({"event":"x","time":"t","connection":"c","future":1})"));
}

TEST_CASE("utc_time: ISO 8601 in UTC") {
  CHECK(utc_time(0) == "1970-01-01T00:00:00Z");
  CHECK(utc_time(1795428000) == "2026-11-23T10:00:00Z");
}

TEST_CASE("encoding never throws on bytes that are not UTF-8") {
  Request r{"up",
            std::string("bad\xff"
                        "name"),
            {}};
  std::string line = encode(r);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(parse_request(line));
  Response f = Response::failure(std::string("no connection \"\xc3\""));
  CHECK(parse_response(encode(f)));
}

TEST_CASE("encode_status writes what to_json and dump() would, without the document") {
  Status s = full_status();
  // Strings that need escaping: quotes, backslashes, control characters, UTF-8, bytes
  // that are not UTF-8 (replaced, as encode() does).
  s.ike_sas[0].peer_id = "fqdn:a\"b\\c\x1b[31m\n";
  s.ike_sas[0].peer_cert = "C=DE, O=M\xc3\xbcller, CN=\xff";
  s.ike_sas[1].children[0].local_ts.push_back("tab\there");
  s.closed[0].reason = std::string("nul\0inside", 10);
  s.ike_sas.push_back(IkeStatus{});  // every field at its default, no children
  const auto dumped = [](const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  CHECK(encode_status(s) == dumped(to_json(s)));
  CHECK(encode_status(Status{}) == dumped(to_json(Status{})));
  // As a response's data, with and without details: the same line either way.
  Response doc, text;
  doc.data = to_json(s);
  text.data_text = encode_status(s);
  CHECK(encode(text) == encode(doc));
  doc.details = text.details = {"trap of x: failed", "y\xff"};
  CHECK(encode(text) == encode(doc));
  auto back = parse_response(encode(text));
  REQUIRE(back);
  auto status = status_from_json(back->data);
  REQUIRE(status);
  CHECK(status->ike_sas[0].peer_id == s.ike_sas[0].peer_id);
  CHECK(status->ike_sas.size() == 3);
}
