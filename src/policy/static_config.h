// SPDX-License-Identifier: Apache-2.0
// Manually keyed SAs and policies from JSON policy files to a validated model, and back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/types.h"
#include "policy/connection.h"

namespace ipsec::policy {

// One problem (or warning) in a policy file. Never holds key material.
struct Diagnostic {
  std::string file;     // "site.json", "<stdin>"
  std::string path;     // JSON path: "sas[1].encryption.key"; empty for the whole file
  std::string message;  // "key of 15 bytes, aes-cbc needs 16, 24 or 32"

  // "FILE: PATH: MESSAGE" (an empty part is left out).
  std::string str() const;
  bool operator==(const Diagnostic&) const = default;
};

// What the files ask for, in file order (connections by name within a file).
struct StaticConfig {
  std::vector<kernel::SaParams> sas;
  std::vector<kernel::PolicyParams> policies;
  std::vector<Connection> connections;  // IKEv2; not kernel objects, so not in to_json()
};

// The merged configuration and every problem found. When there is any error
// the config is left empty: nothing may be applied.
struct LoadResult {
  StaticConfig config;
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
  bool ok() const { return errors.empty(); }
};

// Loads and merges files; "-" reads stdin (named "<stdin>", key files
// relative to the current directory). Key files are relative to each file's folder.
LoadResult load_files(const std::vector<std::string>& paths);

// Loads one document; `name` is used in diagnostics, `base_dir` resolves key files.
LoadResult load_text(std::string_view text, const std::string& name, const std::string& base_dir);

// Whether to_json writes the keys. Hidden, each key is the string "hidden",
// which the loader refuses with an error saying so: a file without its keys
// is never applied with empty ones.
enum class KeyOutput { Include, Hide };

// The model in the file format (keys inline as "0x..." hex), omitting fields
// that hold their default. What the format cannot express (an algorithm or
// encapsulation unknown to the table, BEET mode, IPComp) is written as a
// "kernel:..." marker string, which the loader refuses with a clear error.
// With KeyOutput::Include the result holds key material: the caller must not log it.
nlohmann::json to_json(const StaticConfig& config, KeyOutput keys = KeyOutput::Include);

}  // namespace ipsec::policy
