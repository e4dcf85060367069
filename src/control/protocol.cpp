// The control socket protocol: JSON encoding and strict decoding of its messages.
#include "control/protocol.h"

#include <cinttypes>
#include <cstdio>
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
      int d = c >= '0' && c <= '9' ? c - '0'
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

json parse_line(std::string_view line) {
  if (line.size() > kMaxLine)
    throw BadField("longer than " + std::to_string(kMaxLine) + " bytes");
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) throw BadField("not valid JSON");
  return j;
}

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

ChildStatus child_from(const json& j, const std::string& path) {
  Fields f(j, path);
  ChildStatus c;
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
              {"worker", s.worker},
              {"failure", s.failure},
              {"child", child_json(s.child)}};
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
  s.age_seconds = f.u64("age_seconds");
  s.rekey_in_seconds = f.i64("rekey_in_seconds");
  if (f.has("worker")) s.worker = f.u32("worker");
  s.failure = f.str("failure");
  s.child = child_from(f.at("child"), f.path("child"));
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
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
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
  return decode<Request>("bad request", [&] {
    json j = parse_line(line);
    Fields f(j, "");
    Request r;
    r.command = f.str("command");
    if (f.has("name")) r.name = f.str("name");
    if (f.has("files")) r.files = f.strings("files");
    for (size_t i = 0; i < r.files.size(); ++i)
      if (r.files[i].empty() || r.files[i][0] != '/')
        throw BadField("files[" + std::to_string(i) + "]: \"" + r.files[i] +
                       "\" is not an absolute path");
    return r;
  });
}

Result<Response> parse_response(std::string_view line) {
  return decode<Response>("bad response from ipsecd", [&] {
    json j = parse_line(line);
    Fields f(j, "");
    Response r;
    r.ok = f.boolean("ok");
    if (r.ok && f.has("data")) r.data = f.at("data");
    if (!r.ok) r.error = f.str("error");
    if (!r.ok && f.has("details")) r.details = f.strings("details");
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
                     {"start_action", c.start_action}});
  return json{{"connections", a}};
}

Result<std::vector<ConnInfo>> conns_from_json(const json& j) {
  return decode<std::vector<ConnInfo>>("bad connection list from ipsecd", [&] {
    std::vector<ConnInfo> out;
    Fields(j, "").each("connections", [&](const json& c, const std::string& path) {
      Fields f(c, path);
      out.push_back(ConnInfo{f.str("name"), f.str("local"), f.str("remote"), f.str("local_id"),
                             f.str("remote_id"), f.str("child"), f.str("start_action")});
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

}  // namespace ipsec::control
