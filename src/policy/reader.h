// SPDX-License-Identifier: Apache-2.0
// Typed, path-aware reading of a parsed policy document; records one diagnostic per problem.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip.h"
#include "policy/static_config.h"

namespace ipsec::policy::detail {

using Json = nlohmann::ordered_json;
using Fields = std::initializer_list<std::string_view>;

std::string join(const std::string& path, std::string_view field);
std::string join(const std::string& path, size_t index);
std::string quote(std::string_view s);
// "a string", "an object", ... for "expected X, got Y" messages; never the value.
std::string type_name(const Json& j);
// 4294967295 -> "0xffffffff"; small numbers in decimal.
std::string number_text(uint64_t v);

// The largest duration a policy file may give (about 136 years).
inline constexpr uint64_t kMaxDurationSeconds = 0xffffffff;

// Reads values out of one document. Each accessor reports its own problem
// and returns nullopt (or nullptr), so callers simply continue with the next field.
class Reader {
 public:
  Reader(std::string file, std::string base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  const std::string& file() const { return file_; }
  const std::string& base_dir() const { return base_dir_; }
  void error(const std::string& path, std::string message);
  void warn(const std::string& path, std::string message);
  size_t error_count() const { return errors_.size(); }
  std::vector<Diagnostic>& errors() { return errors_; }
  std::vector<Diagnostic>& warnings() { return warnings_; }

  // True if j is an object; reports every field not in `known`.
  bool object(const Json& j, const std::string& path, Fields known);
  bool array(const Json& j, const std::string& path);
  // The field or nullptr; required() also reports a missing field.
  static const Json* field(const Json& obj, std::string_view name);
  const Json* required(const Json& obj, const std::string& path, std::string_view name);

  std::optional<uint64_t> integer(const Json& j, const std::string& path, uint64_t min,
                                  uint64_t max);
  // An integer or a "0x..." string, 0..0xffffffff.
  std::optional<uint32_t> u32(const Json& j, const std::string& path);
  std::optional<bool> boolean(const Json& j, const std::string& path);
  const std::string* string(const Json& j, const std::string& path);
  std::optional<IpAddress> address(const Json& j, const std::string& path);
  std::optional<Prefix> prefix(const Json& j, const std::string& path);
  // A duration: seconds as an integer, or a number with one unit ("90s", "30m", "4h", "1d");
  // 0..kMaxDurationSeconds.
  std::optional<std::chrono::seconds> duration(const Json& j, const std::string& path);

  template <class T>
  std::optional<T> keyword(const Json& j, const std::string& path,
                           std::initializer_list<std::pair<std::string_view, T>> choices);

  // Optional fields: nullopt when absent or wrong (the latter reported).
  std::optional<uint64_t> opt_integer(const Json& obj, const std::string& path,
                                      std::string_view name, uint64_t min, uint64_t max);
  std::optional<uint32_t> opt_u32(const Json& obj, const std::string& path, std::string_view name);
  std::optional<bool> opt_boolean(const Json& obj, const std::string& path, std::string_view name);
  std::optional<std::chrono::seconds> opt_duration(const Json& obj, const std::string& path,
                                                   std::string_view name);

 private:
  std::string file_;
  std::string base_dir_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

template <class T>
std::optional<T> Reader::keyword(const Json& j, const std::string& path,
                                 std::initializer_list<std::pair<std::string_view, T>> choices) {
  const std::string* s = string(j, path);
  if (s == nullptr) return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& [name, value] : choices) {
    if (name == *s) return value;
    names.push_back(name);
  }
  std::string list;
  for (size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + quote(names[i]);
  error(path, "expected " + list + ", got " + quote(*s));
  return std::nullopt;
}

}  // namespace ipsec::policy::detail
