// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the control protocol, both ends: a line as ipsecd reads a request
// and as ipsecctl reads an answer or a monitor event; JSON as status, list-conns and load
// answers carry it, and ipsecctl's text rendering of what parsed (where control characters
// from a hostile daemon or policy must come out escaped). Whatever parses must encode and
// parse back to the same encoding. Never a crash, a leak or UB.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/protocol.h"
#include "ctl/status_text.h"

using namespace ipsec;

namespace {

// Control characters reach the terminal only escaped: no ESC, CR or other C0 but the
// line breaks the rendering puts there itself.
void printable(const std::string& text) {
  for (unsigned char c : text)
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) std::abort();
}

template <class T, class Parse, class Encode>
void round_trip(const T& value, Parse parse, Encode encode) {
  const auto once = encode(value);
  auto again = parse(once);
  if (!again || encode(*again) != once) std::abort();
}

void as_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return;
  if (auto s = control::status_from_json(j)) {
    round_trip(
        *s, [](const nlohmann::json& x) { return control::status_from_json(x); },
        [](const control::Status& x) { return control::to_json(x); });
    printable(ctl::format_status(*s));
  }
  if (auto c = control::conns_from_json(j)) {
    for (const auto& conn : *c) printable(ctl::format_conn_settings(conn));
  }
  if (auto l = control::load_summary_from_json(j)) printable(ctl::format_load_summary(*l));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  if (auto r = control::parse_request(line))
    round_trip(
        *r, [](const std::string& x) { return control::parse_request(x); },
        [](const control::Request& x) { return control::encode(x); });
  if (auto r = control::parse_response(line))
    round_trip(
        *r, [](const std::string& x) { return control::parse_response(x); },
        [](const control::Response& x) { return control::encode(x); });
  if (auto e = control::parse_event(line)) {
    round_trip(
        *e, [](const std::string& x) { return control::parse_event(x); },
        [](const control::Event& x) { return control::encode(x); });
    printable(ctl::format_event(*e));
  }
  as_json(line);
  return 0;
}
