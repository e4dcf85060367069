// SPDX-License-Identifier: Apache-2.0
// Byte buffers, hex conversion, and text made safe to print.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ipsec {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Text from a packet or a file, safe to print on a terminal or in a log line: control
// characters (C0, DEL, and the C1 controls U+0080..U+009F in UTF-8) and '\\' as "\\xNN";
// everything else (UTF-8 included) unchanged.
std::string printable(std::string_view text);
// The same for a whole message that may hold values printable() already escaped: control
// characters escaped, '\\' kept. Every line a program prints or logs goes through it (log::
// write, Diagnostic::str(), ipsecctl's text output), so no input can forge a line or drive
// the terminal.
std::string printable_line(std::string_view text);

// Lower-case hex, no prefix, no separators.
std::string to_hex(ByteView data);

// Accepts an optional "0x" prefix; ':' and whitespace between byte pairs are
// ignored. Odd length or a non-hex digit is an error naming the offset.
Result<Bytes> from_hex(std::string_view text);

}  // namespace ipsec
