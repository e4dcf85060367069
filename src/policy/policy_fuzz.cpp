// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the policy loader survives any input, and whatever it
// accepts survives to_json -> load again unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/static_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = ipsec::policy::load_text(text, "fuzz.json", "/nonexistent");
  if (!first.ok()) return 0;
  std::string again = ipsec::policy::to_json(first.config).dump();
  auto second = ipsec::policy::load_text(again, "again.json", "/nonexistent");
  if (!second.ok()) std::abort();  // what we print must load back
  const auto& a = first.config;
  const auto& b = second.config;
  if (a.sas.size() != b.sas.size() || a.policies.size() != b.policies.size()) std::abort();
  for (size_t i = 0; i < a.sas.size(); ++i)
    if (!a.sas[i].same_config(b.sas[i])) std::abort();
  for (size_t i = 0; i < a.policies.size(); ++i)
    if (!a.policies[i].same_config(b.policies[i])) std::abort();
  return 0;
}
