// SPDX-License-Identifier: Apache-2.0
// Typed, path-aware reading of a parsed policy document; records one diagnostic per problem.
#include "policy/reader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ipsec::policy::detail {

std::string join(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : path + "." + std::string(field);
}

std::string join(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_float: {
      // An integer beyond 64 bits ("123456789012345678901234567890") is read as a double.
      const double v = j.get<double>();
      if (std::trunc(v) == v && std::fabs(v) >= 0x1p63) return "a number too large (over 64 bits)";
      return "a fractional number";
    }
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::null:
      return "null";
    default:
      return "something else";
  }
}

std::string number_text(uint64_t v) {
  if (v < 0xffffffffULL) return std::to_string(v);
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void Reader::error(const std::string& path, std::string message) {
  errors_.push_back(Diagnostic{file_, path, std::move(message)});
}

void Reader::warn(const std::string& path, std::string message) {
  warnings_.push_back(Diagnostic{file_, path, std::move(message)});
}

bool Reader::object(const Json& j, const std::string& path, Fields known) {
  if (!j.is_object()) {
    error(path, "expected an object, got " + type_name(j));
    return false;
  }
  for (const auto& item : j.items()) {
    bool found = false;
    for (std::string_view k : known) found = found || k == item.key();
    if (!found) error(join(path, item.key()), "unknown field");
  }
  return true;
}

bool Reader::array(const Json& j, const std::string& path) {
  if (j.is_array()) return true;
  error(path, "expected an array, got " + type_name(j));
  return false;
}

const Json* Reader::field(const Json& obj, std::string_view name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

const Json* Reader::required(const Json& obj, const std::string& path, std::string_view name) {
  const Json* f = field(obj, name);
  if (f == nullptr) error(path, "missing required field " + quote(name));
  return f;
}

std::optional<uint64_t> Reader::integer(const Json& j, const std::string& path, uint64_t min,
                                        uint64_t max) {
  std::string range = number_text(min) + ".." + number_text(max);
  if (j.is_number_integer() && !j.is_number_unsigned()) {
    error(path, std::to_string(j.get<int64_t>()) + " is out of range " + range);
    return std::nullopt;
  }
  if (!j.is_number_unsigned()) {
    error(path, "expected an integer, got " + type_name(j));
    return std::nullopt;
  }
  uint64_t v = j.get<uint64_t>();
  if (v < min || v > max) {
    error(path, number_text(v) + " is out of range " + range);
    return std::nullopt;
  }
  return v;
}

namespace {
// "0x1f" -> 31; nullopt when not "0x" followed by 1..8 hex digits (leading zeros allowed).
std::optional<uint64_t> parse_hex_number(std::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s.substr(2)) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
    if (v > 0xffffffffULL) return v;  // out of range; reported by the caller
  }
  return v;
}
}  // namespace

std::optional<uint32_t> Reader::u32(const Json& j, const std::string& path) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    auto v = parse_hex_number(s);
    if (!v) {
      error(path, quote(s) + " is not a \"0x...\" hex number");
      return std::nullopt;
    }
    if (*v > 0xffffffffULL) {
      error(path, quote(s) + " is out of range 0..0xffffffff");
      return std::nullopt;
    }
    return static_cast<uint32_t>(*v);
  }
  if (!j.is_number_integer()) {
    error(path, "expected an integer or a \"0x...\" string, got " + type_name(j));
    return std::nullopt;
  }
  auto v = integer(j, path, 0, 0xffffffffULL);
  if (!v) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

std::optional<bool> Reader::boolean(const Json& j, const std::string& path) {
  if (j.is_boolean()) return j.get<bool>();
  error(path, "expected true or false, got " + type_name(j));
  return std::nullopt;
}

const std::string* Reader::string(const Json& j, const std::string& path) {
  if (!j.is_string()) {
    error(path, "expected a string, got " + type_name(j));
    return nullptr;
  }
  const auto& s = j.get_ref<const std::string&>();
  // A NUL would cut the string short in inet_pton() or open(): refuse it.
  if (s.find('\0') != std::string::npos) {
    error(path, "contains a NUL character");
    return nullptr;
  }
  return &s;
}

std::optional<IpAddress> Reader::address(const Json& j, const std::string& path) {
  const std::string* s = string(j, path);
  if (s == nullptr) return std::nullopt;
  auto a = IpAddress::parse(*s);
  if (!a) {
    error(path, a.error().message);
    return std::nullopt;
  }
  return *a;
}

std::optional<Prefix> Reader::prefix(const Json& j, const std::string& path) {
  const std::string* s = string(j, path);
  if (s == nullptr) return std::nullopt;
  auto p = Prefix::parse(*s);
  if (!p) {
    error(path, p.error().message);
    return std::nullopt;
  }
  return *p;
}

namespace {
constexpr std::string_view kDurationExamples = "\"90s\", \"30m\", \"4h\", \"1d\"";

// "90s", "30m", "4h", "1d": digits and one unit. nullopt when not of that form; a value
// above kMaxDurationSeconds is returned as kMaxDurationSeconds + 1.
std::optional<uint64_t> parse_duration_text(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  uint64_t unit = 0;
  switch (s.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s.substr(0, s.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > kMaxDurationSeconds) v = kMaxDurationSeconds + 1;  // stays far below overflow
  }
  return std::min(v * unit, kMaxDurationSeconds + 1);
}
}  // namespace

std::optional<std::chrono::seconds> Reader::duration(const Json& j, const std::string& path) {
  const std::string range =
      " is out of range 0.." + std::to_string(kMaxDurationSeconds) + " seconds";
  uint64_t v = 0;
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    auto parsed = parse_duration_text(s);
    if (!parsed) {
      error(path, quote(s) +
                      " is not a duration: write seconds as an integer, or a number with one "
                      "unit s, m, h or d (" +
                      std::string(kDurationExamples) + ")");
      return std::nullopt;
    }
    if (*parsed > kMaxDurationSeconds) {
      error(path, quote(s) + range);
      return std::nullopt;
    }
    v = *parsed;
  } else if (j.is_number_unsigned()) {
    v = j.get<uint64_t>();
    if (v > kMaxDurationSeconds) {
      error(path, std::to_string(v) + range);
      return std::nullopt;
    }
  } else if (j.is_number_integer()) {
    error(path, std::to_string(j.get<int64_t>()) + range);
    return std::nullopt;
  } else {
    error(path, "expected a duration (seconds as an integer, or a string such as " +
                    std::string(kDurationExamples) + "), got " + type_name(j));
    return std::nullopt;
  }
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(v));
}

std::optional<std::chrono::seconds> Reader::opt_duration(const Json& obj, const std::string& path,
                                                         std::string_view name) {
  const Json* f = field(obj, name);
  return f == nullptr ? std::nullopt : duration(*f, join(path, name));
}

std::optional<uint64_t> Reader::opt_integer(const Json& obj, const std::string& path,
                                            std::string_view name, uint64_t min, uint64_t max) {
  const Json* f = field(obj, name);
  return f == nullptr ? std::nullopt : integer(*f, join(path, name), min, max);
}

std::optional<uint32_t> Reader::opt_u32(const Json& obj, const std::string& path,
                                        std::string_view name) {
  const Json* f = field(obj, name);
  return f == nullptr ? std::nullopt : u32(*f, join(path, name));
}

std::optional<bool> Reader::opt_boolean(const Json& obj, const std::string& path,
                                        std::string_view name) {
  const Json* f = field(obj, name);
  return f == nullptr ? std::nullopt : boolean(*f, join(path, name));
}

}  // namespace ipsec::policy::detail
