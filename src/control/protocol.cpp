// The control socket protocol: JSON encoding and strict decoding of its messages.
#include "control/protocol.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace ipsec::control {

namespace {

using nlohmann::json;

// Parses "0x..." hex; the JSON layer's exceptions stay in this file.
uint64_t parse_hex(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 16); }

json child_json(const ChildStatus& c) {
  return json{{"state", c.state},          {"spi_in", spi_hex(c.spi_in, 8)},
              {"spi_out", spi_hex(c.spi_out, 8)}, {"mode", c.mode},
              {"local_ts", c.local_ts},    {"remote_ts", c.remote_ts},
              {"algorithms", c.algorithms}, {"failure", c.failure},
              {"bytes_in", c.bytes_in},    {"bytes_out", c.bytes_out},
              {"packets_in", c.packets_in}, {"packets_out", c.packets_out},
              {"age_seconds", c.age_seconds}, {"rekey_in_seconds", c.rekey_in_seconds},
              {"expire_in_seconds", c.expire_in_seconds}};
}

ChildStatus child_from(const json& j) {
  ChildStatus c;
  c.state = j.at("state").get<std::string>();
  c.spi_in = static_cast<uint32_t>(parse_hex(j.at("spi_in").get<std::string>()));
  c.spi_out = static_cast<uint32_t>(parse_hex(j.at("spi_out").get<std::string>()));
  c.mode = j.at("mode").get<std::string>();
  c.local_ts = j.at("local_ts").get<std::vector<std::string>>();
  c.remote_ts = j.at("remote_ts").get<std::vector<std::string>>();
  c.algorithms = j.at("algorithms").get<std::string>();
  c.failure = j.at("failure").get<std::string>();
  c.bytes_in = j.at("bytes_in").get<uint64_t>();
  c.bytes_out = j.at("bytes_out").get<uint64_t>();
  c.packets_in = j.at("packets_in").get<uint64_t>();
  c.packets_out = j.at("packets_out").get<uint64_t>();
  c.age_seconds = j.at("age_seconds").get<uint64_t>();
  c.rekey_in_seconds = j.at("rekey_in_seconds").get<int64_t>();
  c.expire_in_seconds = j.at("expire_in_seconds").get<int64_t>();
  return c;
}

json ike_json(const IkeStatus& s) {
  return json{{"connection", s.connection},
              {"state", s.state},
              {"initiator", s.initiator},
              {"spi_i", spi_hex(s.spi_i, 16)},
              {"spi_r", spi_hex(s.spi_r, 16)},
              {"local", s.local},
              {"remote", s.remote},
              {"algorithms", s.algorithms},
              {"age_seconds", s.age_seconds},
              {"rekey_in_seconds", s.rekey_in_seconds},
              {"failure", s.failure},
              {"child", child_json(s.child)}};
}

IkeStatus ike_from(const json& j) {
  IkeStatus s;
  s.connection = j.at("connection").get<std::string>();
  s.state = j.at("state").get<std::string>();
  s.initiator = j.at("initiator").get<bool>();
  s.spi_i = parse_hex(j.at("spi_i").get<std::string>());
  s.spi_r = parse_hex(j.at("spi_r").get<std::string>());
  s.local = j.at("local").get<std::string>();
  s.remote = j.at("remote").get<std::string>();
  s.algorithms = j.at("algorithms").get<std::string>();
  s.age_seconds = j.at("age_seconds").get<uint64_t>();
  s.rekey_in_seconds = j.at("rekey_in_seconds").get<int64_t>();
  s.failure = j.at("failure").get<std::string>();
  s.child = child_from(j.at("child"));
  return s;
}

}  // namespace

Response Response::failure(std::string message) {
  Response r;
  r.ok = false;
  r.error = std::move(message);
  return r;
}

std::string spi_hex(uint64_t spi, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*" PRIx64, digits, spi);
  return buf;
}

std::string encode(const Request& r) {
  json j{{"command", r.command}};
  if (!r.name.empty()) j["name"] = r.name;
  if (!r.files.empty()) j["files"] = r.files;
  return j.dump();
}

std::string encode(const Response& r) {
  json j{{"ok", r.ok}};
  if (r.ok)
    j["data"] = r.data;
  else
    j["error"] = r.error;
  if (!r.ok && !r.details.empty()) j["details"] = r.details;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Request> parse_request(std::string_view line) {
  try {
    json j = json::parse(line);
    Request r;
    r.command = j.at("command").get<std::string>();
    if (j.contains("name")) r.name = j.at("name").get<std::string>();
    if (j.contains("files")) r.files = j.at("files").get<std::vector<std::string>>();
    return r;
  } catch (const json::exception& e) {
    return fail(std::string("bad request: ") + e.what());
  }
}

Result<Response> parse_response(std::string_view line) {
  try {
    json j = json::parse(line);
    Response r;
    r.ok = j.at("ok").get<bool>();
    if (r.ok && j.contains("data")) r.data = j.at("data");
    if (!r.ok) r.error = j.at("error").get<std::string>();
    if (!r.ok && j.contains("details"))
      r.details = j.at("details").get<std::vector<std::string>>();
    return r;
  } catch (const json::exception& e) {
    return fail(std::string("bad response from ipsecd: ") + e.what());
  }
}

json to_json(const Status& s) {
  json ike = json::array();
  for (const auto& sa : s.ike_sas) ike.push_back(ike_json(sa));
  json closed = json::array();
  for (const auto& c : s.closed)
    closed.push_back(json{{"label", c.label},
                          {"state", c.state},
                          {"reason", c.reason},
                          {"child_failure", c.child_failure}});
  return json{{"ike_sas", ike}, {"closed", closed}, {"counters", s.counters}};
}

Result<Status> status_from_json(const json& j) {
  try {
    Status s;
    for (const auto& sa : j.at("ike_sas")) s.ike_sas.push_back(ike_from(sa));
    for (const auto& c : j.at("closed"))
      s.closed.push_back(ClosedStatus{c.at("label").get<std::string>(),
                                      c.at("state").get<std::string>(),
                                      c.at("reason").get<std::string>(),
                                      c.at("child_failure").get<std::string>()});
    s.counters = j.at("counters");
    return s;
  } catch (const json::exception& e) {
    return fail(std::string("bad status from ipsecd: ") + e.what());
  }
}

json to_json(const std::vector<ConnInfo>& conns) {
  json a = json::array();
  for (const auto& c : conns)
    a.push_back(json{{"name", c.name},
                     {"local", c.local},
                     {"remote", c.remote},
                     {"local_id", c.local_id},
                     {"remote_id", c.remote_id},
                     {"child", c.child},
                     {"start_action", c.start_action}});
  return json{{"connections", a}};
}

Result<std::vector<ConnInfo>> conns_from_json(const json& j) {
  try {
    std::vector<ConnInfo> out;
    for (const auto& c : j.at("connections"))
      out.push_back(ConnInfo{c.at("name").get<std::string>(), c.at("local").get<std::string>(),
                             c.at("remote").get<std::string>(),
                             c.at("local_id").get<std::string>(),
                             c.at("remote_id").get<std::string>(),
                             c.at("child").get<std::string>(),
                             c.at("start_action").get<std::string>()});
    return out;
  } catch (const json::exception& e) {
    return fail(std::string("bad connection list from ipsecd: ") + e.what());
  }
}

}  // namespace ipsec::control
