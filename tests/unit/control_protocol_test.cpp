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
  a.worker = 3;
  a.child.state = "installed";
  a.child.spi_in = 0xc1a2b3c4;
  a.child.spi_out = 0x00000001;
  a.child.mode = "tunnel";
  a.child.local_ts = {"10.1.0.0/24", "10.3.0.0/24 proto 6 port 443-443"};
  a.child.remote_ts = {"10.2.0.0/24"};
  a.child.algorithms = "ENCR_AES_GCM_16_256";
  a.child.bytes_in = 12595;
  a.child.bytes_out = std::numeric_limits<uint64_t>::max();
  a.child.packets_in = 123;
  a.child.packets_out = 4567;
  a.child.age_seconds = 303;
  a.child.rekey_in_seconds = 3130;
  a.child.expire_in_seconds = 3480;
  s.ike_sas.push_back(a);

  IkeStatus b;
  b.connection = "from-left";
  b.state = "failed";
  b.spi_i = 1;
  b.local = "2001:db8::1[4500]";
  b.remote = "2001:db8::2[4500]";
  b.rekey_in_seconds = -1;
  b.failure = "AUTHENTICATION_FAILED: peer's PSK does not match";
  b.child.state = "failed";
  b.child.failure = "TS_UNACCEPTABLE";
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
  refused.details = {"/etc/ipsecctl/a.json: connections.x.remote.address: \"192.0.2.300\" is "
                     "not an IP address",
                     "/etc/ipsecctl/b.json: connections[1].psk_file: mode 0644, must be 0600"};
  back = round_trip(refused);
  CHECK_FALSE(back.ok);
  CHECK(back.error == "load refused: 2 problem(s)");
  CHECK(back.details == refused.details);

  // A success carries no details; an answer without data has an empty object.
  good.details = {"ignored"};
  CHECK(encode(good).find("details") == std::string::npos);
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
  CHECK(a.worker == 3);
  CHECK(a.child.spi_in == 0xc1a2b3c4u);
  CHECK(a.child.spi_out == 1u);
  CHECK(a.child.local_ts.size() == 2);
  CHECK(a.child.bytes_in == 12595);
  CHECK(a.child.bytes_out == std::numeric_limits<uint64_t>::max());
  CHECK(a.child.packets_in == 123);
  CHECK(a.child.packets_out == 4567);
  CHECK(a.child.age_seconds == 303);
  CHECK(a.child.rekey_in_seconds == 3130);
  CHECK(a.child.expire_in_seconds == 3480);
  const IkeStatus& b = back->ike_sas[1];
  CHECK(b.rekey_in_seconds == -1);
  CHECK(b.child.rekey_in_seconds == -1);
  CHECK(b.child.expire_in_seconds == -1);
  CHECK(b.failure == "AUTHENTICATION_FAILED: peer's PSK does not match");
  REQUIRE(back->closed.size() == 2);
  CHECK(back->closed[1].child_failure == "child gone");
  CHECK(back->counters["retransmits"] == 3);

  // SPIs travel as fixed-width hex strings, 8 digits for ESP and 16 for IKE
  CHECK(j["ike_sas"][0]["spi_i"] == "0x0123456789abcdef");
  CHECK(j["ike_sas"][0]["child"]["spi_out"] == "0x00000001");
}

TEST_CASE("status decoding ignores unknown fields") {
  json j = to_json(full_status());
  j["ike_sas"][0]["some_future_field"] = 3;
  j["ike_sas"][0]["child"]["some_future_field"] = "x";
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
  j["ike_sas"][0]["child"].erase("bytes_in");
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].child.bytes_in: missing");

  j = good;
  j["ike_sas"][1]["age_seconds"] = "12";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[1].age_seconds: expected an unsigned integer, got string");

  j = good;
  j["ike_sas"][0]["child"]["packets_out"] = -5;
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].child.packets_out: -5 is negative, "
                           "expected an unsigned integer");

  j = good;
  j["ike_sas"][0]["child"]["bytes_out"] = 1.5;
  CHECK(status_error(j).find("ike_sas[0].child.bytes_out: expected an unsigned integer") !=
        std::string::npos);

  j = good;
  j["ike_sas"][0]["rekey_in_seconds"] = std::numeric_limits<uint64_t>::max();
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].rekey_in_seconds: 18446744073709551615 is out of "
        "range");

  j = good;
  j["ike_sas"][0]["child"]["expire_in_seconds"] = "never";
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].child.expire_in_seconds: expected "
                           "an integer, got string");

  j = good;
  j["ike_sas"][0]["initiator"] = 1;
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].initiator: expected true or false, got number");

  j = good;
  j["ike_sas"][0]["child"]["spi_in"] = "0xzz";
  CHECK(status_error(j) == "bad status from ipsecd: ike_sas[0].child.spi_in: \"0xzz\" is not an "
                           "SPI (0x and up to 8 hex digits)");
  j["ike_sas"][0]["child"]["spi_in"] = "0x100000000";  // 33 bits
  CHECK(status_error(j).find("is not an SPI") != std::string::npos);
  j["ike_sas"][0]["child"]["spi_in"] = "1234";
  CHECK(status_error(j).find("is not an SPI") != std::string::npos);
  j["ike_sas"][0]["child"]["spi_in"] = 1234;
  CHECK(status_error(j).find("spi_in: expected a string, got number") != std::string::npos);

  j = good;
  j["ike_sas"][0]["child"]["local_ts"] = {"10.0.0.0/8", nullptr};
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].child.local_ts[1]: expected a string, got null");

  j = good;
  j["ike_sas"][0]["child"] = "installed";
  CHECK(status_error(j) ==
        "bad status from ipsecd: ike_sas[0].child: expected an object, got string");

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
  CHECK(err(std::string(kMaxLine + 1, ' ')) ==
        "bad response from ipsecd: longer than " + std::to_string(kMaxLine) + " bytes");
}

TEST_CASE("connection lists round-trip and decode strictly") {
  std::vector<ConnInfo> conns{{"to-right", "192.0.2.1", "192.0.2.2", "left@example.org",
                               "right@example.org", "net", "start"}};
  auto back = conns_from_json(to_json(conns));
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK((*back)[0].name == "to-right");
  CHECK((*back)[0].remote_id == "right@example.org");
  CHECK((*back)[0].start_action == "start");

  json j = to_json(conns);
  j["connections"][0].erase("child");
  auto bad = conns_from_json(j);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "bad connection list from ipsecd: connections[0].child: missing");
}

TEST_CASE("encoding never throws on bytes that are not UTF-8") {
  Request r{"up", std::string("bad\xff" "name"), {}};
  std::string line = encode(r);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(parse_request(line));
  Response f = Response::failure(std::string("no connection \"\xc3\""));
  CHECK(parse_response(encode(f)));
}
