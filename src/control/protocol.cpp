// SPDX-License-Identifier: Apache-2.0
// The control socket protocol: JSON encoding and strict decoding of its messages.
#include "control/protocol.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <limits>
#include <stdexcept>

namespace ipsec::control {

namespace {

using nlohmann::json;

// A field that is missing or of the wrong type, with its JSON path. Thrown and
// caught only in this file: the decoders return it as a Result's error.
struct BadField : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the fields of one JSON object, naming "path.key" in every error.
class Fields {
 public:
  Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object())
      throw BadField((path_.empty() ? std::string("the message") : path_) +
                     ": expected an object, got " + j_.type_name());
  }

  bool has(const char* key) const { return j_.contains(key); }
  std::string path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const json& at(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end()) throw BadField(path(key) + ": missing");
    return *it;
  }
  std::string str(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) wrong(key, "a string", v);
    return v.get<std::string>();
  }
  bool boolean(const char* key) const {
    const json& v = at(key);
    if (!v.is_boolean()) wrong(key, "true or false", v);
    return v.get<bool>();
  }
  uint64_t u64(const char* key) const {
    const json& v = at(key);
    // A JSON text's non-negative integers parse as unsigned; one built in
    // memory from a signed value is signed, and is as good when not negative.
    if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0)
      throw BadField(path(key) + ": " + v.dump() + " is negative, expected an unsigned integer");
    if (!v.is_number_integer()) wrong(key, "an unsigned integer", v);
    return v.get<uint64_t>();
  }
  uint32_t u32(const char* key) const {
    uint64_t v = u64(key);
    if (v > std::numeric_limits<uint32_t>::max())
      throw BadField(path(key) + ": " + std::to_string(v) + " does not fit in 32 bits");
    return static_cast<uint32_t>(v);
  }
  int64_t i64(const char* key) const {
    const json& v = at(key);
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      throw BadField(path(key) + ": " + v.dump() + " is out of range");
    if (!v.is_number_integer()) wrong(key, "an integer", v);
    return v.get<int64_t>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json& v = at(key);
    if (!v.is_array()) wrong(key, "an array of strings", v);
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        throw BadField(path(key) + "[" + std::to_string(i) + "]: expected a string, got " +
                       v[i].type_name());
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }
  // "0x" and 1 to `digits` hex digits, as spi_hex writes them.
  uint64_t spi(const char* key, int digits) const {
    std::string s = str(key);
    bool good = s.size() > 2 && s.size() <= size_t(digits) + 2 && s[0] == '0' && s[1] == 'x';
    uint64_t v = 0;
    for (size_t i = 2; good && i < s.size(); ++i) {
      char c = s[i];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) good = false;
      v = v << 4 | uint64_t(d);
    }
    if (!good)
      throw BadField(path(key) + ": \"" + s + "\" is not an SPI (0x and up to " +
                     std::to_string(digits) + " hex digits)");
    return v;
  }

  // The elements of an array field, each with its path ("ike_sas[2]").
  template <class F>
  void each(const char* key, F f) const {
    const json& v = at(key);
    if (!v.is_array()) wrong(key, "an array", v);
    for (size_t i = 0; i < v.size(); ++i) f(v[i], path(key) + "[" + std::to_string(i) + "]");
  }

 private:
  [[noreturn]] void wrong(const char* key, const char* want, const json& v) const {
    throw BadField(path(key) + ": expected " + want + ", got " + v.type_name());
  }

  const json& j_;
  std::string path_;
};

// Runs a decoder; its errors become a Result's error, prefixed with `what`.
template <class T, class F>
Result<T> decode(const char* what, F f) {
  try {
    return f();
  } catch (const BadField& e) {
    return fail(std::string(what) + ": " + e.what());
  } catch (const json::exception& e) {
    return fail(std::string(what) + ": " + e.what());
  }
}

json parse_line(std::string_view line, size_t limit) {
  if (line.size() > limit) throw BadField("longer than " + std::to_string(limit) + " bytes");
  try {
    return json::parse(line);
  } catch (const json::out_of_range&) {  // 1e999999: no double holds it
    throw BadField("not valid JSON: a number is out of range");
  } catch (const json::exception&) {
    throw BadField("not valid JSON");
  }
}

json child_json(const ChildStatus& c) {
  return json{{"name", c.name},
              {"state", c.state},
              {"spi_in", spi_hex(c.spi_in, 8)},
              {"spi_out", spi_hex(c.spi_out, 8)},
              {"mode", c.mode},
              {"local_ts", c.local_ts},
              {"remote_ts", c.remote_ts},
              {"algorithms", c.algorithms},
              {"failure", c.failure},
              {"bytes_in", c.bytes_in},
              {"bytes_out", c.bytes_out},
              {"packets_in", c.packets_in},
              {"packets_out", c.packets_out},
              {"age_seconds", c.age_seconds},
              {"rekey_in_seconds", c.rekey_in_seconds},
              {"expire_in_seconds", c.expire_in_seconds},
              {"last_rekey_seconds_ago", c.last_rekey_seconds_ago},
              {"replaces", spi_hex(c.replaces, 8)}};
}

ChildStatus child_from(const json& j, const std::string& path) {
  Fields f(j, path);
  ChildStatus c;
  c.name = f.str("name");
  c.state = f.str("state");
  c.spi_in = static_cast<uint32_t>(f.spi("spi_in", 8));
  c.spi_out = static_cast<uint32_t>(f.spi("spi_out", 8));
  c.mode = f.str("mode");
  c.local_ts = f.strings("local_ts");
  c.remote_ts = f.strings("remote_ts");
  c.algorithms = f.str("algorithms");
  c.failure = f.str("failure");
  c.bytes_in = f.u64("bytes_in");
  c.bytes_out = f.u64("bytes_out");
  c.packets_in = f.u64("packets_in");
  c.packets_out = f.u64("packets_out");
  c.age_seconds = f.u64("age_seconds");
  c.rekey_in_seconds = f.i64("rekey_in_seconds");
  c.expire_in_seconds = f.i64("expire_in_seconds");
  c.last_rekey_seconds_ago = f.i64("last_rekey_seconds_ago");
  c.replaces = static_cast<uint32_t>(f.spi("replaces", 8));
  return c;
}

json ike_json(const IkeStatus& s) {
  json children = json::array();
  for (const auto& c : s.children) children.push_back(child_json(c));
  return json{{"connection", s.connection},
              {"state", s.state},
              {"initiator", s.initiator},
              {"spi_i", spi_hex(s.spi_i, 16)},
              {"spi_r", spi_hex(s.spi_r, 16)},
              {"local", s.local},
              {"remote", s.remote},
              {"algorithms", s.algorithms},
              {"peer_id", s.peer_id},
              {"peer_auth", s.peer_auth},
              {"peer_cert", s.peer_cert},
              {"age_seconds", s.age_seconds},
              {"rekey_in_seconds", s.rekey_in_seconds},
              {"expire_in_seconds", s.expire_in_seconds},
              {"last_rekey_seconds_ago", s.last_rekey_seconds_ago},
              {"worker", s.worker},
              {"failure", s.failure},
              {"children", children}};
}

IkeStatus ike_from(const json& j, const std::string& path) {
  Fields f(j, path);
  IkeStatus s;
  s.connection = f.str("connection");
  s.state = f.str("state");
  s.initiator = f.boolean("initiator");
  s.spi_i = f.spi("spi_i", 16);
  s.spi_r = f.spi("spi_r", 16);
  s.local = f.str("local");
  s.remote = f.str("remote");
  s.algorithms = f.str("algorithms");
  if (f.has("peer_id")) s.peer_id = f.str("peer_id");
  if (f.has("peer_auth")) s.peer_auth = f.str("peer_auth");
  if (f.has("peer_cert")) s.peer_cert = f.str("peer_cert");
  s.age_seconds = f.u64("age_seconds");
  s.rekey_in_seconds = f.i64("rekey_in_seconds");
  s.expire_in_seconds = f.i64("expire_in_seconds");
  s.last_rekey_seconds_ago = f.i64("last_rekey_seconds_ago");
  if (f.has("worker")) s.worker = f.u32("worker");
  s.failure = f.str("failure");
  f.each("children", [&](const json& c, const std::string& child_path) {
    s.children.push_back(child_from(c, child_path));
  });
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
  if (r.all) j["all"] = true;
  if (r.keep) j["keep"] = true;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode(const Response& r) {
  if (r.ok && !r.data_text.empty()) {  // {"data":...,"details":[...],"ok":true}, as dump() has it
    std::string out = "{\"data\":" + r.data_text;
    if (!r.details.empty())
      out += ",\"details\":" + json(r.details).dump(-1, ' ', false, json::error_handler_t::replace);
    return out + ",\"ok\":true}";
  }
  json j{{"ok", r.ok}};
  if (r.ok)
    j["data"] = r.data;
  else
    j["error"] = r.error;
  if (!r.details.empty()) j["details"] = r.details;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Request> parse_request(std::string_view line) {
  return decode<Request>("bad request", [&] {
    json j = parse_line(line, kMaxLine);
    Fields f(j, "");
    Request r;
    r.command = f.str("command");
    if (f.has("name")) r.name = f.str("name");
    if (f.has("files")) r.files = f.strings("files");
    if (f.has("all")) r.all = f.boolean("all");
    if (f.has("keep")) r.keep = f.boolean("keep");
    for (size_t i = 0; i < r.files.size(); ++i)
      if (r.files[i].empty() || r.files[i][0] != '/')
        throw BadField("files[" + std::to_string(i) + "]: \"" + r.files[i] +
                       "\" is not an absolute path");
    return r;
  });
}

Result<Response> parse_response(std::string_view line) {
  return decode<Response>("bad response from ipsecd", [&] {
    json j = parse_line(line, kMaxAnswer);
    Fields f(j, "");
    Response r;
    r.ok = f.boolean("ok");
    if (r.ok && f.has("data")) r.data = f.at("data");
    if (!r.ok) r.error = f.str("error");
    if (f.has("details")) r.details = f.strings("details");
    return r;
  });
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

namespace {

// Members of one JSON object, written in the order given: callers give them sorted, as
// nlohmann's objects keep them, so the text equals to_json(...).dump().
class ObjectText {
 public:
  explicit ObjectText(std::string& out) : out_(out) { out_ += '{'; }
  void end() { out_ += '}'; }
  std::string& key(std::string_view k) {
    out_ += first_ ? "\"" : ",\"";
    first_ = false;
    out_ += k;
    out_ += "\":";
    return out_;
  }
  void str(std::string_view k, const std::string& v) { put(key(k), v); }
  void u64(std::string_view k, uint64_t v) { key(k) += std::to_string(v); }
  void i64(std::string_view k, int64_t v) { key(k) += std::to_string(v); }
  void boolean(std::string_view k, bool v) { key(k) += v ? "true" : "false"; }
  void strings(std::string_view k, const std::vector<std::string>& v) {
    key(k) += '[';
    for (size_t i = 0; i < v.size(); ++i) put(i == 0 ? out_ : out_ += ',', v[i]);
    out_ += ']';
  }

  // A JSON string: printable ASCII as is (nearly every name, address and SPI), anything
  // else through nlohmann's escaping (control characters, invalid UTF-8 replaced).
  static void put(std::string& out, const std::string& v) {
    bool plain = std::all_of(v.begin(), v.end(),
                             [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain)
      out.append("\"").append(v).append("\"");
    else
      out += json(v).dump(-1, ' ', false, json::error_handler_t::replace);
  }

 private:
  std::string& out_;
  bool first_ = true;
};

void put_child(std::string& out, const ChildStatus& c) {
  ObjectText o(out);
  o.u64("age_seconds", c.age_seconds);
  o.str("algorithms", c.algorithms);
  o.u64("bytes_in", c.bytes_in);
  o.u64("bytes_out", c.bytes_out);
  o.i64("expire_in_seconds", c.expire_in_seconds);
  o.str("failure", c.failure);
  o.i64("last_rekey_seconds_ago", c.last_rekey_seconds_ago);
  o.strings("local_ts", c.local_ts);
  o.str("mode", c.mode);
  o.str("name", c.name);
  o.u64("packets_in", c.packets_in);
  o.u64("packets_out", c.packets_out);
  o.i64("rekey_in_seconds", c.rekey_in_seconds);
  o.strings("remote_ts", c.remote_ts);
  o.str("replaces", spi_hex(c.replaces, 8));
  o.str("spi_in", spi_hex(c.spi_in, 8));
  o.str("spi_out", spi_hex(c.spi_out, 8));
  o.str("state", c.state);
  o.end();
}

void put_ike(std::string& out, const IkeStatus& s) {
  ObjectText o(out);
  o.u64("age_seconds", s.age_seconds);
  o.str("algorithms", s.algorithms);
  o.key("children") += '[';
  for (size_t i = 0; i < s.children.size(); ++i)
    put_child(i == 0 ? out : out += ',', s.children[i]);
  out += ']';
  o.str("connection", s.connection);
  o.i64("expire_in_seconds", s.expire_in_seconds);
  o.str("failure", s.failure);
  o.boolean("initiator", s.initiator);
  o.i64("last_rekey_seconds_ago", s.last_rekey_seconds_ago);
  o.str("local", s.local);
  o.str("peer_auth", s.peer_auth);
  o.str("peer_cert", s.peer_cert);
  o.str("peer_id", s.peer_id);
  o.i64("rekey_in_seconds", s.rekey_in_seconds);
  o.str("remote", s.remote);
  o.str("spi_i", spi_hex(s.spi_i, 16));
  o.str("spi_r", spi_hex(s.spi_r, 16));
  o.str("state", s.state);
  o.u64("worker", s.worker);
  o.end();
}

}  // namespace

std::string encode_status(const Status& s) {
  std::string out;
  out.reserve(1024 + s.ike_sas.size() * 1024);
  ObjectText o(out);
  o.key("closed") += '[';
  for (size_t i = 0; i < s.closed.size(); ++i) {
    ObjectText c(i == 0 ? out : out += ',');
    c.str("child_failure", s.closed[i].child_failure);
    c.str("label", s.closed[i].label);
    c.str("reason", s.closed[i].reason);
    c.str("state", s.closed[i].state);
    c.end();
  }
  out += ']';
  o.key("counters") += s.counters.dump(-1, ' ', false, json::error_handler_t::replace);
  o.key("ike_sas") += '[';
  for (size_t i = 0; i < s.ike_sas.size(); ++i) put_ike(i == 0 ? out : out += ',', s.ike_sas[i]);
  out += ']';
  o.end();
  return out;
}

Result<Status> status_from_json(const json& j) {
  return decode<Status>("bad status from ipsecd", [&] {
    Fields f(j, "");
    Status s;
    f.each("ike_sas", [&](const json& sa, const std::string& path) {
      s.ike_sas.push_back(ike_from(sa, path));
    });
    f.each("closed", [&](const json& c, const std::string& path) {
      Fields cf(c, path);
      s.closed.push_back(ClosedStatus{cf.str("label"), cf.str("state"), cf.str("reason"),
                                      cf.str("child_failure")});
    });
    s.counters = f.at("counters");
    if (!s.counters.is_object())
      throw BadField(std::string("counters: expected an object, got ") + s.counters.type_name());
    return s;
  });
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
                     {"start_action", c.start_action},
                     {"trapped", c.trapped},
                     {"child_rekey_seconds", c.child_rekey_seconds},
                     {"child_life_seconds", c.child_life_seconds},
                     {"ike_rekey_seconds", c.ike_rekey_seconds},
                     {"ike_reauth_seconds", c.ike_reauth_seconds},
                     {"dpd_delay_seconds", c.dpd_delay_seconds},
                     {"dpd_timeout_seconds", c.dpd_timeout_seconds},
                     {"dpd_action", c.dpd_action},
                     {"close_action", c.close_action}});
  return json{{"connections", a}};
}

Result<std::vector<ConnInfo>> conns_from_json(const json& j) {
  return decode<std::vector<ConnInfo>>("bad connection list from ipsecd", [&] {
    std::vector<ConnInfo> out;
    Fields(j, "").each("connections", [&](const json& c, const std::string& path) {
      Fields f(c, path);
      ConnInfo i;
      i.name = f.str("name");
      i.local = f.str("local");
      i.remote = f.str("remote");
      i.local_id = f.str("local_id");
      i.remote_id = f.str("remote_id");
      i.child = f.str("child");
      i.start_action = f.str("start_action");
      i.trapped = f.boolean("trapped");
      i.child_rekey_seconds = f.u64("child_rekey_seconds");
      i.child_life_seconds = f.u64("child_life_seconds");
      i.ike_rekey_seconds = f.u64("ike_rekey_seconds");
      i.ike_reauth_seconds = f.u64("ike_reauth_seconds");
      i.dpd_delay_seconds = f.u64("dpd_delay_seconds");
      i.dpd_timeout_seconds = f.u64("dpd_timeout_seconds");
      i.dpd_action = f.str("dpd_action");
      i.close_action = f.str("close_action");
      out.push_back(std::move(i));
    });
    return out;
  });
}

json to_json(const LoadSummary& s) {
  return json{{"added", s.added},
              {"changed", s.changed},
              {"unchanged", s.unchanged},
              {"removed", s.removed}};
}

Result<LoadSummary> load_summary_from_json(const json& j) {
  return decode<LoadSummary>("bad load summary from ipsecd", [&] {
    Fields f(j, "");
    LoadSummary s;
    if (f.has("added")) s.added = f.strings("added");
    if (f.has("changed")) s.changed = f.strings("changed");
    if (f.has("unchanged")) s.unchanged = f.strings("unchanged");
    if (f.has("removed")) s.removed = f.strings("removed");
    return s;
  });
}

std::string encode(const Event& e) {
  json j{{"event", e.event}, {"time", e.time}, {"connection", e.connection}};
  if (!e.child.empty()) j["child"] = e.child;
  if (e.ike_spi != 0) j["ike_spi"] = spi_hex(e.ike_spi, 16);
  if (e.old_ike_spi != 0) j["old_ike_spi"] = spi_hex(e.old_ike_spi, 16);
  if (e.spi_in != 0) j["spi_in"] = spi_hex(e.spi_in, 8);
  if (e.spi_out != 0) j["spi_out"] = spi_hex(e.spi_out, 8);
  if (e.old_spi_in != 0) j["old_spi_in"] = spi_hex(e.old_spi_in, 8);
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (!e.detail.empty()) j["detail"] = e.detail;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Event> parse_event(std::string_view line) {
  return decode<Event>("bad event from ipsecd", [&] {
    json j = parse_line(line, kMaxLine);
    Fields f(j, "");
    Event e;
    e.event = f.str("event");
    e.time = f.str("time");
    e.connection = f.str("connection");
    if (f.has("child")) e.child = f.str("child");
    if (f.has("ike_spi")) e.ike_spi = f.spi("ike_spi", 16);
    if (f.has("old_ike_spi")) e.old_ike_spi = f.spi("old_ike_spi", 16);
    if (f.has("spi_in")) e.spi_in = static_cast<uint32_t>(f.spi("spi_in", 8));
    if (f.has("spi_out")) e.spi_out = static_cast<uint32_t>(f.spi("spi_out", 8));
    if (f.has("old_spi_in")) e.old_spi_in = static_cast<uint32_t>(f.spi("old_spi_in", 8));
    if (f.has("reason")) e.reason = f.str("reason");
    if (f.has("detail")) e.detail = f.str("detail");
    return e;
  });
}

std::string utc_time(int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  char buf[32];
  if (::gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return "1970-01-01T00:00:00Z";
  return buf;
}

}  // namespace ipsec::control
