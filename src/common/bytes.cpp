// SPDX-License-Identifier: Apache-2.0
// Byte buffers, hex conversion, and text made safe to print.
#include "common/bytes.h"

namespace ipsec {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string to_hex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Result<Bytes> from_hex(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    text.remove_prefix(2);
  Bytes out;
  out.reserve(text.size() / 2);
  int high = -1;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (high >= 0) return fail("hex digit pair split at offset " + std::to_string(i));
      continue;
    }
    int v = hex_value(c);
    if (v < 0) return fail("not a hex digit at offset " + std::to_string(i));
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) return fail("odd number of hex digits");
  return out;
}

namespace {

std::string escape_controls(std::string_view text, bool escape_backslash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto escape = [&out](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {  // a C1 control (CSI is U+009B)
      escape(c);
      escape(next);
      ++i;
    } else if (c < 0x20 || c == 0x7f || (c == '\\' && escape_backslash)) {
      escape(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::string printable(std::string_view text) { return escape_controls(text, true); }

std::string printable_line(std::string_view text) { return escape_controls(text, false); }

}  // namespace ipsec
